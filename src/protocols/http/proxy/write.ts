import { once } from 'node:events';
import type { ProxyResponse } from './deps.ts';

/**
 * Writes with backpressure: resolves when the chunk is accepted (after `drain` if needed).
 * Resolves `false` when the client went away.
 */
export async function writeChunk(res: ProxyResponse, chunk: string | Uint8Array): Promise<boolean> {
  if (res.destroyed || res.writableEnded) return false;
  if (res.write(chunk)) return true;
  const ac = new AbortController();
  try {
    await Promise.race([once(res, 'drain', { signal: ac.signal }), once(res, 'close', { signal: ac.signal })]);
  } finally {
    ac.abort();
  }
  return !res.destroyed;
}

/** Reads a whole body up to `limit` bytes; throws `RangeError` beyond it. */
export async function readAll(body: AsyncIterable<Uint8Array>, limit: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > limit) throw new RangeError('upstream response exceeds the size limit');
    parts.push(Buffer.from(chunk));
  }
  return Buffer.concat(parts, size);
}
