import type { Frame } from './frame-reader.ts';

/** A stream that can be paused while a message is being handled asynchronously. */
export interface Pausable {
  pause(): unknown;
  resume(): unknown;
}

/**
 * Handles frames strictly in order. Synchronous handlers run inline; when one returns a promise,
 * the source stream is paused and later frames wait (at most what one read delivered) until it
 * settles. `onBatchEnd` runs after each drained batch (used to uncork the destination).
 *
 * @example
 *   const pump = new SerialPump(client, (f) => session.frontend(f), (e) => session.fail(e));
 *   client.on('data', (c) => pump.push(reader.push(c)));
 */
export class SerialPump {
  readonly #source: Pausable;
  readonly #handle: (f: Frame) => void | Promise<void>;
  readonly #onError: (err: unknown) => void;
  readonly #onBatchEnd: () => void;
  #queue: Frame[] = [];
  #head = 0;
  #busy = false;
  #stopped = false;

  constructor(source: Pausable, handle: (f: Frame) => void | Promise<void>, onError: (err: unknown) => void, onBatchEnd: () => void = () => undefined) {
    this.#source = source;
    this.#handle = handle;
    this.#onError = onError;
    this.#onBatchEnd = onBatchEnd;
  }

  push(frames: Frame[]): void {
    if (this.#stopped || frames.length === 0) return;
    if (this.#head >= this.#queue.length) { this.#queue = frames; this.#head = 0; } else this.#queue.push(...frames);
    if (!this.#busy) this.#run();
  }

  /** Stops handling (the session is closing). */
  stop(): void {
    this.#stopped = true;
    this.#queue = [];
    this.#head = 0;
  }

  #run(): void {
    this.#busy = true;
    try {
      while (!this.#stopped && this.#head < this.#queue.length) {
        const f = this.#queue[this.#head++]!;
        const r = this.#handle(f);
        if (r !== undefined) {
          this.#source.pause();
          this.#onBatchEnd();
          r.then(() => {
            if (this.#stopped) return;
            this.#source.resume();
            this.#run();
          }, (err: unknown) => { this.#busy = false; this.#onError(err); });
          return;
        }
      }
    } catch (err) {
      this.#busy = false;
      this.#onError(err);
      return;
    }
    this.#busy = false;
    this.#onBatchEnd();
  }
}
