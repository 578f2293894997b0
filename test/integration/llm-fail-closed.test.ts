import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { ChatOpenAI } from '@langchain/openai';
import { HumanMessage } from '@langchain/core/messages';
import { startLlmGateway, type LlmGateway } from '../harness/llm-gateway.ts';

// Issue 16 items 1, 2 and 7 through the real proxy, with the official SDKs, LangChain and curl,
// against the fake provider (which records what it received).
const AWS = 'AKIA' + 'Q3EGRVH2LXJ7KZ4N';
const EMAIL = 'bob@example.com';
const CARD = '4111 1111 1111 1111';
const SSN = '078-05-1121';
const KEYED = 'Xy7#pQ2vLm9zR';
const b64 = (s: string): string => Buffer.from(s).toString('base64');
const ENCODED = [b64(`sig for ${EMAIL}`), b64(`mail ${EMAIL}`), b64(AWS)];

/** Every planted value that must not appear (plain, JSON-escaped or as its base64). */
function assertClean(text: string, what: string): void {
  for (const v of [EMAIL, CARD, CARD.replaceAll(' ', ''), SSN, KEYED, AWS, ...ENCODED]) {
    assert.ok(!text.includes(v) && !text.includes(JSON.stringify(v).slice(1, -1)), `${what} carries ${v}: ${text.slice(0, 2000)}`);
  }
}

function curl(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn('curl', ['-sS', '-i', ...args]);
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.on('error', reject);
    p.on('close', () => { resolve(out); });
  });
}

const EXTRA = {
  citations: [`https://search.test/?q=${EMAIL}`],
  search_results: [{ title: 'hit', snippet: `ssn ${SSN}` }],
  api_key: KEYED,
  [`note ${EMAIL}`]: 4111111111111111,
};

describe('issue 16: responses fail closed, egress complete (real proxy, SDKs, curl)', () => {
  let g: LlmGateway;
  let openai: OpenAI;
  before(async () => {
    g = await startLlmGateway({ extraYaml: `    - connections: ["openai", "anthropic"]
      direction: response
      entities: [SECRET]
      strategy: redact
` });
    openai = new OpenAI({ baseURL: `${g.base('openai')}/v1`, apiKey: g.key, maxRetries: 0 });
  });
  after(async () => { await g.close(); });

  test('openai chat JSON: logprobs dropped, extra members, numbers, keys and credential-keyed values masked', async () => {
    g.fake.behavior = { reply: `mail ${EMAIL} card ${CARD}`, chunk: 4, logprobs: true, extra: EXTRA };
    const raw = await openai.chat.completions.create({ model: 'gpt-4o', logprobs: true, top_logprobs: 1, messages: [{ role: 'user', content: 'x' }] }).asResponse();
    const text = await raw.text();
    assertClean(text, 'the client response');
    const doc = JSON.parse(text) as { choices: { logprobs: unknown; message: { content: string } }[]; api_key: string };
    assert.equal(doc.choices[0]?.logprobs, null);
    assert.equal(doc.choices[0]?.message.content, 'mail [EMAIL] card [CREDIT_CARD]');
    assert.equal(doc.api_key, '[SECRET]');
  });

  test('a stream that goes on after its terminator: what is held is bounded, the stream ends with an error', async () => {
    const chunk = (i: number): string => `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: `tail ${i} ${'x'.repeat(200)}` } }] })}\n\n`;
    let body = `${chunk(-1)}data: [DONE]\n\n`;
    for (let i = 0; i < 4000; i++) body += chunk(i); // ~1 MB after the terminator
    g.fake.behavior = { reply: '', chunk: 1, raw: { contentType: 'text/event-stream', body } };
    const res = await fetch(`${g.base('openai')}/v1/chat/completions`, {
      method: 'POST', headers: { authorization: `Bearer ${g.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'x' }] }),
    });
    const text = await res.text();
    assert.ok(text.includes('tail -1'), text.slice(0, 500));
    assert.ok(!text.includes('tail 3999'), 'the tail after the terminator is not delivered whole');
    assert.ok(text.includes('masking_failed'), text.slice(-500));
  });

  test('openai chat stream: logprobs, extras, tool call id and name masked on every chunk', async () => {
    g.fake.behavior = { reply: '', chunk: 3, logprobs: true, extra: EXTRA, toolCallId: `call_${AWS}`, toolCall: { name: `lookup ${EMAIL}`, arguments: `{"ssn":"${SSN}"}` } };
    const stream = await openai.chat.completions.create({
      model: 'gpt-4o', stream: true, logprobs: true, messages: [{ role: 'user', content: 'x' }],
      tools: [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object' } } }],
    });
    const chunks: unknown[] = [];
    for await (const c of stream) chunks.push(c);
    assertClean(JSON.stringify(chunks), 'the streamed chunks');
    g.fake.behavior = { reply: `Hello ${EMAIL}, your card ${CARD}.`, chunk: 2, logprobs: true, extra: EXTRA };
    const text = await (await openai.chat.completions.create({ model: 'gpt-4o', stream: true, logprobs: true, messages: [{ role: 'user', content: 'x' }] }).asResponse()).text();
    assertClean(text, 'the raw stream');
    assert.ok(!text.includes('"bytes"'), 'no token bytes');
    assert.ok(text.includes('[EMAIL]') && text.trimEnd().endsWith('data: [DONE]'));
  });

  test('openai Responses API JSON and stream: logprobs emptied, extras masked', async () => {
    g.fake.behavior = { reply: `mail ${EMAIL} card ${CARD}`, chunk: 3, logprobs: true, extra: EXTRA };
    const r = await openai.responses.create({ model: 'gpt-4o', input: 'x', include: ['message.output_text.logprobs'] });
    assertClean(JSON.stringify(r), 'the response');
    assert.equal(r.output_text, 'mail [EMAIL] card [CREDIT_CARD]');
    const events: unknown[] = [];
    for await (const e of await openai.responses.create({ model: 'gpt-4o', input: 'x', stream: true })) events.push(e);
    assertClean(JSON.stringify(events), 'the Responses events');
    assert.ok(JSON.stringify(events).includes('[EMAIL]'));
  });

  test('anthropic SDK: thinking signature, citations, extras masked, JSON and stream', async () => {
    const client = new Anthropic({ baseURL: g.base('anthropic'), apiKey: g.key, maxRetries: 0 });
    g.fake.behavior = {
      reply: `Card ${CARD}.`, chunk: 3, extra: { search_results: [{ snippet: `ssn ${SSN}` }] },
      thinking: { text: `thinking about ${EMAIL}`, signature: b64(`sig for ${EMAIL}`) },
      citations: [{ type: 'char_location', cited_text: `mail ${EMAIL}`, document_index: 0, start_char_index: 0, end_char_index: 4 }],
    };
    const m = await client.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'x' }] });
    assertClean(JSON.stringify(m), 'the message');
    const stream = client.messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'x' }] });
    const events: unknown[] = [];
    stream.on('streamEvent', (e) => { events.push(e); });
    const final = await stream.finalMessage();
    assertClean(JSON.stringify(events) + JSON.stringify(final), 'the stream');
    const t = final.content.find((c) => c.type === 'text');
    assert.ok(t?.type === 'text' && t.text === 'Card [CREDIT_CARD].');
  });

  test('egress: payloads, keys, numbers and structural values are redacted before they leave (openai SDK)', async () => {
    g.fake.behavior = { reply: 'ok', chunk: 4 };
    const sent = g.fake.received.length;
    await openai.chat.completions.create({
      model: 'gpt-4o', metadata: { status: `card ${CARD}` },
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'see' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${b64(`mail ${EMAIL}`)}` } }] },
        { role: 'assistant', content: null, tool_calls: [{ id: `call ${SSN}`, type: 'function', function: { name: 'f', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: `call ${SSN}`, content: 'done' },
      ],
      // @ts-expect-error — extra members a client may send are forwarded, so they are redacted too
      extra_numbers: { [EMAIL]: 4111111111111111 },
    });
    assert.equal(g.fake.received.length, sent + 1);
    assertClean(g.fake.last().body, 'the upstream request');
    assert.ok(g.fake.last().body.includes('[CREDIT_CARD]'));
  });

  test('egress facts are complete: secrets hidden in payloads, keys and ids are denied by policy, nothing leaves', async () => {
    const sent = g.fake.received.length;
    const bodies: unknown[] = [
      { model: 'm', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${b64(AWS)}` } }] }] },
      { model: 'm', messages: [{ role: 'user', content: `data:text/plain;base64,${AWS}` }] },
      { model: 'm', metadata: { api_key: 'abc' }, messages: [{ role: 'user', content: 'hi' }] },
      { model: 'm', messages: [{ role: 'tool', tool_call_id: `call ${AWS}`, content: 'x' }] },
      { model: 'm', messages: [{ role: 'user', content: 'x' }], [AWS]: 1 },
    ];
    for (const body of bodies) {
      const out = await curl(['-H', `Authorization: Bearer ${g.key}`, '-H', 'content-type: application/json', '-d', JSON.stringify(body), `${g.base('openai')}/v1/chat/completions`]);
      assert.match(out, /^HTTP\/1\.1 403/, JSON.stringify(body));
      assert.match(out, /no-secrets-to-external-models/);
    }
    const viaQuery = await curl(['-H', `Authorization: Bearer ${g.key}`, '-H', 'content-type: application/json', '-d', JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }),
      `${g.base('openai')}/v1/chat/completions?note=${encodeURIComponent(`key ${AWS}`)}`]);
    assert.match(viaQuery, /^HTTP\/1\.1 403/, 'a secret in the query string is a fact too');
    const client = new Anthropic({ baseURL: g.base('anthropic'), apiKey: g.key, maxRetries: 0 });
    await assert.rejects(client.messages.create({
      model: 'claude-sonnet-4-5', max_tokens: 10,
      messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: b64(`key ${AWS}`) } }] }],
    }), Anthropic.PermissionDeniedError);
    assert.equal(g.fake.received.length, sent, 'nothing reached the upstream');
  });

  test('egress: an anthropic base64 document with plaintext is redacted; a binary image passes intact', async () => {
    const client = new Anthropic({ baseURL: g.base('anthropic'), apiKey: g.key, maxRetries: 0 });
    g.fake.behavior = { reply: 'ok', chunk: 4 };
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(64, 0xfe)]).toString('base64');
    await client.messages.create({
      model: 'claude-sonnet-4-5', max_tokens: 10,
      messages: [{ role: 'user', content: [
        { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: b64(`mail ${EMAIL}`) } },
        { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } },
      ] }],
    });
    const body = g.fake.last().body;
    assertClean(body, 'the upstream request');
    assert.ok(body.includes(b64('mail [EMAIL]')) && body.includes(png));
  });

  test('LangChain: a data URL image whose bytes are text is redacted before it leaves', async () => {
    const llm = new ChatOpenAI({ model: 'gpt-4o', apiKey: g.key, configuration: { baseURL: `${g.base('openai')}/v1` }, maxRetries: 0 });
    g.fake.behavior = { reply: 'fine', chunk: 4 };
    await llm.invoke([new HumanMessage({ content: [{ type: 'text', text: 'look' }, { type: 'image_url', image_url: { url: `data:image/jpeg;base64,${b64(`mail ${EMAIL}`)}` } }] })]);
    assertClean(g.fake.last().body, 'the upstream request');
  });

  test('recording: the request facts are masked (model name included)', async () => {
    g.fake.behavior = { reply: 'ok', chunk: 4 };
    await openai.chat.completions.create({ model: `gpt-4o ${EMAIL}`, messages: [{ role: 'user', content: 'x' }] });
    const ev = g.recorder.events.filter((e) => e.type === 'exchange').at(-1);
    const facts = (ev?.data as { facts: { llm: { model: string } } }).facts;
    assert.equal(facts.llm.model, 'gpt-4o [EMAIL]');
    assertClean(JSON.stringify(g.recorder.events), 'the recording');
  });

  test('recording: a JSON response is recorded through the all-detector walk (a secret the response rule lets through is not recorded)', async () => {
    // `compat` masks EMAIL, CREDIT_CARD, US_SSN and PHONE only: the client may get the key, the recording may not.
    g.fake.behavior = { reply: 'ok', chunk: 4, extra: { blob: b64(AWS), aws_secret_access_key: 'wJalrXUtnFEMI' } };
    const compat = new OpenAI({ baseURL: `${g.base('compat')}/v1`, apiKey: g.key, maxRetries: 0 });
    const text = await (await compat.chat.completions.create({ model: 'local', messages: [{ role: 'user', content: 'x' }] }).asResponse()).text();
    assert.ok(text.includes(b64(AWS)), 'no response rule masks SECRET on compat: the client receives it');
    const ev = g.recorder.events.filter((e) => e.type === 'exchange' && e.connection === 'compat').at(-1);
    assert.equal(typeof ev?.data.text, 'string', 'the response is in the exchange event');
    assert.ok(String(ev?.data.text).includes('"content":"ok"'), String(ev?.data.text));
    const recorded = JSON.stringify(ev?.data);
    assert.ok(!recorded.includes(b64(AWS)) && !recorded.includes('wJalrXUtnFEMI'), recorded);
  });
});
