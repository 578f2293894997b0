import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Router } from './router.ts';

test('matches params, reports allowed methods, and rejects bad encodings', () => {
  const r = new Router<null>();
  const h = async () => {};
  r.add('GET', '/api/v1/keys/:id', h).add('DELETE', '/api/v1/keys/:id', h);
  const m = r.match('GET', '/api/v1/keys/a%20b');
  assert.ok(m && 'handler' in m);
  assert.deepEqual(m.params, { id: 'a b' });
  assert.deepEqual(r.match('POST', '/api/v1/keys/x'), { methods: ['GET', 'DELETE'] });
  assert.equal(r.match('GET', '/api/v1/keys'), undefined);
  assert.equal(r.match('GET', '/api/v1/keys/%E0%A4%A'), undefined);
  assert.equal(r.match('GET', '/api/v1/keys/'), undefined);
});
