/**
 * What `recording.durability: store` costs against `journal` (issue 20 item 4), as Kubernetes runs
 * the gateway: `gatehouse start` on a PostgreSQL store (a real server, fsync on), recording on,
 * `pgbench -S` through its PostgreSQL listener (each transaction is acknowledged only after its
 * recording is durable: appended to the local journal, or committed to the store). Same run,
 * rounds interleaved; recording off as the reference. Per client transaction:
 *
 * - tps and average latency (pgbench);
 * - µs of gateway CPU (whole process, every thread, /proc);
 * - µs of the store's CPU: the PostgreSQL backends serving that gateway's store database (/proc
 *   of their pids; the WAL writer and checkpointer, shared by the whole server, are not counted);
 * - store commits (pg_stat_database.xact_commit of the store database): how well the group
 *   commit shares one store transaction among concurrent client transactions.
 *
 *   npx node bench/recording-durability.ts
 *   BENCH_SECONDS=5 BENCH_ROUNDS=2 BENCH_CLIENTS=1,8 BENCH_MODE=extended
 * Needs PostgreSQL (BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432/postgres, trust),
 * pgbench, and /proc access to the server's backends (run as root or as the server's user for
 * the store CPU column; it reads "n/a" otherwise).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startGatehouse } from './lib/gatehouse-process.ts';
import { cpuSeconds, loadAverage, range, stopAll, treeCpuSeconds } from './lib/proc.ts';

const admin = new URL(process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
const clientCounts = (process.env.BENCH_CLIENTS ?? '1,8').split(',').map(Number);
const mode = process.env.BENCH_MODE ?? 'extended';
const UP = 'gh_bench_dur_up';
const VARIANTS = [
  { name: 'off', label: 'recording off', recording: false },
  { name: 'journal', label: 'recording on, durability: journal', recording: true, durability: 'journal' },
  { name: 'store', label: 'recording on, durability: store', recording: true, durability: 'store' },
] as const;
const storeDb = (name: string): string => `gh_bench_dur_${name}`;

async function query<T extends pg.QueryResultRow>(sql: string, db?: string): Promise<T[]> {
  const url = new URL(admin.toString());
  if (db) url.pathname = `/${db}`;
  const c = new pg.Client({ connectionString: url.toString() });
  await c.connect();
  try { return (await c.query<T>(sql)).rows; } finally { await c.end(); }
}

function runAsync(cmd: string, args: string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}: ${err.slice(-500)}`))));
  });
}

/** CPU seconds of the server backends connected to `db` now, by pid. */
async function backendCpu(db: string): Promise<Map<number, number> | undefined> {
  const rows = await query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = '${db}' AND pid <> pg_backend_pid()`);
  const out = new Map<number, number>();
  try {
    for (const { pid } of rows) out.set(pid, cpuSeconds(pid));
  } catch { return undefined; }
  return out;
}

async function commits(db: string): Promise<number> {
  const [row] = await query<{ n: string }>(`SELECT xact_commit AS n FROM pg_stat_database WHERE datname = '${db}'`);
  return Number(row?.n ?? NaN);
}

interface Target { name: string; label: string; port: number; key: string; pid: number; db: string }
interface Sample { tps: number; latMs: number; cpuUs: number; storeUs: number; commitsPerTx: number }

async function pgbench(t: Target, clients: number): Promise<Sample> {
  const cpu0 = treeCpuSeconds(t.pid);
  const b0 = await backendCpu(t.db);
  const c0 = await commits(t.db);
  const out = await runAsync('pgbench', ['-S', '-n', '-c', String(clients), '-j', String(Math.min(clients, 2)), '-T', String(seconds), '-M', mode, '-h', '127.0.0.1', '-p', String(t.port), '-U', 'bench', UP], { PGPASSWORD: t.key });
  const cpu = treeCpuSeconds(t.pid) - cpu0;
  // The recorder settles within its group commit; PostgreSQL publishes its counters within a second.
  await new Promise((r) => setTimeout(r, 1500));
  const b1 = await backendCpu(t.db);
  const c1 = await commits(t.db);
  const n = Number(/number of transactions actually processed: (\d+)/.exec(out)?.[1] ?? NaN);
  let store = NaN;
  if (b0 && b1) {
    store = 0;
    for (const [pid, s] of b1) store += s - (b0.get(pid) ?? 0);
  }
  return {
    tps: Number(/tps = ([\d.]+)/.exec(out)?.[1] ?? NaN),
    latMs: Number(/latency average = ([\d.]+) ms/.exec(out)?.[1] ?? NaN),
    cpuUs: (cpu * 1e6) / n,
    storeUs: (store * 1e6) / n,
    commitsPerTx: (c1 - c0) / n,
  };
}

const dir = mkdtempSync(join(tmpdir(), 'gh-bench-dur-'));
const children: ChildProcess[] = [];
const dbs = [UP, ...VARIANTS.map((v) => storeDb(v.name))];
try {
  for (const db of dbs) {
    await query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    await query(`CREATE DATABASE ${db}`);
  }
  execFileSync('pgbench', ['-i', '-q', '-s', '1', '-h', admin.hostname, '-p', admin.port || '5432', '-U', admin.username, UP], { stdio: 'ignore' });
  const url = (db: string): string => { const u = new URL(admin.toString()); u.pathname = `/${db}`; return u.toString(); };
  const list: Target[] = [];
  for (const v of VARIANTS) {
    const gw = await startGatehouse({
      dir: join(dir, v.name), recording: v.recording, actions: ['sql.read'], storeUrl: url(storeDb(v.name)),
      ...('durability' in v ? { durability: v.durability } : {}),
      connections: [`  - { name: ${UP}, type: postgres, url: "${url(UP)}" }`],
    });
    children.push(gw.proc);
    list.push({ name: v.name, label: v.label, port: gw.pgPort, key: await gw.mint('bench'), pid: gw.pid, db: storeDb(v.name) });
  }
  const [fsync] = await query<{ fsync: string }>('SHOW fsync');
  const [sync] = await query<{ synchronous_commit: string }>('SHOW synchronous_commit');
  console.log(`pgbench -S -M ${mode} -T ${seconds}, ${rounds} interleaved rounds; gateways on a PostgreSQL store at ${admin.host} (fsync ${fsync?.fsync}, synchronous_commit ${sync?.synchronous_commit}); ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Node ${process.version}, load average ${loadAverage()}`);
  console.log('per client transaction, range over rounds: gateway CPU µs / store backends CPU µs / store commits; tps; latency');
  for (const clients of clientCounts) {
    for (const t of list) await pgbench(t, clients).catch(() => undefined); // warm-up
    const samples = new Map<string, Sample[]>(list.map((t) => [t.name, []]));
    for (let r = 0; r < rounds; r++) {
      for (const t of r % 2 === 0 ? list : [...list].reverse()) samples.get(t.name)!.push(await pgbench(t, clients));
    }
    console.log(`-c ${clients} (load average ${loadAverage()})`);
    const journal = samples.get('journal')!;
    for (const t of list) {
      const s = samples.get(t.name)!;
      const vs = t.name === 'store' ? `; vs journal in the same round: tps ×${range(s.map((x, i) => x.tps / journal[i]!.tps), 2)}, latency ×${range(s.map((x, i) => x.latMs / journal[i]!.latMs), 2)}, gateway+store CPU ×${range(s.map((x, i) => (x.cpuUs + x.storeUs) / (journal[i]!.cpuUs + journal[i]!.storeUs)), 2)}` : '';
      console.log(`  ${t.label.padEnd(36)} ${range(s.map((x) => x.cpuUs)).padStart(9)} / ${range(s.map((x) => x.storeUs)).padStart(9)} µs / ${range(s.map((x) => x.commitsPerTx), 3).padStart(11)} commits   ${range(s.map((x) => x.tps)).padStart(11)} tps   ${range(s.map((x) => x.latMs), 3)} ms${vs}`);
    }
  }
} finally {
  await stopAll(children);
  for (const db of dbs) await query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
}
