import { GatehouseError } from '../kernel/errors.ts';
import type { SqlExecutor } from '../store/sql.ts';
import { eventHash, SESSION_GENESIS } from './event-hash.ts';
import { readEventPage } from './session-reader.ts';
import type { SessionVerifyResult } from './types.ts';

type Bad = Extract<SessionVerifyResult, { ok: false }>;
const bad = (seq: number, reason: Bad['reason']): Bad => ({ ok: false, seq, reason });

/**
 * Walks one session's chain and reports the first problem:
 * - `changed`: an event whose stored hash no longer matches its content;
 * - `missing`: a gap in `seq`, or a chain that ends before the session head;
 * - `inserted`: a well-formed event that does not link to its predecessor, or lies beyond the head;
 * - `anchor-mismatch`: the chain (or the session head) disagrees with a `session.anchor` record
 *   (a session's own, or an entry of a record anchoring a batch of closes)
 *   of the global audit chain (every anchor must match the chain at its seq, and the latest one
 *   the head), or a closed session has no anchor (when `requireAnchor`).
 * Throws `not_found` for an unknown session. Pages through the events, so memory stays bounded.
 *
 * Someone with write access can rewrite a whole chain and its head consistently; the anchor in
 * the audit chain (itself hash-chained) is what detects that.
 *
 * @example const r = await verifySession(db, 'sess-1'); if (!r.ok) console.log(r.seq, r.reason);
 */
export async function verifySession(db: SqlExecutor, id: string, opts: { requireAnchor?: boolean; pageSize?: number } = {}): Promise<SessionVerifyResult> {
  const [s] = await db.query<{ event_count: number | string; head_hash: string; closed_at: unknown }>(
    // An open exchange-grouped session is in sessions_open until its close (migration 014).
    'SELECT event_count, head_hash, closed_at FROM sessions WHERE id = $1 UNION ALL SELECT event_count, head_hash, closed_at FROM sessions_open WHERE id = $1 LIMIT 1', [id],
  );
  if (!s) throw new GatehouseError('not_found', 'no such session');
  const count = Number(s.event_count);
  const anchors = await sessionAnchors(db, id);
  const wanted = new Set(anchors.map((a) => a.events));
  const hashAt = new Map<number, string>();
  let expected = 1;
  let prev = SESSION_GENESIS;
  let prevPrev: string | undefined;
  let cursor = -1;
  const pageSize = opts.pageSize ?? 500;
  for (;;) {
    const page = await readEventPage(db, id, cursor, pageSize);
    for (const e of page) {
      if (e.seq < expected) return bad(e.seq, 'inserted');
      if (e.seq > expected) return expected > count ? bad(e.seq, 'inserted') : bad(expected, 'missing');
      const meta = { session: id, seq: e.seq, at: e.at, type: e.type, user: e.user, agent: e.agent };
      const consistent = eventHash(e.prevHash, meta, e.text) === e.hash;
      if (e.prevHash !== prev) {
        // It links to the event before its predecessor: the predecessor was spliced in (and the
        // rest renumbered). A self-consistent event that links nowhere was itself inserted.
        if (e.prevHash === prevPrev && e.seq > 1) return bad(e.seq - 1, 'inserted');
        return bad(e.seq, consistent ? 'inserted' : 'changed');
      }
      if (!consistent) return bad(e.seq, 'changed');
      if (e.seq > count) return bad(e.seq, 'inserted');
      if (wanted.has(e.seq)) hashAt.set(e.seq, e.hash);
      prevPrev = prev;
      prev = e.hash;
      expected = e.seq + 1;
      cursor = e.seq;
    }
    if (page.length === 0) break;
  }
  if (expected - 1 < count) return bad(expected, 'missing');
  for (const a of anchors) {
    if (!Number.isInteger(a.events) || (a.events > 0 && hashAt.get(a.events) !== a.head)) return bad(a.events || count, 'anchor-mismatch');
  }
  if (prev !== s.head_hash) return anchors.length > 0 ? bad(count, 'anchor-mismatch') : bad(count, 'changed');
  // The latest anchor must be the head: nothing may follow a session's anchored close.
  const last = anchors[anchors.length - 1];
  if (last && last.events !== count) return bad(count, 'anchor-mismatch');
  if (opts.requireAnchor !== false && s.closed_at !== null && anchors.length === 0) return bad(count, 'anchor-mismatch');
  return { ok: true, events: count };
}

/**
 * What the audit chain's `session.anchor` records say about session `id`, in audit order:
 * `{events, head}` per mention (its own records and entries of batch records).
 */
export async function sessionAnchors(db: SqlExecutor, id: string): Promise<{ events: number; head: string }[]> {
  return anchorsOf(id, await db.query<{ detail: AnchorDetail }>(
    `SELECT detail FROM audit_log WHERE kind = 'session.anchor'
       AND (detail ->> 'session' = $1 OR (detail -> 'sessions') @> jsonb_build_array($1::text)) ORDER BY seq`, [id],
  ));
}

/** A `session.anchor` record's detail: one session's (`session`, `head_hash`, `events`), or a batch's (parallel arrays). */
interface AnchorDetail { session?: unknown; head_hash?: unknown; events?: unknown; sessions?: unknown; heads?: unknown }

/**
 * What the anchor records say about session `id`, in audit order: `{events, head}` per mention.
 * A batch record's entry whose arrays do not line up reads as an invalid count (a mismatch).
 */
function anchorsOf(id: string, rows: readonly { detail: AnchorDetail }[]): { events: number; head: string }[] {
  const out: { events: number; head: string }[] = [];
  for (const { detail: d } of rows) {
    if (d.session === id) { out.push({ events: Number(d.events), head: String(d.head_hash) }); continue; }
    if (!Array.isArray(d.sessions)) continue;
    const heads = Array.isArray(d.heads) ? d.heads as unknown[] : [];
    const events = Array.isArray(d.events) ? d.events as unknown[] : [];
    d.sessions.forEach((s: unknown, i) => {
      if (s === id) out.push({ events: typeof events[i] === 'number' ? events[i] : Number.NaN, head: String(heads[i]) });
    });
  }
  return out;
}
