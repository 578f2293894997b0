import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock } from '../../src/kernel/clock.ts';
import { openStore } from '../../src/store/index.ts';
import type { SqlDriver } from '../../src/store/sql.ts';
import type { ReviewService } from '../../src/reviews/service.ts';
import { alice, bob, carol, jitRule, makeService, sqlRequest } from '../../src/reviews/kit.case.ts';
import { getTestPostgres, pgSkip, type TestDatabase } from '../harness/postgres-server.ts';

/**
 * Two replicas: a request held on A is released by an approval given on B. Polling is set to an
 * hour so only NOTIFY (PostgreSQL) or the in-process listener (PGlite) can release it.
 */
function replicaSuite(open: () => Promise<{ a: SqlDriver; b: SqlDriver; stop(): Promise<void> }>): void {
  let a: ReviewService;
  let b: ReviewService;
  let env: Awaited<ReturnType<typeof open>>;
  let n = 0;
  before(async () => {
    env = await open();
    a = (await makeService(env.a, systemClock, { recheckMs: 3_600_000 })).reviews;
    b = (await makeService(env.b, systemClock, { recheckMs: 3_600_000 })).reviews;
  });
  after(async () => { await a.close(); await b.close(); await env.stop(); });

  test('held on A, approved through B, released on A', async () => {
    const r = await a.request(sqlRequest(alice, `x-${++n}`));
    const held = a.hold(r, 30_000);
    assert.equal((await b.get(r.id))?.status, 'pending', 'B sees the review A created');
    await b.approve(r.id, bob);
    assert.equal(await held, 'approved');
    assert.equal(a.holding, 0);
  });

  test('denied through B releases A with the reason', async () => {
    const r = await a.request(sqlRequest(alice, `x-${++n}`));
    const held = a.hold(r, 30_000);
    await b.deny(r.id, carol, 'not now');
    assert.equal(await held, 'denied');
    assert.equal((await a.get(r.id))?.reason, 'not now');
  });

  test('a jit grant revoked on B is gone on A at once; consume from both replicas wins once', async () => {
    const g = await a.request(sqlRequest(alice, `x-${++n}`, jitRule));
    await b.approve(g.id, bob);
    assert.ok(await a.activeGrant(alice, 'crm', 'sql.write'));
    await b.revoke(g.id, carol);
    assert.equal(await a.activeGrant(alice, 'crm', 'sql.write'), undefined);
    const c = await a.request(sqlRequest(alice, `x-${++n}`));
    const ok = await b.approve(c.id, bob);
    const wins = await Promise.all([a.consume(ok), b.consume(ok), a.consume(ok), b.consume(ok)]);
    assert.equal(wins.filter(Boolean).length, 1);
  });
}

describe('reviews across replicas: PGlite, two services on one driver', () => {
  replicaSuite(async () => {
    const db = await openStore({});
    return { a: db, b: db, stop: () => db.close() };
  });
});

describe('reviews across replicas: real PostgreSQL, two drivers', { skip: await pgSkip() }, () => {
  replicaSuite(async () => {
    const pgdb: TestDatabase | undefined = await getTestPostgres();
    if (!pgdb) throw new Error('no PostgreSQL');
    const a = await openStore({ postgres: { url: pgdb.url } });
    const b = await openStore({ postgres: { url: pgdb.url } });
    return { a, b, stop: async () => { await a.close(); await b.close(); await pgdb.stop(); } };
  });
});
