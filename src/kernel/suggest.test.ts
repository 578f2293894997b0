import assert from 'node:assert/strict';
import { test } from 'node:test';
import { closest, didYouMean } from './suggest.ts';

test('closest names a plausible typo and nothing else', () => {
  assert.equal(closest('ap', ['app', 'crm']), 'app');
  assert.equal(closest('EMALE', ['EMAIL', 'PHONE']), 'EMAIL');
  assert.equal(closest('sql.wirte', ['sql.read', 'sql.write']), 'sql.write');
  assert.equal(closest('crm', ['app', 'billing']), undefined);
  assert.equal(closest('x'.repeat(500), ['x']), undefined, 'bounded');
  assert.equal(didYouMean('ap', ['app']), ' (did you mean "app"?)');
  assert.equal(didYouMean('zzz', ['app']), '');
});
