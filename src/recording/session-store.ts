import { every, systemClock, type Clock } from '../kernel/clock.ts';
import { EXCHANGE_SESSION_PROTOCOLS, type ExchangeSessionProtocol } from '../protocols/registry.ts';
import type { SqlDriver, SqlExecutor } from '../store/sql.ts';
import { ALL_SESSIONS, readEventPage, SESSION_COLUMNS, sessionFromRow, type SessionRow } from './session-reader.ts';
import type { SessionFilter, SessionInfo, SessionVerifyResult, StoredEvent } from './types.ts';
import { verifySession } from './verify-session.ts';

export interface SessionStoreOptions {
  readonly clock?: Clock;
  /** A closed session without an audit anchor fails verification. Default true. */
  readonly requireAnchor?: boolean;
  /** Told about failed retention runs. */
  readonly onError?: (err: unknown) => void;
  /** VACUUM and CHECKPOINT after a purge that deleted something (the embedded store: it has no background workers). Default: when `db` is the embedded store. */
  readonly vacuum?: boolean;
}

/**
 * The read side of recording: list, get, page through events, verify, and purge by age.
 * Writes go through {@link StoreRecorder}; both work on the same tables.
 *
 * @example
 *   const sessions = new SessionStore(db);
 *   const recent = await sessions.list({ user: 'alice', decision: 'deny', since: Date.now() - 86_400_000 });
 *   const r = await sessions.verify(recent[0]!.id);
 */
export class SessionStore {
  readonly #db: SqlExecutor;
  readonly #clock: Clock;
  readonly #requireAnchor: boolean;
  readonly #onError: (err: unknown) => void;
  readonly #vacuum: boolean;
  /** Stops the retention timer. */
  #timer: (() => void) | undefined;

  constructor(db: SqlExecutor, opts: SessionStoreOptions = {}) {
    this.#db = db;
    this.#clock = opts.clock ?? systemClock;
    this.#requireAnchor = opts.requireAnchor ?? true;
    this.#onError = opts.onError ?? (() => undefined);
    this.#vacuum = opts.vacuum ?? ((db as Partial<Pick<SqlDriver, 'kind'>>).kind === 'embedded');
  }

  /** Sessions newest first (by `openedAt`), filtered; page with `before` = last `openedAt` (ms). */
  async list(f: SessionFilter = {}): Promise<SessionInfo[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, v: unknown): void => { params.push(v); where.push(sql.replace('?', `$${params.length}`)); };
    if (f.user !== undefined) add('user_id = ?', f.user);
    if (f.agent !== undefined) add('agent_id = ?', f.agent);
    if (f.connection !== undefined) add('connection = ?', f.connection);
    if (f.since !== undefined) add('last_at >= ?::timestamptz', new Date(f.since).toISOString());
    if (f.until !== undefined) add('opened_at < ?::timestamptz', new Date(f.until).toISOString());
    if (f.before !== undefined) add('opened_at < ?::timestamptz', new Date(f.before).toISOString());
    if (f.decision !== undefined) where.push(`had_${f.decision}`);
    params.push(Math.min(1000, Math.max(1, Math.trunc(f.limit ?? 50))));
    const rows = await this.#db.query<SessionRow>(
      `SELECT ${SESSION_COLUMNS} FROM ${ALL_SESSIONS} s ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY opened_at DESC, id DESC LIMIT $${params.length}`,
      params,
    );
    return rows.map(sessionFromRow);
  }

  /** One session, or undefined. */
  async get(id: string): Promise<SessionInfo | undefined> {
    const [row] = await this.#db.query<SessionRow>(
      `SELECT ${SESSION_COLUMNS} FROM sessions WHERE id = $1 UNION ALL SELECT ${SESSION_COLUMNS} FROM sessions_open WHERE id = $1 LIMIT 1`, [id]);
    return row ? sessionFromRow(row) : undefined;
  }

  /**
   * Events with `seq > afterSeq`, oldest first: at most `limit` (default 100, at most 1000) and
   * about 8 MiB of payload per page. Page on with the last seq.
   */
  async events(id: string, opts: { afterSeq?: number; limit?: number } = {}): Promise<StoredEvent[]> {
    const limit = Math.min(1000, Math.max(1, Math.trunc(opts.limit ?? 100)));
    const page = await readEventPage(this.#db, id, opts.afterSeq ?? 0, limit);
    return page.map((e) => ({
      session: id, seq: e.seq, at: e.at, type: e.type,
      ...(e.user === null ? {} : { user: e.user }), ...(e.agent === null ? {} : { agent: e.agent }),
      data: parseData(e.text), prevHash: e.prevHash, hash: e.hash,
    }));
  }

  /** Every event of a session, page by page (bounded memory per page). */
  async *allEvents(id: string, pageSize = 500): AsyncGenerator<StoredEvent> {
    let after = 0;
    for (;;) {
      const page = await this.events(id, { afterSeq: after, limit: pageSize });
      if (page.length === 0) return;
      yield* page;
      after = page[page.length - 1]!.seq;
    }
  }

  /** Verifies a session's chain and its audit anchors; see {@link verifySession}. */
  verify(id: string): Promise<SessionVerifyResult> {
    return verifySession(this.#db, id, { requireAnchor: this.#requireAnchor });
  }

  /**
   * Deletes sessions (with their events and chunks) whose last activity is older than `ageMs`,
   * in batches of 500. Returns how many were deleted. Audit anchors stay (they are part of the
   * global chain); they name a session that no longer exists.
   */
  async purgeOlderThan(ageMs: number): Promise<number> {
    const cutoff = new Date(this.#clock.now() - ageMs).toISOString();
    let total = 0;
    for (;;) {
      // Segments, events and chunks go in the same statement as their sessions (there is no
      // cascading key); open exchange-grouped sessions idle that long too (`sessions_open`).
      const gone = await this.#db.query<{ id: string; open: boolean }>(
        `WITH done AS (DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE opened_at < $1::timestamptz AND last_at < $1::timestamptz LIMIT 500) RETURNING id, open_body, tail_body),
           live AS (DELETE FROM sessions_open WHERE id IN (SELECT id FROM sessions_open WHERE opened_at < $1::timestamptz AND last_at < $1::timestamptz LIMIT 500) RETURNING id, open_body),
           gone AS (SELECT id, false AS open FROM done UNION ALL SELECT id, true AS open FROM live),
           segments AS (DELETE FROM session_segments WHERE session_id IN (SELECT id FROM gone) RETURNING body_id),
           events AS (DELETE FROM session_events WHERE session_id IN (SELECT id FROM gone)),
           chunks AS (DELETE FROM session_chunks WHERE session_id IN (SELECT id FROM gone)),
           -- A body goes with the last segment (or row's run, migration 014) that points into it.
           bodies AS (DELETE FROM recording_bodies b WHERE b.id IN (SELECT body_id FROM segments UNION SELECT open_body FROM done UNION SELECT tail_body FROM done UNION SELECT open_body FROM live)
             AND NOT EXISTS (SELECT 1 FROM session_segments s WHERE s.body_id = b.id AND s.session_id NOT IN (SELECT id FROM gone))
             AND NOT EXISTS (SELECT 1 FROM sessions s WHERE (s.open_body = b.id OR s.tail_body = b.id) AND s.id NOT IN (SELECT id FROM gone))
             AND NOT EXISTS (SELECT 1 FROM sessions_open s WHERE s.open_body = b.id AND s.id NOT IN (SELECT id FROM gone)))
         SELECT id, open FROM gone`, [cutoff],
      );
      total += gone.length;
      if (gone.filter((g) => g.open).length < 500 && gone.filter((g) => !g.open).length < 500) break;
    }
    if (total > 0 && this.#vacuum) await this.#reclaim();
    return total;
  }

  /**
   * The embedded store has no autovacuum and no checkpointer: after a purge, VACUUM makes the
   * freed space reusable (and gives the tail of each table back to the file system), and a
   * CHECKPOINT lets the WAL written so far be recycled. A PostgreSQL server does both itself.
   */
  async #reclaim(): Promise<void> {
    for (const table of ['recording_bodies', 'session_segments', 'sessions', 'sessions_open', 'session_events', 'session_chunks']) await this.#db.query(`VACUUM ${table}`);
    await this.#db.query('CHECKPOINT');
  }

  /**
   * Exchange-grouped sessions (HTTP and MCP: the protocols declaring `sessions: 'exchanges'`) still
   * open whose last event is older than `ageMs`: no live gateway keeps a session unused that long
   * (each ends its own after `recording.session_idle`), so these were left open by a process that
   * died. At most 500, oldest first. Connection-bound sessions (PostgreSQL, SSH) are never listed.
   */
  async staleOpen(ageMs: number): Promise<{ id: string; protocol: ExchangeSessionProtocol; user: string | null; agent: string | null }[]> {
    if (EXCHANGE_SESSION_PROTOCOLS.length === 0) return [];
    const cutoff = new Date(this.#clock.now() - ageMs).toISOString();
    const protocols = EXCHANGE_SESSION_PROTOCOLS.map((_, i) => `$${i + 2}`).join(', ');
    return this.#db.query(
      `SELECT id, protocol, user_id AS "user", agent_id AS agent FROM ${ALL_SESSIONS} s
       WHERE opened_at < $1::timestamptz AND closed_at IS NULL AND protocol IN (${protocols}) AND last_at < $1::timestamptz ORDER BY last_at LIMIT 500`,
      [cutoff, ...EXCHANGE_SESSION_PROTOCOLS],
    );
  }

  /** Purges sessions older than `retentionMs` every `everyMs` (default hourly) until {@link stop}. */
  startRetention(retentionMs: number, everyMs = 3_600_000): void {
    this.stop();
    const run = (): void => { this.purgeOlderThan(retentionMs).catch(this.#onError); };
    this.#timer = every(this.#clock, everyMs, run);
    run();
  }

  /** Stops the retention timer. */
  stop(): void {
    this.#timer?.();
    this.#timer = undefined;
  }
}

function parseData(text: string): Readonly<Record<string, unknown>> {
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Record<string, unknown> : { value: v };
  } catch {
    return { $corrupt: true };
  }
}
