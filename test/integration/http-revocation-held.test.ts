import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestGateway, TEST_POLICIES, type TestGateway } from '../harness/gateway.ts';
import { startHttpUpstream, type HttpUpstream } from '../harness/http-upstream.ts';

/**
 * Issue 17 item 2, held requests: a proxied HTTP request held for review fails with 401 as soon as
 * the API key it was authenticated with is revoked, and is never sent upstream (even if approved).
 */

const POLICIES = `${TEST_POLICIES}
@id("developers-http")
permit (principal in Group::"developers", action == Action::"http.request", resource);
`;

describe('a held HTTP request dies with its key', () => {
  let t: TestGateway;
  let up: HttpUpstream;

  before(async () => {
    up = await startHttpUpstream();
    t = await startTestGateway({
      policies: POLICIES,
      yaml: [
        'connections:',
        `  - { name: api, type: http, url: "${up.url}" }`,
        'reviews:',
        '  hold_timeout: 60s',
        '  rules:',
        '    - { name: all, connections: [api], actions: [http.request], kind: command, approvers: [dba] }',
      ].join('\n'),
    });
  });
  after(async () => { await t.close(); await up.close(); });

  test('revoking the key ends the hold with 401 long before the hold timeout; nothing reaches the upstream', async () => {
    const made = await t.api('POST', '/api/v1/api-keys', { user: 'alice', groups: ['developers'] });
    assert.equal(made.status, 201);
    const key = String(made.json.key);
    const started = Date.now();
    const held = fetch(`${t.url}/proxy/api/things`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: '{"a":1}' });
    // Wait (bounded) until the review exists: the request is then held.
    let pending = false;
    for (let i = 0; i < 100 && !pending; i++) {
      const r = await t.api('GET', '/api/v1/reviews?status=pending&scope=all');
      pending = JSON.stringify(r.json).includes('things');
      if (!pending) await new Promise((res) => setTimeout(res, 50));
    }
    assert.ok(pending, 'the request is held for review');
    assert.equal((await t.api('DELETE', `/api/v1/api-keys/${String(made.json.id)}`)).status, 200);
    const res = await Promise.race([held, new Promise<never>((_r, rej) => setTimeout(() => { rej(new Error('still held 10 s after the revocation')); }, 10_000))]);
    assert.equal(res.status, 401, await res.clone().text());
    assert.match(await res.text(), /credential revoked/);
    assert.ok(Date.now() - started < 30_000);
    assert.equal(up.received.length, 0, 'nothing was sent upstream');
  });
});
