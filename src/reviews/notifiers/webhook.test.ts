import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { manualClock } from '../../kernel/clock.ts';
import { Secret } from '../../kernel/secret.ts';
import type { Review, ReviewEvent } from '../types.ts';
import { WebhookNotifier } from './webhook.ts';
import { sign, verify } from './signature.ts';
import type { GenericPayload } from './payload.ts';

const T0 = Date.UTC(2025, 0, 1, 12);
const review: Review = {
  id: 'rv_abc', kind: 'command', status: 'pending', rule: 'crm-writes', approvers: ['dba'], minApprovals: 1,
  connection: 'crm', action: 'sql.write', actions: ['sql.write'], requester: { kind: 'user', id: 'alice', agent: 'bot' },
  fingerprint: 'f', summary: 'DELETE FROM customers WHERE email = [EMAIL]', justification: 'ticket <OPS-1>', facts: {},
  createdAt: T0, expiresAt: T0 + 86_400_000, approvals: [], agentApprovers: false,
};
const event: ReviewEvent = { event: 'review.requested', review, by: review.requester };

interface Hit { headers: IncomingMessage['headers']; body: string }

/** A real local receiver; `plan` gives the status of each successive request. */
async function receiver(plan: number[]): Promise<{ url: string; hits: Hit[]; server: Server }> {
  const hits: Hit[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hits.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(plan[hits.length - 1] ?? 200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, hits, server };
}

describe('WebhookNotifier', () => {
  const servers: Server[] = [];
  after(async () => { await Promise.all(servers.map((s) => new Promise((r) => s.close(r)))); });
  const clock = manualClock(T0);

  let ok: Awaited<ReturnType<typeof receiver>>;
  before(async () => { ok = await receiver([]); servers.push(ok.server); });

  test('the receiver verifies the HMAC signature of the generic payload', async () => {
    const n = new WebhookNotifier({ targets: [{ url: ok.url, secret: new Secret('whsec-test'), format: 'generic' }], publicUrl: 'https://gw.example', clock });
    n.notify(event);
    await n.idle();
    const hit = ok.hits.at(-1)!;
    const header = hit.headers['gatehouse-signature'];
    assert.equal(typeof header, 'string');
    assert.match(header as string, /^t=1735732800,v1=[0-9a-f]{64}$/);
    assert.equal(verify('whsec-test', hit.body, header as string, T0 / 1000), true);
    assert.equal(verify('other-secret', hit.body, header as string, T0 / 1000), false, 'a wrong secret fails');
    assert.equal(verify('whsec-test', hit.body.replace('alice', 'mallory'), header as string, T0 / 1000), false, 'a changed body fails');
    assert.equal(verify('whsec-test', hit.body, header as string, T0 / 1000 + 3600), false, 'an old timestamp fails');
    const body = JSON.parse(hit.body) as GenericPayload;
    assert.equal(body.event, 'review.requested');
    assert.deepEqual(body.links, { api: 'https://gw.example/api/v1/reviews/rv_abc', console: 'https://gw.example/ui/reviews/rv_abc' });
    assert.equal(body.review.summary, review.summary);
    assert.equal(body.review.requester, 'user:alice via agent:bot');
    assert.equal(body.review.created_at, '2025-01-01T12:00:00.000Z');
    assert.ok(!hit.body.includes('whsec'), 'the secret never travels');
    assert.equal(n.delivered, 1);
  });

  test('no secret: no signature header', async () => {
    const n = new WebhookNotifier({ targets: [{ url: ok.url, format: 'generic' }], publicUrl: 'https://gw.example', clock });
    n.notify(event);
    await n.idle();
    assert.equal(ok.hits.at(-1)!.headers['gatehouse-signature'], undefined);
  });

  test('a failing receiver is retried with exponential backoff, then delivered', async () => {
    const flaky = await receiver([500, 503, 429, 200]);
    servers.push(flaky.server);
    const delays: number[] = [];
    const n = new WebhookNotifier({
      targets: [{ url: flaky.url, secret: new Secret('s'), format: 'generic' }], publicUrl: 'https://gw.example', clock,
      baseDelayMs: 1000, sleep: (ms) => { delays.push(ms); clock.advance(ms); return Promise.resolve(); },
    });
    n.notify(event);
    await n.idle();
    assert.equal(flaky.hits.length, 4);
    assert.deepEqual(delays, [1000, 2000, 4000]);
    assert.equal(n.delivered, 1);
    const ts = flaky.hits.map((h) => /t=(\d+)/.exec(String(h.headers['gatehouse-signature']))?.[1]);
    assert.equal(new Set(ts).size, 4, 'each attempt is signed afresh');
    for (const h of flaky.hits) assert.equal(verify('s', h.body, String(h.headers['gatehouse-signature']), clock.now() / 1000), true);
  });

  test('bounded attempts; 4xx is not retried; an unreachable receiver gives up', async () => {
    const down = await receiver([500, 500, 500, 500, 500, 500, 500]);
    const gone = await receiver([404]);
    servers.push(down.server, gone.server);
    const sleep = (): Promise<void> => Promise.resolve();
    const n = new WebhookNotifier({ targets: [{ url: down.url, format: 'generic' }, { url: gone.url, format: 'generic' }, { url: 'http://127.0.0.1:1/x', format: 'generic' }], publicUrl: 'https://gw', clock, maxAttempts: 3, sleep });
    n.notify(event);
    await n.idle();
    assert.equal(down.hits.length, 3);
    assert.equal(gone.hits.length, 1);
    assert.equal(n.failed, 3);
  });

  test('notify never blocks and the queue is bounded', async () => {
    let release = (): void => undefined;
    const gate = new Promise<void>((r) => { release = r; });
    const n = new WebhookNotifier({
      targets: [{ url: ok.url, format: 'generic' }], publicUrl: 'https://gw', clock, maxQueue: 3,
      fetch: async () => { await gate; return new Response('ok', { status: 200 }); },
    });
    for (let i = 0; i < 5; i++) n.notify(event);
    assert.equal(n.failed, 2, 'two dropped on a full queue');
    release();
    await n.idle();
    assert.equal(n.delivered, 3);
    await n.close();
    n.notify(event);
    assert.equal(n.delivered, 3);
  });

  test('slack format: text and blocks with the masked summary and links, user text escaped', async () => {
    const n = new WebhookNotifier({ targets: [{ url: ok.url, format: 'slack' }], publicUrl: 'https://gw.example', clock });
    n.notify(event);
    await n.idle();
    const msg = JSON.parse(ok.hits.at(-1)!.body) as { text: string; blocks: unknown[] };
    assert.match(msg.text, /^Review rv_abc needs approval: sql\.write on crm by user:alice via agent:bot$/);
    const all = JSON.stringify(msg.blocks);
    assert.ok(all.includes('DELETE FROM customers WHERE email = [EMAIL]'));
    assert.ok(all.includes('<https://gw.example/ui/reviews/rv_abc|Open rv_abc in the console>'));
    assert.ok(all.includes('ticket &lt;OPS-1&gt;'), 'user text cannot inject Slack markup');
  });

  test('sign/verify round trip', () => {
    const h = sign('k', 'body', 100);
    assert.equal(verify('k', 'body', h, 100), true);
    assert.equal(verify('k', 'body', 't=100,v1=zz', 100), false);
    assert.equal(verify('k', 'body', 'garbage', 100), false);
  });
});
