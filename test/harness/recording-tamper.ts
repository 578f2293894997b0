/**
 * Tampering with a recorded session the way someone with write access to the database could,
 * for tests of verification: events live compressed in batch bodies (src/recording/segment.ts),
 * so a test reads a session's stored events, changes them as plain objects, and writes them back
 * as the store would hold them (a new body, one segment per event, the old segments, the row's
 * pointer at its close's run and the legacy rows of the session removed). The `sessions` row is left alone (tests change it with SQL).
 */
import type { SqlExecutor } from '../../src/store/sql.ts';
import { readEventPage } from '../../src/recording/session-reader.ts';
import { encodeBody, type BodyEvent, type RawEvent } from '../../src/recording/segment.ts';

/** Every stored event of `session`, in seq order, as the reader sees them. */
export async function storedEvents(db: SqlExecutor, session: string): Promise<RawEvent[]> {
  const out: RawEvent[] = [];
  for (let after = 0; ;) {
    const page = await readEventPage(db, session, after, 1000);
    if (page.length === 0) return out;
    out.push(...page);
    after = page[page.length - 1]!.seq;
  }
}

/** Replaces the stored events of `session` with what `change` makes of them (`encode`: the body format, the current one by default). */
export async function rewriteEvents(db: SqlExecutor, session: string, change: (events: RawEvent[]) => RawEvent[],
  encode: (events: readonly BodyEvent[]) => Buffer = encodeBody): Promise<void> {
  const events = change(await storedEvents(db, session));
  // The session's old bodies go too when no other session's segment points into them.
  // A session's row may point at its first and its close's runs too (migration 014).
  await db.query(`WITH gone AS (DELETE FROM session_segments WHERE session_id = $1 RETURNING body_id),
      r AS (UPDATE sessions t SET open_last = NULL, open_body = NULL, tail_first = NULL, tail_body = NULL FROM sessions o WHERE t.id = $1 AND o.id = t.id
        RETURNING o.open_body, o.tail_body),
      ro AS (UPDATE sessions_open t SET open_last = NULL, open_body = NULL FROM sessions_open o WHERE t.id = $1 AND o.id = t.id RETURNING o.open_body)
    DELETE FROM recording_bodies b WHERE b.id IN (SELECT body_id FROM gone UNION SELECT open_body FROM r UNION SELECT tail_body FROM r UNION SELECT open_body FROM ro)
      AND NOT EXISTS (SELECT 1 FROM session_segments s WHERE s.body_id = b.id AND s.session_id <> $1)
      AND NOT EXISTS (SELECT 1 FROM sessions s WHERE (s.open_body = b.id OR s.tail_body = b.id) AND s.id <> $1)
      AND NOT EXISTS (SELECT 1 FROM sessions_open s WHERE s.open_body = b.id AND s.id <> $1)`, [session]);
  await db.query('DELETE FROM session_events WHERE session_id = $1', [session]);
  await db.query('DELETE FROM session_chunks WHERE session_id = $1', [session]);
  if (events.length === 0) return;
  const [row] = await db.query<{ id: number | string }>('INSERT INTO recording_bodies (body) VALUES (decode($1, \'base64\')) RETURNING id',
    [encode(events.map((e) => ({ ...e, session }))).toString('base64')]);
  for (const e of events) {
    await db.query('INSERT INTO session_segments (session_id, first_seq, last_seq, body_id) VALUES ($1, $2, $2, $3)', [session, e.seq, row!.id]);
  }
}
