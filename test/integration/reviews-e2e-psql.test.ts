import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { startTestGateway, TEST_POLICIES, type TestGateway } from '../harness/gateway.ts';
import { startPgliteServer, type PgliteServer } from '../harness/pglite-server.ts';
import { gatehouseCli, Psql, waitForReview, type ListedReview } from '../harness/review-tools.ts';
import { verify } from '../../src/reviews/notifiers/signature.ts';

const POLICIES = `${TEST_POLICIES}
@id("dba-approves")
permit (principal in Group::"dba", action == Action::"review.approve", resource);
`;
const INIT = `CREATE TABLE customers (id int, name text);
INSERT INTO customers VALUES (1, 'Ada'), (2, 'Grace'), (3, 'Edsger');`;
const SECRET = 'whsec-e2e';

interface Hook { readonly signature: string; readonly body: string }

function gatewayYaml(upstream: string, holdTimeout: string, hookUrl?: string): string {
  return [
    'connections:',
    `  - { name: crm, type: postgres, url: "${upstream}" }`,
    `  - { name: crmjit, type: postgres, url: "${upstream}" }`,
    'reviews:',
    `  hold_timeout: ${holdTimeout}`,
    '  rules:',
    '    - { name: crm-deletes, connections: [crm], actions: [sql.write], kind: command, approvers: [dba], when: "context.sql.has_where == false" }',
    '    - { name: crm-jit, connections: [crmjit], actions: [sql.write], kind: jit, approvers: [dba], duration: 15m }',
    ...(hookUrl ? ['notifications:', `  webhooks: [ { url: "${hookUrl}", secret: "${SECRET}", format: generic } ]`] : []),
  ].join('\n');
}

async function keysFor(t: TestGateway): Promise<{ alice: string; bob: string }> {
  const out: Record<string, string> = {};
  for (const [name, body] of [['alice', { user: 'alice', groups: ['developers'] }], ['bob', { user: 'bob', groups: ['dba'] }]] as const) {
    const created = await t.api('POST', '/api/v1/api-keys', body);
    assert.equal(created.status, 201, JSON.stringify(created.json));
    out[name] = created.json.key as string;
  }
  return { alice: out.alice!, bob: out.bob! };
}

function lister(t: TestGateway, token: string, status = 'pending'): () => Promise<ListedReview[]> {
  return async () => {
    const r = await t.api('GET', `/api/v1/reviews?status=${status}`, undefined, token);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return r.json.items as ListedReview[];
  };
}

describe('reviews end to end: psql and the CLI (hold until approved)', () => {
  let up: PgliteServer;
  let t: TestGateway;
  let keys: { alice: string; bob: string };
  let hooks: Server;
  const received: Hook[] = [];

  before(async () => {
    up = await startPgliteServer(INIT);
    hooks = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ signature: String(req.headers['gatehouse-signature'] ?? ''), body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => hooks.listen(0, '127.0.0.1', r));
    const hookUrl = `http://127.0.0.1:${(hooks.address() as AddressInfo).port}/hook`;
    t = await startTestGateway({ policies: POLICIES, yaml: gatewayYaml(up.url, '60s', hookUrl) });
    keys = await keysFor(t);
  });
  after(async () => {
    await t.close();
    await up.stop();
    await new Promise<void>((r) => hooks.close(() => r()));
  });

  test('a DELETE without WHERE blocks in psql; self-approval is refused; a dba approves with the CLI; psql prints DELETE 3', async () => {
    const psql = Psql.start({ ...t.postgres, database: 'crm', password: keys.alice });
    try {
      psql.send("SET gatehouse.justification = 'ticket CRM-42: purge test data';");
      await psql.waitFor(/^SET$/m);
      psql.send('SELECT count(*) AS n FROM customers;');
      await psql.waitFor(/\b3\b[\s\S]*\(1 row\)/);
      psql.send('DELETE FROM customers;');
      const listed = await waitForReview(lister(t, keys.bob), (r) => r.rule === 'crm-deletes');
      assert.equal(listed.justification, 'ticket CRM-42: purge test data');
      assert.match(listed.summary, /DELETE FROM customers/);

      // The approver finds it with the CLI, as a user would.
      const list = await gatehouseCli(['reviews', 'list', '--json'], t.url, keys.bob);
      assert.equal(list.code, 0, list.err);
      const items = JSON.parse(list.out) as ListedReview[];
      const mine = items.find((r) => r.id === listed.id);
      assert.equal(mine?.status, 'pending');
      assert.doesNotMatch(psql.out, /DELETE/, 'the DELETE is still held');

      const self = await gatehouseCli(['reviews', 'approve', listed.id], t.url, keys.alice);
      assert.notEqual(self.code, 0);
      assert.match(self.err, /own|requester/i);
      assert.doesNotMatch(self.err, /\n\s+at .+:\d+:\d+/, 'no stack trace');
      assert.doesNotMatch(psql.out, /DELETE/, 'self-approval released nothing');

      const ok = await gatehouseCli(['reviews', 'approve', listed.id, '--comment', 'fine'], t.url, keys.bob);
      assert.equal(ok.code, 0, ok.err);
      await psql.waitFor(/^DELETE 3$/m);
      psql.send('SELECT count(*) AS n FROM customers;');
      await psql.waitFor(/\b0\b[\s\S]*\(1 row\)/);
      assert.equal(psql.err, '');
      const after = await t.api('GET', `/api/v1/reviews/${listed.id}`, undefined, keys.bob);
      assert.equal(after.json.status, 'executed');
    } finally {
      await psql.close();
    }
  });

  test('the webhook receiver gets the request notification and verifies its signature', async () => {
    const deadline = Date.now() + 20_000;
    while (!received.some((h) => h.body.includes('"review.requested"') || h.body.includes('"requested"')) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const hook = received.find((h) => h.body.includes('requested'));
    assert.ok(hook, `no request notification among ${received.length}`);
    assert.ok(verify(SECRET, hook.body, hook.signature, Math.floor(Date.now() / 1000)), 'signature verifies');
    assert.equal(verify('wrong-secret', hook.body, hook.signature, Math.floor(Date.now() / 1000)), false);
    assert.equal(verify(SECRET, `${hook.body} `, hook.signature, Math.floor(Date.now() / 1000)), false);
    const doc = JSON.parse(hook.body) as { review: { rule: string; connection: string; summary: string } };
    assert.equal(doc.review.rule, 'crm-deletes');
    assert.equal(doc.review.connection, 'crm');
    assert.match(doc.review.summary, /DELETE FROM customers/);
  });

  test('deny releases the held statement with an error naming the denier and the reason', async () => {
    await up.db.exec("INSERT INTO customers VALUES (4, 'Barbara')");
    const psql = Psql.start({ ...t.postgres, database: 'crm', password: keys.alice });
    try {
      psql.send('DELETE FROM customers;');
      const r = await waitForReview(lister(t, keys.bob), (x) => x.rule === 'crm-deletes');
      const denied = await gatehouseCli(['reviews', 'deny', r.id, '--reason', 'not during business hours'], t.url, keys.bob);
      assert.equal(denied.code, 0, denied.err);
      const err = await psql.waitFor(/ERROR:.*not during business hours/, 'err');
      assert.match(err, new RegExp(`review ${r.id} denied by user:bob: not during business hours`));
      // The session goes on, in order, and nothing was deleted.
      psql.send('SELECT count(*) AS n FROM customers;');
      await psql.waitFor(/\b1\b[\s\S]*\(1 row\)/);
      assert.doesNotMatch(psql.out, /DELETE/);
    } finally {
      await psql.close();
    }
  });

  test('a jit grant lets later queries run without review until it is revoked', async () => {
    const psql = Psql.start({ ...t.postgres, database: 'crmjit', password: keys.alice });
    const pending = lister(t, keys.bob);
    try {
      psql.send("INSERT INTO customers VALUES (10, 'jit-1');");
      const g = await waitForReview(pending, (x) => x.rule === 'crm-jit');
      assert.doesNotMatch(psql.out, /INSERT/);
      // The approver's time window: above the rule's 15 min it is refused (nothing recorded)...
      const tooLong = await gatehouseCli(['reviews', 'approve', g.id, '--for', '1h'], t.url, keys.bob);
      assert.notEqual(tooLong.code, 0);
      assert.match(tooLong.err, /longer than this review allows \(900 s/);
      // ...and a shorter one bounds the grant.
      const ok = await gatehouseCli(['reviews', 'approve', g.id, '--for', '5m', '--json'], t.url, keys.bob);
      assert.equal(ok.code, 0, ok.err);
      const granted = JSON.parse(ok.out) as { status: string; decided_at: string; expires_at: string; grant_seconds: number; approvals: unknown[] };
      assert.equal(granted.status, 'approved');
      assert.equal(granted.approvals.length, 1, 'the refused window left no approval');
      assert.equal(Date.parse(granted.expires_at) - Date.parse(granted.decided_at), 5 * 60_000, 'the grant ends 5 min after the approval');
      assert.equal(granted.grant_seconds, 300);
      await psql.waitFor(/^INSERT 0 1$/m);

      psql.send("INSERT INTO customers VALUES (11, 'jit-2');");
      psql.send("UPDATE customers SET name = 'jit-2b' WHERE id = 11;");
      await psql.waitFor(/^UPDATE 1$/m);
      assert.equal((await pending()).filter((x) => x.rule === 'crm-jit').length, 0, 'no new review while the grant is active');

      const revoked = await gatehouseCli(['reviews', 'revoke', g.id, '--reason', 'done here'], t.url, keys.bob);
      assert.equal(revoked.code, 0, revoked.err);
      psql.send("INSERT INTO customers VALUES (12, 'jit-3');");
      const again = await waitForReview(pending, (x) => x.rule === 'crm-jit');
      assert.notEqual(again.id, g.id, 'the next query needs a new review');
      const denied = await gatehouseCli(['reviews', 'deny', again.id, '--reason', 'grant was revoked'], t.url, keys.bob);
      assert.equal(denied.code, 0, denied.err);
      await psql.waitFor(/ERROR:.*grant was revoked/, 'err');
      const rows = await up.db.query<{ id: number }>('SELECT id FROM customers WHERE id >= 10 ORDER BY id');
      assert.deepEqual(rows.rows.map((x) => x.id), [10, 11]);
    } finally {
      await psql.close();
    }
  });

  test('a CancelRequest ends the hold with 57014; the review stays pending', async () => {
    await up.db.exec("INSERT INTO customers VALUES (5, 'Frances')");
    const client = new pg.Client({ host: t.postgres.host, port: t.postgres.port, database: 'crm', user: 'agent', password: keys.alice });
    await client.connect();
    try {
      const query = new pg.Query('DELETE FROM customers');
      const q = new Promise<Error & { code?: string }>((resolve) => {
        query.on('error', (e: Error) => resolve(e));
        query.on('end', () => resolve(new Error('the held DELETE ran')));
      });
      client.query(query);
      const r = await waitForReview(lister(t, keys.bob), (x) => x.rule === 'crm-deletes');
      const canceller = new pg.Client({ host: t.postgres.host, port: t.postgres.port, database: 'crm', user: 'agent', password: keys.alice });
      // node-postgres sends a CancelRequest with the key the gateway gave this session.
      const cancel = (canceller as unknown as { cancel(c: pg.Client, q: pg.Query): void }).cancel.bind(canceller);
      cancel(client, query);
      const err = await q;
      assert.ok(err instanceof Error);
      assert.equal(err.code, '57014');
      assert.match(err.message, new RegExp(r.id));
      assert.equal((await t.api('GET', `/api/v1/reviews/${r.id}`, undefined, keys.bob)).json.status, 'pending');
      // Nothing was deleted (rows 4, 5, 10, 11 remain) and the session goes on.
      assert.equal((await client.query<{ n: string }>('SELECT count(*) AS n FROM customers')).rows[0]?.n, '4');
      await t.api('POST', `/api/v1/reviews/${r.id}/deny`, { reason: 'cleanup' }, keys.bob);
    } finally {
      await client.end();
    }
  });
});

describe('reviews end to end: hold timeout, approval, re-send (extended protocol)', () => {
  let up: PgliteServer;
  let t: TestGateway;
  let keys: { alice: string; bob: string };

  before(async () => {
    up = await startPgliteServer(INIT);
    t = await startTestGateway({ policies: POLICIES, yaml: gatewayYaml(up.url, '1s') });
    keys = await keysFor(t);
  });
  after(async () => { await t.close(); await up.stop(); });

  test('timeout → 42501 naming the review; after approval the same statement runs once; again → a new review', async () => {
    const client = new pg.Client({ host: t.postgres.host, port: t.postgres.port, database: 'crm', user: 'agent', password: keys.alice });
    await client.connect();
    const del = { text: 'DELETE FROM customers RETURNING $1::text AS tag', values: ['cleanup-1'] };
    const fail = (p: Promise<unknown>): Promise<Error & { code?: string }> => p.then(() => { throw new Error('expected an error'); }, (e: unknown) => e as Error & { code?: string });
    try {
      const first = await fail(client.query(del));
      assert.equal(first.code, '42501');
      const m = /approval required: review (rv_\w+) is pending; re-run the statement after it is approved/.exec(first.message);
      assert.ok(m, first.message);
      const id = m[1]!;
      // The session is still in order after the error.
      assert.equal((await client.query<{ n: string }>('SELECT count(*) AS n FROM customers')).rows[0]?.n, '3');

      const approved = await t.api('POST', `/api/v1/reviews/${id}/approve`, {}, keys.bob);
      assert.equal(approved.status, 200, JSON.stringify(approved.json));
      // Different parameters are a different request: not covered by the approval.
      const other = await fail(client.query({ ...del, values: ['cleanup-2'] }));
      assert.match(other.message, /approval required: review rv_/);
      assert.doesNotMatch(other.message, new RegExp(id));

      const ran = await client.query<{ tag: string }>(del);
      assert.equal(ran.rowCount, 3);
      assert.deepEqual(ran.rows.map((r) => r.tag), ['cleanup-1', 'cleanup-1', 'cleanup-1']);
      assert.equal((await t.api('GET', `/api/v1/reviews/${id}`, undefined, keys.bob)).json.status, 'executed');

      await up.db.exec("INSERT INTO customers VALUES (7, 'Niklaus')");
      const again = await fail(client.query(del));
      const m2 = /review (rv_\w+) is pending/.exec(again.message);
      assert.ok(m2, again.message);
      assert.notEqual(m2[1], id, 'a second re-send is reviewed again');
      assert.equal((await t.api('GET', `/api/v1/reviews/${m2[1]!}`, undefined, keys.bob)).json.status, 'pending');
      assert.equal((await client.query<{ n: string }>('SELECT count(*) AS n FROM customers')).rows[0]?.n, '1');
    } finally {
      await client.end();
    }
  });

  test('psql sees the same timeout error; a forbidden statement is never offered for review', async () => {
    const agentKey = (await t.api('POST', '/api/v1/api-keys', { user: 'alice', groups: ['developers'], agent: 'bot' })).json.key as string;
    const before = (await t.api('GET', '/api/v1/reviews?status=pending', undefined, keys.bob)).json.items as ListedReview[];
    const psql = Psql.start({ ...t.postgres, database: 'crm', password: agentKey });
    try {
      psql.send('DELETE FROM customers;');
      await psql.waitFor(/ERROR:.*agents-no-writes/, 'err');
      assert.doesNotMatch(psql.err, /approval required/);
    } finally {
      await psql.close();
    }
    const after = (await t.api('GET', '/api/v1/reviews?status=pending', undefined, keys.bob)).json.items as ListedReview[];
    assert.equal(after.length, before.length, 'no review was created for a forbidden statement');

    const p2 = Psql.start({ ...t.postgres, database: 'crm', password: keys.alice });
    try {
      p2.send('DELETE FROM customers;');
      await p2.waitFor(/ERROR:\s+approval required: review rv_\w+ is pending; re-run the statement after it is approved/, 'err');
    } finally {
      await p2.close();
    }
  });
});
