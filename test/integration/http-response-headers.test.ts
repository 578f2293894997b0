import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { MemoryRecorder } from '../../src/recording/recorder.ts';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';
import { startHttpUpstream, type HttpUpstream } from '../harness/http-upstream.ts';

const POLICIES = `
@id("developers-use-apis")
permit (principal in Group::"developers", action in [Action::"http.request", Action::"llm.invoke"], resource);
`;
const EMAIL = 'bob@example.com';

// Response headers reach the client masked with the connection's rules, escapes decoded; the
// framing headers (content-type, cache-control, dates, rate limits…) are exempt only when their
// values validate as what such a header holds (attacker review, finding 5).
describe('response headers on a masked connection', () => {
  let t: TestGateway; let up: HttpUpstream; let key: string;
  before(async () => {
    up = await startHttpUpstream();
    t = await startTestGateway({ policies: POLICIES, recorder: new MemoryRecorder(), yaml: `connections:
  - { name: api, type: http, url: "${up.url}" }
masking:
  rules:
    - { connections: ["api"], direction: both, entities: [EMAIL, CREDIT_CARD, US_SSN], strategy: redact }
` });
    key = (await t.api('POST', '/api/v1/api-keys', { user: 'dev', groups: ['developers'] })).json.key as string;
  });
  after(async () => { await t.close(); await up.close(); });

  test('no header value reaching the client carries an entity, framing or encoded', async () => {
    up.answer = () => ({
      headers: {
        'content-type': `application/json; profile="${EMAIL}"`, 'cache-control': `private, owner=${EMAIL}`, vary: EMAIL,
        'last-modified': EMAIL, 'x-ratelimit-owner': EMAIL, 'x-lookup-ms': '078-05-1121', location: '/users/bob%40example.com',
        'x-escaped': 'bob\\u0040example.com',
      },
      chunks: [Buffer.from('{"ok":true}')],
    });
    const r = await request(`${t.url}/proxy/api/v1/me`, { headers: { authorization: `Bearer ${key}` } });
    await r.body.text();
    const h = JSON.stringify(r.headers);
    for (const s of [EMAIL, '078-05-1121', 'bob%40example.com', 'bob\\\\u0040example.com']) assert.ok(!h.includes(s), `${s} in ${h}`);
  });

  test('valid framing values pass unchanged', async () => {
    const headers = {
      'content-type': 'application/json; charset=utf-8', 'cache-control': 'private, max-age=60', vary: 'Accept, Origin',
      'last-modified': 'Wed, 21 Oct 2015 07:28:00 GMT', 'x-ratelimit-remaining-requests': '4999', 'x-ratelimit-reset-requests': '12ms',
      'retry-after': '120', 'openai-processing-ms': '431', location: '/v1/things/7', etag: '"33a64df5"',
    };
    up.answer = () => ({ headers, chunks: [Buffer.from('{"ok":true}')] });
    const r = await request(`${t.url}/proxy/api/v1/me`, { headers: { authorization: `Bearer ${key}` } });
    await r.body.text();
    for (const [k, v] of Object.entries(headers)) if (k !== 'etag') assert.equal(r.headers[k], v, k);
  });
});
