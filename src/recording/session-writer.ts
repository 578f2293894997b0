import type { SqlExecutor } from '../store/sql.ts';
import { eventHash, SESSION_GENESIS } from './event-hash.ts';
import { EXCHANGE_SESSION_PROTOCOLS } from '../protocols/registry.ts';
import { encodeBody, type BodyEvent } from './segment.ts';
import type { DecisionEffect } from './types.ts';

/** An event validated and serialized, waiting in the recorder's queue. */
export interface PreparedEvent {
  readonly session: string;
  readonly protocol: string;
  /** A RecordEvent type, or `truncated` for a marker the recorder adds itself. */
  readonly type: string;
  /** ISO-8601 UTC. */
  readonly at: string;
  readonly user: string | null;
  readonly agent: string | null;
  readonly connection: string | null;
  /** Canonical JSON of the data. */
  readonly text: string;
  /** UTF-8 bytes of `text`. */
  readonly bytes: number;
  /** For decision events: the effect (allow/deny/review) found in the data. */
  readonly effect: DecisionEffect | undefined;
}

export interface WriteOptions {
  /** Per-session cap on recorded bytes; past it one `truncated` event is written and later events are dropped. */
  readonly maxSessionBytes: number;
  /** A segment holds consecutive events of one session up to about this many characters (one larger event is alone in its own). */
  readonly chunkChars: number;
  /** The recorder's journal and the last ticket of the batch, committed with it (recovery skips what it covers). */
  readonly watermark?: { readonly journal: string; readonly through: number } | undefined;
  /** Closes whose anchors were appended since: their `recording_anchor_due` rows are deleted with the batch. */
  readonly anchored?: readonly AnchoredClose[] | undefined;
}

/** A close whose anchor is in the audit chain: the session and its event count at the close. */
export interface AnchoredClose {
  readonly session: string;
  readonly events: number;
}

/** A session whose `session.close` was committed by the batch: to be anchored in the audit chain. */
export interface ClosedHead {
  readonly session: string;
  readonly headHash: string;
  readonly events: number;
  readonly user: string | null;
  readonly agent: string | null;
}

interface SessionState {
  count: number;
  head: string;
  bytes: number;
  capped: boolean;
  truncated: boolean;
  dropped: number;
  lastAt: string;
  closedAt: string | null;
  allow: boolean;
  deny: boolean;
  review: boolean;
  user: string | null;
  agent: string | null;
}

interface HeadRow {
  id: string; event_count: number | string; head_hash: string; bytes: number | string; capped: boolean;
  tail_first: number | string | null; tail_body: number | string | null;
}

/** Where a session's row is: `open` in `sessions_open`, `row` in `sessions`, `new` not yet written. */
type Place = 'open' | 'row' | 'new';

/** One segment of the batch: `part` is the 1-based index of its new body. */
interface Seg { session: string; first: number; last: number; part: number }

/**
 * Writes one batch inside the caller's transaction: locks every existing session of the batch
 * (`FOR UPDATE`, in id order, `sessions_open` then `sessions`, so replicas sharing a server
 * interleave whole batches), chains the events, applies the size cap, stores each session's events
 * of the batch as compressed segments (`segment.ts`), and writes the heads. Three statements per
 * batch, whatever its size (arrays through `unnest`, the writes joined by CTEs). Where a session's
 * row goes (migration 014):
 * - a new session closed by the batch: inserted into `sessions` once, final;
 * - a new exchange-grouped session (http, mcp) left open: inserted into `sessions_open`, updated
 *   there by later batches, and moved into `sessions` by the batch that closes it — written there
 *   once, with its final head; when that batch holds its events in one body, the row points at
 *   them (`tail_first`, `tail_body`) instead of a `session_segments` row;
 * - any other (a connection-bound session, PostgreSQL or SSH): inserted into `sessions` and
 *   updated there (heap-only updates, migration 010).
 * Returns the sessions closed by the batch.
 */
export async function writeBatch(tx: SqlExecutor, batch: readonly PreparedEvent[], opts: WriteOptions): Promise<{ closed: ClosedHead[]; dropped: number }> {
  const firsts = new Map<string, PreparedEvent>();
  for (const e of batch) if (!firsts.has(e.session)) firsts.set(e.session, e);
  const ids = [...firsts.keys()].sort();
  // The existing sessions of the batch, locked in id order: the open exchange-grouped ones first,
  // then (in a statement of its own, so its snapshot sees a row another replica's batch moved
  // there while this one waited) those in `sessions`. The others are new: inserted once, with
  // their head after this batch, by the last statement (a concurrent insert of the same id by
  // another replica fails the batch, which is retried and then finds the row).
  const open = await tx.query<HeadRow>(
    'SELECT id, event_count, head_hash, bytes, capped, NULL AS tail_first, NULL AS tail_body FROM sessions_open WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE', [ids],
  );
  const openIds = new Set(open.map((r) => r.id));
  const rest = ids.filter((id) => !openIds.has(id));
  const rows = rest.length === 0 ? [] : await tx.query<HeadRow>(
    'SELECT id, event_count, head_hash, bytes, capped, tail_first, tail_body FROM sessions WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE', [rest],
  );
  const state = new Map<string, SessionState>();
  const place = new Map<string, Place>();
  const tails = new Map<string, { first: number; last: number; body: number }>();
  for (const [list, where] of [[open, 'open'], [rows, 'row']] as const) {
    for (const r of list) {
      if (place.has(r.id)) continue;
      place.set(r.id, where);
      state.set(r.id, {
        count: Number(r.event_count), head: r.head_hash, bytes: Number(r.bytes), capped: r.capped, truncated: false, dropped: 0,
        lastAt: firsts.get(r.id)!.at, closedAt: null, allow: false, deny: false, review: false, user: null, agent: null,
      });
      if (r.tail_body !== null && r.tail_first !== null) tails.set(r.id, { first: Number(r.tail_first), last: Number(r.event_count), body: Number(r.tail_body) });
    }
  }
  for (const id of ids) {
    if (place.has(id)) continue;
    place.set(id, 'new');
    state.set(id, {
      count: 0, head: SESSION_GENESIS, bytes: 0, capped: false, truncated: false, dropped: 0,
      lastAt: firsts.get(id)!.at, closedAt: null, allow: false, deny: false, review: false, user: null, agent: null,
    });
  }
  // Each session's events of the batch, chained, to be cut into segments.
  const chained = new Map<string, BodyEvent[]>();
  const append = (st: SessionState, e: PreparedEvent, type: string, text: string): void => {
    const seq = st.count + 1;
    const hash = eventHash(st.head, { session: e.session, seq, at: e.at, type, user: e.user, agent: e.agent }, text);
    let list = chained.get(e.session);
    if (list === undefined) { list = []; chained.set(e.session, list); }
    list.push({ session: e.session, seq, at: e.at, type, user: e.user, agent: e.agent, text, prevHash: st.head, hash });
    st.count = seq;
    st.head = hash;
    if (e.at > st.lastAt) st.lastAt = e.at;
    st.user ??= e.user;
    st.agent ??= e.agent;
  };
  let dropped = 0;
  const closing = new Set<string>();
  for (const e of batch) {
    const st = state.get(e.session);
    if (!st) throw new Error(`session ${e.session} was not locked`);
    if (e.type === 'truncated') {
      append(st, e, e.type, e.text);
      st.truncated = true;
      continue;
    }
    if (e.type !== 'session.close') {
      if (st.capped) { st.dropped++; dropped++; continue; }
      if (st.bytes + e.bytes > opts.maxSessionBytes) {
        const marker = `{"limit":${opts.maxSessionBytes},"reason":"max_session_bytes"}`;
        append(st, e, 'truncated', marker);
        st.capped = true; st.truncated = true; st.dropped++; dropped++;
        continue;
      }
    }
    append(st, e, e.type, e.text);
    st.bytes += e.bytes;
    if (e.effect === 'allow') st.allow = true;
    if (e.effect === 'deny') st.deny = true;
    if (e.effect === 'review' || e.type === 'review') st.review = true;
    if (e.type === 'session.close') { st.closedAt = e.at; closing.add(e.session); }
  }
  // Bodies of about chunkChars of payload; each session's events of a body are one segment.
  const segs: Seg[] = [];
  const bodies: Buffer[] = [];
  let body: BodyEvent[] = [];
  let size = 0;
  const seal = (): void => {
    if (body.length === 0) return;
    bodies.push(encodeBody(body));
    body = [];
    size = 0;
  };
  for (const [session, list] of chained) {
    let first = list[0]!.seq;
    for (const e of list) {
      if (body.length > 0 && size + e.text.length > opts.chunkChars) {
        if (e.seq > first) segs.push({ session, first, last: e.seq - 1, part: bodies.length + 1 });
        seal();
        first = e.seq;
      }
      body.push(e);
      size += e.text.length;
    }
    segs.push({ session, first, last: list[list.length - 1]!.seq, part: bodies.length + 1 });
  }
  seal();
  // Sessions moved from `sessions_open` at their close whose events of the batch are one
  // segment: the row points at it instead of a segment row.
  const moving = ids.filter((id) => place.get(id) === 'open' && closing.has(id));
  const tailOf = new Map<string, Seg>();
  for (const id of moving) {
    const own = segs.filter((g) => g.session === id);
    if (own.length === 1) tailOf.set(id, own[0]!);
  }
  // New exchange-grouped sessions left open whose events of the batch are one segment: the
  // `sessions_open` row points at that first run (seqs 1 to its last) instead.
  const fresh = ids.filter((id) => place.get(id) === 'new');
  const opening = fresh.filter((id) => !closing.has(id) && isExchangeGrouped(firsts.get(id)!.protocol));
  for (const id of opening) {
    const own = segs.filter((g) => g.session === id);
    if (own.length === 1 && own[0]!.first === 1) tailOf.set(id, own[0]!);
  }
  const kept = tailOf.size === 0 ? segs : segs.filter((g) => tailOf.get(g.session) !== g);
  // A session in `sessions` that points at its close's run and records more events: that run
  // becomes a segment row (the row's pointer covers the run up to the head only).
  const carried = ids.filter((id) => place.get(id) === 'row' && tails.has(id) && chained.has(id)).map((id) => ({ session: id, ...tails.get(id)! }));

  const params: unknown[] = [];
  const arr = (v: unknown): string => { params.push(v); return `$${params.length}`; };
  const ctes: string[] = [];
  const heads = (list: readonly string[]): string => {
    const st = list.map((id) => state.get(id)!);
    return `unnest(${arr(list)}::text[], ${arr(st.map((x) => x.user))}::text[], ${arr(st.map((x) => x.agent))}::text[], ${arr(st.map((x) => x.lastAt))}::timestamptz[],
                   ${arr(st.map((x) => x.closedAt))}::timestamptz[], ${arr(st.map((x) => x.bytes))}::bigint[], ${arr(st.map((x) => x.count))}::bigint[], ${arr(st.map((x) => x.head))}::text[],
                   ${arr(st.map((x) => x.capped))}::boolean[], ${arr(st.map((x) => x.truncated))}::boolean[], ${arr(st.map((x) => x.dropped))}::bigint[],
                   ${arr(st.map((x) => x.allow))}::boolean[], ${arr(st.map((x) => x.deny))}::boolean[], ${arr(st.map((x) => x.review))}::boolean[])
       AS v(id, u, a, last_at, closed_at, bytes, n, head, capped, truncated, dropped, allow, deny, review)`;
  };
  const SET = `user_id = COALESCE(s.user_id, v.u), agent_id = COALESCE(s.agent_id, v.a),
       last_at = GREATEST(s.last_at, v.last_at), closed_at = COALESCE(v.closed_at, s.closed_at),
       bytes = v.bytes, event_count = v.n, head_hash = v.head, capped = v.capped,
       truncated = s.truncated OR v.truncated, dropped = s.dropped + v.dropped,
       had_allow = s.had_allow OR v.allow, had_deny = s.had_deny OR v.deny, had_review = s.had_review OR v.review`;
  // Body ids from the sequence, matched to their segments by position (one statement). Bodies
  // travel as base64 text: PGlite serializes a bytea parameter several times slower.
  ctes.push(`bi AS (SELECT nextval(pg_get_serial_sequence('recording_bodies', 'id')) AS id, v.n, decode(v.body, 'base64') AS body FROM unnest(${arr(bodies.map((b) => b.toString('base64')))}::text[]) WITH ORDINALITY AS v(body, n))`,
    'rb AS (INSERT INTO recording_bodies (id, body) SELECT id, body FROM bi)');
  if (kept.length > 0) {
    ctes.push(`sg AS (INSERT INTO session_segments (session_id, first_seq, last_seq, body_id)
       SELECT v.s, v.f, v.l, bi.id FROM unnest(${arr(kept.map((g) => g.session))}::text[], ${arr(kept.map((g) => g.first))}::bigint[], ${arr(kept.map((g) => g.last))}::bigint[], ${arr(kept.map((g) => g.part))}::int[]) AS v(s, f, l, n) JOIN bi ON bi.n = v.n)`);
  }
  if (carried.length > 0) {
    ctes.push(`sc AS (INSERT INTO session_segments (session_id, first_seq, last_seq, body_id)
       SELECT * FROM unnest(${arr(carried.map((c) => c.session))}::text[], ${arr(carried.map((c) => c.first))}::bigint[], ${arr(carried.map((c) => c.last))}::bigint[], ${arr(carried.map((c) => c.body))}::bigint[]))`);
  }
  // New sessions: final ones (closed by this batch) and connection-bound ones into `sessions`,
  // open exchange-grouped ones into `sessions_open`.
  for (const [table, list] of [['sessions', fresh.filter((id) => !opening.includes(id))], ['sessions_open', opening]] as const) {
    if (list.length === 0) continue;
    const first = list.map((id) => firsts.get(id)!);
    const run = list.map((id) => tailOf.get(id));
    ctes.push(`${table === 'sessions' ? 'ns' : 'no'} AS (INSERT INTO ${table} (id, protocol, user_id, agent_id, connection, opened_at, last_at, closed_at, bytes, event_count, head_hash, capped, truncated, dropped, had_allow, had_deny, had_review, open_last, open_body)
       SELECT v.id, w.protocol, v.u, v.a, w.connection, w.opened_at, v.last_at, v.closed_at, v.bytes, v.n, v.head, v.capped, v.truncated, v.dropped, v.allow, v.deny, v.review,
              w.ol, (SELECT bi.id FROM bi WHERE bi.n = w.op)
       FROM ${heads(list)}
       JOIN unnest(${arr(list)}::text[], ${arr(first.map((e) => e.protocol))}::text[], ${arr(first.map((e) => e.connection))}::text[], ${arr(first.map((e) => e.at))}::timestamptz[],
                   ${arr(run.map((g) => g?.last ?? null))}::bigint[], ${arr(run.map((g) => g?.part ?? null))}::int[])
         AS w(id, protocol, connection, opened_at, ol, op) ON w.id = v.id)`);
  }
  const stay = ids.filter((id) => place.get(id) === 'open' && !closing.has(id));
  if (stay.length > 0) ctes.push(`uo AS (UPDATE sessions_open s SET ${SET} FROM ${heads(stay)} WHERE s.id = v.id)`);
  if (moving.length > 0) {
    const tailSeg = moving.map((id) => tailOf.get(id));
    ctes.push(`mo AS (DELETE FROM sessions_open WHERE id = ANY(${arr(moving)}::text[]) RETURNING *)`,
      `mi AS (INSERT INTO sessions (id, protocol, user_id, agent_id, connection, opened_at, last_at, closed_at, bytes, event_count, head_hash, capped, truncated, dropped, had_allow, had_deny, had_review, open_last, open_body, tail_first, tail_body)
       SELECT s.id, s.protocol, COALESCE(s.user_id, v.u), COALESCE(s.agent_id, v.a), s.connection, s.opened_at, GREATEST(s.last_at, v.last_at), COALESCE(v.closed_at, s.closed_at),
              v.bytes, v.n, v.head, v.capped, s.truncated OR v.truncated, s.dropped + v.dropped, s.had_allow OR v.allow, s.had_deny OR v.deny, s.had_review OR v.review,
              s.open_last, s.open_body, t.f, (SELECT bi.id FROM bi WHERE bi.n = t.n)
       FROM mo s JOIN ${heads(moving)} ON v.id = s.id
       JOIN unnest(${arr(moving)}::text[], ${arr(tailSeg.map((g) => g?.first ?? null))}::bigint[], ${arr(tailSeg.map((g) => g?.part ?? null))}::int[]) AS t(id, f, n) ON t.id = s.id)`);
  }
  const updated = ids.filter((id) => place.get(id) === 'row');
  if (updated.length > 0) {
    const off = carried.length === 0 ? '' : (() => {
      const c = arr(carried.map((x) => x.session));
      return `, tail_first = CASE WHEN s.id = ANY(${c}::text[]) THEN NULL ELSE s.tail_first END, tail_body = CASE WHEN s.id = ANY(${c}::text[]) THEN NULL ELSE s.tail_body END`;
    })();
    ctes.push(`uc AS (UPDATE sessions s SET ${SET}${off} FROM ${heads(updated)} WHERE s.id = v.id)`);
  }
  // The heads this batch closes wait in `recording_anchor_due` (migration 016) until their anchor
  // is appended, so that a process killed in between leaves them for the next start to anchor.
  const closingList = [...closing];
  if (closingList.length > 0) {
    const st = closingList.map((id) => state.get(id)!);
    ctes.push(`ad AS (INSERT INTO recording_anchor_due (session, events, head_hash, user_id, agent_id)
       SELECT * FROM unnest(${arr(closingList)}::text[], ${arr(st.map((x) => x.count))}::bigint[], ${arr(st.map((x) => x.head))}::text[], ${arr(st.map((x) => x.user))}::text[], ${arr(st.map((x) => x.agent))}::text[])
       ON CONFLICT (session, events) DO NOTHING)`);
  }
  if (opts.anchored !== undefined && opts.anchored.length > 0) {
    // Rows a sweep holds are skipped (no lock wait between replicas; the sweep deletes them).
    ctes.push(`da AS (DELETE FROM recording_anchor_due WHERE (session, events) IN (
       SELECT d.session, d.events FROM recording_anchor_due d JOIN unnest(${arr(opts.anchored.map((a) => a.session))}::text[], ${arr(opts.anchored.map((a) => a.events))}::bigint[]) AS v(s, n)
         ON d.session = v.s AND d.events = v.n ORDER BY d.session, d.events FOR UPDATE OF d SKIP LOCKED))`);
  }
  if (opts.watermark) {
    ctes.push(`wm AS (INSERT INTO recording_journal (id, through) VALUES (${arr(opts.watermark.journal)}, ${arr(opts.watermark.through)})
       ON CONFLICT (id) DO UPDATE SET through = GREATEST(recording_journal.through, EXCLUDED.through))`);
  }
  await tx.query(`WITH ${ctes.join(',\n     ')}\n     SELECT 1`, params);
  const closed = closingList.map((id) => {
    const s = state.get(id)!;
    return { session: id, headHash: s.head, events: s.count, user: s.user, agent: s.agent };
  });
  return { closed, dropped };
}

/** Sessions of these protocols are kept in `sessions_open` while open (migration 014). */
function isExchangeGrouped(protocol: string): boolean {
  return (EXCHANGE_SESSION_PROTOCOLS as readonly string[]).includes(protocol);
}

/** Sessions closed (mostly moved out of `sessions_open`) since its last VACUUM, per store. */
const closedSinceVacuum = new WeakMap<object, number>();
/** Closes between two VACUUMs of `sessions_open` on the embedded store. */
const VACUUM_OPEN_AFTER = 256;

/**
 * After a batch (on the embedded store, which has no autovacuum): the rows `sessions_open` loses
 * (a session moved at its close) and the dead versions of its updates are made reusable by
 * vacuuming it once {@link VACUUM_OPEN_AFTER} sessions were closed since the last time, so it
 * stays the size of the open sessions; `recording_anchor_due` (closes waiting for their anchor) with
 * it. Cheap: the tables hold open sessions and unanchored closes only.
 */
export async function afterBatch(db: SqlExecutor & { readonly kind: string }, closed: number): Promise<void> {
  if (db.kind !== 'embedded') return;
  const n = (closedSinceVacuum.get(db) ?? 0) + closed;
  if (n < VACUUM_OPEN_AFTER) { closedSinceVacuum.set(db, n); return; }
  closedSinceVacuum.set(db, 0);
  await db.query('VACUUM (INDEX_CLEANUP ON) sessions_open, recording_anchor_due');
}
