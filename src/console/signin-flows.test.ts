import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { manualClock } from '../kernel/clock.ts';
import { isGatehouseError } from '../kernel/errors.ts';
import { openStore } from '../store/index.ts';
import type { SqlDriver } from '../store/sql.ts';
import { getTestPostgres, type TestDatabase } from '../../test/harness/postgres-server.ts';
import { clientKey, SignInFlows } from './signin-flows.ts';

const KEY = randomBytes(32);
const T0 = 1_000_000;

/** Two "replicas" (each its own SignInFlows) over one store, as gateways sharing it are. */
function cases(name: string, store: () => Promise<SqlDriver>): void {
  const pair = async (clock = manualClock(T0)): Promise<{ a: SignInFlows; b: SignInFlows; db: SqlDriver; clock: typeof clock }> => {
    const db = await store();
    await db.query('DELETE FROM console_signin_flows');
    return { a: new SignInFlows(db, clock, KEY), b: new SignInFlows(db, clock, KEY), db, clock };
  };
  const put = (f: SignInFlows, key: string, over: Partial<Parameters<SignInFlows['put']>[2]> = {}): Promise<void> =>
    f.put('oidc', key, { client: '192.0.2.1', data: { nonce: 'n' }, secret: `verifier-of-${key}`, ttlMs: 600_000, max: 1000, perClient: 100, ...over });

  test(`${name}: a flow put on A is taken on B once; neither replica finds it again; at rest the key is hashed and the secret sealed`, async () => {
    const { a, b, db } = await pair();
    const state = randomBytes(24).toString('base64url');
    await put(a, state);
    const rows = await db.query('SELECT * FROM console_signin_flows');
    assert.equal(rows.length, 1);
    assert.ok(!JSON.stringify(rows).includes(state), 'the key is not stored');
    assert.ok(!JSON.stringify(rows).includes('verifier-of'), 'the secret is not stored in clear');
    const got = await b.take('oidc', state);
    assert.deepEqual(got && { data: got.data, secret: got.secret, expired: got.expired }, { data: { nonce: 'n' }, secret: `verifier-of-${state}`, expired: false });
    assert.equal(await a.take('oidc', state), undefined);
    assert.equal(await b.take('oidc', state), undefined);
    assert.equal(await b.take('saml', state), undefined, 'kinds are apart');
  });

  test(`${name}: two replicas taking the same flow at once: exactly one gets it`, async () => {
    const { a, b } = await pair();
    const keys = Array.from({ length: 20 }, () => randomBytes(24).toString('base64url'));
    for (const k of keys) await put(a, k, { perClient: 1000 });
    const got = await Promise.all(keys.flatMap((k) => [a.take('oidc', k), b.take('oidc', k)]));
    assert.equal(got.filter((g) => g !== undefined).length, keys.length);
  });

  test(`${name}: a sealed secret does not open under another key or moved to another row`, async () => {
    const { a, db, clock } = await pair();
    await put(a, 'k1');
    await put(a, 'k2');
    const rows = await db.query<{ key_hash: string; sealed: string }>('SELECT key_hash, sealed FROM console_signin_flows ORDER BY key_hash');
    await db.query('UPDATE console_signin_flows SET sealed = $1 WHERE key_hash = $2', [rows[0]!.sealed, rows[1]!.key_hash]);
    const taken = await Promise.allSettled([a.take('oidc', 'k1'), a.take('oidc', 'k2')]);
    assert.deepEqual(taken.map((r) => r.status).sort(), ['fulfilled', 'rejected'], 'a sealed value copied to another row does not open');
    await put(a, 'k3');
    const other = new SignInFlows(db, clock, randomBytes(32));
    await assert.rejects(other.take('oidc', 'k3'), (e) => isGatehouseError(e, 'internal'));
    assert.equal(await a.take('oidc', 'k3'), undefined, 'a flow that did not open is used up all the same');
  });

  test(`${name}: an expired flow is taken as expired, not counted, and swept`, async () => {
    const { a, b, db, clock } = await pair();
    await put(a, 'old', { ttlMs: 1000 });
    clock.advance(1000);
    assert.equal((await b.take('oidc', 'old'))?.expired, true);
    await put(a, 'old2', { ttlMs: 1000, max: 1 });
    clock.advance(61_000);
    await put(b, 'new', { max: 1 }); // the expired one does not count against the bound, and the sweep drops it
    assert.equal((await db.query('SELECT 1 FROM console_signin_flows')).length, 1);
  });

  test(`${name}: per client, a flood drops only that client's oldest flows; in all, past the bound a new one is refused`, async () => {
    const { a, b, clock } = await pair();
    await put(a, 'victim', { client: '198.51.100.7', max: 50, perClient: 5 });
    for (let i = 0; i < 30; i++) { clock.advance(1); await put(i % 2 ? a : b, `flood-${i}`, { max: 50, perClient: 5 }); }
    assert.equal(await a.count('oidc'), 6, 'the flooder keeps its bound, the victim its flow');
    assert.ok(await b.take('oidc', 'victim'), 'another client\'s flow survives the flood');
    assert.equal(await a.take('oidc', 'flood-0'), undefined, 'the flooder\'s oldest went');
    assert.ok(await a.take('oidc', 'flood-29'));
    // The bound in all: many clients.
    for (let i = 0; i < 10; i++) await put(a, `c-${i}`, { client: `203.0.113.${i}`, max: 14 });
    await assert.rejects(put(b, 'one-too-many', { client: '203.0.113.200', max: 13 }), (e) => isGatehouseError(e, 'too_many_requests') && /limit/.test(e.message));
  });

  test(`${name}: remember: new once on any replica, seen after, new again after expiry, full at the bound`, async () => {
    const { a, b, clock } = await pair();
    assert.equal(await a.remember('saml_assertion', '_a1', T0 + 5000, 2), 'new');
    assert.equal(await b.remember('saml_assertion', '_a1', T0 + 5000, 2), 'seen');
    const race = await Promise.all([a.remember('saml_assertion', '_a2', T0 + 5000, 10), b.remember('saml_assertion', '_a2', T0 + 5000, 10)]);
    assert.deepEqual(race.sort(), ['new', 'seen']);
    assert.equal(await a.remember('saml_assertion', '_a3', T0 + 5000, 2), 'full');
    clock.advance(5000);
    assert.equal(await b.remember('saml_assertion', '_a1', T0 + 10_000, 2), 'new');
  });
}

describe('sign-in flows in the embedded store (two replicas over one PGlite)', () => {
  let db: SqlDriver;
  before(async () => { db = await openStore({ embedded: { path: undefined } }); });
  after(async () => { await db?.close(); });
  cases('embedded', () => Promise.resolve(db));
});

describe('sign-in flows in the store (real PostgreSQL)', () => {
  let pgdb: TestDatabase;
  let db: SqlDriver;
  before(async () => {
    const d = await getTestPostgres();
    if (!d) throw new Error('no PostgreSQL: set GATEHOUSE_TEST_PG_URL');
    pgdb = d;
    db = await openStore({ postgres: { url: pgdb.url } });
  });
  after(async () => { await db?.close(); await pgdb?.stop(); });
  cases('postgres', () => Promise.resolve(db));
});

test('clientKey: IPv4 as is (also IPv4-mapped), IPv6 by its /64', () => {
  assert.equal(clientKey('192.0.2.1'), '192.0.2.1');
  assert.equal(clientKey('::ffff:192.0.2.1'), '192.0.2.1');
  assert.equal(clientKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  assert.equal(clientKey('2001:db8:1:2:bbbb:cccc:dddd:eeee'), '2001:db8:1:2::/64');
  assert.equal(clientKey('2001:db8::1'), '2001:db8:0:0::/64');
  assert.equal(clientKey('::1'), '0:0:0:0::/64');
  assert.equal(clientKey(''), '');
});
