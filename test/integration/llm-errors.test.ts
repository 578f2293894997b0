import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startLlmGateway, type LlmGateway } from '../harness/llm-gateway.ts';
import { freePort } from '../harness/net.ts';


function code(body: string): unknown {
  return (JSON.parse(body) as { code?: unknown }).code;
}

/** A raw request (no client-side path normalization). */
function raw(url: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: u.hostname, port: u.port, path, method: body === undefined ? 'GET' : 'POST', headers }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => { text += d.toString(); });
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }); });
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('data-path errors', () => {
  let g: LlmGateway;
  let auth: Record<string, string>;
  before(async () => {
    g = await startLlmGateway({ closedPort: await freePort() });
    auth = { authorization: `Bearer ${g.key}`, 'content-type': 'application/json' };
  });
  after(async () => { await g.close(); });

  const chatBody = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });

  test('unknown connection → 404 problem', async () => {
    const r = await raw(g.t.url, '/proxy/nope/v1/chat/completions', auth, chatBody);
    assert.equal(r.status, 404);
    assert.equal(code(r.body), 'not_found');
    assert.match(String(r.headers['server-timing']), /^gatehouse;dur=/);
  });

  test('no credential → 401; malformed JSON → 400 invalid_json; body over the limit → 413', async () => {
    assert.equal((await raw(g.t.url, '/proxy/openai/v1/chat/completions', { 'content-type': 'application/json' }, chatBody)).status, 401);
    const bad = await raw(g.t.url, '/proxy/openai/v1/chat/completions', auth, '{"model":');
    assert.equal(bad.status, 400);
    assert.equal(code(bad.body), 'invalid_json');
    const big = await raw(g.t.url, '/proxy/openai/v1/chat/completions', auth, JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x'.repeat(11 * 1024 * 1024) }] }));
    assert.equal(big.status, 413);
    assert.equal(code(big.body), 'payload_too_large');
  });

  test('a chunked body (no Content-Length) over the limit → 413; the answer reaches the client (the rest of the upload is discarded)', async () => {
    const u = new URL(g.t.url);
    const before = g.fake.received.length;
    const r = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      let sent = 0;
      let answer: { status: number; body: string } | undefined;
      const req = httpRequest({ host: u.hostname, port: u.port, path: '/proxy/openai/v1/chat/completions', method: 'POST', headers: { ...auth, 'transfer-encoding': 'chunked' } }, (res) => {
        answer = { status: res.statusCode ?? 0, body: '' };
        const a = answer;
        res.on('data', (d: Buffer) => { a.body += d.toString(); });
        res.on('end', () => { resolve(a); });
      });
      req.on('error', reject);
      // 1 MiB pieces, well past the 10 MiB limit.
      const piece = Buffer.alloc(1024 * 1024, 0x61);
      const pump = (): void => {
        while (sent < 24 * 1024 * 1024) {
          sent += piece.length;
          if (!req.write(piece)) { req.once('drain', pump); return; }
        }
        req.end();
      };
      req.write('{"model":"m","messages":[{"role":"user","content":"');
      pump();
    });
    assert.equal(r.status, 413);
    assert.equal(code(r.body), 'payload_too_large');
    assert.equal(g.fake.received.length, before, 'nothing was sent upstream');
  });

  test('path escape attempts are rejected and never reach the upstream', async () => {
    const before = g.fake.received.length;
    for (const p of ['/proxy/api/../admin', '/proxy/api/%2e%2e/x', '/proxy/api/a%2Fb', '/proxy/api//evil.example/x', '/proxy/api/a%5cb', '/proxy/api/x/./y', '/proxy/api/a\\b']) {
      const r = await raw(g.t.url, p, auth);
      assert.equal(r.status, 400, `${p} → ${r.status}`);
    }
    const abs = await raw(g.t.url, '/proxy/api/http://evil.example/x', auth);
    assert.equal(abs.status, 400);
    assert.equal(g.fake.received.length, before);
  });

  test('upstream port closed → 502 upstream_unreachable; upstream hangs → 504 upstream_timeout', async () => {
    const a = await raw(g.t.url, '/proxy/closed/v1/chat/completions', auth, chatBody);
    assert.equal(a.status, 502);
    assert.equal(code(a.body), 'upstream_unreachable');
    g.fake.behavior = { reply: 'x', chunk: 1, hang: true };
    const client = new OpenAI({ baseURL: `${g.base('slow')}/v1`, apiKey: g.key, maxRetries: 0 });
    await assert.rejects(client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.APIError);
      assert.equal(err.status, 504);
      assert.equal((err.error as { code?: string } | undefined)?.code, 'upstream_timeout');
      return true;
    });
  });

  test('an upstream 4xx is passed through in the provider format', async () => {
    g.fake.behavior = { reply: 'x', chunk: 1, status: 429 };
    const client = new OpenAI({ baseURL: `${g.base('openai')}/v1`, apiKey: g.key, maxRetries: 0 });
    await assert.rejects(client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }), OpenAI.RateLimitError);
  });

  test('upstream dies mid-stream → each SDK raises an error, and no unmasked text was sent', async () => {
    g.fake.behavior = { reply: 'partial answer with olivia@example.com inside and more', chunk: 4, dieAfter: 6 };
    const openai = new OpenAI({ baseURL: `${g.base('openai')}/v1`, apiKey: g.key, maxRetries: 0 });
    await assert.rejects(async () => {
      const s = await openai.chat.completions.create({ model: 'm', stream: true, messages: [{ role: 'user', content: 'x' }] });
      for await (const _ of s) { /* drain */ }
    }, OpenAI.APIError);
    await assert.rejects(async () => {
      const s = await openai.responses.create({ model: 'm', stream: true, input: 'x' });
      for await (const _ of s) { /* drain */ }
    }, OpenAI.APIError);
    const anthropic = new Anthropic({ baseURL: g.base('anthropic'), apiKey: g.key, maxRetries: 0 });
    await assert.rejects(anthropic.messages.stream({ model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }).finalMessage());
    const r = await raw(g.t.url, '/proxy/openai/v1/chat/completions', auth, JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'x' }] }));
    assert.equal(r.status, 200);
    assert.match(r.body, /data: \{"error":\{"message":"the upstream stream ended abnormally"/);
    assert.ok(r.body.endsWith('\n\n') && !r.body.includes('olivia@'));
  });

  test('unknown event type or non-maskable content ends with an error, never passes text', async () => {
    g.fake.behavior = { reply: 'x', chunk: 1, raw: { contentType: 'text/event-stream', body: 'event: message_start\ndata: {"type":"message_start","message":{"content":[]}}\n\nevent: brand_new\ndata: {"type":"brand_new","text":"pat@example.com"}\n\n' } };
    const r = await raw(g.t.url, '/proxy/anthropic/v1/messages', auth, JSON.stringify({ model: 'm', max_tokens: 5, stream: true, messages: [] }));
    assert.match(r.body, /event: error\ndata: \{"type":"error","error":\{"type":"api_error"/);
    assert.ok(!r.body.includes('pat@example.com') && !r.body.includes('brand_new'));
    g.fake.behavior = { reply: 'x', chunk: 1, raw: { contentType: 'text/plain', body: 'quinn@example.com' } };
    const p = await raw(g.t.url, '/proxy/openai/v1/chat/completions', auth, chatBody);
    assert.equal(p.status, 500);
    assert.equal(code(p.body), 'masking_failed');
    assert.ok(!p.body.includes('quinn@'));
  });

  test('malformed upstream JSON → 502 uninspectable_media (the upstream answered; it is not unreachable), nothing of it passed', async () => {
    g.fake.behavior = { reply: 'x', chunk: 1, raw: { contentType: 'application/json', body: '{"choices":[{"message":{"content":"sam@example.com"' } };
    const r = await raw(g.t.url, '/proxy/openai/v1/chat/completions', auth, chatBody);
    assert.equal(r.status, 502);
    assert.equal(code(r.body), 'uninspectable_media');
    assert.ok(!r.body.includes('sam@'));
  });

  test('http connection: bearer injected, facts method/path, JSON masked, DELETE denied by policy', async () => {
    g.fake.behavior = { reply: 'owner is rita@example.com', chunk: 1 };
    const r = await raw(g.t.url, '/proxy/api/v1/items?limit=2', { authorization: `Bearer ${g.key}`, cookie: 'a=b', connection: 'x-drop-me', 'x-drop-me': '1', 'x-keep': 'yes' });
    assert.equal(r.status, 200);
    const body = JSON.parse(r.body) as { path: string; note: string };
    assert.equal(body.path, '/base/v1/items?limit=2');
    assert.equal(body.note, 'owner is [EMAIL]');
    const got = g.fake.last();
    assert.equal(got.headers.authorization, 'Bearer upstream-bearer-token');
    assert.equal(got.headers.cookie, undefined);
    assert.equal(got.headers['x-drop-me'], undefined);
    assert.equal(got.headers['x-keep'], 'yes');
    const del = await new Promise<number>((resolve, reject) => {
      const u = new URL(g.t.url);
      const req = httpRequest({ host: u.hostname, port: u.port, path: '/proxy/api/v1/items/1', method: 'DELETE', headers: { authorization: `Bearer ${g.key}` } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
      req.on('error', reject);
      req.end();
    });
    assert.equal(del, 403);
  });

  test('a Gatehouse-Session label groups exchanges under the gateway\'s id, returned in the header; the id continues it too', async () => {
    g.fake.behavior = { reply: 'x', chunk: 1 };
    const r = await raw(g.t.url, '/proxy/openai/v1/chat/completions', { ...auth, 'gatehouse-session': 'sess-42' }, chatBody);
    const id = String(r.headers['gatehouse-session']);
    assert.match(id, /^[0-9a-f-]{36}$/, 'the stored id is generated, never the client\'s value');
    const again = await raw(g.t.url, '/proxy/openai/v1/chat/completions', { ...auth, 'gatehouse-session': 'sess-42' }, chatBody);
    const byId = await raw(g.t.url, '/proxy/openai/v1/chat/completions', { ...auth, 'gatehouse-session': id }, chatBody);
    assert.equal(again.headers['gatehouse-session'], id);
    assert.equal(byId.headers['gatehouse-session'], id);
    const events = g.recorder.events.filter((e) => e.session === id);
    assert.equal(events.filter((e) => e.type === 'exchange').length, 3);
    assert.deepEqual(events.filter((e) => e.type === 'session.open').map((e) => e.data), [{ transport: 'http', connection: 'openai', label: 'sess-42' }]);
    assert.ok(!g.recorder.events.some((e) => e.session === 'sess-42'));
  });
});
