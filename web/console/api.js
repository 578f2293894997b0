// The console talks only to the admin API (/api/v1) and its own sign-in routes (/ui/auth), with
// the session cookie; every mutation carries the session's CSRF token.

let csrf = '';

/** Remembers the CSRF token of the signed-in session. */
export function setCsrf(token) { csrf = token || ''; }

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem && typeof problem.detail === 'string' ? problem.detail : `HTTP ${status}`);
    this.status = status;
    this.code = problem && typeof problem.code === 'string' ? problem.code : 'error';
  }
}

/**
 * fetch + JSON. Throws ApiError with the problem's detail on a non-2xx answer.
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 */
export async function api(method, path, body) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') headers['x-csrf-token'] = csrf;
  const res = await fetch(path, {
    method, headers, credentials: 'same-origin', cache: 'no-store',
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let json;
  try { json = text ? JSON.parse(text) : {}; } catch { json = {}; }
  if (!res.ok) throw new ApiError(res.status, json);
  return json;
}

/** A query string from an object, skipping empty values. */
export function qs(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}
