import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { request } from 'undici';
import OpenAI from 'openai';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';
import { startHttpUpstream, type HttpUpstream } from '../harness/http-upstream.ts';

const run = promisify(execFile);

const TOKEN = 'upstream-bearer-Zq8xW3vK9pL2mN7r';
const USER = 'svc-reports';
const PASS = 'p4ss/w0rd+Basic=Secret';
const HEADER_VALUE = 'hv-7Yt2Rk9Qw3Ez5Ux1';
const LLM_KEY = 'sk-upstream-echo-0000111122223333';
const BASIC = Buffer.from(`${USER}:${PASS}`).toString('base64');

/** The forms of each connection's vaulted secrets that must never reach its clients. */
const FORBIDDEN: Record<string, string[]> = {
  api: [TOKEN, Buffer.from(TOKEN).toString('base64').slice(0, 16)],
  basic: [PASS, BASIC, encodeURIComponent(PASS)],
  plain: [HEADER_VALUE],
  model: [LLM_KEY],
  rawmodel: [LLM_KEY],
};

function assertClean(text: string, what: string): void {
  const conn = what.split(' ')[0]!;
  for (const f of FORBIDDEN[conn] ?? []) assert.ok(!text.includes(f), `${what}: contains a vaulted secret form ${f.slice(0, 6)}…\n${text.slice(0, 400)}`);
}

const POLICIES = `
@id("developers-use-apis")
permit (principal in Group::"developers", action in [Action::"http.request", Action::"llm.invoke"], resource);
`;

describe('a vaulted credential never reaches a client (echoing upstreams)', () => {
  let t: TestGateway;
  let up: HttpUpstream;
  let key: string;
  const auth = (): Record<string, string> => ({ authorization: `Bearer ${key}` });
  before(async () => {
    up = await startHttpUpstream();
    t = await startTestGateway({
      policies: POLICIES,
      yaml: `connections:
  - { name: api, type: http, url: "${up.url}", credentials: { bearer: "${TOKEN}" }, pass_media_types: ["application/octet-stream"] }
  - { name: basic, type: http, url: "${up.url}", credentials: { username: "${USER}", password: "${PASS}" } }
  - { name: plain, type: http, url: "${up.url}", credentials: { header_name: x-upstream-key, header_value: "${HEADER_VALUE}" } }
  - { name: model, type: llm, provider: openai, url: "${up.url}", credentials: { api_key: "${LLM_KEY}" } }
  - { name: rawmodel, type: llm, provider: openai, url: "${up.url}", credentials: { api_key: "${LLM_KEY}" } }
masking:
  rules:
    - { connections: [api, basic, model], direction: both, entities: [EMAIL, CREDIT_CARD], strategy: partial }
`,
    });
    key = (await t.api('POST', '/api/v1/api-keys', { user: 'dev', groups: ['developers'] })).json.key as string;
  });
  after(async () => { await t.close(); await up.close(); });

  test('httpbin-style /headers echo (curl): bearer, Basic and custom header are masked, with or without masking rules', async () => {
    for (const conn of ['api', 'basic', 'plain']) {
      const { stdout } = await run('curl', ['-sS', '-i', '-H', `authorization: Bearer ${key}`, `${t.url}/proxy/${conn}/headers`]);
      assert.match(stdout, /^HTTP\/1\.1 200/);
      assertClean(stdout, conn);
      assert.match(stdout, conn === 'plain' ? /"x-upstream-key":"\*{6,}"/ : /\[SECRET\]/, 'rules: masked as text; no rule: bytes scrubbed');
    }
    // The upstream really received them (the scrub is on the way back).
    assert.equal(up.last().headers['x-upstream-key'], HEADER_VALUE);
  });

  test('echoes in response headers, percent-encoded, JSON-escaped, base64 inside a longer base64 text, gzip-compressed', async () => {
    const echo = JSON.stringify({ auth: `Bearer ${TOKEN}` });
    const bodies: [string, Record<string, string>, Buffer][] = [
      ['headers', { 'content-type': 'text/plain', 'x-echo': `Bearer ${TOKEN}`, location: `/cb?token=${encodeURIComponent(TOKEN)}`, etag: `"${TOKEN}"` }, Buffer.from('ok')],
      ['percent', { 'content-type': 'text/plain' }, Buffer.from(`u=${encodeURIComponent(PASS)}&b=${BASIC}`)],
      ['json-escaped', { 'content-type': 'application/json' }, Buffer.from(`{"p":"${PASS.replaceAll('/', '\\/')}"}`)],
      ['base64-of-echo', { 'content-type': 'text/plain' }, Buffer.from(Buffer.from(`xx${echo}`).toString('base64'))],
      ['gzip', { 'content-type': 'application/json', 'content-encoding': 'gzip' }, gzipSync(echo)],
      ['octet-stream (allowed)', { 'content-type': 'application/octet-stream' }, Buffer.concat([Buffer.from([0, 1, 2]), Buffer.from(TOKEN), Buffer.from([255])])],
    ];
    for (const [name, headers, body] of bodies) {
      for (const conn of ['api', 'basic']) {
        up.answer = () => ({ headers, chunks: [body] });
        const r = await request(`${t.url}/proxy/${conn}/x`, { headers: auth() });
        const text = Buffer.from(await r.body.arrayBuffer()).toString('latin1');
        // application/octet-stream is allowed on api only: basic (with a masking rule) refuses it.
        assert.equal(r.statusCode, name.startsWith('octet') && conn === 'basic' ? 502 : 200, `${name}: ${text}`);
        assertClean(JSON.stringify(r.headers) + text, `${conn} ${name}`);
      }
    }
  });

  test('property: a secret form split at any chunk boundary, in any readable media type, never reaches the client', async () => {
    // (connection, echo form of its secret); plain has no masking rule: its bodies pass as bytes.
    const pairs: [string, string][] = [['api', TOKEN], ['api', `Bearer ${TOKEN}`], ['basic', encodeURIComponent(PASS)], ['basic', BASIC], ['basic', PASS], ['plain', HEADER_VALUE], ['plain', `x-upstream-key: ${HEADER_VALUE}`]];
    const types = ['text/plain', 'text/plain; charset=utf-16', 'application/json', 'application/x-ndjson', 'text/html', 'application/xml', 'text/event-stream', 'application/octet-stream'];
    await fc.assert(fc.asyncProperty(
      fc.constantFrom(...pairs), fc.constantFrom(...types), fc.string({ maxLength: 20 }).map((s) => s.replace(/[^a-z ]/g, '')), fc.array(fc.nat(200), { maxLength: 6 }),
      async ([conn, form], type, pad, cuts) => {
        const text = type.includes('json') ? `${JSON.stringify({ k: `${pad}${form}` })}\n` : type === 'text/event-stream' ? `data: ${pad}${form}\n\n` : `${pad} ${form} ${pad}`;
        const bytes = type.includes('utf-16') ? Buffer.from(`\ufeff${text}`, 'utf16le') : Buffer.from(text);
        const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const chunks: Buffer[] = [];
        let prev = 0;
        for (const c of [...at, bytes.length]) { chunks.push(bytes.subarray(prev, c)); prev = c; }
        up.answer = () => ({ headers: { 'content-type': type }, chunks: chunks.filter((c) => c.length > 0) });
        const r = await request(`${t.url}/proxy/${conn}/p`, { headers: auth() });
        const out = Buffer.from(await r.body.arrayBuffer());
        assert.ok(r.statusCode === 200 || (r.statusCode === 502 && type === 'application/octet-stream' && conn === 'basic'), `${conn} ${type}: ${r.statusCode}`);
        assertClean(out.toString('utf8') + out.toString('utf16le') + JSON.stringify(r.headers), `${conn} ${type}`);
      },
    ), { numRuns: 80 });
  });

  test('llm connections: JSON (with and without rules) and SSE streams are scrubbed (openai SDK)', async () => {
    up.answer = () => ({
      headers: { 'content-type': 'application/json', 'x-request-id': `req ${LLM_KEY}` },
      chunks: [Buffer.from(JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: `your key is Bearer ${LLM_KEY}` }, finish_reason: 'stop' }] }))],
    });
    for (const conn of ['model', 'rawmodel']) {
      const client = new OpenAI({ baseURL: `${t.url}/proxy/${conn}/v1`, apiKey: key, maxRetries: 0 });
      const { data, response } = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'echo' }] }).withResponse();
      assertClean(JSON.stringify(data) + JSON.stringify([...response.headers]), conn);
    }
    const events = [LLM_KEY.slice(0, 5), LLM_KEY.slice(5, 17), `${LLM_KEY.slice(17)} done`].map((c, i) => `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: i === 0 ? { role: 'assistant', content: c } : { content: c }, finish_reason: null }] })}\n\n`);
    up.answer = () => ({ headers: { 'content-type': 'text/event-stream' }, chunks: [...events, 'data: [DONE]\n\n'].map((e) => Buffer.from(e)) });
    for (const conn of ['model', 'rawmodel']) {
      const client = new OpenAI({ baseURL: `${t.url}/proxy/${conn}/v1`, apiKey: key, maxRetries: 0 });
      let text = '';
      for await (const c of await client.chat.completions.create({ model: 'm', stream: true, messages: [{ role: 'user', content: 'echo' }] })) text += c.choices[0]?.delta.content ?? '';
      assertClean(text, `${conn} stream`);
      assert.match(text, /\[SECRET\]/);
    }
  });
});
