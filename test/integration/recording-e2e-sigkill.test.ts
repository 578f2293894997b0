import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFakeLlm, FAKE_OPENAI_KEY, type FakeLlm } from '../harness/fake-llm.ts';
import { gatehouseCli } from '../harness/review-tools.ts';
import type { SessionInfo } from '../../src/recording/types.ts';
import { freePort } from '../harness/net.ts';

const BIN = fileURLToPath(new URL('../../bin/gatehouse', import.meta.url));
const START_TIMEOUT_MS = 180_000;
/** Two gateway starts each, under a loaded machine: more than the suite's default per-test timeout. */
const TEST_TIMEOUT = { timeout: 2 * START_TIMEOUT_MS + 60_000 };
const POLICY = `
@id("developers-use-models")
permit (principal in Group::"developers", action == Action::"llm.invoke", resource);
`;


/** Starts `gatehouse start` in `dir` and resolves once it listens. */
async function startGatehouse(dir: string): Promise<ChildProcess> {
  const child = spawn(BIN, ['start'], { cwd: dir, env: { ...process.env, GATEHOUSE_CONFIG: '' } });
  let err = '';
  await new Promise<void>((resolve, reject) => {
    // A first start creates the embedded store (initdb in WebAssembly): ~15 s on a quiet 2-core
    // machine, over a minute when the machine is busy with other test files.
    const timer = setTimeout(() => reject(new Error(`gateway did not start: ${err}`)), START_TIMEOUT_MS);
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('listening on')) { clearTimeout(timer); resolve(); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`exited ${code}: ${err}`)); });
  });
  child.stderr.resume();
  return child;
}

async function stop(child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  await exited;
}

describe('recording durability: SIGKILL right after the client received its response', () => {
  let fake: FakeLlm;
  let dir: string;
  let url: string;
  let gw: ChildProcess | undefined;

  before(async () => {
    fake = await startFakeLlm();
    dir = mkdtempSync(join(tmpdir(), 'gh-rec-kill-'));
    mkdirSync(join(dir, 'policies'));
    writeFileSync(join(dir, 'policies', 'main.cedar'), POLICY);
    const port = await freePort();
    // Its own PostgreSQL listener port too: the default (15432) may be taken by another test or gateway.
    const pgPort = await freePort();
    url = `http://127.0.0.1:${port}`;
    writeFileSync(join(dir, 'gatehouse.yaml'), [
      `server: { http: { listen: "127.0.0.1:${port}" }, postgres: { listen: "127.0.0.1:${pgPort}" } }`,
      'store: { embedded: { path: ./.gatehouse } }',
      'policies: { files: [ "policies/*.cedar" ] }',
      'connections:',
      `  - { name: openai, type: llm, provider: openai, url: "${fake.url}", credentials: { api_key: "${FAKE_OPENAI_KEY}" } }`,
      'masking:',
      '  rules:',
      '    - { connections: ["*"], direction: both, entities: [EMAIL], strategy: redact }',
    ].join('\n'));
  });
  after(async () => {
    await stop(gw, 'SIGTERM');
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the exchange (its request, decision and response in one event) is in the recording after a restart', TEST_TIMEOUT, async () => {
    gw = await startGatehouse(dir);
    const admin = readFileSync(join(dir, '.gatehouse', 'admin.key'), 'utf8').trim();
    const created = await fetch(`${url}/api/v1/api-keys`, {
      method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'alice', groups: ['developers'] }),
    });
    assert.equal(created.status, 201);
    const key = ((await created.json()) as { key: string }).key;

    fake.behavior = { reply: 'Ask dave.kill@example.com.', chunk: 3 };
    const res = await fetch(`${url}/proxy/openai/v1/chat/completions`, {
      method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'hello' }] }),
    });
    const body = await res.text();
    // The client has the whole response: kill the gateway at once.
    await stop(gw, 'SIGKILL');
    gw = undefined;
    assert.equal(res.status, 200);
    assert.ok(body.includes('[DONE]') && body.includes('[EMAIL]') && !body.includes('dave.kill@'));
    const session = res.headers.get('gatehouse-session');
    assert.ok(session);

    gw = await startGatehouse(dir);
    const list = await gatehouseCli(['sessions', 'list', '--json'], url, admin);
    assert.equal(list.code, 0, list.err);
    assert.ok((JSON.parse(list.out) as SessionInfo[]).some((s) => s.id === session));
    const exp = await gatehouseCli(['sessions', 'export', session, '--format', 'json'], url, admin);
    assert.equal(exp.code, 0, exp.err);
    const doc = JSON.parse(exp.out) as { events: { type: string; data: Record<string, unknown> }[] };
    assert.deepEqual(doc.events.map((e) => e.type), ['session.open', 'exchange']);
    assert.equal(doc.events[1]?.data.effect, 'allow');
    assert.equal(doc.events[1]?.data.text, 'Ask [EMAIL].');
    const v = await gatehouseCli(['sessions', 'verify', session], url, admin);
    assert.equal(v.code, 0, v.out + v.err);
  });

  test('SIGTERM (docker stop, a Kubernetes pod deletion) is a graceful stop: exit 0 at once, the journal committed', TEST_TIMEOUT, async () => {
    await stop(gw, 'SIGTERM');
    gw = await startGatehouse(dir);
    const admin = readFileSync(join(dir, '.gatehouse', 'admin.key'), 'utf8').trim();
    const created = await fetch(`${url}/api/v1/api-keys`, {
      method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'alice', groups: ['developers'] }),
    });
    const key = ((await created.json()) as { key: string }).key;
    fake.behavior = { reply: 'Write to erin.term@example.com.', chunk: 4 };
    const res = await fetch(`${url}/proxy/openai/v1/chat/completions`, {
      method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(res.status, 200);
    await res.text();
    const session = res.headers.get('gatehouse-session');
    assert.ok(session);

    const child = gw;
    const t = Date.now();
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => { child.once('exit', (code, signal) => { r({ code, signal }); }); });
    child.kill('SIGTERM');
    const { code, signal } = await exited;
    gw = undefined;
    const ms = Date.now() - t;
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, 'the gateway handles SIGTERM and exits 0');
    assert.ok(ms < 10_000, `stopped in ${ms} ms (a container runtime's timeout is 10 s)`);
    // Everything acknowledged was committed to the store, so the journal files are gone.
    const journal = join(dir, '.gatehouse', 'journal');
    assert.deepEqual(existsSync(journal) ? readdirSync(journal).filter((f) => f.endsWith('.jsonl')) : [], []);

    gw = await startGatehouse(dir);
    const exp = await gatehouseCli(['sessions', 'export', session, '--format', 'json'], url, admin);
    assert.equal(exp.code, 0, exp.err);
    const doc = JSON.parse(exp.out) as { events: { type: string; data: Record<string, unknown> }[] };
    assert.deepEqual(doc.events.map((e) => e.type).slice(0, 2), ['session.open', 'exchange']);
    assert.equal(doc.events[1]?.data.text, 'Write to [EMAIL].');
  });
});
