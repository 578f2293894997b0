import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startLlmGateway, type LlmGateway } from '../harness/llm-gateway.ts';

// Issue 16, audit round: attack classes the earlier tests did not cover, through the real proxy
// (real sockets, the fake provider speaking the wire formats, the official SDKs, fetch). Each
// test failed before the fix named in its title.
const EMAIL = 'bob@example.com';
const SSN = '078-05-1121';
const SSN_BARE = '078051121';
const AWS = 'AKIA' + 'Q3EGRVH2LXJ7KZ4N';
const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');

/** Neither the value nor any disguise a client could undo may appear. */
function assertNo(text: string, values: readonly string[], what: string): void {
  for (const v of values) assert.ok(!text.includes(v), `${what} carries ${v}: ${text.slice(0, 1500)}`);
}

function sse(events: readonly (readonly [string | undefined, unknown])[]): string {
  return events.map(([e, d]) => `${e === undefined ? '' : `event: ${e}\n`}data: ${typeof d === 'string' ? d : JSON.stringify(d)}\n\n`).join('');
}

describe('issue 16 audit: attack classes through the real proxy', () => {
  let g: LlmGateway;
  let openai: OpenAI;
  before(async () => {
    g = await startLlmGateway({ extraYaml: `    - connections: ["openai", "anthropic", "api"]
      direction: both
      entities: [SECRET]
      strategy: redact
` });
    openai = new OpenAI({ baseURL: `${g.base('openai')}/v1`, apiKey: g.key, maxRetries: 0 });
  });
  after(async () => { await g.close(); });

  const post = (conn: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
    fetch(`${g.base(conn)}${path}`, { method: 'POST', headers: { authorization: `Bearer ${g.key}`, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

  test('Responses stream: deltas of one output index under changing item ids are one stream (the SDK joins them by index)', async () => {
    const parts = ['mail bob@', 'example.com now'];
    const body = sse([
      ['response.created', { type: 'response.created', sequence_number: 0, response: { id: 'resp_1', object: 'response', status: 'in_progress', output: [] } }],
      ['response.output_item.added', { type: 'response.output_item.added', sequence_number: 1, output_index: 0, item: { id: 'msg_a', type: 'message', role: 'assistant', status: 'in_progress', content: [] } }],
      ['response.content_part.added', { type: 'response.content_part.added', sequence_number: 2, item_id: 'msg_a', output_index: 0, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } }],
      ...parts.map((p, i) => ['response.output_text.delta', { type: 'response.output_text.delta', sequence_number: 3 + i, item_id: `msg_${i}`, output_index: 0, content_index: 0, delta: p }] as const),
      ['response.completed', { type: 'response.completed', sequence_number: 9, response: { id: 'resp_1', object: 'response', status: 'completed', output: [] } }],
    ]);
    g.fake.behavior = { reply: '', chunk: 1, raw: { contentType: 'text/event-stream', body } };
    let joined = '';
    let failed = false;
    const events: unknown[] = [];
    try {
      for await (const e of await openai.responses.create({ model: 'gpt-4o', input: 'x', stream: true })) {
        events.push(e);
        if (e.type === 'response.output_text.delta' && e.output_index === 0 && e.content_index === 0) joined += e.delta;
      }
    } catch {
      failed = true; // the gateway ended the stream with an error event: fail closed
    }
    assertNo(joined, [EMAIL], 'the text the client joins');
    assertNo(JSON.stringify(events), [EMAIL], 'the events');
    assert.ok(failed || (joined.startsWith('mail ') && joined.endsWith(' now')), `a stream that completes keeps the text in order: ${joined}`);
    // The same split under one item id is masked and delivered in order.
    const one = body.replace(/"item_id":"msg_[01]"/g, '"item_id":"msg_a"');
    g.fake.behavior = { reply: '', chunk: 1, raw: { contentType: 'text/event-stream', body: one } };
    joined = '';
    for await (const e of await openai.responses.create({ model: 'gpt-4o', input: 'x', stream: true })) {
      if (e.type === 'response.output_text.delta') joined += e.delta;
    }
    assert.equal(joined, 'mail [EMAIL] now');
  });

  test('legacy completions stream: choices[].text split across chunks is stream-masked', async () => {
    const pieces = ['ssn 078-0', '5-1121 and bob@ex', 'ample.com'];
    const body = sse([
      ...pieces.map((t) => [undefined, { id: 'cmpl-1', object: 'text_completion', created: 1, model: 'gpt-3.5-turbo-instruct', choices: [{ text: t, index: 0, logprobs: null, finish_reason: null }] }] as const),
      [undefined, { id: 'cmpl-1', object: 'text_completion', created: 1, model: 'gpt-3.5-turbo-instruct', choices: [{ text: '', index: 0, logprobs: null, finish_reason: 'stop' }] }],
      [undefined, '[DONE]'],
    ]);
    g.fake.behavior = { reply: '', chunk: 1, raw: { contentType: 'text/event-stream', body } };
    const stream = await openai.completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: 'x', stream: true });
    let joined = '';
    try {
      for await (const c of stream) joined += c.choices.map((ch) => ch.text).join('');
    } catch {
      // fail closed
    }
    assertNo(joined, [EMAIL, SSN], 'the joined completion');
  });

  test('chat stream: a delta member named with an entity never reaches the client', async () => {
    const body = sse([
      [undefined, { id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { [`note ${EMAIL}`]: 'x' }, finish_reason: null }] }],
      [undefined, '[DONE]'],
    ]);
    g.fake.behavior = { reply: '', chunk: 1, raw: { contentType: 'text/event-stream', body } };
    const text = await (await post('openai', '/v1/chat/completions', { model: 'm', stream: true, messages: [{ role: 'user', content: 'x' }] })).text();
    assertNo(text, [EMAIL], 'the stream');
  });

  test('anthropic stream: an unknown delta type is not passed piecewise (fail closed)', async () => {
    const body = sse([
      ['message_start', { type: 'message_start', message: { id: 'msg_1', type: 'message', role: 'assistant', content: [], model: 'c', stop_reason: null, usage: { input_tokens: 1, output_tokens: 0 } } }],
      ['content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }],
      ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'future_delta', text: 'mail bob@exa' } }],
      ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'future_delta', text: 'mple.com' } }],
      ['content_block_stop', { type: 'content_block_stop', index: 0 }],
      ['message_stop', { type: 'message_stop' }],
    ]);
    g.fake.behavior = { reply: '', chunk: 1, raw: { contentType: 'text/event-stream', body } };
    const text = await (await post('anthropic', '/v1/messages', { model: 'c', max_tokens: 5, stream: true, messages: [{ role: 'user', content: 'x' }] })).text();
    const joined = [...text.matchAll(/"text":"([^"]*)"/g)].map((m) => m[1]).join('');
    assertNo(joined, [EMAIL], 'the text a client joins');
  });

  test('JSON response: a value is read with its key as context ({"ssn": "078051121"})', async () => {
    g.fake.behavior = { reply: 'ok', chunk: 4, extra: { customer: { ssn: SSN_BARE, social_security_number: 219099999 } } };
    const text = await (await openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }).asResponse()).text();
    assertNo(text, [SSN_BARE, '219099999'], 'the response');
  });

  test('JSON response: escapes a reader undoes (\\u0040, \\x40, &#64;, &commat;) do not hide an entity', async () => {
    const disguised = ['bob\\u0040example.com', 'bob\\x40example.com', 'bob&#64;example.com', 'bob&#x40;example.com', 'bob&commat;example.com'];
    g.fake.behavior = { reply: `mail ${disguised[0]!}`, chunk: 4, extra: { notes: disguised } };
    const text = await (await openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }).asResponse()).text();
    const doc = JSON.parse(text) as unknown;
    assertNo(JSON.stringify(doc), [...disguised, 'bob\\\\u0040example'], 'the response');
  });

  test('egress: request headers are part of the facts (a secret in a custom header is denied by the no-secrets policy)', async () => {
    const sent = g.fake.received.length;
    const res = await post('compat', '/v1/chat/completions', { model: 'm', messages: [{ role: 'user', content: 'x' }] }, { 'x-debug-note': `key ${AWS}` });
    assert.equal(res.status, 403, await res.text());
    assert.equal(g.fake.received.length, sent, 'nothing reached the upstream');
  });

  test('egress: the path leaves too (a secret in it is denied; an entity a request rule masks is refused)', async () => {
    const sent = g.fake.received.length;
    const secret = await post('compat', `/v1/chat/completions/${AWS}`, { model: 'm', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(secret.status, 403, await secret.text());
    const mail = await fetch(`${g.base('api')}/users/bob%40example.com`, { headers: { authorization: `Bearer ${g.key}` } });
    assert.equal(mail.status, 400, await mail.text());
    assert.equal(g.fake.received.length, sent, 'nothing reached the upstream');
  });

  test('egress: base64 text with control characters, gzip in base64, escapes and keyed values are redacted', async () => {
    g.fake.behavior = { reply: 'ok', chunk: 4 };
    const ctl = b64(`\u0001\u0002mail ${EMAIL}\u0000`);
    const gz = b64(gzipSync(Buffer.from(`mail ${EMAIL}`)));
    const res = await post('openai', '/v1/chat/completions', {
      model: 'm',
      messages: [{ role: 'user', content: [
        { type: 'text', text: `a bob\\u0040example.com b bob&#64;example.com` },
        { type: 'image_url', image_url: { url: `data:application/octet-stream;base64,${ctl}` } },
      ] }],
      metadata: { blob: ctl, packed: gz, ssn: SSN_BARE },
    });
    assert.equal(res.status, 200, await res.text());
    const body = g.fake.last().body;
    assertNo(body, [ctl, gz, SSN_BARE, 'bob\\\\u0040example.com', 'bob&#64;example.com'], 'the upstream request');
  });

  test('anthropic egress: base64 document whose text is UTF-16 with a BOM-less non-ASCII letter, and a keyed SSN', async () => {
    const client = new Anthropic({ baseURL: g.base('anthropic'), apiKey: g.key, maxRetries: 0 });
    g.fake.behavior = { reply: 'ok', chunk: 4 };
    const u16 = Buffer.from(`Grüße ${EMAIL} €`, 'utf16le').toString('base64');
    await client.messages.create({
      model: 'c', max_tokens: 5, metadata: { user_id: 'u1' },
      messages: [{ role: 'user', content: [
        { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: u16 } },
        { type: 'text', text: JSON.stringify({ ssn: SSN_BARE }) },
      ] }],
    });
    assertNo(g.fake.last().body, [u16, SSN_BARE], 'the upstream request');
  });

  test('http connection JSON, both directions: key context, payloads and escapes as on the LLM path', async () => {
    const doc = { password: 'hunter2', blob: b64(`mail ${EMAIL}`), customer: { ssn: SSN_BARE }, note: 'bob\\u0040example.com', packed: b64(gzipSync(Buffer.from(`mail ${EMAIL}`))) };
    const leaks = ['hunter2', b64(`mail ${EMAIL}`), SSN_BARE, 'bob\\\\u0040example.com', doc.packed];
    g.fake.behavior = { reply: '', chunk: 1, raw: { contentType: 'application/json', body: JSON.stringify(doc) } };
    const res = await fetch(`${g.base('api')}/records/1`, { headers: { authorization: `Bearer ${g.key}` } });
    assert.equal(res.status, 200);
    assertNo(await res.text(), leaks, 'the http response');
    g.fake.behavior = { reply: 'ok', chunk: 4 };
    const up = await fetch(`${g.base('api')}/records`, { method: 'POST', headers: { authorization: `Bearer ${g.key}`, 'content-type': 'application/json' }, body: JSON.stringify(doc) });
    assert.equal(up.status, 200, await up.text());
    assertNo(g.fake.last().body, leaks, 'the upstream request');
  });
});
