import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';
import { MemoryRecorder } from '../../src/recording/recorder.ts';

// Review (d300d92): "every event of an exchange carries data.exchange, so that concurrent
// exchanges' interleaved events stay attributable". An MCP POST is resolved once, so every tool
// call of a JSON-RPC batch (the SDK accepts arrays) shares one exchange number: their requests,
// decisions and responses interleave under one number and cannot be told apart.

const POLICIES = `
@id("mcp-all")
permit (principal, action == Action::"mcp.call", resource);
`;

describe('review: MCP tool calls of one batch are separate exchanges', () => {
  let t: TestGateway;
  let key: string;
  const recorder = new MemoryRecorder();
  before(async () => {
    t = await startTestGateway({ policies: POLICIES, recorder, yaml: 'connections: []\nlimits:\n  per_principal: { http_requests: 16 }' });
    const created = await t.api('POST', '/api/v1/api-keys', { user: 'dev', groups: ['developers'], agent: 'bot' });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    key = String(created.json.key);
  });
  after(async () => { await t?.close(); });
  const call = (id: number) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'whoami', arguments: {} } });
  const post = (body: unknown) => fetch(`${t.url}/mcp`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-03-26' },
    body: JSON.stringify(body),
  });

  test('two tools/call in one POST record two exchange numbers', async () => {
    const res = await post([call(1), call(2)]);
    const text = await res.text();
    assert.equal(res.status, 200, text);
    const requests = recorder.events.filter((e) => e.protocol === 'mcp' && e.type === 'request');
    assert.equal(requests.length, 2, JSON.stringify(recorder.events.map((e) => [e.type, e.data])));
    const numbers = new Set(requests.map((e) => (e.data as { exchange?: number }).exchange));
    assert.equal(numbers.size, 2, `both tool calls are exchange ${[...numbers].join(',')}: ${JSON.stringify(requests.map((e) => e.data))}`);
  });

  test('a batch is bounded: more than 16 tools/call or 64 messages in one POST is refused before anything runs', async () => {
    const before = recorder.events.length;
    const many = await post(Array.from({ length: 17 }, (_, i) => call(100 + i)));
    assert.equal(many.status, 400);
    assert.match(((await many.json()) as { error: { message: string } }).error.message, /at most 16 tools\/call/);
    const pings = await post(Array.from({ length: 65 }, (_, i) => ({ jsonrpc: '2.0', id: 200 + i, method: 'ping' })));
    assert.equal(pings.status, 400);
    assert.equal(recorder.events.length, before, 'nothing recorded (no session resolved, no tool run)');
    const sixteen = await post(Array.from({ length: 16 }, (_, i) => call(300 + i)));
    assert.equal(sixteen.status, 200, await sixteen.text());
  });

  test('each tool call of a batch holds a unit of the per-principal limit: a batch larger than the free units is refused with 429', async () => {
    // A held request takes one of the 16 units; a batch of 16 then does not fit.
    const held = new AbortController();
    const slow = fetch(`${t.url}/mcp`, {
      method: 'POST', signal: held.signal,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-03-26', 'content-length': '1000' },
      body: new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode('[')); } }), duplex: 'half',
    }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 200));
    const full = await post(Array.from({ length: 16 }, (_, i) => call(400 + i)));
    assert.equal(full.status, 429, await full.text());
    held.abort();
    await slow;
    await new Promise((r) => setTimeout(r, 200));
    const fits = await post(Array.from({ length: 16 }, (_, i) => call(500 + i)));
    assert.equal(fits.status, 200, await fits.text());
  });
});
