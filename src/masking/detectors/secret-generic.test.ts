import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { corpusTests } from './corpus.case.ts';
import { genericSecretDetector, looksRandom, shannonEntropy } from './secret-generic.ts';

describe('genericSecretDetector', () => {
  corpusTests(genericSecretDetector, [
    ['password=Xy7#pQ2vLm9z', ['Xy7#pQ2vLm9z']],
    ['DB_PASSWORD: "correcthorsebatterystaple"', ['correcthorsebatterystaple']],
    ['{"api_key":"a8f3k2m9q7w1e5r4"}', ['a8f3k2m9q7w1e5r4']],
    ["client_secret = 'Zq8#Lp3$Wn6!Rt2'", ['Zq8#Lp3$Wn6!Rt2']],
    ['Authorization: Bearer 8f2a9c7e1b4d6f3a0e5c', ['8f2a9c7e1b4d6f3a0e5c']],
    ['https://x.io/cb?token=Kd93Jf82Lq01Zm&next=1', ['Kd93Jf82Lq01Zm']],
    ['secret:   abcDEF123ghiJKL', ['abcDEF123ghiJKL']],
    // Below 3.0 bits/char because a character repeats, but mixed classes: 2.95 and 2.9998.
    ['password=Tr0ub4dor', ['Tr0ub4dor']],
    [' password=ZVVq3AY0aVAzVkV ', ['ZVVq3AY0aVAzVkV']],
  ], [
    'password=changeme', 'password=********', 'password: hunter2', 'token: null', 'max_tokens: 4096',
    'token_count=12345678', 'secret: true', 'password=${DB_PASSWORD}', 'secret: [REDACTED]', 'the password is Xy7#pQ2vLm9z',
    'password=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1', 'secret: abababab', 'if (password == Xy7pQ2vLm9zK)', 'author: JohnSmith12345', 'passwordless-authentication: enabled', 'token =     Xy7pQ2vLm9zK',
  ]);
  test('AWS secret access keys get their kind; entropy', () => {
    const [f] = genericSecretDetector.find('aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY');
    assert.equal(f?.kind, 'aws_secret_key');
    assert.equal(genericSecretDetector.find('password=Xy7#pQ2vLm9z')[0]?.kind, 'generic');
    assert.equal(shannonEntropy('aaaa'), 0);
    assert.equal(shannonEntropy('abcdefgh'), 3);
    assert.ok(shannonEntropy('Tr0ub4dor') < 3 && looksRandom('Tr0ub4dor'));
    assert.ok(!looksRandom('changeme'), 'one class, 2.75 bits/char');
    assert.ok(!looksRandom('aAaAaAaA'), 'two classes, 1 bit/char');
  });
  test('values are capped at 256 characters', () => {
    const value = 'Ab3De5Gh7Jk9Mn1P'.repeat(20);
    const [f] = genericSecretDetector.find(`token=${value}`);
    assert.deepEqual(f && { start: f.start, end: f.end }, { start: 6, end: 6 + 256 });
  });
});
