/**
 * Store-thread CPU per audit record on the embedded store: records enqueued at a steady rate
 * (as the PostgreSQL data path does, one `policy.decision` per statement), group-committed.
 *
 *   npx node bench/audit-store.ts [rate=2000/s] [seconds=5]
 *   AUDIT_GC_MS=200      group-commit interval (default: the log's, GROUP_COMMIT_MS)
 *   AUDIT_USERS=1        decisions cycle over this many users: 1 = identical decisions (one run
 *                        record per batch); more = each decision differs from the one before (one row each)
 *   AUDIT_DROP_INDEXES=kind,user   drop these btree indexes first (1 = both)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog, GROUP_COMMIT_MS } from '../src/audit/audit-log.ts';
import { stableDetail } from '../src/audit/record.ts';
import { systemClock } from '../src/kernel/clock.ts';
import { openStore } from '../src/store/index.ts';
import { threadCpu } from './lib/proc.ts';

const rate = Number(process.argv[2] ?? 2000);
const seconds = Number(process.argv[3] ?? 5);
const users = Math.max(1, Number(process.env.AUDIT_USERS ?? 1));
const gcMs = Number(process.env.AUDIT_GC_MS ?? GROUP_COMMIT_MS);
const drop = process.env.AUDIT_DROP_INDEXES === '1' ? ['kind', 'user'] : (process.env.AUDIT_DROP_INDEXES ?? '').split(',').filter(Boolean);
const dir = mkdtempSync(join(tmpdir(), 'gh-audit-bench-'));
const db = await openStore({ embedded: { path: dir } });
for (const d of drop) await db.query(`DROP INDEX IF EXISTS audit_log_${d}_seq`);
const indexes = (await db.query<{ indexname: string }>("SELECT indexname FROM pg_indexes WHERE tablename = 'audit_log' ORDER BY indexname")).map((r) => r.indexname);
const audit = new AuditLog(db, systemClock, { groupCommitMs: gcMs });
const detail = stableDetail({ reasons: ['policy0'], via: 'api-key' });
const recs = Array.from({ length: users }, (_, i) => ({ kind: 'policy.decision', user: `bench${i}`, action: 'sql.read', resource: 'Connection::app', outcome: 'allow', detail }));
const rows = async (): Promise<number> => Number((await db.query<{ seq: number | string }>('SELECT seq FROM audit_head WHERE id = 1'))[0]?.seq);
// Warm up, then measure.
for (let i = 0; i < 500; i++) audit.enqueue(recs[i % users]!);
await audit.flush();
const r0 = await rows();
const t0 = threadCpu(process.pid);
const tickMs = 5;
let n = 0;
const end = Date.now() + seconds * 1000;
while (Date.now() < end) {
  for (let i = 0; i < (rate * tickMs) / 1000; i++) { audit.enqueue(recs[n % users]!); n++; }
  await new Promise((r) => setTimeout(r, tickMs));
}
await audit.flush();
const t1 = threadCpu(process.pid);
const written = (await rows()) - r0;
const per = (d: number): string => [...t1].map(([k, v]) => `${k} ${(((v - (t0.get(k) ?? 0)) * 1e6) / d).toFixed(1)}`).join(', ');
console.log(`${n} decisions at ${rate}/s over ${users} user(s), group commit ${gcMs} ms, ${written} rows, indexes ${indexes.join(' ')}`);
console.log(`  µs per decision by thread: ${per(n)}`);
console.log(`  µs per row by thread: ${per(written)}`);
await db.close();
rmSync(dir, { recursive: true, force: true });
