import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { manualClock } from '../kernel/clock.ts';
import { isGatehouseError } from '../kernel/errors.ts';
import type { Principal } from '../identity/principal.ts';
import { openStore } from '../store/index.ts';
import type { SqlDriver } from '../store/sql.ts';
import { getTestPostgres, type TestDatabase } from '../../test/harness/postgres-server.ts';
import { ConsoleSessions, SignInLimiter, type SessionBackend } from './sessions.ts';

const user = (id: string, credentialId: string): Principal => ({ kind: 'user', id, groups: [], via: 'api_key', credentialId });

function bounds(name: string, backend: () => Promise<SessionBackend>): void {
  test(`${name}: principal A signing in many times never ends principal B's session`, async () => {
    const clock = manualClock(1_000_000);
    const s = new ConsoleSessions(clock, { max: 50, perPrincipal: 5 }, await backend());
    const admin = await s.create(user('admin', 'k_admin'), 'api_key');
    let last: string[] = [];
    for (let i = 0; i < 200; i++) {
      clock.advance(1);
      const a = await s.create(user('mallory', 'k_low'), 'api_key');
      last = [...last, a.token].slice(-5);
    }
    assert.equal((await s.lookup(admin.token))?.principal.id, 'admin', 'the other principal keeps its session');
    for (const t of last) assert.equal((await s.lookup(t))?.principal.id, 'mallory', 'the newest of A\'s own sessions live');
    assert.equal(await s.size(), 6, 'A holds at most its per-principal bound');
  });

  test(`${name}: at the global bound a new sign-in is refused, and no session is ended`, async () => {
    const clock = manualClock(1_000_000);
    const s = new ConsoleSessions(clock, { max: 3, perPrincipal: 5 }, await backend());
    const tokens = [];
    for (const id of ['a', 'b', 'c']) { clock.advance(1); tokens.push((await s.create(user(id, `k_${id}`), 'api_key')).token); }
    await assert.rejects(s.create(user('d', 'k_d'), 'api_key'), (e) => isGatehouseError(e, 'too_many_requests') && /sign-in refused/.test(e.message));
    for (const t of tokens) assert.ok(await s.lookup(t), 'every existing session lives');
    assert.equal(await s.size(), 3);
  });
}

bounds('memory', () => Promise.resolve('memory'));

describe('console sessions in the store (real PostgreSQL)', () => {
  let pgdb: TestDatabase;
  let db: SqlDriver;
  before(async () => {
    const d = await getTestPostgres();
    if (!d) throw new Error('no PostgreSQL: set GATEHOUSE_TEST_PG_URL');
    pgdb = d;
    db = await openStore({ postgres: { url: pgdb.url } });
  });
  after(async () => { await db?.close(); await pgdb?.stop(); });
  const fresh = async (): Promise<SessionBackend> => { await db.query('DELETE FROM console_sessions'); return db; };
  bounds('postgres', fresh);
});

test('sign-in limiter: a principal past its limit is refused, others are not, and the window resets', () => {
  const clock = manualClock(0);
  const l = new SignInLimiter(clock, { limit: 3, windowMs: 1000, maxTracked: 4 });
  for (let i = 0; i < 3; i++) l.take(user('mallory', 'k_low'));
  assert.throws(() => l.take(user('mallory', 'k_low')), (e) => isGatehouseError(e, 'too_many_requests'));
  l.take(user('admin', 'k_admin'));
  clock.advance(1000);
  l.take(user('mallory', 'k_low'));
});
