import type { Duplex } from 'node:stream';
import { after, systemClock, type Clock } from '../../kernel/clock.ts';
import { ProtocolError } from './errors.ts';
import type { Frame, FrameReader } from './frame-reader.ts';

/**
 * Pull-style access to the frames of a socket during the startup phase (before the session's
 * push-style pumps take over). Bytes after a startup-phase message are re-read in whatever mode
 * the reader is in by then. Bounded: at most one read's frames are held.
 *
 * @example
 *   const src = new FrameSource(socket, new FrameReader({ untyped: true }), clock);
 *   const startup = await src.next(30_000);
 */
export class FrameSource {
  readonly #socket: Duplex;
  readonly reader: FrameReader;
  readonly #clock: Clock;
  #frames: Frame[] = [];
  #rest: Buffer | undefined;
  #error: Error | undefined;
  #wake: (() => void) | undefined;
  readonly #onData = (c: Buffer): void => {
    try {
      this.#frames.push(...this.reader.push(c));
      this.#keepRest();
    } catch (e) { this.#error = e instanceof Error ? e : new Error(String(e)); }
    if (this.#frames.length > 0 || this.#rest) this.#socket.pause();
    this.#wake?.();
  };
  readonly #onEnd = (): void => { this.#error ??= new Error('connection closed'); this.#wake?.(); };

  /** `clock` runs the waits of {@link next} (default: real time). */
  constructor(socket: Duplex, reader: FrameReader, clock: Clock = systemClock) {
    this.#socket = socket;
    this.reader = reader;
    this.#clock = clock;
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('close', this.#onEnd);
    socket.on('error', this.#onEnd);
  }

  #keepRest(): void {
    const r = this.reader.takeRest();
    if (r) this.#rest = this.#rest ? Buffer.concat([this.#rest, r]) : r;
  }

  /** True when bytes beyond the frames returned so far were received. */
  get hasPending(): boolean {
    return this.#frames.length > 0 || this.#rest !== undefined || this.reader.buffered > 0;
  }

  /** The next frame; rejects on close, protocol error or timeout. */
  async next(timeoutMs: number): Promise<Frame> {
    for (;;) {
      const f = this.#frames.shift();
      if (f) return f;
      if (this.#rest) {
        const r = this.#rest;
        this.#rest = undefined;
        this.#frames.push(...this.reader.push(r));
        this.#keepRest();
        continue;
      }
      if (this.#error) throw this.#error;
      this.#socket.resume();
      await new Promise<void>((resolve, reject) => {
        const cancel = after(this.#clock, timeoutMs, () => { this.#wake = undefined; reject(new ProtocolError('timed out waiting for the client')); });
        this.#wake = () => { cancel(); this.#wake = undefined; resolve(); };
      });
    }
  }

  /** Stops listening; the socket is left paused for its next owner. */
  detach(): void {
    this.#socket.pause();
    this.#socket.off('data', this.#onData);
    this.#socket.off('end', this.#onEnd);
    this.#socket.off('close', this.#onEnd);
    this.#socket.off('error', this.#onEnd);
  }
}
