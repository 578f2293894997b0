import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { corpusTests } from './corpus.case.ts';
import { ibanChecksumValid, ibanDetector } from './iban.ts';

describe('ibanDetector', () => {
  corpusTests(ibanDetector, [
    ['IBAN: DE89 3704 0044 0532 0130 00, thanks', ['DE89 3704 0044 0532 0130 00']],
    ['pay to DE89370400440532013000.', ['DE89370400440532013000']],
    ['GB29 NWBK 6016 1331 9268 19', ['GB29 NWBK 6016 1331 9268 19']],
    ['FR1420041010050500013M02606 and NL91ABNA0417164300', ['FR1420041010050500013M02606', 'NL91ABNA0417164300']],
    ['BE68539007547034', ['BE68539007547034']],
    ['DE89 3704 0044 0532 0130 00 1 (then a footnote)', ['DE89 3704 0044 0532 0130 00']],
  ], [
    'DE88 3704 0044 0532 0130 00', 'DE89370400440532013001', 'GB29 NWBK 6016 1331 9268 1', 'XX89370400440532013000',
    'xDE89370400440532013000', 'DE89370400440532013000X', 'de89370400440532013000',
    'order AB12 3456', 'ISO 9001 and UTF8', 'DE8937040044 0532013000',
  ]);
  test('mod-97', () => {
    assert.equal(ibanChecksumValid('GB82WEST12345698765432'), true);
    assert.equal(ibanChecksumValid('GB82WEST12345698765431'), false);
  });
});
