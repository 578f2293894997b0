import { canonicalJson } from '../audit/chain.ts';
import type { SqlExecutor } from '../store/sql.ts';
import type { DecisionEffect, SessionInfo } from './types.ts';

/** A stored event with its data as canonical JSON text (chunks reassembled). */
export interface RawEvent {
  readonly seq: number;
  readonly at: string;
  readonly type: string;
  readonly user: string | null;
  readonly agent: string | null;
  readonly text: string;
  readonly prevHash: string;
  readonly hash: string;
}

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
 * One page of a session's events with `seq > afterSeq`, oldest first: at most `limit` events and,
 * past the first event, at most about `maxBytes` of payload (so a page of large events stays
 * bounded). Chunked payloads are reassembled. An empty page means there is nothing further.
 */
export async function readEventPage(db: SqlExecutor, session: string, afterSeq: number, limit: number, maxBytes = 8 * 1024 * 1024): Promise<RawEvent[]> {
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
