/**
 * The one registry of error codes. Every error a client, operator or CLI user sees carries a
 * stable `code` from this table; `docs/errors.md` lists the same codes (a test checks both agree).
 *
 * @example
 *   throw new GatehouseError('not_found', `no connection named "${name}"`);
 */
export const ERROR_CODES = {
  bad_request: { status: 400, title: 'Bad request' },
  invalid_json: { status: 400, title: 'Malformed JSON body' },
  validation_failed: { status: 400, title: 'Request failed validation' },
  unauthenticated: { status: 401, title: 'Authentication required' },
  invalid_credential: { status: 401, title: 'Credential is invalid, expired or revoked' },
  invalid_token: { status: 401, title: 'Token is invalid' },
  policy_denied: { status: 403, title: 'Denied by policy' },
  review_required: { status: 403, title: 'Approval required' },
  host_not_allowed: { status: 421, title: 'Host header not allowed' },
  origin_not_allowed: { status: 403, title: 'Origin not allowed' },
  csrf_failed: { status: 403, title: 'Missing or wrong CSRF token' },
  not_found: { status: 404, title: 'Not found' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  conflict: { status: 409, title: 'Conflict' },
  read_only: { status: 409, title: 'Resource is defined in the configuration file and is read-only' },
  payload_too_large: { status: 413, title: 'Body exceeds the size limit' },
  unsupported_media_type: { status: 415, title: 'Unsupported media type' },
  too_many_requests: { status: 429, title: 'Too many concurrent requests for this principal' },
  inspection_unavailable: { status: 503, title: 'Inspection could not run; the request was refused' },
  unsupported_grant_type: { status: 400, title: 'Unsupported grant type' },
  invalid_grant: { status: 400, title: 'Invalid grant' },
  invalid_client: { status: 401, title: 'Invalid client' },
  internal: { status: 500, title: 'Internal error' },
  masking_failed: { status: 500, title: 'Masking failed; the response was withheld' },
  config_invalid: { status: 500, title: 'Configuration is invalid' },
  policy_invalid: { status: 500, title: 'Policy set is invalid' },
  upstream_unreachable: { status: 502, title: 'Upstream unreachable' },
  upstream_error: { status: 502, title: 'The upstream answered with an error' },
  uninspectable_media: { status: 502, title: 'The upstream response cannot be inspected; refused' },
  store_unavailable: { status: 503, title: 'Store unavailable' },
  not_ready: { status: 503, title: 'Not ready' },
  upstream_timeout: { status: 504, title: 'Upstream timed out' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** An error with a stable code, an HTTP status, and a detail safe to show to the caller. */
export class GatehouseError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: string;
  readonly extra: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, detail?: string, extra: Record<string, unknown> = {}, options?: ErrorOptions) {
    const entry = ERROR_CODES[code];
    super(detail ?? entry.title, options);
    this.name = 'GatehouseError';
    this.code = code;
    this.status = entry.status;
    this.detail = detail ?? entry.title;
    this.extra = extra;
  }
}

/** True when `err` is a GatehouseError, optionally with the given code. */
export function isGatehouseError(err: unknown, code?: ErrorCode): err is GatehouseError {
  return err instanceof GatehouseError && (code === undefined || err.code === code);
}

/** The message of any thrown value, for logs and one-line CLI errors. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
