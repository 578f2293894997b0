import type { SqlExecutor } from '../store/sql.ts';
import { GENESIS_HASH, recordHash } from './chain.ts';
import { AUDIT_COLUMNS, rowFields, type AuditRow } from './record.ts';

/** Result of walking the chain: the count of valid records, or the first bad seq and why. */
export type VerifyResult = { ok: true; count: number } | { ok: false; seq: number; reason: string };

/**
 * Walks the whole audit chain in pages of `pageSize`, oldest first, and reports the first problem:
 * a changed record (its hash no longer matches), a deleted one (a gap in `seq`, or a tail shorter
 * than `audit_head`), or an inserted one (a broken link, or a record beyond `audit_head`).
 * Appends running concurrently are fine: the walk stops at the head it read first.
 *
 * Limits: someone with write access who rewrites a record *and* every later hash *and* the head
 * is not detectable from the database alone; anchor the head hash elsewhere for that.
 */
export async function verifyChain(db: SqlExecutor, pageSize = 1000): Promise<VerifyResult> {
  const [head] = await db.query<{ seq: number | string; hash: string }>('SELECT seq, hash FROM audit_head WHERE id = 1');
  if (!head) return { ok: false, seq: 0, reason: 'audit_head row is missing' };
  const headSeq = Number(head.seq);
  let expected = 1;
  let prev = GENESIS_HASH;
  let cursor = Number.MIN_SAFE_INTEGER;
  for (;;) {
    const rows = await db.query<AuditRow>(
      `SELECT ${AUDIT_COLUMNS} FROM audit_log WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3`,
      [cursor, headSeq, pageSize],
    );
    for (const row of rows) {
      const f = rowFields(row);
      if (f.seq < expected) return { ok: false, seq: f.seq, reason: 'record outside the chain (inserted)' };
      if (f.seq > expected) return { ok: false, seq: expected, reason: 'record missing (gap in the chain)' };
      if (row.prev_hash !== prev) return { ok: false, seq: f.seq, reason: 'prev_hash does not link to the previous record' };
      if (recordHash(prev, f) !== row.hash) return { ok: false, seq: f.seq, reason: 'hash mismatch (record changed)' };
      prev = row.hash;
      expected = f.seq + 1;
      cursor = f.seq;
    }
    if (rows.length < pageSize) break;
  }
  if (expected - 1 < headSeq) return { ok: false, seq: expected, reason: 'record missing (chain ends before its head)' };
  if (prev !== head.hash) return { ok: false, seq: headSeq, reason: 'last record does not match the chain head' };
  // One statement, one snapshot: a concurrent append moves rows and head together.
  const [beyond] = await db.query<{ seq: number | string | null }>(
    'SELECT min(l.seq) AS seq FROM audit_log l, audit_head h WHERE h.id = 1 AND l.seq > h.seq',
  );
  if (beyond && beyond.seq !== null) return { ok: false, seq: Number(beyond.seq), reason: 'record beyond the chain head (inserted)' };
  return { ok: true, count: headSeq };
}
