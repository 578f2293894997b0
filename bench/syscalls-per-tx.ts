/**
 * Syscalls and CPU per `pgbench -S` transaction through Gatehouse (recording off and on), the
 * gateway's whole process from `/proc/<pid>/io` (syscr/syscw: read and write system calls, all
 * threads) and `/proc/<pid>/task/<tid>/stat` (CPU per thread). A loopback socket write runs the
 * receiver's TCP processing in the writer's system call, so on this kind of machine the number of
 * writes per transaction is a large part of a proxy's CPU.
 *
 *   npx node bench/syscalls-per-tx.ts [seconds=5] [clients=1] [mode=extended]
 * Needs PostgreSQL (BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432/postgres) and pgbench.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startGatehouse } from './lib/gatehouse-process.ts';
import { perThreadUs, stopAll, threadCpu, treeCpuSeconds } from './lib/proc.ts';

const seconds = Number(process.argv[2] ?? 5);
const clients = Number(process.argv[3] ?? 1);
const mode = process.argv[4] ?? 'extended';
const admin = new URL(process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
const DB = 'gh_bench_sys';

function io(pid: number): { r: number; w: number } {
  const t = readFileSync(`/proc/${pid}/io`, 'utf8');
  return { r: Number(/syscr: (\d+)/.exec(t)![1]), w: Number(/syscw: (\d+)/.exec(t)![1]) };
}

const c = new pg.Client({ connectionString: admin.toString() });
await c.connect();
await c.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
await c.query(`CREATE DATABASE ${DB}`);
await c.end();
execFileSync('pgbench', ['-i', '-q', '-s', '1', '-h', admin.hostname, '-p', admin.port || '5432', '-U', admin.username, DB], { stdio: 'ignore' });
const url = new URL(admin.toString());
url.pathname = `/${DB}`;
const dir = mkdtempSync(join(tmpdir(), 'gh-sys-'));
try {
  for (const recording of [false, true]) {
    const gw = await startGatehouse({ dir: join(dir, String(recording)), recording, actions: ['sql.read'], connections: [`  - { name: app, type: postgres, url: "${url.toString()}" }`] });
    try {
      const key = await gw.mint('bench');
      const env = { ...process.env, PGPASSWORD: key };
      const args = ['-S', '-M', mode, '-c', String(clients), '-j', String(clients), '-T', '1', '-h', '127.0.0.1', '-p', String(gw.pgPort), '-U', 'bench', 'app'];
      args[args.indexOf('-T') + 1] = String(Math.max(3, seconds)); spawnSync('pgbench', args, { env }); // warm-up: JIT and caches
      const io0 = io(gw.pid); const cpu0 = treeCpuSeconds(gw.pid); const th0 = threadCpu(gw.pid);
      args[args.indexOf('-T') + 1] = String(seconds);
      const out = spawnSync('pgbench', args, { env, encoding: 'utf8' }).stdout;
      const tx = Number(/number of transactions actually processed: (\d+)/.exec(out)?.[1] ?? NaN);
      const io1 = io(gw.pid); const cpu1 = treeCpuSeconds(gw.pid);
      console.log(`recording ${recording ? 'on ' : 'off'} ${mode} c${clients}: ${tx} tx, ${((cpu1 - cpu0) * 1e6 / tx).toFixed(0)} µs/tx, ` +
        `${((io1.w - io0.w) / tx).toFixed(2)} write + ${((io1.r - io0.r) / tx).toFixed(2)} read syscalls/tx; per thread µs/tx: ${perThreadUs(th0, threadCpu(gw.pid), tx)}`);
    } finally {
      await stopAll([gw.proc]);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
