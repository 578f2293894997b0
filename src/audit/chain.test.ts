import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { canonicalJson, chainHash, GENESIS_HASH, recordBody, recordHash, type HashedFields } from './chain.ts';

const base: HashedFields = {
  seq: 1, at: '2025-01-01T00:00:00.000Z', kind: 'policy.decision', user: 'alice', agent: null,
  action: 'sql.read', resource: 'crm', outcome: 'allow', detail: { reason: 'permit', n: 2 }, count: 1, lastAt: null,
};

test('canonical JSON sorts keys at every depth and drops undefined like JSON.stringify', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [3, { y: 1, x: 2 }], c: null }, u: undefined }), '{"a":{"c":null,"d":[3,{"x":2,"y":1}]},"b":1}');
  assert.equal(canonicalJson('é"\n'), JSON.stringify('é"\n'));
});

test('canonical JSON is independent of key order and parses back to the same value', () => {
  fc.assert(fc.property(fc.jsonValue(), (v) => {
    const text = canonicalJson(v);
    assert.deepEqual(JSON.parse(text), JSON.parse(JSON.stringify(v)));
    const reversed: unknown = JSON.parse(JSON.stringify(v), (_k, val: unknown) =>
      val && typeof val === 'object' && !Array.isArray(val) ? Object.fromEntries(Object.entries(val).reverse()) : val);
    assert.equal(canonicalJson(reversed), text);
  }));
});

test('record hash is sha256 hex, deterministic, and covers every field and the previous hash', () => {
  const h = recordHash(GENESIS_HASH, base);
  assert.match(h, /^[0-9a-f]{64}$/);
  assert.equal(recordHash(GENESIS_HASH, { ...base, detail: { n: 2, reason: 'permit' } }), h);
  const variants: HashedFields[] = [
    { ...base, seq: 2 }, { ...base, at: '2025-01-01T00:00:00.001Z' }, { ...base, kind: 'x' }, { ...base, user: null },
    { ...base, agent: 'bot' }, { ...base, action: null }, { ...base, resource: 'hr' }, { ...base, outcome: 'deny' },
    { ...base, detail: { reason: 'permit', n: 3 } }, { ...base, count: 2, lastAt: base.at }, { ...base, lastAt: base.at },
  ];
  for (const v of variants) assert.notEqual(recordHash(GENESIS_HASH, v), h);
  assert.notEqual(recordHash('1'.repeat(64), base), h);
});

test('record hash is sha256 of the previous hash and the canonical JSON of every field (prepared body splices seq)', () => {
  const text = fc.option(fc.string({ unit: 'binary', maxLength: 20 }), { nil: null });
  fc.assert(fc.property(
    fc.record({
      seq: fc.nat(), at: fc.string(), kind: fc.string(), user: text, agent: text, action: text, resource: text, outcome: fc.string(),
      detail: fc.dictionary(fc.string(), fc.jsonValue()), count: fc.oneof(fc.constant(1), fc.integer({ min: 0, max: 1_000_000 })), lastAt: text,
    }),
    (f) => {
      const detail = JSON.parse(JSON.stringify(f.detail)) as Record<string, unknown>;
      const fields: HashedFields = { ...f, detail };
      // The run fields are in the JSON only for a run (or a stray last time): a single event's is as it always was.
      const { count, lastAt, ...single } = fields;
      const json = canonicalJson(count === 1 && lastAt === null ? single : { ...single, count, last_at: lastAt });
      const expected = createHash('sha256').update(GENESIS_HASH).update(json).digest('hex');
      assert.equal(recordHash(GENESIS_HASH, fields), expected);
      const { seq, ...rest } = fields;
      assert.equal(chainHash(GENESIS_HASH, recordBody(rest, canonicalJson(detail)), seq), expected);
    },
  ));
});
