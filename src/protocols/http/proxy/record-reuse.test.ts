import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import type { Connection } from '../../../connections/registry.ts';
import { MaskingRules } from '../../../masking/rules.ts';
import { TextMasker, defaultDetectors } from '../../../masking/text-masker.ts';
import { entityArb, fillerArb, soupArb } from '../../../masking/detectors/arbitraries.case.ts';
import { maskResponseJson } from '../../../inspect/prompt/inspect.ts';
import { prepareRequest } from './prepare.ts';
import { maskedExcerpt, maskRecordData, RECORD_TEXT_LIMIT, recordedText, TextCapture } from './record.ts';

/**
 * The recording reuses what the data path already computed instead of masking again: the prompt
 * (`Prepared.recordedPrompt`), the JSON response (`recordedText`) and the short strings of
 * recorded data (`maskRecordData`'s clean cache). Each must equal what the second pass gives.
 */
const hashKey = randomBytes(32);
const scanner = new TextMasker({ detectors: defaultDetectors(), strategy: 'redact', hashKey });
const openai: Connection = { name: 'openai', type: 'llm', provider: 'openai', url: 'http://127.0.0.1:1', credentials: {}, tags: [], source: 'config' };
const builtin = new MaskingRules([{ connections: ['*'], direction: 'both', strategy: 'redact', entities: ['EMAIL', 'CREDIT_CARD', 'US_SSN', 'PHONE', 'SECRET'] }], hashKey).textMasker('openai', 'request')!;
const custom = new MaskingRules([{ connections: ['*'], direction: 'both', strategy: 'hash', entities: ['EMAIL'], patterns: [{ name: 'emp', regex: '\\bEMP-\\d{3}\\b' }] }], hashKey).textMasker('openai', 'request')!;

/** Strings a prompt or an answer carries: plain words, entities, detector stress soup, credential-ish keys. */
const str = fc.oneof(
  { weight: 4, arbitrary: fillerArb },
  { weight: 2, arbitrary: entityArb.map((e) => e.value) },
  { weight: 1, arbitrary: soupArb },
  { weight: 1, arbitrary: fc.constantFrom('EMP-123', 'user', 'assistant', 'gpt-4o', 'aGVsbG8gYm9iQGV4YW1wbGUuY29t', 'data:text/plain;base64,Ym9iQGV4YW1wbGUuY29t', '{"password":"Xy7#pQ2vLm9zz"}') },
);
const key = fc.oneof(fc.constantFrom('content', 'role', 'name', 'api_key', 'ssn', 'phone', 'text', 'arguments', 'logprobs', '__proto__'), fillerArb);
const json: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, str, fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constant(null), fc.boolean(),
    fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(key, tie('value'), { maxKeys: 4 })),
})).value;
const chatDoc = fc.record({
  model: fc.constantFrom('gpt-4o', 'gpt-4o-mini'),
  messages: fc.array(fc.record({ role: fc.constantFrom('system', 'user', 'assistant', 'tool'), content: fc.oneof(str, json) }), { minLength: 1, maxLength: 4 }),
  extra: json,
});

function prepare(raw: string, egress: TextMasker | undefined) {
  return prepareRequest({ conn: openai, method: 'POST', endpoint: '/v1/chat/completions', raw: Buffer.from(raw), contentType: 'application/json', format: 'openai-chat', scanner, egress });
}

describe('the recording reuses the data path\'s masking (equal to masking again)', () => {
  test('Prepared.recordedPrompt, when given, is maskedExcerpt(prompt) (no egress, built-in and custom egress; spaced JSON too)', () => {
    let given = 0;
    fc.assert(fc.property(chatDoc, fc.constantFrom(undefined, builtin, custom), fc.constantFrom('', 'indented', 'leading space'), (doc, egress, spacing) => {
      const raw = spacing === '' ? JSON.stringify(doc) : `${spacing === 'leading space' ? ' ' : ''}${JSON.stringify(doc, null, 1)}`;
      let p;
      try {
        p = prepare(raw, egress);
      } catch {
        return; // refused (nesting, payload limits): nothing is recorded from it
      }
      const r = p.recordedPrompt;
      if (r !== undefined) given++;
      if (r !== undefined) assert.equal(r, maskedExcerpt(p.prompt!, scanner));
    }), { numRuns: 600 });
    assert.ok(given > 50, `the fast path was taken ${given} times`);
  });

  test('recordedText of a captured JSON response is maskedExcerpt of its text', () => {
    const rules = new MaskingRules([{ connections: ['*'], direction: 'response', strategy: 'redact', entities: ['EMAIL', 'PHONE'] }], hashKey).textMasker('openai', 'response')!;
    fc.assert(fc.property(fc.oneof(chatDoc, json), fc.constantFrom(rules, scanner), (doc, masker) => {
      let out: unknown;
      try {
        out = maskResponseJson(structuredClone(doc), masker);
      } catch {
        return;
      }
      const text = JSON.stringify(out);
      const c = new TextCapture();
      c.addDocument(text, out);
      assert.equal(recordedText(c, scanner), maskedExcerpt(c.text, scanner));
    }), { numRuns: 600 });
  });

  test('recordedText: a capture of several texts is masked as before; one document over the limit is walked whole, then cut', () => {
    const c = new TextCapture();
    const doc = { a: 'mail bob@example.com' };
    c.addDocument(JSON.stringify(doc), doc);
    c.add('{"b":"call 415-555-0134"}');
    assert.equal(c.doc, undefined);
    assert.equal(recordedText(c, scanner), maskedExcerpt(c.text, scanner));
    // One document over the limit: walked whole, its masked serialization cut (a payload past
    // the limit is not cut in half and kept), with the document or the text a worker serialized.
    const b64 = Buffer.from('AKIA' + 'Q3EGRVH2LXJ7KZ4N').toString('base64');
    const big = { a: 'x'.repeat(RECORD_TEXT_LIMIT - 20), b: b64, c: 'bob@example.com' };
    const whole = JSON.stringify(big);
    const d = new TextCapture();
    d.addDocument(whole, big);
    assert.equal(d.truncated, true);
    assert.equal(d.whole, whole);
    const rec = recordedText(d, scanner);
    assert.equal(rec, maskedExcerpt(whole, scanner));
    assert.equal(rec.length, RECORD_TEXT_LIMIT);
    assert.ok(!rec.includes(b64.slice(0, 12)), 'the cut payload is masked');
    const w = new TextCapture();
    w.addDocument(whole, undefined);
    assert.equal(recordedText(w, scanner), rec);
    // Pieces of a document (never parsed whole): masked as text, escapes decoded.
    const p = new TextCapture();
    p.add('{"a":"mail bob\\u0040example.com');
    assert.ok(!recordedText(p, scanner).includes('example.com'), recordedText(p, scanner));
  });

  test('maskRecordData with its clean-string cache equals masking every string, repeats included', () => {
    const deep = (v: unknown): unknown => {
      if (typeof v === 'string') return scanner.mask(v).text;
      if (v === null || typeof v !== 'object') return v;
      if (Array.isArray(v)) return v.map(deep);
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[scanner.mask(k).text] = deep(x);
      return out;
    };
    // (No `__proto__` keys here: assigning one sets a prototype, which a strict deep-equal compares by identity.)
    const plainKey = key.filter((k) => k !== '__proto__');
    const plainJson: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: 'small' }, str, fc.integer(), fc.constant(null), fc.boolean(), fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(plainKey, tie('value'), { maxKeys: 4 })),
    })).value;
    fc.assert(fc.property(fc.array(fc.dictionary(plainKey, plainJson, { maxKeys: 5 }), { minLength: 1, maxLength: 4 }), (datas) => {
      // The same data twice: the second time, clean strings come from the cache.
      for (const data of [...datas, ...datas]) {
        const copy = structuredClone(data);
        const expected: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(copy)) expected[k] = k === 'prompt' || k === 'text' ? v : deep(v);
        assert.deepEqual(maskRecordData(copy, scanner), expected);
      }
    }), { numRuns: 300 });
  });

  test('a __proto__ member of recorded data is recorded as a member, masked, not taken as a prototype', () => {
    const data = JSON.parse('{"usage":{"__proto__":{"note":"mail bob@example.com"},"total_tokens":3}}') as Record<string, unknown>;
    const out = maskRecordData(data, scanner);
    const usage = out.usage as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(usage), Object.prototype);
    assert.ok(Object.hasOwn(usage, '__proto__'));
    const text = JSON.stringify(out);
    assert.ok(text.includes('"__proto__":{"note":'), text);
    assert.ok(!text.includes('bob@example.com'), text);
  });
});
