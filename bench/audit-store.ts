/**
 * Store-thread CPU per audit record on the embedded store: records enqueued at a steady rate
 * (as the PostgreSQL data path does, one `policy.decision` per statement), group-committed.
 *
 *   npx node bench/audit-store.ts [rate=2000/s] [seconds=5]
 *   AUDIT_GC_MS=50  AUDIT_DROP_INDEXES=1 (what the two btree indexes cost)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from '../src/audit/audit-log.ts';
import { stableDetail } from '../src/audit/record.ts';
import { systemClock } from '../src/kernel/clock.ts';
import { openStore } from '../src/store/index.ts';
import { threadCpu } from './lib/proc.ts';

const rate = Number(process.argv[2] ?? 2000);
const seconds = Number(process.argv[3] ?? 5);
const dir = mkdtempSync(join(tmpdir(), 'gh-audit-bench-'));
const db = await openStore({ embedded: { path: dir } });
if (process.env.AUDIT_DROP_INDEXES === '1') { await db.query('DROP INDEX audit_log_kind_seq'); await db.query('DROP INDEX audit_log_user_seq'); };
const audit = new AuditLog(db, systemClock, { groupCommitMs: Number(process.env.AUDIT_GC_MS ?? 50) });
const detail = stableDetail({ reasons: ['policy0'], via: 'api-key' });
const rec = { kind: 'policy.decision', user: 'bench', action: 'sql.read', resource: 'Connection::app', outcome: 'allow', detail };
// Warm up, then measure.
for (let i = 0; i < 500; i++) audit.enqueue(rec);
await audit.flush();
const t0 = threadCpu(process.pid);
const tickMs = 5;
let n = 0;
const end = Date.now() + seconds * 1000;
while (Date.now() < end) {
  for (let i = 0; i < (rate * tickMs) / 1000; i++) { audit.enqueue(rec); n++; }
  await new Promise((r) => setTimeout(r, tickMs));
}
await audit.flush();
const t1 = threadCpu(process.pid);
const out = [...t1].map(([k, v]) => `${k} ${(((v - (t0.get(k) ?? 0)) * 1e6) / n).toFixed(1)}`).join(', ');
console.log(`${n} records at ${rate}/s, group commit ${process.env.AUDIT_GC_MS ?? 50} ms${process.env.AUDIT_DROP_INDEXES === '1' ? ', without the btree indexes' : ''}: µs per record by thread: ${out}`);
await db.close();
rmSync(dir, { recursive: true, force: true });
