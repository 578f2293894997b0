import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTestGateway, TEST_POLICIES, type TestGateway } from '../harness/gateway.ts';
import { adminHandler } from '../../src/api/admin.ts';
import { HostGuard } from '../../src/http/host-guard.ts';
import type { AdminState } from '../../src/api/context.ts';
import { registerReviewRoutes } from '../../src/api/routes/reviews.ts';
import { Router } from '../../src/http/router.ts';
import { sendProblem } from '../../src/http/problem.ts';
import { authorize, connectionResource } from '../../src/enforce/authorize.ts';
import { ReviewRules } from '../../src/policy/review-rules.ts';
import type { Principal } from '../../src/identity/principal.ts';
import { openReviews, type ReviewsModule } from '../../src/reviews/wire.ts';
import { policyApprover } from '../../src/enforce/approver.ts';
import { reviewGate, type ReviewGateResult } from '../../src/reviews/gate.ts';
import { COMMANDS, runCli } from '../../src/cli/main.ts';
import { reviewsApprove, reviewsDeny, reviewsList, reviewsRevoke } from '../../src/cli/commands/reviews.ts';
import { CliError, type Command } from '../../src/cli/args.ts';

const POLICIES = `${TEST_POLICIES}
@id("dba-approves")
permit (principal in Group::"dba", action == Action::"review.approve", resource);
@id("admins-approve-nothing-here")
forbid (principal in Group::"admins", action == Action::"review.approve", resource);
`;

interface Hook { headers: IncomingHttpHeaders; body: string }

/** Boots the gateway, then serves the review routes (as the lead will register them) on a side server. */
describe('reviews: admin API, CLI, webhook, gate with real policy', () => {
  let t: TestGateway;
  let rv: ReviewsModule;
  let api: Server;
  let apiUrl: string;
  let hookServer: Server;
  const hooks: Hook[] = [];
  const keys: Record<string, string> = {};
  const principals: Record<string, Principal> = {};
  let n = 0;

  before(async () => {
    hookServer = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => { hooks.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') }); res.writeHead(204).end(); });
    });
    await new Promise<void>((r) => hookServer.listen(0, '127.0.0.1', r));
    const hookUrl = `http://127.0.0.1:${(hookServer.address() as AddressInfo).port}/hook`;
    t = await startTestGateway({
      policies: POLICIES,
      yaml: [
        'connections:',
        '  - { name: crm, type: postgres, url: "postgres://app@127.0.0.1:5432/crm", credentials: { password: "pw" } }',
        'reviews:',
        '  hold_timeout: 30s',
        '  rules:',
        '    - { name: crm-writes, connections: [crm], actions: [sql.write], kind: command, approvers: [dba] }',
        'notifications:',
        `  webhooks: [ { url: "${hookUrl}", secret: "whsec-integration", format: generic } ]`,
      ].join('\n'),
    });
    const svc = t.gw.services;
    rv = await openReviews({ db: svc.db, clock: svc.clock, log: svc.log, audit: svc.audit, config: svc.config, publicUrl: svc.publicUrl, mayApprove: policyApprover(svc) });
    const router = new Router<AdminState>();
    registerReviewRoutes(router, () => rv.reviews);
    api = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      handler(req, res, url).catch((e: unknown) => { sendProblem(res, e); });
    });
    await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
    const port = (api.address() as AddressInfo).port;
    apiUrl = `http://127.0.0.1:${port}`;
    const handler = adminHandler(svc, new HostGuard({ host: '127.0.0.1', port }, undefined, []), router);
    for (const [name, body] of Object.entries({ alice: { user: 'alice', groups: ['developers'] }, bob: { user: 'bob', groups: ['dba'] }, bobViaAgent: { user: 'bob', groups: ['dba'], agent: 'helper' }, carol: { user: 'carol', groups: ['dba'] }, eve: { user: 'eve', groups: ['sales'] } })) {
      const created = await t.api('POST', '/api/v1/api-keys', body);
      keys[name] = created.json.key as string;
      principals[name] = await svc.authenticator.authenticate(keys[name]);
    }
  });
  after(async () => {
    await rv.close();
    await new Promise((r) => api.close(r));
    await new Promise((r) => hookServer.close(r));
    await t.close();
  });

  const call = async (method: string, path: string, who: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
    const res = await fetch(apiUrl + path, {
      method, headers: { authorization: `Bearer ${keys[who] ?? t.adminKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) as Record<string, unknown> : {} };
  };
  const cli = async (cmd: Command, argv: string[], who: string): Promise<{ code: number; out: string; err: string }> => {
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (l: string) => { out.push(l); }, err: (l: string) => { err.push(l); }, env: { GATEHOUSE_URL: apiUrl, GATEHOUSE_TOKEN: keys[who] ?? '' }, cwd: t.dir };
    // Through runCli once the lead registered the commands; until then the same error mapping here.
    const code = COMMANDS.some((c) => c.name === cmd.name)
      ? await runCli([...cmd.name.split(' '), ...argv], io)
      : await cmd.run(argv, io).catch((e: unknown) => {
        if (!(e instanceof CliError)) throw e;
        io.err(`gatehouse ${cmd.name}: ${e.message}`);
        return e.exitCode;
      });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
  /** Alice's DELETE through real policy and the gate; resolves when the gate decides. */
  const aliceDelete = async (holdTimeoutMs = 30_000): Promise<{ result: Promise<ReviewGateResult>; id: string }> => {
    const svc = t.gw.services;
    const conn = await svc.connections.require('crm');
    const facts = { sql: { kinds: ['delete'], tables: ['customers'], functions: [], dangerous_functions: [], statements: 1, has_where: false, data_modifying_cte: false, do_block: false, copy_program: false } };
    const decision = await authorize(svc, principals.alice!, 'sql.write', connectionResource(conn), facts);
    assert.equal(decision.effect, 'review');
    const fingerprint = `delete-${++n}`;
    const result = reviewGate(svc, { reviews: rv.reviews, holdTimeoutMs, rules: new ReviewRules(svc.config.reviews.rules) },
      { principal: principals.alice!, action: 'sql.write', resource: 'crm', facts, decision, fingerprint, summary: 'DELETE FROM customers' });
    let id: string | undefined;
    const deadline = Date.now() + 10_000;
    while (id === undefined && Date.now() < deadline) {
      id = (await rv.reviews.list({ requester: 'alice', status: 'pending' })).find((r) => r.fingerprint === fingerprint)?.id;
      if (id === undefined) await new Promise((r) => setTimeout(r, 5));
    }
    assert.ok(id, 'the review was created');
    return { result, id };
  };

  test('held DELETE: listed for bob, self-approval refused, eve cannot see it, bob approves with the CLI → runs', async () => {
    const { result, id } = await aliceDelete();
    const listed = await cli(reviewsList, ['--status', 'pending', '--json'], 'bob');
    assert.equal(listed.code, 0, listed.err);
    assert.ok((JSON.parse(listed.out) as { id: string }[]).some((r) => r.id === id));
    const table = await cli(reviewsList, [], 'bob');
    assert.match(table.out, new RegExp(`${id}\\s+pending\\s+command\\s+alice\\s+crm\\s+sql\\.write\\s+0/1`));
    const self = await call('POST', `/api/v1/reviews/${id}/approve`, 'alice');
    assert.equal(self.status, 403);
    assert.equal(self.json.code, 'policy_denied');
    assert.match(String(self.json.detail), /requesters cannot approve their own requests/);
    const agentic = await call('POST', `/api/v1/reviews/${id}/approve`, 'bobViaAgent');
    assert.equal(agentic.status, 403, 'an AI agent acting for an approver does not approve');
    assert.match(String(agentic.json.detail), /only a person with no acting agent/);
    assert.equal((await call('GET', `/api/v1/reviews/${id}`, 'eve')).status, 404);
    assert.equal((await call('GET', `/api/v1/reviews/${id}`, 'alice')).json.status, 'pending', 'the requester sees its own');
    assert.ok(!((await call('GET', '/api/v1/reviews', 'eve')).json.items as { id: string }[]).some((r) => r.id === id));
    const approved = await cli(reviewsApprove, [id, '--comment', 'ok for today'], 'bob');
    assert.equal(approved.code, 0, approved.err);
    assert.equal(approved.out, `${id} is now approved`);
    assert.deepEqual(await result, { outcome: 'run', reviewId: id });
    const got = await call('GET', `/api/v1/reviews/${id}`, 'bob');
    assert.equal(got.json.status, 'executed');
    assert.deepEqual((got.json.approvals as { by: { id: string }; comment: string }[]).map((a) => [a.by.id, a.comment]), [['bob', 'ok for today']]);
    assert.equal((await call('POST', `/api/v1/reviews/${id}/approve`, 'carol')).status, 409, 'wrong state → conflict');
  });

  test('deny: reason required; the held request fails with it; the admin without review.approve may not decide', async () => {
    const { result, id } = await aliceDelete();
    assert.equal((await call('POST', `/api/v1/reviews/${id}/deny`, 'carol', {})).status, 400);
    const admin = await call('POST', `/api/v1/reviews/${id}/approve`, 'admin');
    assert.equal(admin.status, 403, 'admins approve only where policy permits review.approve');
    const denied = await cli(reviewsDeny, [id, '--reason', 'add a WHERE clause'], 'carol');
    assert.equal(denied.code, 0, denied.err);
    const out = await result;
    assert.ok(out.outcome === 'denied' && /denied by user:carol: add a WHERE clause/.test(out.reason), JSON.stringify(out));
    const again = await cli(reviewsApprove, [id], 'bob');
    assert.equal(again.code, 1);
    assert.match(again.err, /conflict/);
  });

  test('list scope=all needs admin; unknown ids are 404; revoke of a pending review is 409', async () => {
    const { result, id } = await aliceDelete(50);
    assert.equal((await result).outcome, 'timeout');
    assert.equal((await call('GET', '/api/v1/reviews?scope=all', 'bob')).status, 403);
    assert.ok(((await call('GET', '/api/v1/reviews?scope=all', 'admin')).json.items as { id: string }[]).some((r) => r.id === id));
    assert.equal((await call('GET', '/api/v1/reviews/rv_AAAAAAAAAAAAAAAA', 'bob')).status, 404);
    assert.equal((await call('GET', '/api/v1/reviews?status=bogus', 'bob')).status, 400);
    const revoke = await cli(reviewsRevoke, [id], 'bob');
    assert.equal(revoke.code, 1);
    assert.match(revoke.err, /conflict/);
  });

  test('the webhook receiver verifies the signature of the requested event', async () => {
    await rv.notifier.idle();
    const requested = hooks.filter((h) => (JSON.parse(h.body) as { event: string }).event === 'review.requested');
    assert.ok(requested.length >= 1);
    for (const h of requested) {
      const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(h.headers['gatehouse-signature']));
      assert.ok(m, 'signature header present');
      const mac = createHmac('sha256', 'whsec-integration').update(`${m[1]}.${h.body}`).digest('hex');
      assert.equal(m[2], mac);
      const body = JSON.parse(h.body) as { review: { summary: string; requester: string }; links: { api: string } };
      assert.equal(body.review.summary, 'DELETE FROM customers');
      assert.match(body.links.api, /\/api\/v1\/reviews\/rv_/);
    }
  });
});
