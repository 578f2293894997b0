import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERROR_CODES, GatehouseError, isGatehouseError } from './errors.ts';

test('docs/errors.md lists exactly the registered codes with their statuses', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  const documented = new Map([...doc.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1]!, Number(m[2])]));
  const registered = new Map(Object.entries(ERROR_CODES).map(([c, e]) => [c, e.status]));
  assert.deepEqual([...documented.entries()].sort(), [...registered.entries()].sort());
});

test('GatehouseError carries code, status and a safe detail', () => {
  const e = new GatehouseError('not_found', 'no connection named "x"', { hint: 1 });
  assert.equal(e.status, 404);
  assert.equal(e.code, 'not_found');
  assert.equal(e.detail, 'no connection named "x"');
  assert.ok(isGatehouseError(e, 'not_found'));
  assert.ok(!isGatehouseError(e, 'conflict'));
  assert.ok(!isGatehouseError(new Error('x')));
  assert.equal(new GatehouseError('internal').detail, 'Internal error');
});
