import type { IncomingMessage } from 'node:http';
import { GatehouseError } from '../kernel/errors.ts';

/**
 * Reads a request body up to `limit` bytes. Rejects with `payload_too_large` as soon as the
 * limit is crossed (also when Content-Length announces more), without buffering beyond it: the
 * rest is read and discarded, so the 413 reaches the client and the connection stays usable
 * (closing with unread data would reset it before the answer is read). Rejects with `bad_request`
 * (`extra.client_aborted`) when the client goes away before the body ends, or has already gone (the request destroyed). Event listeners rather than an async iterator: this is
 * on every proxied request, and the iterator's machinery cost more than the copy.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.reject(new GatehouseError('payload_too_large', `body exceeds ${limit} bytes`));
  }
  if (req.readableEnded) return Promise.resolve(Buffer.alloc(0));
  // The client already went away (e.g. while the exchange waited for admission): 'close' will not
  // fire again, so waiting for the body would never settle.
  if (req.destroyed || req.closed) return Promise.reject(clientAborted());
  return new Promise<Buffer>((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    const settle = (err: Error | undefined): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      if (err === undefined) resolve(parts.length === 1 ? parts[0]! : Buffer.concat(parts, size));
      else reject(err);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        parts.length = 0;
        settle(new GatehouseError('payload_too_large', `body exceeds ${limit} bytes`));
        req.resume(); // discard the rest without a listener
        return;
      }
      parts.push(chunk);
    };
    const onEnd = (): void => { settle(undefined); };
    const onError = (err: Error): void => { settle(clientAborted(err)); };
    const onClose = (): void => { settle(clientAborted()); };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/** The client went away before the body was read: its doing, not a gateway error (logged at info, no stack). */
function clientAborted(cause?: Error): GatehouseError {
  return new GatehouseError('bad_request', 'the client closed the request before its body was read',
    { client_aborted: true }, cause === undefined ? undefined : { cause });
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
