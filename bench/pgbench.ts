/**
 * PostgreSQL data path: `pgbench -S` (select-only) against the local server directly and through
 * each proxy, in the same run, rounds interleaved, reporting **µs of proxy CPU per transaction**
 * (whole process, every thread, user + system, from `/proc`) and throughput (ratio to direct, for
 * information: on a 2-core machine it mostly measures the machine). Proxies:
 *
 * - Gatehouse as deployed (`gatehouse start`, its own process, embedded store on disk, policy and
 *   audit on), recording off and recording on, connection without masking rules;
 * - pgbouncer (C, session pooling, no inspection): the reference for what a proxy costs;
 *   Debian package `pgbouncer` (`apt-get install pgbouncer`; skipped with a note when missing);
 * - a no-op Node byte pipe (bench/lib/reference-proxies.ts): the floor of any Node proxy here;
 * - with BENCH_BEFORE=<worktree of an older commit> (node_modules symlinked), Gatehouse from that
 *   tree too (recording off; BENCH_BEFORE_RECORDING=on: on), for a before/after comparison in the same run.
 *
 * Then a large result streamed through Gatehouse (recording off) with EMAIL masking on, psql text
 * format: rows/s and gateway CPU per row (and the BENCH_BEFORE tree's, interleaved).
 *
 *   npx node bench/pgbench.ts
 *   BENCH_SECONDS=5 BENCH_ROUNDS=2 BENCH_CLIENTS=1,4 BENCH_MODES=simple,extended
 *   BENCH_TARGETS=direct,off,on,pgbouncer,pipe[,before]   BENCH_STREAM=0|1000000
 *   BENCH_GW_PROF=<dir>   CPU profile of the recording-off gateway (written when it stops;
 *                         BENCH_GW_PROF_RECORDING=on: of the recording-on one)
 * Needs PostgreSQL (BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432/postgres, trust),
 * pgbench and psql.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { freePort } from '../test/harness/net.ts';
import { startGatehouse, type GatehouseProcess } from './lib/gatehouse-process.ts';
import { firstLine, loadAverage, range, stopAll, treeCpuSeconds } from './lib/proc.ts';

const admin = new URL(process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
const clientCounts = (process.env.BENCH_CLIENTS ?? '1,4').split(',').map(Number);
const modes = (process.env.BENCH_MODES ?? 'simple,extended').split(',');
const before = process.env.BENCH_BEFORE;
const targets = new Set((process.env.BENCH_TARGETS ?? `direct,off,on,pgbouncer,pipe${before ? ',before' : ''}`).split(','));
targets.add('direct');
const streamRowsN = Number(process.env.BENCH_STREAM ?? 1_000_000);
const DB = process.env.BENCH_DB ?? 'gh_bench'; // another name when several benches share one server
const PGBOUNCER = '/usr/sbin/pgbouncer';

async function adminQuery(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: admin.toString() });
  await c.connect();
  try { await c.query(sql); } finally { await c.end(); }
}

/** Runs a child without blocking the event loop. */
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

interface Target { name: string; host: string; port: number; user: string; password: string; pid?: number }
interface Sample { tps: number; latMs: number; cpuUs: number }

async function pgbench(t: Target, mode: string, clients: number): Promise<Sample> {
  const cpu0 = t.pid === undefined ? 0 : treeCpuSeconds(t.pid);
  const out = await runAsync('pgbench', ['-S', '-n', '-c', String(clients), '-j', String(Math.min(clients, 2)), '-T', String(seconds), '-M', mode, '-h', t.host, '-p', String(t.port), '-U', t.user, DB], { PGPASSWORD: t.password });
  const cpu = t.pid === undefined ? NaN : treeCpuSeconds(t.pid) - cpu0;
  const n = Number(/number of transactions actually processed: (\d+)/.exec(out)?.[1] ?? NaN);
  const tps = Number(/tps = ([\d.]+)/.exec(out)?.[1] ?? NaN);
  const latMs = Number(/latency average = ([\d.]+) ms/.exec(out)?.[1] ?? NaN);
  return { tps, latMs, cpuUs: (cpu * 1e6) / n };
}

async function startPgbouncer(dir: string, pool: number): Promise<{ port: number; proc: ChildProcess }> {
  const port = await freePort();
  const ini = join(dir, 'pgbouncer.ini');
  writeFileSync(join(dir, 'users.txt'), `"${admin.username}" ""\n`);
  writeFileSync(ini, [
    '[databases]', `${DB} = host=${admin.hostname} port=${admin.port || 5432} dbname=${DB}`,
    '[pgbouncer]', `listen_addr = 127.0.0.1`, `listen_port = ${port}`, 'auth_type = trust', `auth_file = ${join(dir, 'users.txt')}`,
    'pool_mode = session', `max_client_conn = 100`, `default_pool_size = ${pool}`, `unix_socket_dir =`, `logfile = ${join(dir, 'pgb.log')}`,
  ].join('\n'));
  chmodSync(dir, 0o777);
  const asRoot = process.getuid?.() === 0;
  const proc = asRoot ? spawn('runuser', ['-u', 'postgres', '--', PGBOUNCER, ini], { stdio: 'ignore' }) : spawn(PGBOUNCER, [ini], { stdio: 'ignore' });
  for (let i = 0; i < 50; i++) {
    try { execFileSync('pg_isready', ['-h', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' }); break; } catch { await new Promise((r) => setTimeout(r, 100)); }
  }
  return { port, proc };
}

/** Streams `rows` rows of `int4, email, md5` through a gateway's masked connection `app` (psql, text). */
async function streamRows(gw: GatehouseProcess, key: string, rows: number): Promise<{ rowsPerSec: number; cpuUsPerRow: number }> {
  const cpu0 = treeCpuSeconds(gw.pid);
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    const p = spawn('psql', ['-X', '-q', '-h', '127.0.0.1', '-p', String(gw.pgPort), '-U', 'bench', '-d', 'app', '-c', `SELECT g, 'user' || g || '@example.com' AS email, md5(g::text) AS filler FROM generate_series(1, ${rows}) g`], {
      env: { ...process.env, PGPASSWORD: key, FETCH_COUNT: '0' }, stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`psql exited ${code}: ${err.slice(-300)}`))));
  });
  const s = (performance.now() - started) / 1000;
  return { rowsPerSec: rows / s, cpuUsPerRow: ((treeCpuSeconds(gw.pid) - cpu0) * 1e6) / rows };
}

const dir = mkdtempSync(join(tmpdir(), 'gh-pgbench-'));
const children: ChildProcess[] = [];
try {
  await adminQuery(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
  await adminQuery(`CREATE DATABASE ${DB}`);
  execFileSync('pgbench', ['-i', '-q', '-s', '1', '-h', admin.hostname, '-p', admin.port || '5432', '-U', admin.username, DB], { stdio: 'ignore' });
  const dbUrl = new URL(admin.toString());
  dbUrl.pathname = `/${DB}`;
  const gwOptions = (name: string, recording: boolean, root?: string): Parameters<typeof startGatehouse>[0] => ({
    dir: join(dir, name), recording, actions: ['sql.read'],
    ...(root ? { root } : {}),
    ...(name === (process.env.BENCH_GW_PROF_RECORDING === 'on' ? 'on' : 'off') && process.env.BENCH_GW_PROF ? { cpuProfDir: process.env.BENCH_GW_PROF } : {}),
    connections: [`  - { name: ${DB}, type: postgres, url: "${dbUrl.toString()}" }`, `  - { name: app, type: postgres, url: "${dbUrl.toString()}" }`],
    maskingRules: ['    - { connections: [app], direction: response, entities: [EMAIL], strategy: redact }'],
  });
  const list: Target[] = [{ name: 'direct', host: admin.hostname, port: Number(admin.port || 5432), user: admin.username, password: '' }];
  const gateways = new Map<string, { gw: GatehouseProcess; key: string }>();
  const beforeRecording = process.env.BENCH_BEFORE_RECORDING === 'on';
  for (const [name, recording, root] of [['off', false, undefined], ['on', true, undefined], ['before', beforeRecording, before]] as const) {
    if (!targets.has(name) || (name === 'before' && !root)) continue;
    const gw = await startGatehouse(gwOptions(name, recording, root));
    children.push(gw.proc);
    const key = await gw.mint('bench');
    gateways.set(name, { gw, key });
    list.push({ name: `gatehouse ${name === 'before' ? `before (${before}), recording ${beforeRecording ? 'on' : 'off'}` : `recording ${name}`}`, host: '127.0.0.1', port: gw.pgPort, user: 'bench', password: key, pid: gw.pid });
  }
  if (targets.has('pgbouncer')) {
    if (existsSync(PGBOUNCER)) {
      const b = await startPgbouncer(dir, Math.max(...clientCounts) + 2);
      children.push(b.proc);
      list.push({ name: 'pgbouncer', host: '127.0.0.1', port: b.port, user: admin.username, password: '', pid: b.proc.pid! });
    } else {
      console.log(`pgbouncer: not installed (${PGBOUNCER}); apt-get install pgbouncer to measure it`);
    }
  }
  if (targets.has('pipe')) {
    const pipe = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', fileURLToPath(new URL('./lib/reference-proxies.ts', import.meta.url)), 'tcp', String(Number(admin.port || 5432))], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(pipe);
    const port = Number((await firstLine(pipe, /^(\d+)\n/))[1]);
    list.push({ name: 'no-op Node pipe', host: '127.0.0.1', port, user: admin.username, password: '', pid: pipe.pid! });
  }
  console.log(`pgbench -S -T ${seconds}, ${rounds} interleaved rounds, PostgreSQL at ${admin.host}; ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Node ${process.version}, load average ${loadAverage()}`);
  console.log('µs of proxy CPU per transaction (whole process, all threads, /proc), range over rounds; tps (ratio to direct)');
  for (const clients of clientCounts) {
    for (const mode of modes) {
      for (const t of list) await pgbench(t, mode, clients).catch(() => undefined); // warm-up (JIT, pools)
      const samples = new Map<string, Sample[]>(list.map((t) => [t.name, []]));
      for (let r = 0; r < rounds; r++) {
        for (const t of r % 2 === 0 ? list : [...list].reverse()) samples.get(t.name)!.push(await pgbench(t, mode, clients));
      }
      const direct = samples.get('direct')!;
      console.log(`-c ${clients} ${mode} (load average ${loadAverage()})`);
      for (const t of list) {
        const s = samples.get(t.name)!;
        const cpu = t.pid === undefined ? '' : `${range(s.map((x) => x.cpuUs)).padStart(9)} µs/tx  `;
        const ratio = t.name === 'direct' ? '' : ` (${range(s.map((x, i) => (100 * x.tps) / direct[i]!.tps))} % of direct)`;
        console.log(`  ${t.name.padEnd(44)} ${cpu.padStart(15)}${range(s.map((x) => x.tps)).padStart(13)} tps${ratio}, latency avg ${range(s.map((x) => x.latMs), 3)} ms`);
      }
    }
  }
  if (streamRowsN > 0) {
    const streamers = [...gateways].filter(([n]) => n !== 'on');
    const res = new Map<string, { rowsPerSec: number; cpuUsPerRow: number }[]>(streamers.map(([n]) => [n, []]));
    for (const [, g] of streamers) await streamRows(g.gw, g.key, Math.min(streamRowsN, 100_000)); // warm-up
    for (let r = 0; r < rounds; r++) {
      for (const [n, g] of r % 2 === 0 ? streamers : [...streamers].reverse()) res.get(n)!.push(await streamRows(g.gw, g.key, streamRowsN));
    }
    console.log(`stream ${streamRowsN} rows (int4, email, md5), EMAIL masking on, recording off, psql text (load average ${loadAverage()}):`);
    for (const [n, xs] of res) console.log(`  gatehouse ${n.padEnd(8)} ${range(xs.map((x) => x.rowsPerSec / 1000))} k rows/s, ${range(xs.map((x) => x.cpuUsPerRow), 2)} µs of gateway CPU per row`);
  }
} finally {
  await stopAll(children);
  await adminQuery(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
}
