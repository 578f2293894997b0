import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import pg from 'pg';
import { freePort } from './net.ts';

/**
 * A real PostgreSQL server for tests. Order of preference:
 * 1. `GATEHOUSE_TEST_PG_URL` (an admin URL on a server someone else runs);
 * 2. a throwaway server started with `initdb` + `pg_ctl` in a temp dir on a free port
 *    (as the `postgres` OS user when running as root; SCRAM password over TCP; fsync off);
 * 3. none: `getTestPostgres()` resolves undefined and `pgSkip()` says why (in CI it throws).
 * One server per test process (memoized); every `getTestPostgres()` call gets its own database.
 */

/** A fresh database on the test server; `stop()` drops it. */
export interface TestDatabase {
  readonly url: string;
  stop(): Promise<void>;
}

interface Server { readonly adminUrl: string }

const NO_SERVER = 'no PostgreSQL server: set GATEHOUSE_TEST_PG_URL or install postgresql (initdb, pg_ctl)';
let server: Promise<Server | undefined> | undefined;

/**
 * A new, empty database on a real PostgreSQL server, or undefined when none can be had.
 *
 * @example
 *   const pgdb = await getTestPostgres();
 *   if (pgdb) { const db = await openStore({ postgres: { url: pgdb.url } }); … await pgdb.stop(); }
 */
export async function getTestPostgres(): Promise<TestDatabase | undefined> {
  server ??= startServer();
  const s = await server;
  if (!s) return undefined;
  const name = `gh_test_${randomBytes(6).toString('hex')}`;
  await withAdmin(s.adminUrl, (c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(s.adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    stop: () => withAdmin(s.adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)),
  };
}

/** True when a server is configured or can be started here (does not start it). */
export function pgAvailable(): Promise<boolean> {
  return Promise.resolve(process.env.GATEHOUSE_TEST_PG_URL !== undefined || findBinaries() !== undefined);
}

/**
 * For `describe(name, { skip: await pgSkip() }, …)`: false when a server is available, else the
 * reason to skip. In CI (env `CI` set) a missing server is an error, never a skip.
 */
export async function pgSkip(): Promise<string | false> {
  if (await pgAvailable()) return false;
  if (process.env.CI) throw new Error(`CI must provide a PostgreSQL server (${NO_SERVER})`);
  return NO_SERVER;
}

async function withAdmin(adminUrl: string, fn: (c: pg.Client) => Promise<unknown>): Promise<void> {
  const c = new pg.Client({ connectionString: adminUrl });
  c.on('error', () => undefined);
  await c.connect();
  try { await fn(c); } finally { await c.end(); }
}

async function startServer(): Promise<Server | undefined> {
  const env = process.env.GATEHOUSE_TEST_PG_URL;
  if (env) return { adminUrl: env };
  const bin = findBinaries();
  if (!bin) return undefined;
  return startThrowaway(bin);
}

function findBinaries(): string | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  try {
    const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
    dirs.push(...versions.map((v) => `/usr/lib/postgresql/${v}/bin`));
  } catch { /* not a Debian-style install */ }
  return dirs.find((d) => existsSync(join(d, 'initdb')) && existsSync(join(d, 'pg_ctl')));
}

/** Runs a PostgreSQL tool, as the `postgres` OS user when we are root (initdb refuses root). */
function run(bin: string, args: readonly string[], asPostgres: boolean): void {
  const cmd = asPostgres ? ['runuser', '-u', 'postgres', '--', bin, ...args] : [bin, ...args];
  execFileSync(cmd[0]!, cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
}


async function startThrowaway(bin: string): Promise<Server> {
  const asPostgres = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'gh-pg-'));
  const data = join(dir, 'data');
  const owner = asPostgres ? {
    uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()),
    gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim()),
  } : undefined;
  if (owner) chownSync(dir, owner.uid, owner.gid);
  // Password auth over TCP (as in production), trust only on the private unix socket.
  const password = randomBytes(12).toString('hex');
  const pwfile = join(dir, 'pwfile');
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (owner) chownSync(pwfile, owner.uid, owner.gid);
  const pgCtl = join(bin, 'pg_ctl');
  const stop = (): void => {
    try { run(pgCtl, ['-D', data, 'stop', '-m', 'immediate', '-w'], asPostgres); } catch { /* not running */ }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    run(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth-local=trust', '--auth-host=scram-sha-256', `--pwfile=${pwfile}`, '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'], asPostgres);
  } catch (err) {
    stop();
    throw new Error(`initdb failed: ${stderrOf(err)}`, { cause: err });
  }
  let lastError = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const opts = [
      `-p ${port}`, `-k ${dir}`, '-c listen_addresses=127.0.0.1', '-c fsync=off', '-c synchronous_commit=off',
      '-c full_page_writes=off', '-c shared_buffers=16MB', '-c max_connections=100', '-c max_wal_size=256MB',
    ].join(' ');
    try {
      run(pgCtl, ['-D', data, '-l', join(dir, 'server.log'), '-o', opts, '-w', '-t', '60', 'start'], asPostgres);
    } catch (err) {
      lastError = `${stderrOf(err)}\n${tail(join(dir, 'server.log'))}`;
      continue; // most likely the port was taken between freePort() and start
    }
    process.once('exit', stop);
    watchdog(pgCtl, data, dir, asPostgres);
    return { adminUrl: `postgres://postgres:${password}@127.0.0.1:${port}/postgres` };
  }
  stop();
  throw new Error(`could not start a throwaway PostgreSQL: ${lastError}`);
}

/**
 * Stops the server and removes its directory if this process dies without running 'exit'
 * handlers (SIGKILL, SIGTERM from the test runner).
 */
function watchdog(pgCtl: string, data: string, dir: string, asPostgres: boolean): void {
  const script = 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; ' +
    'if [ "$5" = 1 ]; then runuser -u postgres -- "$2" -D "$3" stop -m immediate; else "$2" -D "$3" stop -m immediate; fi; rm -rf "$4"';
  spawn('sh', ['-c', script, 'sh', String(process.pid), pgCtl, data, dir, asPostgres ? '1' : '0'], {
    detached: true, stdio: 'ignore',
  }).unref();
}

function stderrOf(err: unknown): string {
  const e = err as { stderr?: Buffer | string; message?: string };
  return (e.stderr?.toString() ?? e.message ?? String(err)).slice(-2000);
}

function tail(file: string): string {
  try { return readFileSync(file, 'utf8').slice(-2000); } catch { return ''; }
}
