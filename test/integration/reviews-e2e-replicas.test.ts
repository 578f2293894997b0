import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { TEST_POLICIES } from '../harness/gateway.ts';
import { startPgliteServer, type PgliteServer } from '../harness/pglite-server.ts';
import { getTestPostgres, pgSkip, type TestDatabase } from '../harness/postgres-server.ts';
import { gatehouseCli, waitForReview, type ListedReview } from '../harness/review-tools.ts';
import { freePort } from '../harness/net.ts';

const BIN = fileURLToPath(new URL('../../bin/gatehouse', import.meta.url));
const POLICIES = `${TEST_POLICIES}
@id("dba-approves")
permit (principal in Group::"dba", action == Action::"review.approve", resource);
`;


/** `bin/gatehouse start` with `config`, resolved once it listens. */
async function startProcess(dir: string, config: string): Promise<{ child: ChildProcess; log: () => string }> {
  const child = spawn(BIN, ['start'], { cwd: dir, env: { ...process.env, GATEHOUSE_CONFIG: config } });
  let err = '';
  child.stdout?.on('data', () => undefined);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start: ${err}`)), 60_000);
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
      if (/listening on/.test(err)) { clearTimeout(timer); resolve(); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`exited ${code}: ${err}`)); });
  });
  return { child, log: () => err };
}

async function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  // A graceful stop should be quick; do not let a stuck process hang the suite.
  const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(t);
}

describe('reviews end to end: two gateway processes on one PostgreSQL store', { skip: await pgSkip() }, () => {
  let store: TestDatabase;
  let up: PgliteServer;
  let dir: string;
  let a: ChildProcess | undefined;
  let b: ChildProcess | undefined;
  const ports = { aHttp: 0, aPg: 0, bHttp: 0 };
  let adminKey = '';

  before(async () => {
    const db = await getTestPostgres();
    if (!db) throw new Error('no PostgreSQL');
    store = db;
    up = await startPgliteServer("CREATE TABLE customers (id int, name text); INSERT INTO customers VALUES (1, 'Ada'), (2, 'Grace');");
    dir = mkdtempSync(join(tmpdir(), 'gh-replicas-'));
    mkdirSync(join(dir, 'policies'));
    writeFileSync(join(dir, 'policies', 'main.cedar'), POLICIES);
    ports.aHttp = await freePort();
    ports.aPg = await freePort();
    ports.bHttp = await freePort();
    const storeUrl = new URL(store.url);
    const storePassword = decodeURIComponent(storeUrl.password);
    storeUrl.password = '';
    const common = [
      `store: { postgres: { url: "${storeUrl.toString()}", password: "${storePassword}" } }`,
      'policies: { files: [ "policies/*.cedar" ] }',
      'connections:',
      `  - { name: crm, type: postgres, url: "${up.url}" }`,
      'reviews:',
      '  hold_timeout: 60s',
      '  rules:',
      '    - { name: crm-deletes, connections: [crm], actions: [sql.write], kind: command, approvers: [dba], when: "context.sql.has_where == false" }',
    ];
    writeFileSync(join(dir, 'a.yaml'), [`server: { http: { listen: "127.0.0.1:${ports.aHttp}" }, postgres: { listen: "127.0.0.1:${ports.aPg}" } }`, ...common].join('\n'));
    writeFileSync(join(dir, 'b.yaml'), [`server: { http: { listen: "127.0.0.1:${ports.bHttp}" }, postgres: { listen: "127.0.0.1:${await freePort()}" } }`, ...common].join('\n'));
    // One after the other, in one directory: A writes the bootstrap admin key, B finds it valid.
    a = (await startProcess(dir, 'a.yaml')).child;
    b = (await startProcess(dir, 'b.yaml')).child;
    adminKey = readFileSync(join(dir, '.gatehouse', 'admin.key'), 'utf8').trim();
  });
  after(async () => {
    await stopProcess(a);
    await stopProcess(b);
    await up.stop();
    await store.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a DELETE held on A is approved through B (CLI) and A runs it', async () => {
    const urlA = `http://127.0.0.1:${ports.aHttp}`;
    const urlB = `http://127.0.0.1:${ports.bHttp}`;
    const mk = async (body: object): Promise<string> => {
      const r = await fetch(`${urlA}/api/v1/api-keys`, { method: 'POST', headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      assert.equal(r.status, 201);
      return ((await r.json()) as { key: string }).key;
    };
    const alice = await mk({ user: 'alice', groups: ['developers'] });
    const bob = await mk({ user: 'bob', groups: ['dba'] });

    const client = new pg.Client({ host: '127.0.0.1', port: ports.aPg, database: 'crm', user: 'agent', password: alice });
    await client.connect();
    try {
      let settled = false;
      const held = client.query('DELETE FROM customers').finally(() => { settled = true; });
      // B sees the review A created (same store) and approves it.
      const listB = async (): Promise<ListedReview[]> => {
        const r = await gatehouseCli(['reviews', 'list', '--status', 'pending', '--json'], urlB, bob);
        assert.equal(r.code, 0, r.err);
        return JSON.parse(r.out) as ListedReview[];
      };
      const r = await waitForReview(listB, (x) => x.rule === 'crm-deletes', 30_000);
      assert.equal(settled, false, 'the DELETE is held on A');
      const ok = await gatehouseCli(['reviews', 'approve', r.id], urlB, bob);
      assert.equal(ok.code, 0, ok.err);
      const res = await held;
      assert.equal(res.command, 'DELETE');
      assert.equal(res.rowCount, 2);
      assert.equal((await up.db.query<{ n: number }>('SELECT count(*)::int AS n FROM customers')).rows[0]?.n, 0);
      const seenOnA = await fetch(`${urlA}/api/v1/reviews/${r.id}`, { headers: { authorization: `Bearer ${bob}` } });
      assert.equal(((await seenOnA.json()) as { status: string }).status, 'executed');
    } finally {
      await client.end();
    }
  });
});
