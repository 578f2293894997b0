import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { MemoryRecorder } from '../../src/recording/recorder.ts';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';
import { startHttpUpstream, type HttpUpstream } from '../harness/http-upstream.ts';

const POLICIES = `
@id("developers-use-apis")
permit (principal in Group::"developers", action in [Action::"http.request", Action::"llm.invoke"], resource);
@id("approvers")
permit (principal in Group::"approvers", action == Action::"review.approve", resource);
@id("no-deletes")
forbid (principal, action == Action::"http.request", resource)
when { context has http && context.http.method == "DELETE" };
`;
const EMAIL = 'bob@example.com';

// An approval is for one exact request: its forwarded headers are part of the fingerprint (and
// shown, masked, in the approver's summary), and method/URL override headers never reach the
// upstream: policy decides on the method and path it sees (attacker review, finding 3).
describe('command review: an approval runs the request approved, headers included', () => {
  let t: TestGateway; let up: HttpUpstream; let alice: string; let bob: string;
  before(async () => {
    up = await startHttpUpstream();
    t = await startTestGateway({ policies: POLICIES, recorder: new MemoryRecorder(), yaml: `connections:
  - { name: pay, type: http, url: "${up.url}", credentials: { bearer: "upstream-bearer-token-123" } }
  - { name: open, type: http, url: "${up.url}" }
reviews:
  hold_timeout: 1s
  rules:
    - { name: payments, connections: [pay], actions: [http.request], kind: command, approvers: [approvers] }
` });
    alice = (await t.api('POST', '/api/v1/api-keys', { user: 'alice', groups: ['developers'] })).json.key as string;
    bob = (await t.api('POST', '/api/v1/api-keys', { user: 'bob', groups: ['approvers'] })).json.key as string;
  });
  after(async () => { await t.close(); await up.close(); });

  const body = JSON.stringify({ invoice: 42 });
  const send = (headers: Record<string, string>) => request(`${t.url}/proxy/pay/v1/invoices/42`, {
    method: 'POST', headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json', ...headers }, body,
  });

  test('the same body re-sent with other headers after approval is a new review, not run', async () => {
    up.received.length = 0;
    const first = await send({ 'x-note': `for ${EMAIL}` });
    const problem = await first.body.json() as { review_id?: string };
    assert.equal(first.statusCode, 403);
    const id = problem.review_id!;
    const review = (await t.api('GET', `/api/v1/reviews/${id}`, undefined, bob)).json as { summary: string };
    assert.match(review.summary, /x-note/, 'the approver sees the forwarded headers');
    assert.ok(!review.summary.includes(EMAIL), `header values are masked in the summary: ${review.summary}`);
    assert.ok(!review.summary.includes(alice), 'the client credential is not in the summary');
    assert.equal((await t.api('POST', `/api/v1/reviews/${id}/approve`, { comment: 'ok, pay invoice 42' }, bob)).status, 200);
    const second = await send({ 'x-note': `for ${EMAIL}`, 'content-type': 'text/plain', 'idempotency-key': 'other', 'x-amount-override': '1000000' });
    await second.body.text();
    assert.equal(second.statusCode, 403);
    assert.equal(up.received.length, 0, 'a request other than the approved one (its headers differ) must not run on the approval');
    // The approved request itself runs, once; header order and name case do not matter.
    const third = await send({ 'X-Note': `for ${EMAIL}` });
    await third.body.text();
    assert.equal(third.statusCode, 200);
    assert.equal(up.received.length, 1);
  });

  test('method and URL override headers are never forwarded', async () => {
    up.received.length = 0;
    const r = await request(`${t.url}/proxy/open/v1/invoices/42`, {
      method: 'POST', body,
      headers: {
        authorization: `Bearer ${alice}`, 'content-type': 'application/json', 'x-http-method-override': 'DELETE', 'X-HTTP-Method': 'DELETE',
        'x-method-override': 'DELETE', 'x-original-url': '/admin', 'x-rewrite-url': '/admin', 'x-original-method': 'DELETE', 'x-keep': 'yes',
      },
    });
    await r.body.text();
    assert.equal(r.statusCode, 200);
    const h = up.last().headers;
    for (const name of ['x-http-method-override', 'x-http-method', 'x-method-override', 'x-original-url', 'x-rewrite-url', 'x-original-method']) {
      assert.equal(h[name], undefined, `${name} reached the upstream`);
    }
    assert.equal(h['x-keep'], 'yes');
  });
});
