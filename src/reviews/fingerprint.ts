import { createHash } from 'node:crypto';

/**
 * The canonical hash of an exact request, for command reviews: sha256 over the length-prefixed
 * parts, so `["a","bc"]` and `["ab","c"]` differ. Protocols pass what makes the request the same
 * request — never a credential.
 *
 * @example
 *   requestFingerprint(['postgres', 'crm', 'DELETE FROM t WHERE id = $1', JSON.stringify(params)])
 *   requestFingerprint(['llm', 'openai', 'POST /v1/chat/completions', bodySha256Hex])
 */
export function requestFingerprint(parts: readonly string[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(`${Buffer.byteLength(p)}:`).update(p).update('\n');
  return h.digest('hex');
}
