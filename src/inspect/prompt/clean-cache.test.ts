import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import type { TextMasker } from '../../masking/text-masker.ts';
import { MaskingRules } from '../../masking/rules.ts';
import { inspectPrompt, isCleanText, redactDocument } from './inspect.ts';

// Regression (attacker review): the walk's clean-string cache once keyed a labeled scan as
// `${label}\u0000${s}` and an unlabeled one as `s`, so an unlabeled string "ssn\u0000078051120" found clean makes the
// labeled value ("ssn": "078051120", found only with its key as context) count as clean too:
// it leaves unmasked and uncounted. The cache is per masker, so the poison also outlives the request.

const KEY = randomBytes(32);
const masker = (): ReturnType<MaskingRules['textMasker']> & object =>
  new MaskingRules([{ connections: ['*'], direction: 'both', strategy: 'redact', entities: ['EMAIL', 'US_SSN', 'PHONE', 'CREDIT_CARD', 'SECRET'] }], KEY).textMasker('openai', 'request')!;

test('a value found only by its key context is masked even after an unlabeled string equal to "key\\0value"', () => {
  const body = '{"messages":[{"role":"user","content":"ssn\\u0000078051120"}],"ssn":"078051120"}';
  assert.deepEqual(redactDocument(JSON.parse('{"ssn":"078051120"}'), masker()), { ssn: '[US_SSN]' }, 'baseline: masked by its key');
  const out = JSON.stringify(redactDocument(JSON.parse(body), masker()));
  assert.ok(!out.includes('"ssn":"078051120"'), `the SSN leaves unmasked: ${out}`);
});

test('the policy findings count it too (a prompt with PII is not reported clean)', () => {
  const body = '{"messages":[{"role":"user","content":"ssn\\u0000078051120"}],"ssn":"078051120"}';
  assert.ok(inspectPrompt(JSON.parse('{"ssn":"078051120"}'), masker()).findings > 0, 'baseline');
  assert.ok(inspectPrompt(JSON.parse(body), masker()).findings > 0, 'the US_SSN under "ssn" is not counted');
});

test('the poison outlives the request: a later document of another client is not masked', () => {
  const m = masker();
  redactDocument(JSON.parse('["ssn\\u0000078051120"]'), m);
  assert.deepEqual(redactDocument(JSON.parse('{"ssn":"078051120"}'), m), { ssn: '[US_SSN]' });
});

test('any entity: a key "bob@example.com" with value "x" (clean once the key is its label) makes a later "bob@example.com\\0x" clean', () => {
  const m = masker();
  // Request 1 (denied or not: the walk runs at inspection) only poisons the per-masker cache.
  redactDocument(JSON.parse('{"bob@example.com":"x"}'), m);
  // Request 2: the address travels in a message, reported clean to policy and sent unmasked.
  const doc = '{"messages":[{"role":"user","content":"bob@example.com\\u0000x"}]}';
  assert.ok(inspectPrompt(JSON.parse(doc), m).findings > 0, 'the EMAIL is not counted for policy');
  const out = JSON.stringify(redactDocument(JSON.parse(doc), m));
  assert.ok(!out.includes('bob@example.com'), `the EMAIL leaves unmasked: ${out}`);
});

// The guarantee, by property: whatever a masker's clean-string cache holds (filled by any earlier
// calls, labeled or not), its answer for a (label?, string) pair equals an uncached scan. The
// fragments make collisions likely under any joined encoding: NUL and other separators, labels
// that are a prefix of a value, strings around the 64-character caching limit.
const FRAGMENTS = ['ssn', '\u0000', '078051120', 'bob@example.com', 'x', ':', ': ', ' ', '\u0001', '\u0000\u0000', 'SSN', 'a', '1', 'phone', '555-0100', 'api_key', 'sk', 'é', '\ud800', 'a'.repeat(30), '9'.repeat(9)];
const piece = fc.oneof(
  { weight: 4, arbitrary: fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 5 }).map((xs) => xs.join('')) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 70 }) },
);
const pair = fc.record({ label: fc.option(piece, { nil: undefined }), s: piece });
const fresh = (m: TextMasker, s: string, label?: string): boolean => m.scan(s, label === undefined ? undefined : { label }).length === 0;

test('property: isCleanText answers as a fresh scan for any (label?, string), whatever was cached before', () => {
  fc.assert(fc.property(fc.array(pair, { maxLength: 12 }), pair, (prefix, last) => {
    const m = masker();
    for (const p of prefix) assert.equal(isCleanText(m, p.s, p.label), fresh(m, p.s, p.label));
    assert.equal(isCleanText(m, last.s, last.label), fresh(m, last.s, last.label), JSON.stringify(last));
    // And every earlier pair still answers as a fresh scan once the cache holds all of them.
    for (const p of prefix) assert.equal(isCleanText(m, p.s, p.label), fresh(m, p.s, p.label), JSON.stringify(p));
  }), { numRuns: 400 });
});

const SEPARATORS = ['\u0000', ':', ': ', ''];
type Pair = { readonly label?: string | undefined; readonly s: string };
const asDoc = (p: Pair): unknown => (p.label === undefined ? [p.s] : { [p.label]: p.s });
/** Pairs made of the earlier ones by joining a label to its value, or splitting a string at a separator. */
function derived(before: readonly Pair[]): Pair[] {
  const out: Pair[] = [];
  for (const p of before) {
    out.push({ s: p.s }, { label: p.s, s: p.label ?? '' });
    for (const sep of SEPARATORS) {
      if (p.label !== undefined) out.push({ s: `${p.label}${sep}${p.s}` }, { label: `${p.label}${sep}`, s: p.s });
      const at = sep === '' ? -1 : p.s.indexOf(sep);
      if (at >= 0) out.push({ label: p.s.slice(0, at), s: p.s.slice(at + sep.length) }, { label: `${p.label ?? ''}${p.s.slice(0, at)}`, s: p.s.slice(at + sep.length) });
    }
  }
  return out;
}

test('property: a document is masked and counted as with a fresh masker, whatever documents came before', () => {
  fc.assert(fc.property(fc.array(pair, { maxLength: 8 }), fc.array(pair, { maxLength: 3 }), (before, more) => {
    const m = masker();
    for (const p of before) redactDocument(asDoc(p), m);
    for (const p of [...derived(before), ...more]) {
      for (const doc of [asDoc(p), { messages: [{ role: 'user', content: p.s }] }]) {
        const want = redactDocument(structuredClone(doc), masker());
        assert.deepEqual(redactDocument(structuredClone(doc), m), want, JSON.stringify(p));
        assert.equal(inspectPrompt(doc, m).findings, inspectPrompt(doc, masker()).findings, JSON.stringify(p));
      }
    }
  }), { numRuns: 300 });
});
