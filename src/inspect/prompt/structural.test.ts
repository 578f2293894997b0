import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TextMasker, defaultDetectors } from '../../masking/text-masker.ts';
import { TRUSTED_KEYS, TRUSTED_VALUES } from './structural.ts';

const scanner = new TextMasker({ detectors: defaultDetectors(), strategy: 'redact', hashKey: Buffer.alloc(32, 1) });

test('no built-in detector matches a trusted key or value (skipping them changes nothing)', () => {
  for (const s of [...TRUSTED_KEYS, ...TRUSTED_VALUES]) {
    assert.deepEqual(scanner.scan(s), [], `"${s}" is matched by a detector: it cannot be trusted`);
    assert.match(s, /^[$A-Za-z0-9_./-]*$/, `"${s}" is a fixed word`);
  }
});

test('identifiers are not trusted: an id can carry an entity', () => {
  for (const s of ['call_AKIAQ3EGRVH2LXJ7KZ4N', 'chatcmpl-4111111111111111']) {
    assert.ok(!TRUSTED_VALUES.has(s));
    assert.notDeepEqual(scanner.scan(s), []);
  }
});

test('no built-in detector matches a JSON number without a run of 12 digits (the walk skips those)', () => {
  const num = fc.oneof(
    fc.integer({ min: -99_999_999_999, max: 99_999_999_999 }),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.double({ min: -1, max: 1, noNaN: true }).map((x) => Math.fround(x)),
    fc.double({ min: -1e6, max: 1e6, noNaN: true }).map((x) => Number(x.toFixed(9))),
  );
  fc.assert(fc.property(num, (n) => {
    const t = JSON.stringify(n);
    if (/\d{12}/.test(t)) return;
    assert.deepEqual(scanner.scan(t), [], t);
  }), { numRuns: 20_000 });
  for (const t of ['078051121', '123456789', '4155552671', '14155552671', '1.4155552671', '0.078051121']) assert.deepEqual(scanner.scan(t), [], t);
});
