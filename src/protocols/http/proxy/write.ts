import { once } from 'node:events';
import { Readable } from 'node:stream';
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

/**
 * Reads a whole body up to `limit` bytes; throws `RangeError` beyond it (the body is destroyed).
 * A stream's own error, or its closing before its end, rejects. A `Readable` (the upstream body)
 * is read with event listeners rather than an async iterator: this is on every buffered response,
 * and the iterator's machinery (its promises, the end-of-stream bookkeeping) cost more than the copy.
 */
export function readAll(body: AsyncIterable<Uint8Array>, limit: number): Promise<Buffer> {
  return body instanceof Readable ? readStream(body, limit) : readIterable(body, limit);
}

function readStream(body: Readable, limit: number): Promise<Buffer> {
  if (body.readableEnded) return Promise.resolve(Buffer.alloc(0));
  if (body.destroyed) return Promise.reject(body.errored ?? prematureClose());
  return new Promise<Buffer>((resolve, reject) => {
    const parts: Uint8Array[] = [];
    let size = 0;
    const settle = (err: Error | undefined): void => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      body.off('close', onClose);
      // One copy into a buffer of our own (chunks may be views of the socket's read buffers).
      if (err === undefined) resolve(Buffer.concat(parts, size));
      else reject(err);
    };
    const onData = (chunk: Uint8Array): void => {
      size += chunk.length;
      if (size > limit) {
        parts.length = 0;
        settle(new RangeError('upstream response exceeds the size limit'));
        body.destroy();
        return;
      }
      parts.push(chunk);
    };
    const onEnd = (): void => { settle(undefined); };
    const onError = (err: Error): void => { settle(err); };
    const onClose = (): void => { settle(body.errored ?? prematureClose()); };
    body.on('data', onData);
    body.on('end', onEnd);
    body.on('error', onError);
    body.on('close', onClose);
  });
}

/** What `for await` over a stream closed before its end throws. */
function prematureClose(): Error {
  return Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
}

async function readIterable(body: AsyncIterable<Uint8Array>, limit: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > limit) throw new RangeError('upstream response exceeds the size limit');
    parts.push(Buffer.from(chunk));
  }
  return Buffer.concat(parts, size);
}
