import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requestFingerprint } from './fingerprint.ts';

test('requestFingerprint: stable, hex, and unambiguous about part boundaries', () => {
  const a = requestFingerprint(['postgres', 'crm', 'DELETE FROM t']);
  assert.match(a, /^[0-9a-f]{64}$/);
  assert.equal(requestFingerprint(['postgres', 'crm', 'DELETE FROM t']), a);
  assert.notEqual(requestFingerprint(['postgres', 'crm', 'DELETE FROM t ']), a);
  assert.notEqual(requestFingerprint(['a', 'bc']), requestFingerprint(['ab', 'c']));
});
