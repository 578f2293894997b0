import type { RecordingProtocol } from '../protocols/registry.ts';

/**
 * The recording hook every data path calls. The protocols hand each exchange to the recorder
 * already masked (what the client received); storage, hash chaining and replay belong to the
 * recording subsystem. Implementations must never throw into the data path and must bound
 * their own buffers.
 */
export interface RecordEvent {
  /** Session id: a PostgreSQL connection, or an HTTP/MCP exchange stream. */
  readonly session: string;
  /** The recording name of the protocol (`ProtocolModule.recording`). */
  readonly protocol: RecordingProtocol;
  /**
   * `statement`: one PostgreSQL statement exchange — its request, decision (`data.effect`, like a
   * `decision` event) and result in one event (see docs/design/recording.md, "Data paths").
   * `exchange`: one HTTP/LLM exchange of `/proxy` the same way — its request (`method`, `endpoint`,
   * `facts`, `prompt`), decision (`action`, `effect`, `reasons`), review (`review_id`) and response
   * (`status`, `text`, `usage`, `timings`) or failure (`code`), recorded when it ends.
   * `terminal`: a slice of an interactive session as asciicast v2 events: `data.o` (output, masked),
   * `data.i` (keystrokes, masked) or `data.r` (`"<cols>x<rows>"`, a resize).
   */
  readonly type: 'session.open' | 'session.close' | 'request' | 'decision' | 'response' | 'statement' | 'exchange' | 'error' | 'review' | 'terminal';
  readonly at: number;
  readonly user?: string;
  readonly agent?: string;
  readonly connection?: string;
  /** Masked content and metadata (statement, parameters, prompt, completion, row counts, timings). */
  readonly data: Readonly<Record<string, unknown>>;
}

export interface Recorder {
  record(event: RecordEvent): void;
  /**
   * Resolves once every event recorded before the call is durably stored; rejects
   * (`store_unavailable`) if one of them — of `session`, when given — was lost. Data paths await
   * it before a response's last byte. Optional: recorders that keep nothing need not implement it.
   */
  flush?(session?: string): Promise<void>;
  /**
   * Resolves once every event recorded before the call is in the store (readable), whether or not
   * some were lost (losses are reported by `flush`, not here). For readers of the recording: with
   * a journal, `flush` returns before the store has the events.
   */
  settled?(): Promise<void>;
  /**
   * The synchronous fast path of `flush(session)`: true when everything recorded before the call
   * is durable now (journaled or committed) and nothing of `session` was lost; false when the
   * caller must await `flush` (which then decides, and reports a loss).
   */
  flushedNow?(session: string): boolean;
  /**
   * Admission back-pressure, asked before an exchange starts its work (before the request goes
   * upstream): `undefined` when the recorder has room; otherwise a promise that resolves once the
   * store has caught up, or rejects (`store_unavailable`, counted as a refusal) when the store is
   * failing with its backlog past the bound. So a store slower than the traffic slows admission
   * down, and one that is down refuses new exchanges before any upstream call, instead of
   * failing them after it. The wait has a deadline (then `store_unavailable`, a refusal), and
   * aborting `signal` (the client went away) removes the waiter at once and rejects
   * (`bad_request`, `extra.client_aborted`).
   */
  admit?(signal?: AbortSignal): Promise<void> | undefined;
  /**
   * True once `session`'s recording reached `recording.max_session_bytes` (an event of it was
   * dropped): nothing more of it can be recorded, and `flush(session)` rejects from then on
   * (`store_unavailable`, `extra.reason: 'max_session_bytes'`). Data paths ask it before an
   * exchange's work (before anything goes upstream) and refuse the exchange (fail closed);
   * `session.close` is still recorded (the anchor).
   */
  full?(session: string): boolean;
  /**
   * Bytes `session` can still record before `recording.max_session_bytes`, in the unit the limit
   * counts (UTF-8 bytes of each event's canonical JSON data; `session.close` and `truncated`
   * markers not counted): 0 once full, and 0 for a session whose size is not tracked (fail
   * closed: its room is unknown). Data paths that must know an exchange's record will fit before
   * it runs (PostgreSQL statements) reserve from it.
   */
  room?(session: string): number;
}

/** A recorder that keeps nothing (recording disabled, or not yet wired). */
export const nullRecorder: Recorder = { record: () => undefined };

/**
 * Whether events given to `r` are kept: data paths skip building them (masking statements and
 * parameters, row excerpts) when not.
 */
export function isRecording(r: Recorder): boolean {
  return r !== nullRecorder;
}

/** A recorder that keeps events in memory, for tests. */
export class MemoryRecorder implements Recorder {
  readonly events: RecordEvent[] = [];
  record(event: RecordEvent): void { this.events.push(event); }
}
