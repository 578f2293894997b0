/**
 * What the parts of a proxied session (frontend guard, denial markers, local settings, result
 * path, recording) share: the two sockets and the count of batches. Implemented by `PgSession`;
 * each part writes through it and never touches a socket itself.
 */
export interface SessionLink {
  /** Writes to the upstream socket; when it is full the client is paused (backpressure). */
  toUpstream(b: Buffer): void;
  /** Writes to the client socket; when it is full the upstream is paused (backpressure). */
  toClient(b: Buffer): void;
  /** Corks the upstream socket (the pump uncorks it after each batch of client frames). */
  corkUpstream(): void;
  /** Uncorks the upstream socket fully: what was queued is sent now. */
  flushUpstream(): void;
  /** Pauses / resumes reading the client socket. */
  pauseClient(): void;
  resumeClient(): void;
  /** True once the session has ended. */
  isClosed(): boolean;
  /**
   * Batches sent upstream (Query or Sync, each answered by one ReadyForQuery) and batches
   * answered. A batch's index is `sent` at the time its first message is written.
   */
  readonly batches: { sent: number; done: number };
}
