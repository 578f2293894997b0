import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import { isGatehouseError } from '../kernel/errors.ts';
import { applyStrategy } from './strategies.ts';

const key = Buffer.alloc(32, 9);

describe('applyStrategy', () => {
  test('redact', () => {
    assert.equal(applyStrategy('redact', 'EMAIL', 'bob@example.com', key), '[EMAIL]');
  });

  test('partial keeps the last 4 alphanumerics, or redacts short values and keys', () => {
    assert.equal(applyStrategy('partial', 'CREDIT_CARD', '4111 1111 1111 1111', key), '[CREDIT_CARD ****1111]');
    assert.equal(applyStrategy('partial', 'IBAN', 'DE89 3704 0044 0532 0130 00', key), '[IBAN ****3000]');
    assert.equal(applyStrategy('partial', 'PHONE', '+1 (415) 555-2671', key), '[PHONE ****2671]');
    assert.equal(applyStrategy('partial', 'US_SSN', '123-45-6789', key), '[US_SSN ****6789]');
    assert.equal(applyStrategy('partial', 'SECRET', 'abc-12', key), '[SECRET]');
    assert.equal(applyStrategy('partial', 'PRIVATE_KEY', '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----', key), '[PRIVATE_KEY]');
  });

  test('hash is a keyed, stable, formatting-insensitive token', () => {
    const a = applyStrategy('hash', 'CREDIT_CARD', '4111 1111 1111 1111', key);
    assert.match(a, /^\[CREDIT_CARD:[0-9a-f]{12}\]$/);
    assert.equal(applyStrategy('hash', 'CREDIT_CARD', '4111-1111-1111-1111', key), a);
    assert.equal(applyStrategy('hash', 'EMAIL', 'Bob@Example.com', key), applyStrategy('hash', 'EMAIL', 'bob@example.com', key));
    assert.notEqual(applyStrategy('hash', 'CREDIT_CARD', '4111 1111 1111 1111', Buffer.alloc(32, 8)), a);
    const expected = createHmac('sha256', key).update('SECRET\u0000AKIAIOSFODNN7EXAMPLE').digest('hex').slice(0, 12);
    assert.equal(applyStrategy('hash', 'SECRET', 'AKIAIOSFODNN7EXAMPLE', key), `[SECRET:${expected}]`);
  });

  test('hash refuses a short key (fail closed)', () => {
    assert.throws(() => applyStrategy('hash', 'EMAIL', 'a@b.io', Buffer.alloc(8)), (e: unknown) => isGatehouseError(e, 'config_invalid'));
  });
});
