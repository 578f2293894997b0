import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKeys } from '../identity/api-keys.ts';
import type { Principal } from '../identity/principal.ts';
import { manualClock, manualTimers } from '../kernel/clock.ts';
import { openEmbedded } from '../store/embedded.ts';
import { migrate } from '../store/migrate.ts';
import type { SqlDriver } from '../store/sql.ts';
import { SessionRevoker, type RevocableSession, type RevokeReason } from './session-revoker.ts';

/** The revoker against real ApiKeys on the embedded store: events, the sweep, expiry, bystanders. */

const T0 = Date.UTC(2030, 0, 1);
let db: SqlDriver;
before(async () => { db = await openEmbedded(undefined); await migrate(db); });
after(async () => { await db.close(); });

class FakeSession implements RevocableSession {
  ended: { keyId: string; why: string } | undefined;
  readonly principal: Principal;
  constructor(principal: Principal) { this.principal = principal; }
  endRevoked(keyId: string, why: RevokeReason): void { this.ended ??= { keyId, why }; }
}

const silent = { warn: (): void => undefined };
const viaKey = (id: string): Principal => ({ kind: 'user', id: 'alice', groups: [], via: 'api_key', credentialId: id });
const viaToken = (...ids: string[]): Principal => ({ kind: 'user', id: 'alice', groups: [], via: 'gatehouse_jwt', credentialId: 'jti1', boundKeys: ids });

describe('SessionRevoker', () => {
  test('a revocation ends the sessions of that key and of tokens bound to it, nothing else', async () => {
    const keys = new ApiKeys(db, manualClock(T0));
    const k1 = (await keys.create({ user: 'alice' })).record.id;
    const k2 = (await keys.create({ user: 'alice' })).record.id;
    const sessions = [new FakeSession(viaKey(k1)), new FakeSession(viaToken(k2, k1)), new FakeSession(viaKey(k2)),
      new FakeSession({ kind: 'user', id: 'alice', groups: [], via: 'oidc', credentialId: k1 })];
    const r = new SessionRevoker({ apiKeys: keys, log: silent }, () => sessions, 0);
    r.start();
    assert.equal(await keys.revoke(k1), true);
    assert.deepEqual(sessions.map((s) => s.ended?.keyId), [k1, k1, undefined, undefined], 'an OIDC jti equal to a key id is not a key');
    r.stop();
    assert.equal(await keys.revoke(k2), true);
    assert.equal(sessions[2]?.ended, undefined, 'stopped: no longer listening');
    await keys.close();
  });

  test('the sweep ends sessions whose key was revoked unseen (lost notification) or has expired', async () => {
    const clock = manualClock(T0);
    const keys = new ApiKeys(db, clock);
    const revokedElsewhere = (await keys.create({ user: 'alice' })).record.id;
    const expiring = (await keys.create({ user: 'alice', expiresAt: T0 + 60_000 })).record.id;
    const fine = (await keys.create({ user: 'alice' })).record.id;
    const sessions = [new FakeSession(viaKey(revokedElsewhere)), new FakeSession(viaToken(fine, expiring)), new FakeSession(viaKey(fine))];
    const r = new SessionRevoker({ apiKeys: keys, log: silent }, () => sessions, 0);
    // Revoked behind this ApiKeys' back (no event): only the sweep can see it.
    await db.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1', [revokedElsewhere]);
    await r.sweep();
    assert.deepEqual(sessions.map((s) => s.ended?.keyId), [revokedElsewhere, undefined, undefined]);
    clock.advance(60_001);
    await r.sweep();
    assert.deepEqual(sessions.map((s) => s.ended), [
      { keyId: revokedElsewhere, why: 'revoked or expired' }, { keyId: expiring, why: 'revoked or expired' }, undefined,
    ]);
    await keys.close();
  });

  test('the sweep ends sessions whose own credential has expired (an OIDC/SAML-minted token, no key), and only those', async () => {
    const clock = manualClock(T0);
    const keys = new ApiKeys(db, clock);
    const minted = (jti: string, expiresAt: number): Principal => ({ kind: 'user', id: 'alice', groups: [], via: 'gatehouse_jwt', credentialId: jti, expiresAt });
    const sessions = [new FakeSession(minted('jti_short', T0 + 60_000)), new FakeSession(minted('jti_long', T0 + 3_600_000)),
      new FakeSession({ kind: 'user', id: 'bob', groups: [], via: 'oidc', expiresAt: T0 + 60_000 }), new FakeSession({ kind: 'user', id: 'carol', groups: [], via: 'saml' })];
    const r = new SessionRevoker({ apiKeys: keys, log: silent, clock }, () => sessions, 0);
    await r.sweep();
    assert.deepEqual(sessions.map((s) => s.ended), [undefined, undefined, undefined, undefined], 'nothing has expired yet');
    clock.advance(60_000);
    await r.sweep();
    assert.deepEqual(sessions.map((s) => s.ended), [
      { keyId: 'jti_short', why: 'expired' }, undefined, { keyId: 'oidc', why: 'expired' }, undefined,
    ], 'expiresAt <= now ends the session; a later expiry and no expiry do not');
    await keys.close();
  });

  test('the periodic sweep runs every recheck interval on the injected clock, and stop() ends it', async () => {
    const timers = manualTimers(T0);
    let checks = 0;
    const keys = { onRevoked: () => () => undefined, assertLive: () => { checks++; return Promise.resolve(); } };
    const r = new SessionRevoker({ apiKeys: keys, log: silent, clock: timers }, () => [new FakeSession(viaKey('AbCd1234'))], 30_000);
    r.start();
    r.start(); // idempotent: one timer
    assert.equal(timers.pending(), 1);
    timers.advance(29_999);
    assert.equal(checks, 0);
    timers.advance(1);
    await Promise.resolve();
    assert.equal(checks, 1);
    for (let i = 0; i < 2; i++) {
      await new Promise((res) => { setImmediate(res); }); // the sweep in progress ends (one at a time)
      timers.advance(30_000);
    }
    assert.equal(checks, 3);
    r.stop();
    assert.equal(timers.pending(), 0);
    timers.advance(60_000);
    assert.equal(checks, 3);
  });

  test('a store that cannot answer ends nothing (logged)', async () => {
    const warned: string[] = [];
    const down = { onRevoked: () => () => undefined, assertLive: () => Promise.reject(new Error('store down')) };
    const s = new FakeSession(viaKey('AbCd1234'));
    const r = new SessionRevoker({ apiKeys: down, log: { warn: (_o: object, m: string) => { warned.push(m); } } }, () => [s], 0);
    await r.sweep();
    assert.equal(s.ended, undefined);
    assert.equal(warned.length, 1);
  });
});
