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

  test('values disguised with Unicode are found and replaced in the original, hidden characters included', () => {
    const m = new TextMasker({ detectors: defaultDetectors(), strategy: 'redact', hashKey });
    const cases: [string, string][] = [
      ['card ４１１１ １１１１ １１１１ １１１１ ok', 'card [CREDIT_CARD] ok'],
      ['card 4111\u200b1111\u200c1111\u200d1111\u2060 ok', 'card [CREDIT_CARD]\u2060 ok'],
      ['card 4\u00ad111\ufeff1111111\u202e11111 ok', 'card [CREDIT_CARD] ok'],
      ['card 4111.1111.1111.1111 ok', 'card [CREDIT_CARD] ok'],
      ['card 4111\u20131111\u20131111\u20131111 ok', 'card [CREDIT_CARD] ok'],
      ['card 4111\u00a01111\u20091111\u202f1111 ok', 'card [CREDIT_CARD] ok'],
      ['ssn 123.45.6789 ok', 'ssn [US_SSN] ok'],
      ['id 123\u221245\u22126789 ok', 'id [US_SSN] ok'],
      ['id ١٢٣-٤٥-٦٧٨٩ ok', 'id [US_SSN] ok'],
      ['mail ｂｏｂ＠ｅｘａｍｐｌｅ．ｃｏｍ ok', 'mail [EMAIL] ok'],
      ['mail b\u200bob@exa\u200bmple.com ok', 'mail [EMAIL] ok'],
      ['mail "john doe"@example.com ok', 'mail [EMAIL] ok'],
      ['mail 用户@例子。广告 ok', 'mail [EMAIL] ok'],
      ['key ＡＫＩＡＩＯＳＦＯＤＮＮ７ＥＸＡＭＰＬＥ ok', 'key [SECRET] ok'],
      ['pass\u00adword=Xy7#pQ2vLm9zK ok', 'pass\u00adword=[SECRET] ok'],
      ['call +1\u00a0(415)\u00a0555\u20132671 ok', 'call [PHONE] ok'],
      ['iban DE89\u00a03704\u00a00044\u00a00532\u00a00130\u00a000 ok', 'iban [IBAN] ok'],
      ['ip １０.０.０.１ ok', 'ip [IP_ADDRESS] ok'],
    ];
    for (const [input, expected] of cases) assert.equal(m.mask(input).text, expected, JSON.stringify(input));
  });

  test('partial and hash see the normalized value', () => {
    const m = new TextMasker({ detectors: defaultDetectors(), strategy: 'partial', hashKey });
    assert.equal(m.mask('４１１１ １１１１ １１１１ １１１１').text, '[CREDIT_CARD ****1111]');
    const h = new TextMasker({ detectors: defaultDetectors(), strategy: 'hash', hashKey });
    assert.equal(h.mask('４１１１\u200b１１１１１１１１１１１１').text, h.mask('4111111111111111').text);
  });

  test('a label (column or key name) gives context-dependent detectors their keyword; only the value is masked', () => {
    const m = new TextMasker({ detectors: defaultDetectors(), strategy: 'redact', hashKey });
    assert.equal(m.mask('123456789').text, '123456789');
    assert.equal(m.mask('123456789', { label: 'ssn' }).text, '[US_SSN]');
    assert.equal(m.mask('１２３４５６７８９', { label: 'customer_ssn' }).text, '[US_SSN]');
    assert.equal(m.mask('219099999', { label: 'social_security_number' }).text, '[US_SSN]');
    assert.equal(m.mask('Xy7#pQ2vLm9zK', { label: 'api_key' }).text, '[SECRET]');
    assert.equal(m.mask('plain', { label: 'bob@example.com' }).text, 'plain');
    assert.deepEqual(m.scan('123456789', { label: 'ssn' }), [{ entity: 'US_SSN', start: 0, end: 9 }]);
  });
});
