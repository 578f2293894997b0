import type { Readable, Writable } from 'node:stream';

/**
 * Copies `from` to `to` through `transform`, with back-pressure: when `to` is full, `from` is
 * paused until `to` drains. `transform` may throw (a masking failure): `onError` then runs once
 * and nothing more is copied. Returns a function that stops copying.
 */
export function pipeThrough(from: Readable, to: Writable, transform: (chunk: Buffer) => Buffer, onError: (err: unknown) => void): () => void {
  let failed = false;
  const onData = (chunk: Buffer): void => {
    if (failed) return;
    let out: Buffer;
    try {
      out = transform(chunk);
    } catch (err) {
      failed = true;
      from.off('data', onData);
      onError(err);
      return;
    }
    if (out.length > 0 && !to.write(out)) {
      from.pause();
      to.once('drain', () => { from.resume(); });
    }
  };
  from.on('data', onData);
  return () => { from.off('data', onData); };
}
