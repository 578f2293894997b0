import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { corpusTests } from './corpus.case.ts';
import { usSsnDetector, validSsnParts } from './us-ssn.ts';

describe('usSsnDetector', () => {
  corpusTests(usSsnDetector, [
    ['SSN: 123-45-6789.', ['123-45-6789']],
    ['her number 078 05 1120 is on file', ['078 05 1120']],
    ['ssn=123456789', ['123456789']],
    ['Social Security number: 219099999', ['219099999']],
    ['ids 123-45-6789 and 899-99-9999', ['123-45-6789', '899-99-9999']],
    ['dotted 123.45.6789.', ['123.45.6789']],
    ['customer_social_security: 219099999, ssn_number=123456789', ['219099999', '123456789']],
  ], [
    '000-12-3456', '666-12-3456', '912-34-5678', '123-00-4567', '123-45-0000', '123-45 6789',
    'order 123456789', 'call 123-456-7890', '2024-01-15', 'v123-45-6789', '123-45-6789-1', '1123-45-6789',
    '123-45-67890', 'phone 415.555.2671', 'x 123 45 6789 0',
    '123.45-6789', '1.123.45.6789', '123.45.6789.1', 'ip 10.123.45.6789',
  ]);
  test('valid ranges', () => {
    assert.equal(validSsnParts('001', '01', '0001'), true);
    assert.equal(validSsnParts('666', '01', '0001'), false);
    assert.equal(validSsnParts('900', '01', '0001'), false);
  });
});
