import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { manualClock } from '../kernel/clock.ts';
import { isGatehouseError } from '../kernel/errors.ts';
import { openStore } from '../store/index.ts';
import type { SqlDriver } from '../store/sql.ts';
import { getTestPostgres, type TestDatabase } from '../../test/harness/postgres-server.ts';
import { SignInFlows } from './signin-flows.ts';

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
    f.put('oidc', key, { data: { nonce: 'n' }, secret: `verifier-of-${key}`, ttlMs: 600_000, max: 1000, ...over });

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
    for (const k of keys) await put(a, k);
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

  test(`${name}: in all, past the bound a new row is refused`, async () => {
    const { a, b } = await pair();
    for (let i = 0; i < 13; i++) await put(a, `c-${i}`, { max: 14 });
    await put(b, 'last', { max: 14 });
    await assert.rejects(put(b, 'one-too-many', { max: 14 }), (e) => isGatehouseError(e, 'too_many_requests') && /limit/.test(e.message));
  });

  test(`${name}: a sign-in token: sealed without a store write, opened on another replica, forged or of another kind refused; consumed once across replicas`, async () => {
    const { a, b, db, clock } = await pair();
    const token = a.sealToken('oidc', { v: 'verifier-secret', n: 'nonce' }, 600_000);
    assert.match(token, /^[A-Za-z0-9_-]+$/);
    assert.ok(!token.includes('verifier'));
    assert.equal((await db.query('SELECT 1 FROM console_signin_flows')).length, 0, 'sealing writes nothing');
    assert.deepEqual(b.openToken('oidc', token), { data: { v: 'verifier-secret', n: 'nonce' }, expiresAt: T0 + 600_000, expired: false });
    assert.equal(b.openToken('saml', token), undefined, 'kinds are apart');
    assert.equal(new SignInFlows(db, clock, randomBytes(32)).openToken('oidc', token), undefined, 'another key does not open it');
    const flipped = `${token.slice(0, 20)}${token[20] === 'A' ? 'B' : 'A'}${token.slice(21)}`;
    assert.equal(b.openToken('oidc', flipped), undefined, 'a tampered token does not open');
    assert.equal(b.openToken('oidc', 'x'.repeat(2000)), undefined);
    assert.equal((await db.query('SELECT 1 FROM console_signin_flows')).length, 0, 'opening writes nothing');
    const race = await Promise.all([a.consume('oidc', token, T0 + 600_000, 10), b.consume('oidc', token, T0 + 600_000, 10)]);
    assert.deepEqual(race.sort(), ['new', 'seen']);
    const rows = await db.query('SELECT * FROM console_signin_flows');
    assert.equal(rows.length, 1);
    assert.ok(!JSON.stringify(rows).includes(token), 'the token is not stored');
    assert.equal(await b.consume('saml', token, T0 + 600_000, 10), 'new', 'kinds are apart');
    clock.advance(600_000);
    assert.equal(a.openToken('oidc', token)?.expired, true);
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
