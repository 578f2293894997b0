import type { Recorder } from './recorder.ts';

/** Most UTF-8 bytes one character of recorded text takes in an event's JSON (`\u001f`: six). */
export const JSON_BYTES_PER_CHAR = 6;
/** Bytes of an exchange event besides what is counted (keys, numbers, status, timings, `error`, bounded `usage`). */
export const EVENT_OVERHEAD_BYTES = 8192;

/**
 * Room reserved in sessions' recordings for `/proxy` exchanges still running. An exchange records
 * its one event when it ends, so a check of `Recorder.room` alone would let several concurrent
 * exchanges of one session pass where only one fits, and the last to end would be dropped after
 * its upstream call. So before its upstream call an exchange reserves its event's request part
 * (with the overhead) against the room less what the session's other running exchanges reserved,
 * and releases it once its event is recorded or it failed. Per recorder; a session's entry leaves
 * when nothing of it is reserved (bounded by the running exchanges).
 *
 * @example const r = recordRoom(recorder).reserve(session, bytes); if (r === 'full') refuse();
 */
export class RecordRoom {
  readonly #recorder: Recorder;
  readonly #reserved = new Map<string, number>();

  constructor(recorder: Recorder) {
    this.#recorder = recorder;
  }

  /**
   * Reserves `bytes` for an exchange of `session`: `ok` when they fit in its room less what is
   * reserved, `full` when they do not, `never` when they would not fit even in an empty session of
   * `limit` bytes (then no session can record it). A recorder without `room` reserves nothing
   * (`ok` unless it reports the session full).
   */
  reserve(session: string, bytes: number, limit: number): 'ok' | 'full' | 'never' {
    const room = this.#recorder.room?.(session);
    if (room === undefined) return this.#recorder.full?.(session) === true ? 'full' : 'ok';
    if (bytes > limit) return 'never';
    const taken = this.#reserved.get(session) ?? 0;
    if (bytes > room - taken) return 'full';
    this.#reserved.set(session, taken + bytes);
    return 'ok';
  }

  /** What `session` can record beyond every reservation but `mine` (this exchange's own): its room less the others'. */
  available(session: string, mine: number): number {
    const room = this.#recorder.room?.(session);
    if (room === undefined) return Number.MAX_SAFE_INTEGER;
    return room - ((this.#reserved.get(session) ?? 0) - mine);
  }

  /** Bytes reserved in `session` by its running exchanges (0: none runs). */
  reservedFor(session: string): number {
    return this.#reserved.get(session) ?? 0;
  }

  /** Gives back `bytes` reserved for an exchange of `session`. */
  release(session: string, bytes: number): void {
    if (bytes <= 0) return;
    const left = (this.#reserved.get(session) ?? 0) - bytes;
    if (left > 0) this.#reserved.set(session, left);
    else this.#reserved.delete(session);
  }
}

const rooms = new WeakMap<Recorder, RecordRoom>();

/** The {@link RecordRoom} of `recorder` (one per recorder, shared by every exchange). */
export function recordRoom(recorder: Recorder): RecordRoom {
  let r = rooms.get(recorder);
  if (r === undefined) {
    r = new RecordRoom(recorder);
    rooms.set(recorder, r);
  }
  return r;
}
