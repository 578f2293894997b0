/**
 * pgbench -S through Gatehouse (policy on) vs direct vs pgbouncer, simple and extended protocol,
 * in the same run, and a no-op Node byte pipe (bench/lib/reference-proxies.ts: the floor of any
 * Node proxy's two extra hops on this machine); then a large result streamed with masking on
 * (rows/s, peak RSS of the gateway process for 100k vs 1M rows). Needs a real PostgreSQL server: BENCH_PG_URL (default
 * postgres://postgres@127.0.0.1:5432/postgres, trust), pgbench, psql and /usr/sbin/pgbouncer.
 *
 *   npx node bench/pgbench.ts            # BENCH_SECONDS=10 BENCH_CLIENTS=4 BENCH_RECORDING=off to tune
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startTestGateway } from '../test/harness/gateway.ts';
import { freePort } from '../test/harness/net.ts';

const admin = new URL(process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const clients = Number(process.env.BENCH_CLIENTS ?? 4);
const DB = 'gh_bench';
/**
 * BENCH_RECORDING=off measures policy without recording; BENCH_STORE=postgres puts the gateway's
 * store (audit, recording) in a database of the same server; BENCH_MODES and BENCH_STREAM=off
 * narrow the run.
 */
const recording = process.env.BENCH_RECORDING !== 'off';
const storeOnPg = process.env.BENCH_STORE === 'postgres';
const STORE_DB = 'gh_bench_store';
const modes = (process.env.BENCH_MODES ?? 'simple,extended').split(',');
/** BENCH_REFERENCES=off: direct and Gatehouse only (no pgbouncer, no no-op pipe). */
const references = process.env.BENCH_REFERENCES !== 'off';


async function adminQuery(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: admin.toString() });
  await c.connect();
  try { await c.query(sql); } finally { await c.end(); }
}

/** Runs a child without blocking the event loop (the gateway under test lives in this process). */
function runAsync(cmd: string, args: string[], env: Record<string, string>, cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env: { ...process.env, ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}: ${err.slice(-500)}`))));
  });
}

async function pgbench(host: string, port: number, user: string, password: string, mode: string, dir: string): Promise<{ tps: number; p99ms: number; avgms: number }> {
  const prefix = join(dir, `log-${port}-${mode}`);
  const out = await runAsync('pgbench', ['-S', '-n', '-c', String(clients), '-j', '2', '-T', String(seconds), '-M', mode, '--log', `--log-prefix=${prefix}`, '-h', host, '-p', String(port), '-U', user, DB], { PGPASSWORD: password }, dir);
  const tps = Number(/tps = ([\d.]+)/.exec(out)?.[1] ?? NaN);
  const lat: number[] = [];
  for (const f of readdirSync(dir).filter((n) => join(dir, n).startsWith(prefix))) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      const us = Number(line.split(' ')[2]);
      if (Number.isFinite(us)) lat.push(us);
    }
    rmSync(join(dir, f));
  }
  lat.sort((a, b) => a - b);
  const p99ms = (lat[Math.floor(lat.length * 0.99)] ?? NaN) / 1000;
  const avgms = lat.reduce((a, b) => a + b, 0) / Math.max(1, lat.length) / 1000;
  return { tps, p99ms, avgms };
}

async function startPgbouncer(dir: string): Promise<{ port: number; proc: ChildProcess }> {
  const port = await freePort();
  const ini = join(dir, 'pgbouncer.ini');
  writeFileSync(join(dir, 'users.txt'), `"${admin.username}" ""\n`);
  writeFileSync(ini, [
    '[databases]', `${DB} = host=${admin.hostname} port=${admin.port || 5432} dbname=${DB}`,
    '[pgbouncer]', `listen_addr = 127.0.0.1`, `listen_port = ${port}`, 'auth_type = trust', `auth_file = ${join(dir, 'users.txt')}`,
    'pool_mode = session', `max_client_conn = 100`, `default_pool_size = ${clients + 2}`, `unix_socket_dir =`, `logfile = ${join(dir, 'pgb.log')}`,
  ].join('\n'));
  chmodSync(dir, 0o777);
  const asRoot = process.getuid?.() === 0;
  const proc = asRoot ? spawn('runuser', ['-u', 'postgres', '--', '/usr/sbin/pgbouncer', ini], { stdio: 'ignore' }) : spawn('/usr/sbin/pgbouncer', [ini], { stdio: 'ignore' });
  for (let i = 0; i < 50; i++) {
    try { execFileSync('pg_isready', ['-h', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' }); break; } catch { await new Promise((r) => setTimeout(r, 100)); }
  }
  return { port, proc };
}

async function streamRows(host: string, port: number, key: string, rows: number): Promise<{ rowsPerSec: number; peakRssMiB: number }> {
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 50);
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    const p = spawn('psql', ['-X', '-q', '-h', host, '-p', String(port), '-U', 'bench', '-d', 'app', '-c', `SELECT g, 'user' || g || '@example.com' AS email, md5(g::text) AS filler FROM generate_series(1, ${rows}) g`], {
      env: { ...process.env, PGPASSWORD: key, FETCH_COUNT: '0' }, stdio: ['ignore', 'ignore', 'pipe'],
    });
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`psql exited ${code}`))));
  });
  clearInterval(timer);
  const s = (performance.now() - started) / 1000;
  return { rowsPerSec: Math.round(rows / s), peakRssMiB: Math.round((peak - baseline) / 1048576) };
}

const dir = mkdtempSync(join(tmpdir(), 'gh-pgbench-'));
await adminQuery(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
await adminQuery(`CREATE DATABASE ${DB}`);
if (storeOnPg) {
  await adminQuery(`DROP DATABASE IF EXISTS ${STORE_DB} WITH (FORCE)`);
  await adminQuery(`CREATE DATABASE ${STORE_DB}`);
}
const storeUrl = new URL(admin.toString());
storeUrl.pathname = `/${STORE_DB}`;
execFileSync('pgbench', ['-i', '-q', '-s', '1', '-h', admin.hostname, '-p', admin.port || '5432', '-U', admin.username, DB], { stdio: 'ignore' });
const dbUrl = new URL(admin.toString());
dbUrl.pathname = `/${DB}`;
const t = await startTestGateway({
  policies: '@id("bench-read")\npermit (principal in Group::"bench", action == Action::"sql.read", resource);\n',
  yaml: [
    'connections:',
    `  - { name: ${DB}, type: postgres, url: "${dbUrl.toString()}" }`,
    `  - { name: app, type: postgres, url: "${dbUrl.toString()}" }`,
    'masking:',
    '  rules:',
    '    - { connections: [app], direction: response, entities: [EMAIL], strategy: redact }',
    `recording: { enabled: ${recording} }`,
  ].join('\n'),
  ...(storeOnPg ? { storeUrl: storeUrl.toString() } : {}),
});
const key = String((await t.api('POST', '/api/v1/api-keys', { user: 'bench', groups: ['bench'] })).json.key);
const bouncer = references ? await startPgbouncer(dir) : undefined;
const pipe = !references ? undefined : spawn(process.execPath, ['--disable-warning=ExperimentalWarning', fileURLToPath(new URL('./lib/reference-proxies.ts', import.meta.url)), 'tcp', String(Number(admin.port || 5432))], { stdio: ['ignore', 'pipe', 'inherit'] });
const pipePort = !pipe ? 0 : await new Promise<number>((resolve, reject) => {
  pipe.stdout.once('data', (d: Buffer) => { resolve(Number(d.toString().trim())); });
  pipe.once('exit', (code) => { reject(new Error(`reference pipe exited ${code}`)); });
}).catch(async (err: unknown) => {
  bouncer?.proc.kill();
  await t.close();
  throw err;
});
try {
  console.log(`pgbench -S -c ${clients} -j 2 -T ${seconds}, PostgreSQL at ${admin.host}; gatehouse store ${storeOnPg ? 'postgres' : 'embedded'}, recording ${recording ? 'on' : 'off'}`);
  for (const mode of modes) {
    // Interleave so drift hits every target alike.
    const direct = await pgbench(admin.hostname, Number(admin.port || 5432), admin.username, '', mode, dir);
    const gh = await pgbench(t.postgres.host, t.postgres.port, 'bench', key, mode, dir);
    const pct = (x: { tps: number }): string => `${(100 * x.tps / direct.tps).toFixed(0)}%`;
    const add = (x: { p99ms: number }): string => `+${(x.p99ms - direct.p99ms).toFixed(2)}`;
    if (!bouncer) {
      console.log(`${mode.padEnd(8)} direct ${direct.tps.toFixed(0)} tps p99 ${direct.p99ms.toFixed(2)} ms | gatehouse ${gh.tps.toFixed(0)} tps (${pct(gh)}) p99 ${gh.p99ms.toFixed(2)} ms (${add(gh)})`);
      continue;
    }
    const pgb = await pgbench('127.0.0.1', bouncer.port, admin.username, '', mode, dir);
    const np = await pgbench('127.0.0.1', pipePort, admin.username, '', mode, dir);
    console.log(`${mode.padEnd(8)} direct ${direct.tps.toFixed(0)} tps p99 ${direct.p99ms.toFixed(2)} ms | gatehouse ${gh.tps.toFixed(0)} tps (${pct(gh)}) p99 ${gh.p99ms.toFixed(2)} ms (${add(gh)}) | pgbouncer ${pgb.tps.toFixed(0)} tps (${pct(pgb)}) p99 ${pgb.p99ms.toFixed(2)} ms (${add(pgb)}) | no-op node pipe ${np.tps.toFixed(0)} tps (${pct(np)}) p99 ${np.p99ms.toFixed(2)} ms (${add(np)})`);
  }
  for (const rows of process.env.BENCH_STREAM === 'off' ? [] : [100_000, 1_000_000]) {
    const r = await streamRows(t.postgres.host, t.postgres.port, key, rows);
    console.log(`stream ${rows} rows, EMAIL masking on: ${r.rowsPerSec} rows/s, gateway RSS growth ${r.peakRssMiB} MiB`);
  }
} finally {
  bouncer?.proc.kill();
  pipe?.kill();
  await t.close();
  await adminQuery(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
  if (storeOnPg) await adminQuery(`DROP DATABASE IF EXISTS ${STORE_DB} WITH (FORCE)`);
  rmSync(dir, { recursive: true, force: true });
}
