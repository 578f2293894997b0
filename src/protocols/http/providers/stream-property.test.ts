import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TextMasker } from '../../../masking/text-masker.ts';
import { detectorsFor } from '../../../masking/detectors/index.ts';
import { normalizeForDetection } from '../../../masking/normalize.ts';
import { SseParser, type SseEvent } from '../sse/parser.ts';
import { formatSse } from '../sse/serializer.ts';
import { streamTransform, type WireFormat } from './index.ts';

const masker = new TextMasker({ detectors: detectorsFor(['EMAIL', 'CREDIT_CARD', 'US_SSN']), strategy: 'redact', hashKey: Buffer.alloc(32, 7) });

const ENTITIES = ['bob@example.com', 'a.very.long.name+tag@sub.example.org', '4111 1111 1111 1111', '5555555555554444', '078-05-1121',
  // The same values disguised with Unicode a reader looks through (split anywhere by the deltas and the bytes).
  '４１１１ １１１１ １１１１ １１１１', '4111\u200b1111\u200c1111\u200d1111', '5555.5555.5555.4444', '078\u201305\u20131121', '０７８\u00a0０５\u00a0１１２１',
  'ｂｏｂ＠ｅｘａｍｐｌｅ．ｃｏｍ', 'b\u2060ob@exa\u00admple.com', '"bob smith"@example.com', '\ud835\udfd3555555555554444'];
const FILLER = fc.string({ unit: fc.constantFrom(...'abc xyz.,:;!?-\n"\\é漢🙂'.split('')), maxLength: 30 });

/** Text with entities at random places (space-separated so each stays an entity). */
const textWithEntities = fc.array(fc.tuple(FILLER, fc.constantFrom(...ENTITIES)), { maxLength: 6 })
  .chain((parts) => FILLER.map((tail) => ({ text: parts.map(([f, e]) => `${f} ${e} `).join('') + tail, entities: parts.map(([, e]) => e) })));

function splitText(text: string, cuts: number[]): string[] {
  const pts = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
  const out: string[] = [];
  let pos = 0;
  for (const c of pts) { if (c > pos) out.push(text.slice(pos, c)); pos = Math.max(pos, c); }
  if (pos < text.length) out.push(text.slice(pos));
  return out;
}

function upstreamEvents(format: WireFormat, deltas: string[], whole: string): SseEvent[] {
  if (format === 'openai-chat') {
    const env = { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm' };
    return [
      ...deltas.map((d) => ({ data: JSON.stringify({ ...env, choices: [{ index: 0, delta: { content: d }, finish_reason: null }] }) })),
      { data: JSON.stringify({ ...env, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }) },
      { data: '[DONE]' },
    ];
  }
  if (format === 'openai-responses') {
    const ev = (type: string, d: object): SseEvent => ({ event: type, data: JSON.stringify({ type, ...d }) });
    const item = { id: 'msg', type: 'message', role: 'assistant', content: [{ type: 'output_text', text: whole, annotations: [] }] };
    return [
      ...deltas.map((d) => ev('response.output_text.delta', { item_id: 'msg', output_index: 0, content_index: 0, delta: d })),
      ev('response.output_text.done', { item_id: 'msg', output_index: 0, content_index: 0, text: whole }),
      ev('response.completed', { response: { id: 'r', object: 'response', status: 'completed', output: [item] } }),
    ];
  }
  const ev = (type: string, d: object): SseEvent => ({ event: type, data: JSON.stringify({ type, ...d }) });
  return [
    ev('message_start', { message: { id: 'm', type: 'message', role: 'assistant', content: [] } }),
    ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
    ...deltas.map((d) => ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: d } })),
    ev('content_block_stop', { index: 0 }),
    ev('message_stop', {}),
  ];
}

/** The delta text a client reassembles, and every full-text field it sees. */
function clientText(format: WireFormat, events: readonly SseEvent[]): { deltas: string; full: string[] } {
  let deltas = '';
  const full: string[] = [];
  for (const ev of events) {
    if (ev.data === '[DONE]') continue;
    const d = JSON.parse(ev.data) as Record<string, unknown> & { choices?: { delta?: { content?: string } }[]; delta?: unknown; text?: string };
    if (format === 'openai-chat') deltas += d.choices?.[0]?.delta?.content ?? '';
    else if (format === 'anthropic') deltas += ev.event === 'content_block_delta' ? (d.delta as { text: string }).text : '';
    else if (ev.event === 'response.output_text.delta') deltas += d.delta as string;
    else if (ev.event === 'response.output_text.done') full.push(d.text ?? '');
  }
  return { deltas, full };
}

function runThrough(format: WireFormat, bytes: Buffer, byteCuts: number[]): Buffer {
  const parser = new SseParser();
  const t = streamTransform(format, masker, () => undefined);
  let out = '';
  const emit = (evs: SseEvent[]): void => { for (const ev of evs) for (const e of t.event(ev)) out += formatSse(e); };
  const pts = [...new Set(byteCuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let pos = 0;
  for (const c of pts) { emit(parser.push(bytes.subarray(pos, c))); pos = c; }
  emit(parser.push(bytes.subarray(pos)));
  emit(parser.end());
  for (const e of t.end()) out += formatSse(e);
  return Buffer.from(out);
}

describe('stream masking property: any text, any delta split, any byte split', () => {
  for (const format of ['openai-chat', 'openai-responses', 'anthropic'] as const) {
    test(format, () => {
      fc.assert(fc.property(textWithEntities, fc.array(fc.nat(), { maxLength: 40 }), fc.array(fc.nat(), { maxLength: 200 }), fc.boolean(), (gen, textCuts, byteCuts, oneByte) => {
        const deltas = splitText(gen.text, textCuts);
        const wire = Buffer.from(upstreamEvents(format, deltas, gen.text).map(formatSse).join(''));
        const cuts = oneByte ? [...Array(wire.length).keys()] : byteCuts;
        const out = runThrough(format, wire, cuts);
        const expected = masker.mask(gen.text).text;
        const p = new SseParser();
        const events = [...p.push(out), ...p.end()];
        const seen = clientText(format, events);
        assert.equal(seen.deltas, expected);
        for (const f of seen.full) assert.equal(f, expected);
        const outText = out.toString('utf8');
        for (const e of gen.entities) assert.ok(!outText.includes(e) && !outText.includes(JSON.stringify(e).slice(1, -1)), `leaked ${e}`);
        const seenN = normalizeForDetection(seen.deltas).text;
        for (const e of gen.entities) assert.ok(!seenN.includes(normalizeForDetection(e).text), `leaked the normalized form of ${JSON.stringify(e)}`);
      }), { numRuns: 150 });
    });
  }
});
