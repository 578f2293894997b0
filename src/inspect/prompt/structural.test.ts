import { test } from 'node:test';
import assert from 'node:assert/strict';
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
