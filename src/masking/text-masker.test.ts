import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { describe, test } from 'node:test';
import type { Detector, Finding } from './detectors/types.ts';
import { TextMasker, defaultDetectors, resolveOverlaps, summarize } from './text-masker.ts';

const hashKey = Buffer.alloc(32, 3);

describe('TextMasker', () => {
  test('masks every entity type with the default detectors', () => {
    const m = new TextMasker({ detectors: defaultDetectors(), strategy: 'redact', hashKey });
    const text = 'Mail jane@example.com, call +44 20 7946 0958, card 4111111111111111, IBAN GB82WEST12345698765432, '
      + 'SSN 123-45-6789 from 10.0.0.1, key AKIAIOSFODNN7EXAMPLE, jwt eyJhbGciOiJIUzI1NiJ9.e30.c2ln, '
      + '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA\n-----END PRIVATE KEY-----';
    const { text: out, findings } = m.mask(text);
    assert.equal(out, 'Mail [EMAIL], call [PHONE], card [CREDIT_CARD], IBAN [IBAN], SSN [US_SSN] from [IP_ADDRESS], '
      + 'key [SECRET], jwt [JWT], [PRIVATE_KEY]');
    assert.equal(findings.length, 9);
    assert.deepEqual(m.scan(text), findings);
  });

  test('per-entity strategies override the default', () => {
    const m = new TextMasker({ detectors: defaultDetectors(), strategy: 'redact', strategyFor: (e) => (e === 'CREDIT_CARD' ? 'partial' : undefined), hashKey });
    assert.equal(m.mask('4111 1111 1111 1111 or bob@example.com').text, '[CREDIT_CARD ****1111] or [EMAIL]');
  });

  test('overlaps: longest wins (then earliest, then detector order) and covers the whole cluster', () => {
    const f = (entity: Finding['entity'], start: number, end: number): Finding => ({ entity, start, end });
    assert.deepEqual(resolveOverlaps([f('PHONE', 0, 10), f('CREDIT_CARD', 2, 18), f('EMAIL', 17, 30)]), [f('CREDIT_CARD', 0, 30)]);
    assert.deepEqual(resolveOverlaps([f('PHONE', 5, 10), f('EMAIL', 0, 5), f('IBAN', 3, 8)]), [f('EMAIL', 0, 10)]);
    assert.deepEqual(resolveOverlaps([f('IBAN', 2, 6), f('PHONE', 0, 4), f('EMAIL', 4, 8), f('JWT', 8, 9)]), [f('PHONE', 0, 8), f('JWT', 8, 9)]);
    assert.deepEqual(resolveOverlaps([f('SECRET', 0, 4), f('EMAIL', 0, 4)]), [f('SECRET', 0, 4)]);
    assert.deepEqual(resolveOverlaps([f('EMAIL', 0, 4), f('SECRET', 0, 4)]), [f('EMAIL', 0, 4)]);
  });

  test('a losing overlapping finding never leaks (SSN inside a longer card candidate)', () => {
    const m = new TextMasker({ detectors: defaultDetectors(), strategy: 'redact', hashKey });
    assert.equal(m.mask('4111 1111 1111 1112 001-01-0001 ').text, '[CREDIT_CARD] ');
  });

  test('a specific token kind beats the generic secret on the same span', () => {
    const m = new TextMasker({ detectors: defaultDetectors(), strategy: 'redact', hashKey });
    const [f] = m.scan('token=ghp_aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3fG5');
    assert.equal(f?.kind, 'github_token');
  });

  test('summarize: types only; JWT, PRIVATE_KEY and SECRET are secret types', () => {
    const m = new TextMasker({ detectors: defaultDetectors(), strategy: 'redact', hashKey });
    const s = summarize(m.scan('AKIAIOSFODNN7EXAMPLE bob@example.com eyJhbGciOiJIUzI1NiJ9.e30.c2ln password=Xy7#pQ2vLm9z a@b.io'));
    assert.deepEqual(s, { secret_types: ['JWT', 'SECRET'], secret_kinds: ['aws_access_key', 'generic'], pii_types: ['EMAIL'], findings: 5 });
    assert.ok(!JSON.stringify(s).includes('bob'));
  });

  test('a detector error propagates (callers fail closed)', () => {
    const broken: Detector = { entity: 'EMAIL', maxLength: 1, lookbehind: 0, find: () => { throw new Error('boom'); }, pendingFrom: (t) => t.length };
    const m = new TextMasker({ detectors: [broken], strategy: 'redact', hashKey });
    assert.throws(() => m.mask('x'), /boom/);
  });
});
