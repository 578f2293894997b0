import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { manualClock } from '../kernel/clock.ts';
import { isGatehouseError } from '../kernel/errors.ts';
import { openStore } from '../store/index.ts';
import type { SqlDriver } from '../store/sql.ts';
import { getTestPostgres, pgSkip } from '../../test/harness/postgres-server.ts';
import { API_KEY_REVOKED_CHANNEL, ApiKeys } from './api-keys.ts';
import { VerifiedKeyCache } from './api-key-cache.ts';
import type { Principal } from './principal.ts';

const T0 = Date.UTC(2030, 0, 1);

/** A driver that counts api_keys SELECTs and lets a test wait for revocation notifications. */
function observed(db: SqlDriver): { driver: SqlDriver; selects: () => number; nextRevocation: () => Promise<string> } {
  let selects = 0;
  const waiters: ((id: string) => void)[] = [];
  const driver: SqlDriver = {
    ...db,
    query: (text, params) => {
      if (/^SELECT .* FROM api_keys WHERE id/s.test(text)) selects++;
      return db.query(text, params);
    },
    listen: (channel, onPayload) => db.listen(channel, (p) => {
      onPayload(p);
      if (channel === API_KEY_REVOKED_CHANNEL) for (const w of waiters.splice(0)) w(p);
    }),
  };
  return { driver, selects: () => selects, nextRevocation: () => new Promise((r) => { waiters.push(r); }) };
}

const invalid = (e: unknown): boolean => isGatehouseError(e, 'invalid_credential');

describe('VerifiedKeyCache', () => {
  const p: Principal = { kind: 'user', id: 'u', groups: [], via: 'api_key' };
  test('is an LRU bounded by size and TTL; stale generations do not fill it', () => {
    const c = new VerifiedKeyCache(1000, 2);
    c.set('h1', { id: 'a', principal: p, expiresAt: undefined }, c.generation, 0);
    c.set('h2', { id: 'b', principal: p, expiresAt: undefined }, c.generation, 0);
    assert.ok(c.get('h1', 10)); // h1 is now most recently used
    c.set('h3', { id: 'c', principal: p, expiresAt: undefined }, c.generation, 0);
    assert.equal(c.size, 2);
    assert.equal(c.get('h2', 10), undefined, 'least recently used evicted');
    assert.equal(c.get('h1', 1000), undefined, 'TTL over');
    const gen = c.generation;
    c.drop('zzz');
    c.set('h4', { id: 'd', principal: p, expiresAt: undefined }, gen, 0);
    assert.equal(c.get('h4', 1), undefined, 'a verify that raced a drop is not cached');
    c.drop('c');
    assert.equal(c.get('h3', 1), undefined);
  });
});

describe('ApiKeys cache (embedded store)', () => {
  let db: SqlDriver;
  before(async () => { db = await openStore({ embedded: { path: undefined } }); });
  after(() => db.close());

  test('serves verified keys from memory; failures always go to the store', async () => {
    const o = observed(db);
    const keys = new ApiKeys(o.driver, manualClock(T0));
    await keys.start();
    const { key } = await keys.create({ user: 'alice' });
    await keys.verify(key);
    const n = o.selects();
    assert.equal((await keys.verify(key)).id, 'alice');
    assert.equal(o.selects(), n, 'second verify is a cache hit');
    const wrong = key.slice(0, 12) + 'x'.repeat(32);
    await assert.rejects(keys.verify(wrong), invalid);
    await assert.rejects(keys.verify(wrong), invalid);
    assert.equal(o.selects(), n + 2, 'failures are not cached');
    await keys.close();
  });

  test('an expired key is rejected even when cached; the TTL bounds an entry', async () => {
    const clock = manualClock(T0);
    const o = observed(db);
    const keys = new ApiKeys(o.driver, clock, { cacheTtlMs: 30_000 });
    await keys.start();
    const { key } = await keys.create({ user: 'bob', expiresAt: T0 + 10_000 });
    await keys.verify(key);
    clock.advance(9_999);
    const n = o.selects();
    await keys.verify(key);
    assert.equal(o.selects(), n);
    clock.advance(1);
    await assert.rejects(keys.verify(key), invalid);
    const long = await keys.create({ user: 'bob' });
    await keys.verify(long.key);
    clock.advance(30_000);
    const m = o.selects();
    await keys.verify(long.key);
    assert.equal(o.selects(), m + 1, 'a stale entry is re-read from the store');
    await keys.close();
  });

  test('revoke on instance A takes effect on instance B at once (same store, LISTEN/NOTIFY)', async () => {
    const a = new ApiKeys(db, manualClock(T0));
    const ob = observed(db);
    const b = new ApiKeys(ob.driver, manualClock(T0));
    await b.start();
    const { key, record } = await a.create({ user: 'carol' });
    await b.verify(key);
    const n = ob.selects();
    await b.verify(key);
    assert.equal(ob.selects(), n, 'B serves the key from its cache');
    const seen = ob.nextRevocation();
    assert.equal(await a.revoke(record.id), true);
    assert.equal(await seen, record.id);
    await assert.rejects(b.verify(key), invalid);
    await assert.rejects(a.verify(key), invalid);
    await b.close();
  });

  test('without a live revocation feed nothing is cached', async () => {
    const o = observed(db);
    const broken: SqlDriver = { ...o.driver, listen: () => Promise.reject(new Error('no LISTEN')) };
    const warnings: string[] = [];
    const keys = new ApiKeys(broken, manualClock(T0), { log: { warn: (_o, msg) => { warnings.push(msg); } } });
    await assert.rejects(keys.start(), (e) => isGatehouseError(e, 'store_unavailable'));
    const { key } = await keys.create({ user: 'dave' });
    const n = o.selects();
    await keys.verify(key);
    await keys.verify(key);
    assert.equal(o.selects(), n + 2);
    assert.ok(warnings.length >= 1);
  });
});

const skip = await pgSkip();
describe('ApiKeys cache (two drivers on one PostgreSQL database)', { skip }, () => {
  test('revoke on instance A is effective on instance B', async () => {
    const pgdb = await getTestPostgres();
    assert.ok(pgdb, 'a PostgreSQL server was promised by pgSkip()');
    const dbA = await openStore({ postgres: { url: pgdb.url, poolMax: 2 } });
    const dbB = await openStore({ postgres: { url: pgdb.url, poolMax: 2 } });
    try {
      const a = new ApiKeys(dbA, manualClock(T0));
      const ob = observed(dbB);
      const b = new ApiKeys(ob.driver, manualClock(T0));
      await b.start();
      const { key, record } = await a.create({ user: 'erin' });
      await b.verify(key);
      const n = ob.selects();
      await b.verify(key);
      assert.equal(ob.selects(), n, 'B serves the key from its cache');
      const seen = ob.nextRevocation();
      assert.equal(await a.revoke(record.id), true);
      assert.equal(await seen, record.id);
      await assert.rejects(b.verify(key), invalid);
      await b.close();
    } finally {
      await dbA.close();
      await dbB.close();
      await pgdb.stop();
    }
  });
});
