/**
 * The one SQL interface both store implementations provide. Repositories are written once
 * against it; the embedded (PGlite) and server (PostgreSQL) drivers differ only here.
 */
export interface SqlExecutor {
  /** Runs one parameterized statement and returns its rows. */
  query<R extends object = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<R[]>;
}

export interface SqlDriver extends SqlExecutor {
  readonly kind: 'embedded' | 'postgres';
  /** Runs `fn` in one transaction; commits when it resolves, rolls back when it throws. */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** Runs several statements with no parameters (migrations). */
  exec(text: string): Promise<void>;
  /** Subscribes to a notification channel; resolves to an unsubscribe function. */
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  notify(channel: string, payload: string): Promise<void>;
  close(): Promise<void>;
}
