import { canonicalJson } from '../audit/chain.ts';
import type { SqlExecutor } from '../store/sql.ts';
import { decodeBody, type RawEvent } from './segment.ts';
import type { DecisionEffect, SessionInfo } from './types.ts';

export type { RawEvent } from './segment.ts';

interface EventRow {
  seq: number | string; at: Date | string; type: string; user_id: string | null; agent_id: string | null;
  data: unknown; chunks: number; bytes: number; prev_hash: string; hash: string;
}

/** The shape of a `sessions` row as both drivers return it. */
export interface SessionRow {
  id: string; protocol: string; user_id: string | null; agent_id: string | null; connection: string | null;
  opened_at: Date | string; last_at: Date | string; closed_at: Date | string | null;
  bytes: number | string; event_count: number | string; head_hash: string; truncated: boolean; dropped: number | string;
  had_allow: boolean; had_deny: boolean; had_review: boolean;
}

export const SESSION_COLUMNS = 'id, protocol, user_id, agent_id, connection, opened_at, last_at, closed_at, bytes, event_count, head_hash, truncated, dropped, had_allow, had_deny, had_review';

/**
 * Every session, as one relation: `sessions` (closed sessions and connection-bound open ones) and
 * `sessions_open` (open exchange-grouped sessions, moved to `sessions` at their close; migration
 * 014). Use as `FROM ${ALL_SESSIONS} s`.
 */
export const ALL_SESSIONS = `(SELECT ${SESSION_COLUMNS} FROM sessions UNION ALL SELECT ${SESSION_COLUMNS} FROM sessions_open)`;

/** Segments read per round trip while filling a page. */
const SEGMENTS_PER_READ = 16;

/**
 * One page of a session's events with `seq > afterSeq`, oldest first: at most `limit` events and,
 * past the first event, at most about `maxBytes` of payload (so a page of large events stays
 * bounded). Events come from the session's segments (each names a batch body and a run of
 * seqs; the body's events of other sessions are skipped; a row's `open_last`/`open_body`, seqs 1
 * to open_last, and `tail_first`/`tail_body`, tail_first to its `event_count`, are two more:
 * migration 014) and, for what was recorded before
 * segments, from `session_events` rows (chunks reassembled), merged in seq order. A segment
 * whose body is missing or cannot be decoded reads as placeholder events (`type: 'corrupt'`, no
 * hash) for the seqs it claims, which verification reports as `changed`. An empty page means
 * there is nothing further.
 */
export async function readEventPage(db: SqlExecutor, session: string, afterSeq: number, limit: number, maxBytes = 8 * 1024 * 1024): Promise<RawEvent[]> {
  const fromSegments: RawEvent[] = [];
  let cursor = afterSeq;
  let budget = maxBytes;
  read: for (;;) {
    const rows = await db.query<{ first_seq: number | string; last_seq: number | string; body_id: number | string }>(
      `SELECT first_seq, last_seq, body_id FROM session_segments WHERE session_id = $1 AND last_seq > $2
       UNION ALL SELECT 1, open_last, open_body FROM sessions WHERE id = $1 AND open_body IS NOT NULL AND open_last > $2
       UNION ALL SELECT tail_first, event_count, tail_body FROM sessions WHERE id = $1 AND tail_body IS NOT NULL AND event_count > $2
       UNION ALL SELECT 1, open_last, open_body FROM sessions_open WHERE id = $1 AND open_body IS NOT NULL AND open_last > $2
       ORDER BY first_seq LIMIT $3`,
      [session, cursor, SEGMENTS_PER_READ],
    );
    if (rows.length === 0) break;
    const ids = [...new Set(rows.map((r) => String(r.body_id)))];
    const bodies = new Map<string, Uint8Array>();
    for (const b of await db.query<{ id: number | string; body: Uint8Array }>('SELECT id, body FROM recording_bodies WHERE id = ANY($1::bigint[])', [ids])) {
      bodies.set(String(b.id), b.body);
    }
    for (const r of rows) {
      const first = Number(r.first_seq);
      const last = Number(r.last_seq);
      let events: RawEvent[];
      try {
        const body = bodies.get(String(r.body_id));
        if (body === undefined) throw new Error('missing body');
        events = decodeBody(body).filter((e) => e.session === session && e.seq >= first && e.seq <= last);
      } catch {
        events = [];
        for (let s = Math.max(first, afterSeq + 1); s <= last && events.length < limit; s++) {
          events.push({ seq: s, at: new Date(0).toISOString(), type: 'corrupt', user: null, agent: null, text: '{"$corrupt":"segment"}', prevHash: '', hash: '' });
        }
      }
      for (const e of events) {
        if (e.seq <= afterSeq) continue;
        const size = e.text.length;
        if (fromSegments.length >= limit || (fromSegments.length > 0 && budget - size < 0)) break read;
        budget -= size;
        fromSegments.push({ seq: e.seq, at: e.at, type: e.type, user: e.user, agent: e.agent, text: e.text, prevHash: e.prevHash, hash: e.hash });
      }
      // The claimed range (not the decoded one) moves the cursor, so a forged row cannot loop.
      cursor = Math.max(cursor, last);
    }
    if (rows.length < SEGMENTS_PER_READ) break;
  }
  const legacy = await readLegacyPage(db, session, afterSeq, limit, maxBytes);
  if (legacy.length === 0) return fromSegments;
  return [...legacy, ...fromSegments].sort((x, y) => x.seq - y.seq).slice(0, limit);
}

/** Events recorded before segments: one `session_events` row each, large ones in `session_chunks`. */
async function readLegacyPage(db: SqlExecutor, session: string, afterSeq: number, limit: number, maxBytes: number): Promise<RawEvent[]> {
  const rows = await db.query<EventRow>(
    `SELECT seq, at, type, user_id, agent_id, data, chunks, bytes, prev_hash, hash FROM session_events
     WHERE session_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
    [session, afterSeq, limit],
  );
  let budget = maxBytes;
  const page: EventRow[] = [];
  for (const r of rows) {
    if (page.length > 0 && budget - r.bytes < 0) break;
    budget -= r.bytes;
    page.push(r);
  }
  const chunked = page.filter((r) => r.chunks > 0).map((r) => Number(r.seq));
  const parts = new Map<number, string[]>();
  if (chunked.length > 0) {
    const chunks = await db.query<{ seq: number | string; idx: number; body: string }>(
      'SELECT seq, idx, body FROM session_chunks WHERE session_id = $1 AND seq = ANY($2::bigint[]) ORDER BY seq, idx',
      [session, chunked],
    );
    for (const c of chunks) {
      const list = parts.get(Number(c.seq)) ?? [];
      // A missing or extra chunk leaves a gap the hash check will catch; keep positions exact.
      list[c.idx] = c.body;
      parts.set(Number(c.seq), list);
    }
  }
  return page.map((r) => {
    const seq = Number(r.seq);
    const text = r.chunks > 0 ? Array.from({ length: r.chunks }, (_, i) => parts.get(seq)?.[i] ?? '').join('') : canonicalJson(r.data);
    return {
      seq, at: new Date(r.at).toISOString(), type: r.type, user: r.user_id, agent: r.agent_id, text,
      prevHash: r.prev_hash, hash: r.hash,
    };
  });
}

/** A `sessions` row as public {@link SessionInfo}. */
export function sessionFromRow(r: SessionRow): SessionInfo {
  const decisions: DecisionEffect[] = [];
  if (r.had_allow) decisions.push('allow');
  if (r.had_deny) decisions.push('deny');
  if (r.had_review) decisions.push('review');
  return {
    id: r.id, protocol: r.protocol,
    ...(r.user_id === null ? {} : { user: r.user_id }),
    ...(r.agent_id === null ? {} : { agent: r.agent_id }),
    ...(r.connection === null ? {} : { connection: r.connection }),
    openedAt: new Date(r.opened_at).toISOString(), lastAt: new Date(r.last_at).toISOString(),
    ...(r.closed_at === null ? {} : { closedAt: new Date(r.closed_at).toISOString() }),
    bytes: Number(r.bytes), events: Number(r.event_count), headHash: r.head_hash,
    truncated: r.truncated, dropped: Number(r.dropped), decisions,
  };
}
