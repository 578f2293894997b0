import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { startLlmGateway, type LlmGateway } from '../harness/llm-gateway.ts';

// Issue 16 through the real proxy: random provider responses with random extra members and
// logprobs, JSON and SSE written at random byte splits → nothing unmasked on the client socket;
// random request documents with entities anywhere → nothing unredacted reaches the upstream.
// Audit round: entities also behind escapes (`&#64;`, `\u0040`), control characters, gzip and
// BOM-less UTF-16 in base64, and as a value only its key makes one (`{"ssn": "078051121"}`);
// Responses API and legacy completion streams; the texts a client joins are checked too.
const ENTITIES = ['zoe@example.com', '4111 1111 1111 1111', '078-05-1121'];
const b64 = (s: string): string => Buffer.from(s).toString('base64');
const entity = fc.constantFrom(...ENTITIES);
const filler = fc.string({ unit: fc.constantFrom(...'ab yz.,-"é'.split('')), maxLength: 6 });
/** Encodings a reader (or a model) undoes: each must be seen through (audit round: escapes, controls, gzip, UTF-16). */
const DISGUISES: readonly ((e: string) => string)[] = [
  (e) => Array.from(`x ${e}`, (c) => `&#${c.charCodeAt(0)};`).join(''),
  (e) => Array.from(`x ${e}`, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join(''),
  (e) => `x ${e.replace('@', '&commat;').replaceAll(' ', '\\x20')}`,
  (e) => b64(`\u0001${e}\u0000`),
  (e) => gzipSync(Buffer.from(`x ${e}`)).toString('base64'),
  (e) => Buffer.from(`é ${e} €`, 'utf16le').toString('base64'),
];
const carrier = fc.oneof(
  fc.tuple(filler, entity).map(([f, e]) => `${f} ${e} `),
  entity.map((e) => `data:image/png;base64,${b64(`x ${e}`)}`),
  entity.map((e) => b64(`see ${e} now`)),
  entity.map((e) => `data:text/plain,${encodeURIComponent(`x ${e}`)}`),
  fc.tuple(entity, fc.nat({ max: DISGUISES.length - 1 })).map(([e, i]) => DISGUISES[i]!(e)),
);
/** A value that is an entity only with its key as context. */
const KEYED = '078051121';
const leaf: fc.Arbitrary<unknown> = fc.oneof(carrier, fc.constant(4111111111111111), filler, fc.integer(), fc.constant(null), fc.constant({ ssn: KEYED }));
const docArb = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: 'small' }, leaf, tie('arr'), tie('obj')),
  arr: fc.array(tie('node'), { maxLength: 3 }),
  obj: fc.array(fc.tuple(fc.oneof(fc.constantFrom('citations', 'metadata', 'id', 'status', 'tool_call_id', 'data'), carrier), tie('node')), { maxLength: 3 })
    .map((es) => Object.fromEntries(es)),
})).obj;
const textArb = fc.array(fc.tuple(filler, entity), { minLength: 1, maxLength: 3 }).map((ps) => ps.map(([f, e]) => `${f} ${e} `).join(''));

function leaked(out: string): string[] {
  const bad: string[] = [];
  for (const e of ENTITIES) {
    const forms = [e, e.replaceAll(' ', ''), b64(`x ${e}`), b64(`see ${e} now`), encodeURIComponent(`x ${e}`), ...DISGUISES.map((d) => d(e))];
    for (const form of forms) if (out.includes(form) || out.includes(JSON.stringify(form).slice(1, -1))) bad.push(form);
  }
  if (out.includes(KEYED)) bad.push(KEYED);
  if (/"bytes":\[\d/.test(out)) bad.push('token bytes');
  return bad;
}

/** The streamed texts a client joins (chat content and legacy text, Anthropic text deltas, Responses deltas), per stream, joined. */
function joinedStreams(out: string): string {
  const streams = new Map<string, string>();
  const add = (k: string, t: unknown): void => { if (typeof t === 'string') streams.set(k, (streams.get(k) ?? '') + t); };
  for (const line of out.split('\n')) {
    if (!line.startsWith('data: ')) continue;
    let d: Record<string, unknown>;
    try {
      d = JSON.parse(line.slice(6)) as Record<string, unknown>;
    } catch {
      continue;
    }
    for (const c of (Array.isArray(d.choices) ? d.choices : []) as Record<string, unknown>[]) {
      add(`c${String(c.index)}`, (c.delta as Record<string, unknown> | undefined)?.content);
      add(`t${String(c.index)}`, c.text);
    }
    const delta = d.delta as Record<string, unknown> | string | undefined;
    if (d.type === 'content_block_delta' && typeof delta === 'object') add(`a${String(d.index)}`, delta.text);
    if (typeof d.type === 'string' && d.type.endsWith('.delta')) add(`r${String(d.output_index)}/${String(d.content_index)}`, delta);
  }
  return [...streams.values()].join('\n');
}

/** Every byte the gateway writes to the client socket (HTTP/1.1, Connection: close). */
function rawExchange(url: string, path: string, key: string, body: string): Promise<string> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(u.port), u.hostname);
    const parts: Buffer[] = [];
    s.on('data', (d: Buffer) => parts.push(d));
    s.on('end', () => { resolve(Buffer.concat(parts).toString('utf8')); });
    s.on('error', reject);
    s.write(`POST ${path} HTTP/1.1\r\nhost: ${u.host}\r\nauthorization: Bearer ${key}\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  });
}

function cut(text: string, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += n) out.push(text.slice(i, i + n));
  return out;
}
const lp = (t: string): unknown[] => cut(t, 2).map((token) => ({ token, logprob: -1, bytes: [...Buffer.from(token)], top_logprobs: [] }));

describe('issue 16 properties through the real proxy', () => {
  let g: LlmGateway;
  before(async () => { g = await startLlmGateway(); });
  after(async () => { await g.close(); });

  test('chat and anthropic responses, JSON and SSE at random splits, random extras and logprobs: the client socket is clean', async () => {
    await fc.assert(fc.asyncProperty(textArb, docArb, carrier, fc.integer({ min: 1, max: 6 }), fc.array(fc.nat(), { maxLength: 40 }), fc.constantFrom('chat-json', 'chat-sse', 'anthropic-json', 'anthropic-sse', 'responses-sse', 'completions-sse'),
      async (text, extra, id, size, split, kind) => {
        let body: string;
        if (kind === 'chat-json') {
          body = JSON.stringify({ id, object: 'chat.completion', model: 'm', ...extra, choices: [{ index: 0, message: { role: 'assistant', content: text }, logprobs: { content: lp(text) }, finish_reason: 'stop', ...extra }] });
        } else if (kind === 'chat-sse') {
          const env = { id, object: 'chat.completion.chunk', created: 1, model: 'm', ...extra };
          body = cut(text, size).map((d) => `data: ${JSON.stringify({ ...env, choices: [{ index: 0, delta: { content: d }, logprobs: { content: lp(d) }, finish_reason: null, ...extra }] })}\n\n`).join('')
            + `data: ${JSON.stringify({ ...env, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\ndata: [DONE]\n\n`;
        } else if (kind === 'anthropic-json') {
          body = JSON.stringify({ id, type: 'message', role: 'assistant', ...extra, content: [{ type: 'thinking', thinking: text, signature: id }, { type: 'text', text, citations: [extra] }] });
        } else if (kind === 'responses-sse') {
          const ev = (type: string, d: object): string => `event: ${type}\ndata: ${JSON.stringify({ type, ...extra, ...d })}\n\n`;
          body = ev('response.created', { response: { id, object: 'response', status: 'in_progress', output: [] } })
            + cut(text, size).map((d) => ev('response.output_text.delta', { item_id: 'msg_1', output_index: 0, content_index: 0, delta: d, logprobs: lp(d) })).join('')
            + ev('response.output_text.done', { item_id: 'msg_1', output_index: 0, content_index: 0, text })
            + ev('response.completed', { response: { id, object: 'response', status: 'completed', output: [{ type: 'message', id: 'msg_1', content: [{ type: 'output_text', text }] }] } });
        } else if (kind === 'completions-sse') {
          body = cut(text, size).map((t) => `data: ${JSON.stringify({ id, object: 'text_completion', ...extra, choices: [{ index: 0, text: t, logprobs: { tokens: cut(t, 2) }, finish_reason: null }] })}\n\n`).join('')
            + `data: ${JSON.stringify({ id, object: 'text_completion', choices: [{ index: 0, text: '', finish_reason: 'stop' }] })}\n\ndata: [DONE]\n\n`;
        } else {
          const ev = (type: string, d: object): string => `event: ${type}\ndata: ${JSON.stringify({ type, ...extra, ...d })}\n\n`;
          body = ev('message_start', { message: { id, type: 'message', role: 'assistant', content: [] } })
            + ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } })
            + cut(text, size).map((d) => ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: d } })).join('')
            + ev('content_block_delta', { index: 0, delta: { type: 'signature_delta', signature: id } })
            + ev('content_block_stop', { index: 0 }) + ev('message_stop', {});
        }
        const anthropic = kind.startsWith('anthropic');
        g.fake.behavior = { reply: '', chunk: 1, raw: { contentType: kind.endsWith('sse') ? 'text/event-stream' : 'application/json', body, split } };
        const path = anthropic ? '/proxy/anthropic/v1/messages' : kind === 'responses-sse' ? '/proxy/openai/v1/responses' : kind === 'completions-sse' ? '/proxy/openai/v1/completions' : '/proxy/openai/v1/chat/completions';
        const out = await rawExchange(g.t.url, path, g.key,
          JSON.stringify({ model: 'm', max_tokens: 5, stream: kind.endsWith('sse'), messages: [{ role: 'user', content: 'go' }] }));
        assert.match(out, /^HTTP\/1\.1 200/);
        assert.deepEqual(leaked(out), [], out.slice(0, 2000));
        assert.deepEqual(leaked(joinedStreams(out)), [], joinedStreams(out));
      }), { numRuns: 60 });
  });

  test('random request documents with entities anywhere: the upstream receives none', async () => {
    await fc.assert(fc.asyncProperty(docArb, textArb, async (extra, text) => {
      g.fake.behavior = { reply: 'ok', chunk: 4 };
      const sent = g.fake.received.length;
      const out = await rawExchange(g.t.url, '/proxy/openai/v1/chat/completions', g.key,
        JSON.stringify({ model: 'm', ...extra, messages: [{ role: 'user', content: text, ...extra }] }));
      assert.match(out, /^HTTP\/1\.1 200/, out.slice(0, 500));
      assert.equal(g.fake.received.length, sent + 1);
      assert.deepEqual(leaked(g.fake.last().body), [], g.fake.last().body);
    }), { numRuns: 60 });
  });
});
