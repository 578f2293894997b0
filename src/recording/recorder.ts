/**
 * The recording hook every data path calls. The protocols hand each exchange to the recorder
 * already masked (what the client received); storage, hash chaining and replay belong to the
 * recording subsystem. Implementations must never throw into the data path and must bound
 * their own buffers.
 */
export interface RecordEvent {
  /** Session id: a PostgreSQL connection, or an HTTP/MCP exchange stream. */
  readonly session: string;
  readonly protocol: 'http' | 'postgres' | 'mcp';
  readonly type: 'session.open' | 'session.close' | 'request' | 'decision' | 'response' | 'error' | 'review';
  readonly at: number;
  readonly user?: string;
  readonly agent?: string;
  readonly connection?: string;
  /** Masked content and metadata (statement, parameters, prompt, completion, row counts, timings). */
  readonly data: Readonly<Record<string, unknown>>;
}

export interface Recorder {
  record(event: RecordEvent): void;
}

/** A recorder that keeps nothing (recording disabled, or not yet wired). */
export const nullRecorder: Recorder = { record: () => undefined };

/** A recorder that keeps events in memory, for tests. */
export class MemoryRecorder implements Recorder {
  readonly events: RecordEvent[] = [];
  record(event: RecordEvent): void { this.events.push(event); }
}
