import { GatehouseError } from '../kernel/errors.ts';

/** Largest discovery document or JWKS we read; real ones are a few kilobytes. */
export const MAX_METADATA_BYTES = 256 * 1024;

/**
 * GETs `url` without following redirects, aborting after `signal` fires, and reads at most
 * `maxBytes` of body. Returns a fresh `Response` holding the bounded body, so it can back jose's
 * `customFetch`. Throws `upstream_unreachable` on a network error or an oversized body.
 *
 * @example const res = await boundedGet('https://idp/.well-known/openid-configuration', { signal: AbortSignal.timeout(5000) });
 */
export async function boundedGet(
  url: string,
  opts: { signal: AbortSignal; headers?: Headers; maxBytes?: number },
): Promise<Response> {
  const max = opts.maxBytes ?? MAX_METADATA_BYTES;
  let res: Response;
  try {
    res = await fetch(url, { method: 'GET', redirect: 'manual', signal: opts.signal, headers: opts.headers ?? { accept: 'application/json' } });
  } catch (err) {
    throw new GatehouseError('upstream_unreachable', 'identity provider metadata could not be fetched', {}, { cause: err });
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (res.body) {
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > max) {
        await reader.cancel().catch(() => undefined);
        throw new GatehouseError('upstream_unreachable', 'identity provider metadata is too large');
      }
      chunks.push(value);
    }
  }
  return new Response(Buffer.concat(chunks), { status: res.status, headers: { 'content-type': 'application/json' } });
}

/** GETs a JSON object with {@link boundedGet}; anything but 200 with a JSON object throws. */
export async function fetchJsonObject(url: string, timeoutMs: number): Promise<Record<string, unknown>> {
  const res = await boundedGet(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (res.status !== 200) throw new GatehouseError('upstream_unreachable', `identity provider metadata answered HTTP ${res.status}`);
  let doc: unknown;
  try {
    doc = await res.json();
  } catch (err) {
    throw new GatehouseError('upstream_unreachable', 'identity provider metadata is not JSON', {}, { cause: err });
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new GatehouseError('upstream_unreachable', 'identity provider metadata is not a JSON object');
  }
  return doc as Record<string, unknown>;
}
