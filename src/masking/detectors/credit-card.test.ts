import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { corpusTests } from './corpus.case.ts';
import { creditCardDetector, knownIssuer, luhnValid } from './credit-card.ts';

describe('creditCardDetector', () => {
  corpusTests(creditCardDetector, [
    ['visa 4111111111111111.', ['4111111111111111']],
    ['card: 4111 1111 1111 1111 exp 12/27', ['4111 1111 1111 1111']],
    ['mc 5555-5555-5555-4444', ['5555-5555-5555-4444']],
    ['amex 3782 822463 10005', ['3782 822463 10005']],
    ['amex 378282246310005, discover 6011111111111117', ['378282246310005', '6011111111111117']],
    ['ref 12 4111 1111 1111 1111', ['4111 1111 1111 1111']],
    ['2-series mc 2221000000000009', ['2221000000000009']],
    ['dotted 4111.1111.1111.1111.', ['4111.1111.1111.1111']],
  ], [
    '4111 1111 1111 1112', '4111111111111112', '1234567890123456', '0000 0000 0000 0000',
    'uuid 550e8400-e29b-41d4-a716-446655440000', 'sha 3f786850e387550fdab836ed7e6dc881de23001b',
    'order #4111111111111111x', 'pi 3.4111111111111111', 'total 1,4111111111111111', '4111-1111 1111-1111',
    '41111111111111111111111', 'ts 1718000000000', '2024-01-15 12:30:45',
    '4111.1111.1111.1112', '4111.1111-1111.1111', 'v4111.1111.1111.1111', '4111.1111.1111.1111.5',
  ]);
  test('Luhn and issuer prefixes', () => {
    assert.equal(luhnValid('79927398713'), true);
    assert.equal(luhnValid('79927398710'), false);
    assert.equal(knownIssuer('4111111111111111'), true);
    assert.equal(knownIssuer('9111111111111111'), false);
    assert.equal(knownIssuer('341111111111111'), true);
    assert.equal(knownIssuer('3411111111111111'), false); // Amex is 15 digits
  });
});
