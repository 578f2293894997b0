import type { SqlExecutor } from '../store/sql.ts';
import { eventHash, SESSION_GENESIS } from './event-hash.ts';
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

interface HeadRow { id: string; event_count: number | string; head_hash: string; bytes: number | string; capped: boolean }

/**
 * Writes one batch inside the caller's transaction: creates missing sessions, locks every session
 * of the batch (`FOR UPDATE`, in id order, so replicas sharing a server interleave whole batches),
 * chains the events, applies the size cap, stores each session's events of the batch as
 * compressed segments (one row per session and batch, `segment.ts`), and updates the heads. Two
 * statements per batch, whatever its size (arrays through `unnest`, the writes joined by CTEs); a
 * new session is inserted once, with its final head. Returns the sessions closed by the batch.
 */
export async function writeBatch(tx: SqlExecutor, batch: readonly PreparedEvent[], opts: WriteOptions): Promise<{ closed: ClosedHead[]; dropped: number }> {
  const firsts = new Map<string, PreparedEvent>();
  for (const e of batch) if (!firsts.has(e.session)) firsts.set(e.session, e);
  const ids = [...firsts.keys()].sort();
  // The existing sessions of the batch, locked in id order (replicas sharing a server interleave
  // whole batches). The others are new: inserted once, with their final head, by the second
  // statement (a concurrent insert of the same id by another replica fails the batch, which is
  // retried and then finds the row).
  const rows = await tx.query<HeadRow>(
    'SELECT id, event_count, head_hash, bytes, capped FROM sessions WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE', [ids],
  );
  const state = new Map<string, SessionState>();
  const existing = new Set<string>();
  for (const r of rows) {
    existing.add(r.id);
    state.set(r.id, {
      count: Number(r.event_count), head: r.head_hash, bytes: Number(r.bytes), capped: r.capped, truncated: false, dropped: 0,
      lastAt: firsts.get(r.id)!.at, closedAt: null, allow: false, deny: false, review: false, user: null, agent: null,
    });
  }
  for (const id of ids) {
    if (existing.has(id)) continue;
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
  // The segments, the new sessions, the new heads of the existing ones (and the journal
  // watermark) in one statement.
  // Bodies of about chunkChars of payload; each session's events of a body are one segment.
  const seg = { s: [] as string[], first: [] as number[], last: [] as number[], part: [] as number[] };
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
        if (e.seq > first) { seg.s.push(session); seg.first.push(first); seg.last.push(e.seq - 1); seg.part.push(bodies.length + 1); }
        seal();
        first = e.seq;
      }
      body.push(e);
      size += e.text.length;
    }
    seg.s.push(session); seg.first.push(first); seg.last.push(list[list.length - 1]!.seq); seg.part.push(bodies.length + 1);
  }
  seal();
  const oldIds = ids.filter((id) => existing.has(id));
  const st = oldIds.map((id) => state.get(id)!);
  const params: unknown[] = [oldIds, st.map((x) => x.user), st.map((x) => x.agent), st.map((x) => x.lastAt), st.map((x) => x.closedAt), st.map((x) => x.bytes),
    st.map((x) => x.count), st.map((x) => x.head), st.map((x) => x.capped), st.map((x) => x.truncated), st.map((x) => x.dropped),
    st.map((x) => x.allow), st.map((x) => x.deny), st.map((x) => x.review),
    seg.s, seg.first, seg.last, seg.part, bodies.map((b) => b.toString('base64'))];
  const newIds = ids.filter((id) => !existing.has(id));
  const ctes: string[] = [];
  if (newIds.length > 0) {
    const ns = newIds.map((id) => state.get(id)!);
    const first = newIds.map((id) => firsts.get(id)!);
    params.push(newIds, first.map((e) => e.protocol), ns.map((x) => x.user), ns.map((x) => x.agent), first.map((e) => e.connection), first.map((e) => e.at),
      ns.map((x) => x.lastAt), ns.map((x) => x.closedAt), ns.map((x) => x.bytes), ns.map((x) => x.count), ns.map((x) => x.head), ns.map((x) => x.capped),
      ns.map((x) => x.truncated), ns.map((x) => x.dropped), ns.map((x) => x.allow), ns.map((x) => x.deny), ns.map((x) => x.review));
    const b = params.length - 17;
    const p = (i: number): string => `$${b + i}`;
    ctes.push(`ns AS (INSERT INTO sessions (id, protocol, user_id, agent_id, connection, opened_at, last_at, closed_at, bytes, event_count, head_hash, capped, truncated, dropped, had_allow, had_deny, had_review)
       SELECT * FROM unnest(${p(1)}::text[], ${p(2)}::text[], ${p(3)}::text[], ${p(4)}::text[], ${p(5)}::text[], ${p(6)}::timestamptz[], ${p(7)}::timestamptz[], ${p(8)}::timestamptz[],
                            ${p(9)}::bigint[], ${p(10)}::bigint[], ${p(11)}::text[], ${p(12)}::boolean[], ${p(13)}::boolean[], ${p(14)}::bigint[], ${p(15)}::boolean[], ${p(16)}::boolean[], ${p(17)}::boolean[]))`);
  }
  // Body ids from the sequence, matched to their segments by position (one statement). Bodies
  // travel as base64 text: PGlite serializes a bytea parameter several times slower.
  ctes.push(`bi AS (SELECT nextval(pg_get_serial_sequence('recording_bodies', 'id')) AS id, v.n, decode(v.body, 'base64') AS body FROM unnest($19::text[]) WITH ORDINALITY AS v(body, n))`,
    'rb AS (INSERT INTO recording_bodies (id, body) SELECT id, body FROM bi)',
    `sg AS (INSERT INTO session_segments (session_id, first_seq, last_seq, body_id)
       SELECT v.s, v.f, v.l, bi.id FROM unnest($15::text[], $16::bigint[], $17::bigint[], $18::int[]) AS v(s, f, l, n) JOIN bi ON bi.n = v.n)`);
  if (opts.watermark) {
    params.push(opts.watermark.journal, opts.watermark.through);
    const n = params.length;
    ctes.push(`wm AS (INSERT INTO recording_journal (id, through) VALUES ($${n - 1}, $${n})
       ON CONFLICT (id) DO UPDATE SET through = GREATEST(recording_journal.through, EXCLUDED.through))`);
  }
  await tx.query(
    `WITH ${ctes.join(',\n     ')}
     UPDATE sessions s SET
       user_id = COALESCE(s.user_id, v.u), agent_id = COALESCE(s.agent_id, v.a),
       last_at = GREATEST(s.last_at, v.last_at), closed_at = COALESCE(v.closed_at, s.closed_at),
       bytes = v.bytes, event_count = v.n, head_hash = v.head, capped = v.capped,
       truncated = s.truncated OR v.truncated, dropped = s.dropped + v.dropped,
       had_allow = s.had_allow OR v.allow, had_deny = s.had_deny OR v.deny, had_review = s.had_review OR v.review
     FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::bigint[], $7::bigint[], $8::text[],
                 $9::boolean[], $10::boolean[], $11::bigint[], $12::boolean[], $13::boolean[], $14::boolean[])
       AS v(id, u, a, last_at, closed_at, bytes, n, head, capped, truncated, dropped, allow, deny, review)
     WHERE s.id = v.id`,
    params,
  );
  const closed = [...closing].map((id) => {
    const s = state.get(id)!;
    return { session: id, headHash: s.head, events: s.count, user: s.user, agent: s.agent };
  });
  return { closed, dropped };
}
