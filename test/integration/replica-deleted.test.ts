/**
 * Replicas that can be deleted, not only restarted (issue 20 item 4), with real processes:
 * - `recording.durability: store` on a PostgreSQL store: a gateway SIGKILLed right after its
 *   clients got their answers, whose state directory is then deleted (a Kubernetes pod deleted
 *   with its emptyDir), loses no acknowledged event: another gateway, started in a fresh
 *   directory on the same store, serves every exchange from the recording. With the default
 *   `journal`, the same kill leaves the acknowledged tail in a local journal file (the control:
 *   that directory must not be deleted).
 * - `server.ssh.host_key`: two replicas with the same key file present the same host key to a
 *   real SSH client (no "host key changed" between replicas); nothing is generated locally.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ssh2 from 'ssh2';
import { startFakeLlm, FAKE_OPENAI_KEY, type FakeLlm } from '../harness/fake-llm.ts';
import { gatehouseCli } from '../harness/review-tools.ts';
import { freePort } from '../harness/net.ts';
import { getTestPostgres, pgSkip, type TestDatabase } from '../harness/postgres-server.ts';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';
import { loadHostKeyFile } from '../../src/protocols/ssh/host-key.ts';
import { openStore } from '../../src/store/index.ts';
import { StoreRecorder } from '../../src/recording/store-recorder.ts';
import { verifySession } from '../../src/recording/verify-session.ts';
import { exchangeEvents } from '../../src/recording/recording.case.ts';

const BIN = fileURLToPath(new URL('../../bin/gatehouse', import.meta.url));
const POLICY = `
@id("developers-use-models")
permit (principal in Group::"developers", action == Action::"llm.invoke", resource);
`;
const EXCHANGES = 24;

/** `gatehouse start` in `dir`; resolves once it listens. */
async function startGatehouse(dir: string): Promise<ChildProcess> {
  const child = spawn(BIN, ['start'], { cwd: dir, env: { ...process.env, GATEHOUSE_CONFIG: '' } });
  let err = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`gateway did not start: ${err}`)); }, 60_000);
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('listening on')) { clearTimeout(timer); resolve(); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`exited ${code}: ${err}`)); });
  });
  child.stderr.resume();
  return child;
}

async function kill(child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  await exited;
}

const journalFiles = (dir: string): string[] => {
  const j = join(dir, '.gatehouse', 'journal');
  return existsSync(j) ? readdirSync(j).filter((f) => f.endsWith('.jsonl')) : [];
};

describe('a replica deleted for good (recording.durability: store, PostgreSQL store)', { skip: await pgSkip() }, () => {
  let fake: FakeLlm;
  let pg: TestDatabase;
  let port: number;
  let gw: ChildProcess | undefined;
  const dirs: string[] = [];

  /** A fresh state directory with this config (the shared store, the fake LLM). */
  function replicaDir(durability: 'journal' | 'store' | undefined): string {
    const dir = mkdtempSync(join(tmpdir(), 'gh-replica-'));
    dirs.push(dir);
    mkdirSync(join(dir, 'policies'));
    writeFileSync(join(dir, 'policies', 'main.cedar'), POLICY);
    writeFileSync(join(dir, 'gatehouse.yaml'), [
      `server: { http: { listen: "127.0.0.1:${port}" } }`,
      `store: { postgres: { url: "${pg.url}", pool_max: 4 } }`,
      'policies: { files: [ "policies/*.cedar" ] }',
      'connections:',
      `  - { name: openai, type: llm, provider: openai, url: "${fake.url}", credentials: { api_key: "${FAKE_OPENAI_KEY}" } }`,
      'masking:',
      '  rules:',
      '    - { connections: ["*"], direction: both, entities: [EMAIL], strategy: redact }',
      ...(durability === undefined ? [] : [`recording: { durability: ${durability} }`]),
    ].join('\n'));
    return dir;
  }

  /** EXCHANGES concurrent streamed chats, each read to its end (acknowledged); their session ids. */
  async function exchanges(key: string, tag: string): Promise<string[]> {
    return Promise.all(Array.from({ length: EXCHANGES }, async (_, i) => {
      const res = await fetch(`http://127.0.0.1:${port}/proxy/openai/v1/chat/completions`, {
        method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: `${tag} ${i}` }] }),
      });
      const body = await res.text();
      assert.equal(res.status, 200, body);
      assert.ok(body.includes('[DONE]') && body.includes('[EMAIL]') && !body.includes('zed.deleted@'));
      const session = res.headers.get('gatehouse-session');
      assert.ok(session);
      return session;
    }));
  }

  before(async () => {
    fake = await startFakeLlm();
    fake.behavior = { reply: 'Mail zed.deleted@example.com now.', chunk: 5 };
    const db = await getTestPostgres();
    assert.ok(db);
    pg = db;
    port = await freePort();
  });
  after(async () => {
    await kill(gw, 'SIGKILL');
    await fake.close();
    await pg.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('SIGKILL, then the state directory deleted: a gateway in a fresh directory has every acknowledged exchange', async () => {
    const a = replicaDir('store');
    gw = await startGatehouse(a);
    const admin = readFileSync(join(a, '.gatehouse', 'admin.key'), 'utf8').trim();
    const masterKey = readFileSync(join(a, '.gatehouse', 'master.key'));
    const created = await fetch(`http://127.0.0.1:${port}/api/v1/api-keys`, {
      method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'alice', groups: ['developers'] }),
    });
    assert.equal(created.status, 201);
    const key = ((await created.json()) as { key: string }).key;

    const sessions = await exchanges(key, 'deleted');
    await kill(gw, 'SIGKILL'); // every client has its whole answer: kill at once
    gw = undefined;
    assert.deepEqual(journalFiles(a), [], 'durability: store keeps nothing acknowledged on local disk');
    rmSync(a, { recursive: true, force: true }); // the pod and its emptyDir are gone
    // The window this kill can hit (and does, now and then): a batch that closed a session was
    // committed, its anchor not yet appended. Made certain here, on the same store, by a recorder
    // whose anchor append never completes (a process that died first).
    const store = await openStore({ postgres: { url: pg.url, poolMax: 2 } });
    const dying = new StoreRecorder(store, { audit: { append: () => new Promise<never>(() => undefined) } });
    for (const e of exchangeEvents('killed-before-anchor', Date.now())) dying.record(e);
    await dying.settled();
    assert.deepEqual((await verifySession(store, 'killed-before-anchor')).ok, false, 'closed without an anchor');
    await store.close();

    // Another replica: a fresh directory (the same master.key, as a Secret gives every replica).
    const b = replicaDir('store');
    mkdirSync(join(b, '.gatehouse'), { mode: 0o700 });
    writeFileSync(join(b, '.gatehouse', 'master.key'), masterKey, { mode: 0o600 });
    gw = await startGatehouse(b);
    const url = `http://127.0.0.1:${port}`;
    // The exchanges share alice's default session (no Gatehouse-Session sent): every one of them
    // is there, each one event with its request, decision and response (told apart by data.exchange).
    let acknowledged = 0;
    for (const session of new Set(sessions)) {
      const res = await fetch(`${url}/api/v1/sessions/${encodeURIComponent(session)}/events`, { headers: { authorization: `Bearer ${admin}` } });
      assert.equal(res.status, 200, `session ${session} is in the store`);
      const { items } = (await res.json()) as { items: { type: string; data: Record<string, unknown> }[] };
      assert.equal(items[0]?.type, 'session.open', `session ${session}`);
      // A default session rotated under the concurrent exchanges was closed as its last exchange
      // ended (at once, before the kill): its session.close is its last event.
      const closes = items.flatMap((e, i) => (e.type === 'session.close' ? [i] : []));
      assert.ok(closes.every((i) => i === items.length - 1), `session ${session}: session.close is its last event`);
      const byExchange = new Map<unknown, string[]>();
      for (const e of items.slice(1)) {
        if (e.type !== 'session.close') byExchange.set(e.data.exchange, [...(byExchange.get(e.data.exchange) ?? []), e.type]);
      }
      for (const [n, types] of byExchange) assert.deepEqual(types, ['exchange'], `session ${session} exchange ${String(n)}`);
      for (const e of items.filter((x) => x.type === 'exchange')) assert.equal(e.data.text, 'Mail [EMAIL] now.');
      acknowledged += byExchange.size;
    }
    assert.equal(acknowledged, EXCHANGES, 'every acknowledged exchange is in the store');
    // One through the CLI as an operator would, with the chain verified.
    const v = await gatehouseCli(['sessions', 'verify', sessions[0]!], url, admin);
    assert.equal(v.code, 0, v.out + v.err);
    // The replica anchored, before serving, the close the dead one committed without its anchor.
    const left = await gatehouseCli(['sessions', 'verify', 'killed-before-anchor'], url, admin);
    assert.equal(left.code, 0, left.out + left.err);
    await kill(gw, 'SIGTERM');
    gw = undefined;
  });

  test('the control: with durability: journal (the default) the same kill leaves the acknowledged tail in a local journal', async () => {
    const c = replicaDir(undefined);
    gw = await startGatehouse(c);
    const admin = readFileSync(join(c, '.gatehouse', 'admin.key'), 'utf8').trim();
    const created = await fetch(`http://127.0.0.1:${port}/api/v1/api-keys`, {
      method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'alice', groups: ['developers'] }),
    });
    const key = ((await created.json()) as { key: string }).key;
    await exchanges(key, 'journaled');
    await kill(gw, 'SIGKILL');
    gw = undefined;
    assert.equal(journalFiles(c).length, 1, 'the journal is local state a restart must replay: this directory must survive');
  });
});

describe('one SSH host key for every replica (server.ssh.host_key)', () => {
  const gws: TestGateway[] = [];
  let keyDir = '';
  before(() => { keyDir = mkdtempSync(join(tmpdir(), 'gh-hostkey-')); });
  after(async () => {
    for (const g of gws) await g.close();
    rmSync(keyDir, { recursive: true, force: true });
  });

  /** The host key a real SSH client sees in the handshake (authentication is not needed). */
  function hostKeySeen(port: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const c = new ssh2.Client();
      let seen: string | undefined;
      c.on('error', () => { c.end(); if (seen) resolve(seen); else reject(new Error('no host key seen')); });
      c.on('ready', () => { c.end(); if (seen) resolve(seen); });
      c.connect({
        host: '127.0.0.1', port, username: 'nobody', password: 'not-a-key', readyTimeout: 20_000,
        hostVerifier: (key: Buffer) => { seen = key.toString('base64'); return true; },
      });
    });
  }

  test('two replicas given the same key file present the same host key, and generate none', async () => {
    const pair = ssh2.utils.generateKeyPairSync('ed25519', { comment: 'gatehouse-test' });
    const file = join(keyDir, 'ssh_host_ed25519_key');
    writeFileSync(file, pair.private, { mode: 0o440 });
    const expected = pair.public.split(' ')[1];
    const serverYaml = `  ssh: { enabled: true, host_key: "${file}" }`;
    for (let i = 0; i < 2; i++) gws.push(await startTestGateway({ serverYaml }));
    const seen = await Promise.all(gws.map((g) => { const ssh = g.gw.listeners.ssh; assert.ok(ssh); return hostKeySeen(ssh.port); }));
    assert.deepEqual(seen, [expected, expected]);
    assert.deepEqual(gws.map((g) => g.gw.listeners.ssh?.info?.hostKey), [`ssh-ed25519 ${expected}`, `ssh-ed25519 ${expected}`]);
    for (const g of gws) assert.ok(!existsSync(join(g.dir, 'state', 'ssh_host_ed25519_key')), 'no key generated in the state directory');
  });

  test('a key file readable by every user, not a private key, or missing is refused with the file named', () => {
    const pair = ssh2.utils.generateKeyPairSync('ed25519');
    const open = join(keyDir, 'world-readable');
    writeFileSync(open, pair.private);
    chmodSync(open, 0o644);
    assert.throws(() => loadHostKeyFile(open), /world-readable is readable by every user/);
    const pub = join(keyDir, 'public-only');
    writeFileSync(pub, pair.public, { mode: 0o600 });
    assert.throws(() => loadHostKeyFile(pub), /public-only is not an SSH private key/);
    assert.throws(() => loadHostKeyFile(join(keyDir, 'missing')), /server\.ssh\.host_key: cannot read .*missing \(ENOENT\)/);
  });
});
