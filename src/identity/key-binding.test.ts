import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { manualClock } from '../kernel/clock.ts';
import { isGatehouseError } from '../kernel/errors.ts';
import { openStore } from '../store/index.ts';
import type { SqlDriver } from '../store/sql.ts';
import { getTestPostgres, pgSkip } from '../../test/harness/postgres-server.ts';
import { API_KEY_REVOKED_CHANNEL, ApiKeys } from './api-keys.ts';
import { Authenticator } from './authenticator.ts';
import { principalFromClaims } from './issuer-claims.ts';
import { BuiltinIssuer } from './issuer.ts';
import { OidcVerifier } from './oidc.ts';
import {
  GRANT_CLIENT_CREDENTIALS, GRANT_TOKEN_EXCHANGE, handleTokenRequest, TOKEN_TYPE_ACCESS_TOKEN,
} from './token-endpoint.ts';

/**
 * Tokens minted from API keys die with the keys (issue 17 §2): client_credentials JWTs, tokens
 * exchanged from them, on this replica and on another one sharing the store, through the key cache.
 */

const T0 = Date.UTC(2030, 0, 1);
const ISS = 'http://127.0.0.1:8080';
const invalid = (e: unknown): boolean => isGatehouseError(e, 'invalid_credential');

interface Replica { readonly keys: ApiKeys; readonly auth: Authenticator; readonly issuer: BuiltinIssuer }

async function replica(db: SqlDriver, started: boolean): Promise<Replica> {
  const clock = manualClock(T0);
  const keys = new ApiKeys(db, clock);
  if (started) await keys.start();
  const issuer = await BuiltinIssuer.open(db, clock, { issuer: ISS, audience: 'gatehouse', tokenTtlMs: 3_600_000 });
  return { keys, issuer, auth: new Authenticator({ apiKeys: keys, issuer, oidc: new OidcVerifier([], clock) }) };
}

async function mint(r: Replica, key: string): Promise<string> {
  const out = await handleTokenRequest(new URLSearchParams({ grant_type: GRANT_CLIENT_CREDENTIALS, client_secret: key }), undefined,
    { authenticate: (c) => r.auth.authenticate(c), issuer: r.issuer });
  assert.equal(out.status, 200, JSON.stringify(out.body));
  return String(out.body.access_token);
}

async function exchange(r: Replica, subject: string, actor: string): Promise<{ status: number; token: string; error?: unknown }> {
  const out = await handleTokenRequest(new URLSearchParams({
    grant_type: GRANT_TOKEN_EXCHANGE, subject_token: subject, subject_token_type: TOKEN_TYPE_ACCESS_TOKEN,
    actor_token: actor, actor_token_type: TOKEN_TYPE_ACCESS_TOKEN,
  }), undefined, { authenticate: (c) => r.auth.authenticate(c), issuer: r.issuer });
  return { status: out.status, token: String(out.body.access_token), error: out.body.error };
}

/** Resolves when `keys`' replica has received the revocation of `id` (its cache dropped it). */
function revocationSeen(db: SqlDriver, id: string): Promise<() => Promise<void>> {
  return new Promise((resolve, reject) => {
    let seen: (() => void) | undefined;
    const arrived = new Promise<void>((r) => { seen = r; });
    db.listen(API_KEY_REVOKED_CHANNEL, (p) => { if (p === id) seen?.(); })
      .then((unlisten) => resolve(async () => { await arrived; await unlisten(); }), reject);
  });
}

for (const started of [false, true]) {
  describe(`key-bound tokens (embedded store, key cache ${started ? 'on' : 'off'})`, () => {
    let db: SqlDriver;
    let r: Replica;
    before(async () => { db = await openStore({ embedded: { path: undefined } }); r = await replica(db, started); });
    after(async () => { await r.keys.close(); await db.close(); });

    test('a client_credentials JWT stops working when its key is revoked', async () => {
      const { key, record } = await r.keys.create({ agent: 'bot', groups: ['bots'] });
      const jwt = await mint(r, key);
      const p = await r.auth.authenticate(jwt);
      assert.deepEqual(p.boundKeys, [record.id]);
      await r.auth.authenticate(jwt); // served through the cache when it is on
      assert.equal(await r.keys.revoke(record.id), true);
      await assert.rejects(r.auth.authenticate(jwt), invalid);
      await assert.rejects(r.auth.authenticate(key), invalid);
    });

    test('a token exchanged from key-derived credentials dies with either key', async () => {
      for (const revoke of ['subject', 'actor'] as const) {
        const user = await r.keys.create({ user: 'alice', groups: ['dev'] });
        const agent = await r.keys.create({ agent: 'bot', groups: ['bots'] });
        const subjectJwt = await mint(r, user.key);
        const out = await exchange(r, subjectJwt, agent.key);
        assert.equal(out.status, 200);
        const p = await r.auth.authenticate(out.token);
        assert.deepEqual(p.boundKeys, [user.record.id, agent.record.id].sort());
        await r.keys.revoke(revoke === 'subject' ? user.record.id : agent.record.id);
        await assert.rejects(r.auth.authenticate(out.token), invalid, `revoking the ${revoke} key kills the exchanged token`);
      }
    });

    test('a revoked key\'s JWT cannot be used as subject_token or actor_token', async () => {
      const user = await r.keys.create({ user: 'alice', groups: ['dev'] });
      const agent = await r.keys.create({ agent: 'bot', groups: ['bots'] });
      const userJwt = await mint(r, user.key);
      const agentJwt = await mint(r, agent.key);
      assert.equal((await exchange(r, userJwt, agentJwt)).status, 200);
      await r.keys.revoke(user.record.id);
      assert.equal((await exchange(r, userJwt, agent.key)).error, 'invalid_request');
      const user2 = await r.keys.create({ user: 'alice', groups: ['dev'] });
      await r.keys.revoke(agent.record.id);
      assert.equal((await exchange(r, user2.key, agentJwt)).error, 'invalid_request');
    });
  });
}

describe('gh_keys claim', () => {
  const base = { sub: 'alice', jti: 'j', exp: 2_000_000_000, gh_kind: 'user', groups: [] };
  test('malformed bindings are refused (fail closed)', () => {
    for (const gh_keys of [[], 'AbCd1234', ['short'], [1], Array.from({ length: 9 }, (_, i) => `AbCd123${i}`), ['AbCd1234', null]]) {
      assert.throws(() => principalFromClaims({ ...base, gh_keys }, ISS), (e) => isGatehouseError(e, 'invalid_token'), JSON.stringify(gh_keys));
    }
    assert.deepEqual(principalFromClaims({ ...base, gh_keys: ['AbCd1234'] }, ISS).boundKeys, ['AbCd1234']);
  });

  test('a signed token bound to an unknown key id is rejected', async () => {
    const db = await openStore({ embedded: { path: undefined } });
    try {
      const r = await replica(db, true);
      const { key } = await r.keys.create({ agent: 'bot' });
      const good = await r.auth.authenticate(await mint(r, key));
      const forged = await r.issuer.issue({ ...good, via: 'gatehouse_jwt', boundKeys: ['Zz9Zz9Zz'] });
      await assert.rejects(r.auth.authenticate(forged.access_token), invalid);
      await r.keys.close();
    } finally {
      await db.close();
    }
  });
});

const skip = await pgSkip();
describe('key-bound tokens on two replicas (one PostgreSQL store)', { skip }, () => {
  test('revoking on replica A kills on replica B a JWT that B minted and had cached', async () => {
    const pg = await getTestPostgres();
    assert.ok(pg, 'a PostgreSQL server was promised by pgSkip()');
    const dbA = await openStore({ postgres: { url: pg.url, poolMax: 2 } });
    const dbB = await openStore({ postgres: { url: pg.url, poolMax: 2 } });
    try {
      const a = await replica(dbA, true);
      const b = await replica(dbB, true);
      const { key, record } = await a.keys.create({ agent: 'bot' });
      const jwt = await mint(b, key);
      await b.auth.authenticate(jwt);
      const wait = await revocationSeen(dbB, record.id);
      await a.keys.revoke(record.id);
      await wait();
      await assert.rejects(b.auth.authenticate(jwt), invalid);
      await a.keys.close();
      await b.keys.close();
    } finally {
      await dbA.close();
      await dbB.close();
      await pg.stop();
    }
  });
});
