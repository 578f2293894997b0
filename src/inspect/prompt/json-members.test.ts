import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { assertUnambiguousMembers, hasRepeatedMember } from './json-members.ts';

/** `name` written as JSON with some of its characters \u-escaped (another spelling of the same name). */
function escapedSpelling(name: string, mask: number): string {
  let out = '"';
  for (let i = 0; i < name.length; i++) {
    const ch = name[i]!;
    const plain = JSON.stringify(ch).slice(1, -1);
    out += (mask >> (i % 30)) & 1 ? `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}` : plain;
  }
  return `${out}"`;
}

const json = fc.jsonValue({ maxDepth: 4 });
const objects = fc.dictionary(fc.string({ maxLength: 6 }), json, { minKeys: 1, maxKeys: 6 });

describe('hasRepeatedMember', () => {
  test('what JSON.stringify writes never repeats a name (no false refusal), whatever the values', () => {
    fc.assert(fc.property(json, (v) => !hasRepeatedMember(JSON.stringify(v))), { numRuns: 500 });
    fc.assert(fc.property(json, (v) => !hasRepeatedMember(JSON.stringify(v, null, 2))), { numRuns: 200 });
  });

  test('a name repeated in any object, spelled with escapes or not, at any depth, is found', () => {
    fc.assert(fc.property(objects, fc.nat({ max: 5 }), fc.integer(), json, fc.nat({ max: 3 }), (obj, pick, mask, value, depth) => {
      const names = Object.keys(obj);
      const name = names[pick % names.length]!;
      // The object as written, with one more member of the same name (escaped differently) at the end.
      const body = JSON.stringify(obj).slice(0, -1);
      let text = `${body},${escapedSpelling(name, mask)}:${JSON.stringify(value)}}`;
      for (let d = 0; d < depth; d++) text = d % 2 === 0 ? `{"wrap\\"x":[1,"]}",${text}]}` : `[{"k":"{"},${text}]`;
      assert.ok(JSON.parse(text) !== undefined);
      return hasRepeatedMember(text);
    }), { numRuns: 500 });
  });

  test('the same name in sibling or nested objects, or as a value, is not a repeat', () => {
    assert.equal(hasRepeatedMember('{"a":{"a":1},"b":[{"a":2},{"a":3}],"c":"a"}'), false);
    assert.equal(hasRepeatedMember('{"a\\\\":1,"a":2}'), false);
    assert.equal(hasRepeatedMember('{"a\\"":1,"a":2,"x":"\\\\"}'), false);
    assert.equal(hasRepeatedMember('[{"a":1},{"a":1}]'), false);
  });

  test('examples: plain, escaped and after strings with quotes and backslashes', () => {
    assert.equal(hasRepeatedMember('{"messages":[],"messages":[]}'), true);
    assert.equal(hasRepeatedMember('{"mess\\u0061ges":[],"messages":[]}'), true);
    assert.equal(hasRepeatedMember('{"x":"\\"","y":{"z":"\\\\"},"y":1}'), true);
  });
});

describe('assertUnambiguousMembers', () => {
  const check = (text: string): unknown => assertUnambiguousMembers(text, JSON.parse(text));

  test('a read member spelled another case, or with a character Go folds to it, is refused', () => {
    for (const t of [
      '{"model":"a","Model":"b"}', '{"MODEL":"b","messages":[]}', '{"ſtream":true}', '{"toolſ":[]}', '{"Functions":[]}',
      '{"tools":[{"type":"function","Function":{"name":"x"}}]}', '{"tools":[{"function":{"NAME":"x"}}]}',
      '{"tools":[{"Name":"x"}]}', '{"functions":[{"nAme":"x"}]}',
    ]) assert.throws(() => check(t), (e: Error & { code?: string }) => e.code === 'invalid_json', t);
  });

  test('ordinary requests, and case variants where nothing is read, pass', () => {
    for (const t of [
      '{"model":"gpt-4o","messages":[{"role":"user","content":"Model Stream"}],"stream":true}',
      '{"model":"m","tools":[{"type":"function","function":{"name":"f","parameters":{"properties":{"Name":{},"name":{}}}}}]}',
      '{"model":"m","metadata":{"Model":"x","model":"y"}}', '[{"Model":1}]', '"x"',
    ]) assert.doesNotThrow(() => check(t), t);
  });

  test('any generated case or folding variant of a read name at the top level is refused', () => {
    const variant = fc.constantFrom('model', 'stream', 'tools', 'functions').chain((n) => fc.array(fc.boolean(), { minLength: n.length, maxLength: n.length })
      .map((flips) => Array.from(n, (c, i) => (flips[i] ? (c === 's' ? 'ſ' : c.toUpperCase()) : c)).join('')));
    fc.assert(fc.property(variant, json, (name, value) => {
      const doc = { [name]: value };
      const text = JSON.stringify(doc);
      const refused = (() => { try { assertUnambiguousMembers(text, doc); return false; } catch { return true; } })();
      return refused === !['model', 'stream', 'tools', 'functions'].includes(name);
    }), { numRuns: 300 });
  });
});
