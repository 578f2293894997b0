import { MemoryRecorder, type RecordEvent } from '../../src/recording/recorder.ts';

/**
 * A memory recorder that keeps at most `max` bytes of event data (JSON, UTF-8) per session, as
 * the store recorder does at `recording.max_session_bytes`: the event that would pass it is
 * dropped (kept in `dropped`) and the session is full from then on; `room` says what is left
 * (the gateway reserves an exchange's record from it before the upstream call).
 */
export class SizedRecorder extends MemoryRecorder {
  readonly #sizes = new Map<string, number>();
  readonly #full = new Set<string>();
  readonly #max: number;
  /** Events dropped because their session was full. */
  readonly dropped: RecordEvent[] = [];

  constructor(max: number) {
    super();
    this.#max = max;
  }

  override record(event: RecordEvent): void {
    if (event.type === 'session.close') { super.record(event); return; }
    const now = (this.#sizes.get(event.session) ?? 0) + Buffer.byteLength(JSON.stringify(event.data));
    if (this.#full.has(event.session) || now > this.#max) { this.#full.add(event.session); this.dropped.push(event); return; }
    this.#sizes.set(event.session, now);
    super.record(event);
  }

  full(session: string): boolean {
    return this.#full.has(session);
  }

  room(session: string): number {
    return this.#full.has(session) ? 0 : this.#max - (this.#sizes.get(session) ?? 0);
  }
}
