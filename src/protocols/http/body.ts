import type { IncomingMessage } from 'node:http';
import { GatehouseError } from '../../kernel/errors.ts';

/**
 * Reads a request body up to `limit` bytes. Rejects with `payload_too_large` as soon as the
 * limit is crossed (also when Content-Length announces more), without buffering beyond it.
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    throw new GatehouseError('payload_too_large', `body exceeds ${limit} bytes`);
  }
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) {
      req.resume();
      throw new GatehouseError('payload_too_large', `body exceeds ${limit} bytes`);
    }
    parts.push(buf);
  }
  return Buffer.concat(parts, size);
}

/** Reads and parses a JSON body; malformed JSON is `invalid_json` (400). Empty body → `{}`. */
export async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const type = req.headers['content-type'] ?? '';
  const buf = await readBody(req, limit);
  if (buf.length === 0) return {};
  if (!/^application\/(.+\+)?json\b/i.test(type)) {
    throw new GatehouseError('unsupported_media_type', 'expected content-type application/json');
  }
  try {
    return JSON.parse(buf.toString('utf8')) as unknown;
  } catch {
    throw new GatehouseError('invalid_json', 'request body is not valid JSON');
  }
}

/** Reads an `application/x-www-form-urlencoded` body (OAuth token endpoint). */
export async function readForm(req: IncomingMessage, limit: number): Promise<URLSearchParams> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/x-www-form-urlencoded\b/i.test(type)) {
    throw new GatehouseError('unsupported_media_type', 'expected content-type application/x-www-form-urlencoded');
  }
  return new URLSearchParams((await readBody(req, limit)).toString('utf8'));
}
