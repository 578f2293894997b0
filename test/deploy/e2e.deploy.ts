/**
 * The deployment, built and run for real (issue 20): `npm run test:deploy` (test/deploy/run.sh
 * installs Podman and friends, then runs this file). Not part of `npm test` (it takes minutes).
 *
 * 1. Images: a Debian bookworm base made with debootstrap plus the pinned Node binary (cached
 *    between runs), a stand-in for the official postgres image, and the gateway and the dev-idp
 *    built from the real Dockerfile with `--build-arg BASE=localhost/…`, DEPS=context and
 *    `--network=none`.
 * 2. The services of compose.yaml, translated as written (image/build target, environment,
 *    volumes, secrets, read-only root, tmpfs, dropped capabilities), run in one Podman pod
 *    (shared network namespace, as compose.yaml's dev-idp shares the gateway's; ports published
 *    on 127.0.0.1 only; the host's networking is left alone).
 * 3. The README's story from the host, with real psql and the real CLI: `gatehouse login` for
 *    alice (developers) and bob (dba) through the dev IdP's device flow (the test plays the user
 *    at the provider's pages), masked rows, a blocked DROP, a held DELETE approved by bob, the
 *    session replayed by the CLI inside the container, `gatehouse keys list` inside, the image's
 *    health check.
 * 4. A second gateway container on the same store: a statement held on B is released by an
 *    approval on A; B killed with SIGKILL and restarted in its state directory loses no
 *    acknowledged event (its journal is replayed); a replica with `recording.durability: store`
 *    killed with SIGKILL and then deleted with its state directory (a Kubernetes pod replaced)
 *    loses none either; `podman stop` (SIGTERM) stops A gracefully (exit 0, well before the
 *    timeout).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { approveDeviceAs } from '../harness/oidc-provider.ts';
import { BASE_IMAGE, CACHE, POSTGRES_IMAGE, buildGatehouseImages, ensureBaseImage, ensurePostgresImage, podman } from './podman.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin/gatehouse');
const POD = 'gatehouse-e2e';
const IMAGES = { gateway: 'localhost/gatehouse-test/gatehouse:e2e', 'dev-idp': 'localhost/gatehouse-test/dev-idp:e2e' } as const;
/**
 * Ports, the same in the pod and on the host's loopback (so that URLs are the same from inside a
 * container and from the host: the issuer, public_url), away from the usual 5432/8080/15432.
 */
const PORTS = { http: 18080, pg: 18432, httpB: 18081, pgB: 18433, idp: 19000 } as const;
const GW_URL = `http://127.0.0.1:${PORTS.http}`;
const PUBLIC_URL = `http://localhost:${PORTS.http}`;
const ISSUER = `http://localhost:${PORTS.idp}`;
const AUDIENCE = 'https://gatehouse.quickstart';
/** Values of deploy/compose/customers.sql that must never reach a client unmasked. */
const SENSITIVE = ['ada.lovelace@example.com', 'grace.hopper@example.com', '4111 1111 1111 1111', '5555 5555 5555 4444', '+1 415 555 0142', 'kj.private@example.org'];

const t0 = Date.now();
const log = (l: string): void => { process.stderr.write(`[deploy ${((Date.now() - t0) / 1000).toFixed(0)}s] ${l}\n`); };

interface Service { image?: string; build?: { target?: string }; environment?: Record<string, string>; volumes?: string[]; secrets?: string[]; read_only?: boolean; tmpfs?: string[]; cap_drop?: string[]; security_opt?: string[]; healthcheck?: { test: string[] } }

const compose = parseYaml(readFileSync(join(ROOT, 'compose.yaml'), 'utf8')) as { services: Record<string, Service>; secrets: Record<string, { file: string }> };
// The cache directory does not exist on a fresh machine (CI): create it before anything goes in.
mkdirSync(CACHE, { recursive: true });
const work = mkdtempSync(join(CACHE, 'run-'));

/**
 * `podman run` arguments for a compose.yaml service, as written there: its image (built targets
 * map to the images built above, postgres to the stand-in), environment (plus `env`), bind mounts
 * of repository files, secrets under /run/secrets, named volumes as fresh host directories,
 * read-only root, tmpfs, dropped capabilities and no-new-privileges.
 */
function runArgs(name: string, svc: Service, opts: { container: string; env?: Record<string, string>; stateDir?: string }): string[] {
  const args = ['run', '-d', '--pull=never', '--pod', POD, '--name', opts.container];
  for (const [k, v] of Object.entries({ ...svc.environment, ...opts.env })) args.push('-e', `${k}=${v}`);
  for (const v of svc.volumes ?? []) {
    const [src = '', dst = '', mode] = v.split(':');
    if (src.startsWith('./')) {
      args.push('-v', `${join(ROOT, src)}:${dst}${mode ? `:${mode}` : ''}`);
    } else {
      const dir = opts.stateDir ?? join(work, `${opts.container}-${src}`);
      mkdirSync(dir, { recursive: true });
      if (dst === '/var/lib/gatehouse') chownSync(dir, 10001, 10001);
      args.push('-v', `${dir}:${dst}`);
    }
  }
  for (const s of svc.secrets ?? []) {
    const file = compose.secrets[s]?.file;
    assert.ok(file, `secret ${s} is declared`);
    args.push('-v', `${join(ROOT, file)}:/run/secrets/${s}:ro`);
  }
  if (svc.read_only) args.push('--read-only');
  for (const t of svc.tmpfs ?? []) args.push('--tmpfs', t);
  for (const c of svc.cap_drop ?? []) args.push('--cap-drop', c);
  for (const o of svc.security_opt ?? []) args.push('--security-opt', o.replace(/:true$/, ''));
  const target = svc.build?.target;
  const image = target === 'gateway' || target === 'dev-idp' ? IMAGES[target] : svc.image?.startsWith('postgres:') ? POSTGRES_IMAGE : svc.image;
  assert.ok(image, `${name}: an image`);
  args.push(image);
  return args;
}

function service(name: string): Service {
  const s = compose.services[name];
  assert.ok(s, `compose.yaml has the service ${name}`);
  return s;
}

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 120_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch { /* not yet */ }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const ready = (url: string): Promise<boolean> => until(`${url}/readyz`, async () => (await fetch(`${url}/readyz`)).status === 200 || undefined);

interface Run { code: number; out: string; err: string }

/** Runs a host command (psql, the CLI) to completion. */
function run(cmd: string, args: string[], env: Record<string, string> = {}, input?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, GATEHOUSE_CONFIG: '', GATEHOUSE_TOKEN: '', ...env }, cwd: work });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => { resolve({ code: code ?? -1, out, err }); });
    child.stdin.end(input ?? '');
  });
}

/** `gatehouse login` from the host as `user`, the test playing the user at the dev IdP's pages. */
function login(user: string): Promise<{ run: Run; token: string }> {
  const configHome = join(work, `config-${user}`);
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, ['login', '--issuer', ISSUER, '--client-id', 'gatehouse-cli', '--audience', AUDIENCE, '--no-browser', '--json'], {
      env: { ...process.env, XDG_CONFIG_HOME: configHome, GATEHOUSE_CONFIG: '', GATEHOUSE_TOKEN: '' }, cwd: work,
    });
    let out = '';
    let err = '';
    let played: Promise<void> | undefined;
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      const uri = /\(or open (\S+)\)/.exec(err)?.[1];
      if (uri !== undefined && !played) played = approveDeviceAs(uri, user);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      (played ?? Promise.resolve()).then(() => {
        const saved = JSON.parse(readFileSync(join(configHome, 'gatehouse', 'token.json'), 'utf8')) as { token: string };
        resolve({ run: { code: code ?? -1, out, err }, token: saved.token });
      }, reject);
    });
  });
}

const cliAs = (user: string, args: string[], url = GW_URL): Promise<Run> => run(BIN, args, { XDG_CONFIG_HOME: join(work, `config-${user}`), GATEHOUSE_URL: url });
const psql = (token: string, port: number, sql: string, extra: string[] = []): Promise<Run> =>
  run('psql', ['-X', '-v', 'ON_ERROR_STOP=1', '-At', ...extra, `postgres://alice@127.0.0.1:${port}/app`], { PGPASSWORD: token, PGCONNECT_TIMEOUT: '10' }, sql);

/** The first pending review, as bob sees it. */
const pendingReview = (url = GW_URL): Promise<string> => until('a pending review', async () => {
  const r = await cliAs('bob', ['reviews', 'list', '--status', 'pending', '--json'], url);
  return (JSON.parse(r.out) as { id: string }[])[0]?.id;
}, 60_000);

/** A gateway's listeners on these ports; every replica names the same public URL (A's). */
const gatewayEnv = (http: number, pg: number): Record<string, string> => ({
  GATEHOUSE_HTTP_LISTEN: `0.0.0.0:${http}`, GATEHOUSE_PG_LISTEN: `0.0.0.0:${pg}`,
  GATEHOUSE_PUBLIC_URL: PUBLIC_URL, GATEHOUSE_HEALTHCHECK_URL: `http://127.0.0.1:${http}/healthz`,
});

const exec = (container: string, args: string[]): { code: number; out: string; err: string } => podman(['exec', container, ...args], { allowFail: true });

describe('the container image and the Compose quick-start, run with Podman', { timeout: 1_500_000 }, () => {
  let alice = '';
  const stateA = join(work, 'state-a');
  const stateB = join(work, 'state-b');

  before(async () => {
    podman(['pod', 'rm', '-f', POD], { allowFail: true });
    ensureBaseImage(log);
    ensurePostgresImage(ROOT, log);
    const tb = Date.now();
    buildGatehouseImages(ROOT, [['dev-idp', IMAGES['dev-idp']], ['gateway', IMAGES.gateway]], log);
    log(`images built offline from the Dockerfile in ${((Date.now() - tb) / 1000).toFixed(0)} s (base ${BASE_IMAGE})`);

    podman(['pod', 'create', '--name', POD, '--network', 'slirp4netns',
      ...Object.values(PORTS).flatMap((p) => ['-p', `127.0.0.1:${p}:${p}`]),
      '--add-host', 'store:127.0.0.1', '--add-host', 'customers:127.0.0.1']);
    for (const name of ['store', 'customers']) podman(runArgs(name, service(name), { container: `${POD}-${name}` }));
    for (const name of ['store', 'customers']) {
      const test = service(name).healthcheck?.test;
      assert.equal(test?.[0], 'CMD-SHELL');
      await until(`${name} healthy`, () => exec(`${POD}-${name}`, ['sh', '-c', test[1] ?? 'false']).code === 0 || undefined);
    }
    // The issuer URL must be the same inside the pod and on the host: the IdP listens on the host port.
    const idpEnv = { DEV_IDP_ISSUER: ISSUER, DEV_IDP_LISTEN: `0.0.0.0:${PORTS.idp}` };
    podman(runArgs('gatehouse', service('gatehouse'), { container: `${POD}-gatehouse`, stateDir: stateA, env: { ...idpEnv, ...gatewayEnv(PORTS.http, PORTS.pg) } }));
    podman(runArgs('dev-idp', service('dev-idp'), { container: `${POD}-dev-idp`, env: idpEnv }));
    await ready(GW_URL);
    await until('the dev IdP', async () => (await fetch(`${ISSUER}/.well-known/openid-configuration`)).ok || undefined);
    log('quick-start services up');
  });

  after(() => {
    if (process.env.GATEHOUSE_DEPLOY_KEEP !== '1') {
      for (const c of ['gatehouse', 'gatehouse-b', 'gatehouse-c', 'dev-idp']) {
        const logs = podman(['logs', '--tail', '30', `${POD}-${c}`], { allowFail: true });
        if (logs.code === 0) log(`--- ${c} (last lines) ---\n${logs.out}${logs.err}`);
      }
      podman(['pod', 'rm', '-f', POD], { allowFail: true });
      rmSync(work, { recursive: true, force: true });
    }
    log(`wall time ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  });

  test('alice and bob sign in with gatehouse login (device flow against the bundled IdP)', async () => {
    const a = await login('alice');
    assert.equal(a.run.code, 0, a.run.err);
    assert.equal((JSON.parse(a.run.out) as { user: string }).user, 'alice');
    alice = a.token;
    const b = await login('bob');
    assert.equal(b.run.code, 0, b.run.err);
  });

  test('psql through the gateway: masked rows, a blocked DROP', async () => {
    const rows = await psql(alice, PORTS.pg, 'SELECT id, name, email, phone, card_number, notes FROM customers ORDER BY id;');
    assert.equal(rows.code, 0, rows.err);
    assert.equal(rows.out.trim().split('\n').length, 6);
    assert.match(rows.out, /Ada Lovelace/);
    for (const v of SENSITIVE) assert.ok(!rows.out.includes(v), `${v} is masked`);
    assert.match(rows.out, /\[EMAIL\]/);
    log(`alice's SELECT through the gateway:\n${rows.out}`);

    const drop = await psql(alice, PORTS.pg, 'DROP TABLE customers;');
    assert.notEqual(drop.code, 0);
    assert.match(drop.err, /quickstart-no-ddl/);
    log(`alice's DROP: ${drop.err.trim()}`);
  });

  test('a DELETE is held until bob approves it; the session is replayed by the CLI inside the container', async () => {
    const held = psql(alice, PORTS.pg, 'DELETE FROM customers WHERE id = 5;');
    const id = await pendingReview();
    const approve = await cliAs('bob', ['reviews', 'approve', id]);
    assert.equal(approve.code, 0, approve.err);
    const done = await held;
    assert.equal(done.code, 0, done.err);
    assert.match(done.out, /DELETE 1/);

    const gw = `${POD}-gatehouse`;
    const keys = exec(gw, ['gatehouse', 'keys', 'list']);
    assert.equal(keys.code, 0, `gatehouse keys list inside the container: ${keys.err}`);
    const list = exec(gw, ['gatehouse', 'sessions', 'list', '--user', 'alice', '--json']);
    assert.equal(list.code, 0, list.err);
    const sessions = JSON.parse(list.out) as { id: string }[];
    const replays = sessions.map((s) => exec(gw, ['gatehouse', 'sessions', 'replay', s.id]).out).join('\n');
    assert.match(replays, /DELETE FROM customers WHERE id = 5/);
    assert.match(replays, /DROP TABLE customers/);
    for (const v of SENSITIVE) assert.ok(!replays.includes(v), `${v} is not in the recording`);

    const health = podman(['healthcheck', 'run', gw], { allowFail: true });
    assert.equal(health.code, 0, `the image's HEALTHCHECK: ${health.out}${health.err}`);
  });

  test('a second gateway on the same store: an approval on A releases a statement held on B', async () => {
    mkdirSync(join(stateB, '.gatehouse'), { recursive: true });
    // Every replica needs the same master.key (a secret in production; copied here).
    copyFileSync(join(stateA, '.gatehouse', 'master.key'), join(stateB, '.gatehouse', 'master.key'));
    for (const p of [stateB, join(stateB, '.gatehouse'), join(stateB, '.gatehouse', 'master.key')]) chownSync(p, 10001, 10001);
    podman(runArgs('gatehouse', service('gatehouse'), {
      container: `${POD}-gatehouse-b`, stateDir: stateB,
      env: { DEV_IDP_ISSUER: ISSUER, ...gatewayEnv(PORTS.httpB, PORTS.pgB) },
    }));
    await ready(`http://127.0.0.1:${PORTS.httpB}`);
    const held = psql(alice, PORTS.pgB, 'DELETE FROM customers WHERE id = 6;');
    const id = await pendingReview(GW_URL);
    const approve = await cliAs('bob', ['reviews', 'approve', id], GW_URL);
    assert.equal(approve.code, 0, approve.err);
    const done = await held;
    assert.equal(done.code, 0, done.err);
    assert.match(done.out, /DELETE 1/);
  });

  test('SIGKILL of gateway B, restarted in its state directory, loses no acknowledged event', async () => {
    const n = 40;
    const sql = Array.from({ length: n }, (_, i) => `SELECT 'ack-marker-${i}' AS m, count(*) FROM customers;`).join('\n');
    const r = await psql(alice, PORTS.pgB, sql);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out.trim().split('\n').length, n, 'psql got every answer: each event was acknowledged');
    podman(['kill', '-s', 'KILL', `${POD}-gatehouse-b`]);
    podman(['wait', `${POD}-gatehouse-b`], { allowFail: true });
    // The durability of the existing design: a replica that comes back in its state directory
    // replays its journal into the store before serving.
    const journal = readdirSync(join(stateB, '.gatehouse', 'journal')).filter((f) => f.endsWith('.jsonl'));
    log(`gateway B killed; journal files left: ${journal.length}`);
    podman(['start', `${POD}-gatehouse-b`]);
    await ready(`http://127.0.0.1:${PORTS.httpB}`);
    const bLogs = podman(['logs', `${POD}-gatehouse-b`]);
    log(`gateway B restarted (PID 1 again); its journal ${/replayed events from the journal/.test(bLogs.out + bLogs.err) ? 'had uncommitted events, replayed' : 'was all committed already'}`);

    const gw = `${POD}-gatehouse`;
    const list = JSON.parse(exec(gw, ['gatehouse', 'sessions', 'list', '--user', 'alice', '--json']).out) as { id: string }[];
    const replays = list.map((s) => exec(gw, ['gatehouse', 'sessions', 'replay', s.id]).out).join('\n');
    for (let i = 0; i < n; i++) assert.ok(replays.includes(`ack-marker-${i}`), `acknowledged statement ${i} is in the recording`);
  });

  test('a replica with recording.durability: store, SIGKILLed and deleted with its state directory, loses no acknowledged event', async () => {
    // B goes for good; C takes its ports with a fresh state directory (only the shared master.key).
    podman(['rm', '-f', `${POD}-gatehouse-b`]);
    const stateC = join(work, 'state-c');
    mkdirSync(join(stateC, '.gatehouse'), { recursive: true });
    copyFileSync(join(stateA, '.gatehouse', 'master.key'), join(stateC, '.gatehouse', 'master.key'));
    for (const p of [stateC, join(stateC, '.gatehouse'), join(stateC, '.gatehouse', 'master.key')]) chownSync(p, 10001, 10001);
    const c = `${POD}-gatehouse-c`;
    podman(runArgs('gatehouse', service('gatehouse'), {
      container: c, stateDir: stateC,
      env: { DEV_IDP_ISSUER: ISSUER, GATEHOUSE_RECORDING_DURABILITY: 'store', ...gatewayEnv(PORTS.httpB, PORTS.pgB) },
    }));
    await ready(`http://127.0.0.1:${PORTS.httpB}`);
    const n = 40;
    const sql = Array.from({ length: n }, (_, i) => `SELECT 'gone-marker-${i}' AS m, count(*) FROM customers;`).join('\n');
    const r = await psql(alice, PORTS.pgB, sql);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out.trim().split('\n').length, n, 'psql got every answer: each event was acknowledged');
    podman(['kill', '-s', 'KILL', c]);
    podman(['wait', c], { allowFail: true });
    const journal = join(stateC, '.gatehouse', 'journal');
    const left = existsSync(journal) ? readdirSync(journal).filter((f) => f.endsWith('.jsonl')) : [];
    assert.deepEqual(left, [], 'durability: store leaves nothing acknowledged on the replica\'s disk');
    // The pod is deleted: the container and its whole state directory are gone.
    podman(['rm', '-f', c]);
    rmSync(stateC, { recursive: true, force: true });
    log('gateway C (durability: store) killed and deleted with its state directory');

    const gw = `${POD}-gatehouse`;
    const list = JSON.parse(exec(gw, ['gatehouse', 'sessions', 'list', '--user', 'alice', '--json']).out) as { id: string }[];
    const replays = list.map((s) => exec(gw, ['gatehouse', 'sessions', 'replay', s.id]).out).join('\n');
    for (let i = 0; i < n; i++) assert.ok(replays.includes(`gone-marker-${i}`), `acknowledged statement ${i} of the deleted replica is in the recording`);
  });

  test('SIGTERM stops gateway A gracefully, its journal committed', () => {
    const gw = `${POD}-gatehouse`;
    const t = Date.now();
    podman(['stop', '-t', '30', gw]);
    const stopS = (Date.now() - t) / 1000;
    const state = podman(['inspect', gw, '--format', '{{.State.ExitCode}}']).out.trim();
    log(`podman stop (SIGTERM) of gateway A: ${stopS.toFixed(1)} s, exit code ${state}`);
    assert.equal(state, '0', 'the gateway exits 0 on SIGTERM');
    assert.ok(stopS < 20, `stopped gracefully in ${stopS} s, not by the 30 s timeout`);
    const logs = podman(['logs', gw]).err + podman(['logs', gw]).out;
    assert.match(logs, /shutting down/);
    const left = readdirSync(join(stateA, '.gatehouse', 'journal')).filter((f) => f.endsWith('.jsonl'));
    assert.deepEqual(left, [], 'a clean stop commits and deletes the journal');
  });
});
