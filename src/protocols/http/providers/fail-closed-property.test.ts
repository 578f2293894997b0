import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TextMasker } from '../../../masking/text-masker.ts';
import { detectorsFor } from '../../../masking/detectors/index.ts';
import { maskResponseJson } from '../../../inspect/prompt/inspect.ts';
import { SseParser, type SseEvent } from '../sse/parser.ts';
import { formatSse } from '../sse/serializer.ts';
import { streamTransform, type WireFormat } from './index.ts';

// Issue 16 item 1 as a property: random provider responses — entities in the text, in random
// extra members (keys, values, numbers, base64, data: URLs), in logprobs, ids, tool names and
// signatures — JSON and SSE at random byte splits: nothing unmasked reaches the client.
const masker = new TextMasker({ detectors: detectorsFor(['EMAIL', 'CREDIT_CARD', 'US_SSN']), strategy: 'redact', hashKey: Buffer.alloc(32, 5) });
const ENTITIES = ['bob@example.com', 'first.last+x@mail.example.net', '4111 1111 1111 1111', '078-05-1121'];
const b64 = (s: string): string => Buffer.from(s).toString('base64');
const entity = fc.constantFrom(...ENTITIES);
const filler = fc.string({ unit: fc.constantFrom(...'ab yz.,:-"\\é'.split('')), maxLength: 6 });
const carrier = fc.oneof(
  fc.tuple(filler, entity).map(([f, e]) => `${f} ${e} `),
  entity.map((e) => `data:application/json;base64,${b64(`x ${e}`)}`),
  entity.map((e) => b64(`see ${e} now`)),
);
const leaf: fc.Arbitrary<unknown> = fc.oneof(carrier, fc.constant(4111111111111111), filler, fc.integer(), fc.constant(null));
const extraArb = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: 'small' }, leaf, tie('arr'), tie('obj')),
  arr: fc.array(tie('node'), { maxLength: 3 }),
  obj: fc.array(fc.tuple(fc.oneof(fc.constantFrom('citations', 'search_results', 'annotations', 'x_meta'), carrier), tie('node')), { maxLength: 3 })
    .map((es) => Object.fromEntries(es)),
})).obj;
const textArb = fc.array(fc.tuple(filler, entity), { maxLength: 4 }).map((ps) => ps.map(([f, e]) => `${f} ${e} `).join(''));

function leaked(out: string): string[] {
  const bad: string[] = [];
  for (const e of ENTITIES) {
    for (const form of [e, JSON.stringify(e).slice(1, -1), b64(`x ${e}`), b64(`see ${e} now`), e.replaceAll(' ', '')]) if (out.includes(form)) bad.push(form);
  }
  if (out.includes('4111111111111111')) bad.push('card number');
  if (/"bytes":\[\d/.test(out)) bad.push('token bytes');
  return bad;
}

function cut(text: string, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += n) out.push(text.slice(i, i + n));
  return out;
}

function logprobs(t: string): unknown[] {
  return cut(t, 2).map((tok) => ({ token: tok, logprob: -1, bytes: [...Buffer.from(tok)], top_logprobs: [{ token: tok, logprob: -1, bytes: [...Buffer.from(tok)] }] }));
}

function events(format: WireFormat, text: string, size: number, extra: Record<string, unknown>, id: string): SseEvent[] {
  const deltas = cut(text, size);
  if (format === 'openai-chat') {
    const env = { id, object: 'chat.completion.chunk', created: 1, model: 'm', ...extra };
    return [
      { data: JSON.stringify({ ...env, choices: [{ index: 0, delta: { role: 'assistant', tool_calls: [{ index: 0, id, type: 'function', function: { name: id, arguments: '' } }] }, finish_reason: null }] }) },
      ...deltas.map((d) => ({ data: JSON.stringify({ ...env, choices: [{ index: 0, delta: { content: d }, logprobs: { content: logprobs(d) }, finish_reason: null, ...extra }] }) })),
      { data: JSON.stringify({ ...env, choices: [{ index: 0, delta: {}, finish_reason: 'stop', ...extra }] }) },
      { data: '[DONE]' },
    ];
  }
  const ev = (type: string, d: object): SseEvent => ({ event: type, data: JSON.stringify({ type, ...extra, ...d }) });
  if (format === 'openai-responses') {
    const item = { id, type: 'message', role: 'assistant', content: [{ type: 'output_text', text, annotations: [], logprobs: logprobs(text) }] };
    return [
      ev('response.created', { response: { id, object: 'response', status: 'in_progress', output: [], ...extra } }),
      ...deltas.map((d) => ev('response.output_text.delta', { item_id: id, output_index: 0, content_index: 0, delta: d, logprobs: logprobs(d), obfuscation: id })),
      ev('response.output_text.done', { item_id: id, output_index: 0, content_index: 0, text, logprobs: logprobs(text) }),
      ev('response.completed', { response: { id, object: 'response', status: 'completed', output: [item] } }),
    ];
  }
  return [
    ev('message_start', { message: { id, type: 'message', role: 'assistant', content: [] } }),
    ev('content_block_start', { index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } }),
    ev('content_block_delta', { index: 0, delta: { type: 'signature_delta', signature: id } }),
    ev('content_block_stop', { index: 0 }),
    ev('content_block_start', { index: 1, content_block: { type: 'text', text: '' } }),
    ...deltas.map((d) => ev('content_block_delta', { index: 1, delta: { type: 'text_delta', text: d } })),
    ev('content_block_delta', { index: 1, delta: { type: 'citations_delta', citation: { cited_text: id, ...extra } } }),
    ev('content_block_stop', { index: 1 }),
    ev('message_delta', { delta: { stop_reason: 'end_turn' } }),
    ev('message_stop', {}),
  ];
}

function throughStream(format: WireFormat, wire: Buffer, cuts: number[]): string {
  const parser = new SseParser();
  const t = streamTransform(format, masker, () => undefined);
  let out = '';
  const emit = (evs: SseEvent[]): void => { for (const ev of evs) for (const e of t.event(ev)) out += formatSse(e); };
  const pts = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
  let pos = 0;
  for (const c of pts) { emit(parser.push(wire.subarray(pos, c))); pos = c; }
  emit(parser.push(wire.subarray(pos)));
  emit(parser.end());
  for (const e of t.end()) out += formatSse(e);
  return out;
}

describe('property: random provider responses, nothing unmasked reaches the client', () => {
  for (const format of ['openai-chat', 'openai-responses', 'anthropic'] as const) {
    test(`${format} SSE at random splits`, () => {
      fc.assert(fc.property(textArb, fc.integer({ min: 1, max: 7 }), extraArb, carrier, fc.array(fc.nat(), { maxLength: 80 }), (text, size, extra, id, cuts) => {
        const wire = Buffer.from(events(format, text, size, extra, id).map(formatSse).join(''));
        const out = throughStream(format, wire, cuts);
        assert.deepEqual(leaked(out), [], out.slice(0, 3000));
      }), { numRuns: 150 });
    });
  }

  test('an SSE id: field never reaches the client (the fast paths return events as received)', () => {
    for (const format of ['openai-chat', 'anthropic'] as const) {
      const data = format === 'anthropic'
        ? '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi "}}'
        : '{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"hi "},"finish_reason":null}]}';
      const t = streamTransform(format, masker, () => undefined);
      const out = t.event({ ...(format === 'anthropic' ? { event: 'content_block_delta' } : {}), data, id: 'bob@example.com' }).map(formatSse).join('');
      assert.ok(!out.includes('bob@example.com') && out.includes('hi '), out);
    }
  });

  test('an entity split between a block start (or content part added) and its first delta is masked', () => {
    fc.assert(fc.property(entity, fc.nat(), (e, at) => {
      const cut = 1 + (at % (e.length - 1));
      const [head, tail] = [`mail ${e.slice(0, cut)}`, `${e.slice(cut)} now`];
      const ev = (type: string, d: object): SseEvent => ({ event: type, data: JSON.stringify({ type, ...d }) });
      const anthropic = [
        ev('content_block_start', { index: 0, content_block: { type: 'text', text: head } }),
        ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: tail } }),
        ev('content_block_stop', { index: 0 }), ev('message_stop', {}),
      ];
      const responses = [
        ev('response.content_part.added', { item_id: 'm', output_index: 0, content_index: 0, part: { type: 'output_text', text: head, annotations: [] } }),
        ev('response.output_text.delta', { item_id: 'm', output_index: 0, content_index: 0, delta: tail }),
        ev('response.output_text.done', { item_id: 'm', output_index: 0, content_index: 0, text: head + tail }),
      ];
      for (const [format, evs] of [['anthropic', anthropic], ['openai-responses', responses]] as const) {
        const out = throughStream(format, Buffer.from(evs.map(formatSse).join('')), []);
        assert.deepEqual(leaked(out), [], out);
        // What a client reassembles: the start's text followed by the deltas.
        const p = new SseParser();
        let text = '';
        for (const x of [...p.push(Buffer.from(out)), ...p.end()]) {
          const d = JSON.parse(x.data) as { content_block?: { text?: string }; part?: { text?: string }; delta?: string | { text?: string } };
          if (x.event === 'response.output_text.done') continue;
          text += d.content_block?.text ?? d.part?.text ?? (typeof d.delta === 'string' ? d.delta : d.delta?.text ?? '');
        }
        assert.ok(!text.includes(e) && text.includes('[') && text.startsWith('mail '), text);
      }
    }), { numRuns: 200 });
  });

  test('an entity split between Responses deltas keyed by output_index and by item_id alone is one stream (masked), or refused', () => {
    fc.assert(fc.property(entity, fc.nat(), fc.boolean(), (e, at, indexFirst) => {
      const cut = 1 + (at % (e.length - 1));
      const [head, tail] = [`mail ${e.slice(0, cut)}`, `${e.slice(cut)} now`];
      const ev = (type: string, d: object): SseEvent => ({ event: type, data: JSON.stringify({ type, ...d }) });
      const withIndex = { item_id: 'm', output_index: 0, content_index: 0 };
      const idOnly = { item_id: 'm', content_index: 0 };
      const evs = [
        ev('response.output_text.delta', { ...(indexFirst ? withIndex : idOnly), delta: head }),
        ev('response.output_text.delta', { ...(indexFirst ? idOnly : withIndex), delta: tail }),
        ev('response.output_text.done', { ...withIndex, text: head + tail }),
      ];
      const t = streamTransform('openai-responses', masker, () => undefined);
      if (indexFirst) {
        // The id is known with its index: the id-only delta continues the same stream, the entity is masked.
        const out = [...evs.flatMap((x) => t.event(x)), ...t.end()].map(formatSse).join('');
        assert.deepEqual(leaked(out), [], out);
      } else {
        // Keyed by the id alone first, then the id arrives with an index: refused (fail closed).
        t.event(evs[0]!);
        assert.throws(() => t.event(evs[1]!), /without its output index/);
      }
    }), { numRuns: 200 });
  });

  test('JSON responses of the three formats', () => {
    fc.assert(fc.property(textArb, extraArb, carrier, (text, extra, id) => {
      const docs = [
        { id, object: 'chat.completion', model: 'm', ...extra, choices: [{ index: 0, message: { role: 'assistant', content: text, tool_calls: [{ id, type: 'function', function: { name: id, arguments: '{}' } }] }, logprobs: { content: logprobs(text) }, finish_reason: 'stop', ...extra }] },
        { id, object: 'response', status: 'completed', ...extra, output: [{ id, type: 'message', content: [{ type: 'output_text', text, annotations: [extra], logprobs: logprobs(text) }] }] },
        { id, type: 'message', ...extra, content: [{ type: 'thinking', thinking: text, signature: id }, { type: 'text', text, citations: [{ cited_text: id, ...extra }] }] },
      ];
      for (const d of docs) {
        const out = JSON.stringify(maskResponseJson(JSON.parse(JSON.stringify(d)), masker));
        assert.deepEqual(leaked(out), [], out);
      }
    }), { numRuns: 300 });
  });
});
