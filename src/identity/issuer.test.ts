import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { base64url, decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT } from 'jose';
import { manualClock } from '../kernel/clock.ts';
import { isGatehouseError } from '../kernel/errors.ts';
import { openEmbedded } from '../store/embedded.ts';
import { migrate } from '../store/migrate.ts';
import type { SqlDriver } from '../store/sql.ts';
import { BuiltinIssuer } from './issuer.ts';
import type { Principal } from './principal.ts';

const T0 = Date.UTC(2030, 0, 1);
const ISS = 'http://127.0.0.1:8080';
const TTL = 3_600_000;
const alice: Principal = { kind: 'user', id: 'alice', groups: ['dev'], via: 'api_key' };
const delegated: Principal = { kind: 'user', id: 'alice', groups: ['dev'], agent: { id: 'bot', groups: ['bots'] }, via: 'api_key' };
let db: SqlDriver;

before(async () => {
  db = await openEmbedded(undefined);
  await migrate(db);
});
after(async () => { await db.close(); });

const open = (clock = manualClock(T0), audience = 'gatehouse', issuer = ISS): Promise<BuiltinIssuer> =>
  BuiltinIssuer.open(db, clock, { issuer, audience, tokenTtlMs: TTL });

async function rejectsToken(p: Promise<unknown>): Promise<void> {
  await assert.rejects(p, (e: unknown) => isGatehouseError(e, 'invalid_token'));
}

describe('BuiltinIssuer', () => {
  test('two replicas opening at once agree on one active key', async () => {
    await db.query('DELETE FROM signing_keys');
    const [a, b] = await Promise.all([open(), open()]);
    const active = await db.query<{ kid: string }>("SELECT kid FROM signing_keys WHERE status = 'active'");
    assert.equal(active.length, 1);
    assert.deepEqual(a.jwks().keys.map((k) => k.kid), [active[0]!.kid]);
    assert.deepEqual(b.jwks().keys.map((k) => k.kid), [active[0]!.kid]);
  });

  test('issues ES256 tokens with the documented claims, and verifies them', async () => {
    const iss = await open();
    const { access_token, expires_in } = await iss.issue(alice);
    assert.equal(expires_in, TTL / 1000);
    const header = decodeProtectedHeader(access_token);
    assert.equal(header.alg, 'ES256');
    assert.equal(header.typ, 'at+jwt');
    const claims = decodeJwt(access_token);
    assert.equal(claims.iss, ISS);
    assert.equal(claims.aud, 'gatehouse');
    assert.equal(claims.sub, 'alice');
    assert.equal(claims.gh_kind, 'user');
    assert.deepEqual(claims.groups, ['dev']);
    assert.equal(claims.iat, T0 / 1000);
    assert.equal(claims.nbf, T0 / 1000);
    assert.equal(claims.exp, (T0 + TTL) / 1000);
    assert.equal(typeof claims.jti, 'string');
    assert.equal(claims.act, undefined);
    const p = await iss.verify(access_token);
    assert.deepEqual(p, { kind: 'user', id: 'alice', groups: ['dev'], via: 'gatehouse_jwt', credentialId: claims.jti, issuer: ISS, expiresAt: T0 + TTL });
  });

  test('delegated and agent principals round-trip', async () => {
    const iss = await open();
    const d = await iss.verify((await iss.issue(delegated)).access_token);
    assert.equal(d.id, 'alice');
    assert.deepEqual(d.agent, { id: 'bot', groups: ['bots'] });
    assert.deepEqual(decodeJwt((await iss.issue(delegated)).access_token).act, { sub: 'bot', groups: ['bots'] });
    const a = await iss.verify((await iss.issue({ kind: 'agent', id: 'etl', groups: ['pipes'], via: 'api_key' })).access_token);
    assert.equal(a.kind, 'agent');
    assert.equal(a.agent, undefined);
  });

  test('a token never outlives its credential', async () => {
    const iss = await open();
    const out = await iss.issue({ ...alice, expiresAt: T0 + 90_000 });
    assert.equal(out.expires_in, 90);
    assert.equal((await iss.issue(alice, { expiresAt: T0 + 10_000 })).expires_in, 10);
    await assert.rejects(iss.issue({ ...alice, expiresAt: T0 + 500 }), (e: unknown) => isGatehouseError(e, 'invalid_grant'));
  });

  test('wrong audience and wrong issuer are rejected', async () => {
    const other = await open(manualClock(T0), 'someone-else');
    const token = (await other.issue(alice)).access_token;
    await rejectsToken((await open()).verify(token));
    const otherIss = await open(manualClock(T0), 'gatehouse', 'http://evil.example');
    await rejectsToken((await open()).verify((await otherIss.issue(alice)).access_token));
  });

  test('expiry and not-before follow the injected clock, with a small skew', async () => {
    const clock = manualClock(T0);
    const iss = await open(clock);
    const { access_token } = await iss.issue(alice);
    clock.set(T0 + TTL + 29_000);
    await iss.verify(access_token);
    clock.set(T0 + TTL + 31_000);
    await rejectsToken(iss.verify(access_token));
    clock.set(T0 - 60_000);
    await rejectsToken(iss.verify(access_token));
  });

  test('tampered payload or signature is rejected', async () => {
    const iss = await open();
    const [h, p, s] = (await iss.issue(alice)).access_token.split('.') as [string, string, string];
    const claims = JSON.parse(new TextDecoder().decode(base64url.decode(p))) as Record<string, unknown>;
    claims.groups = ['admins'];
    const forgedPayload = base64url.encode(JSON.stringify(claims));
    await rejectsToken(iss.verify(`${h}.${forgedPayload}.${s}`));
    const sig = Buffer.from(base64url.decode(s));
    sig[0] = sig[0]! ^ 1;
    await rejectsToken(iss.verify(`${h}.${p}.${base64url.encode(sig)}`));
    await rejectsToken(iss.verify('not.a.token'));
    await rejectsToken(iss.verify('x'.repeat(20_000)));
  });

  test('alg none, HS256 keyed with the public key, and foreign keys are rejected', async () => {
    const iss = await open();
    const good = (await iss.issue(alice)).access_token;
    const [, p] = good.split('.') as [string, string];
    const kid = decodeProtectedHeader(good).kid!;
    const noneHeader = base64url.encode(JSON.stringify({ alg: 'none', kid, typ: 'at+jwt' }));
    await rejectsToken(iss.verify(`${noneHeader}.${p}.`));
    const pub = iss.jwks().keys.find((k) => k.kid === kid)!;
    const claims = decodeJwt(good);
    for (const secret of [JSON.stringify(pub), `${pub.x}${pub.y}`]) {
      const hs = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid, typ: 'at+jwt' }).sign(new TextEncoder().encode(secret));
      await rejectsToken(iss.verify(hs));
    }
    const { privateKey } = await generateKeyPair('ES256');
    const foreign = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' }).sign(privateKey);
    await rejectsToken(iss.verify(foreign));
    const unknownKid = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'nowhere', typ: 'at+jwt' }).sign(privateKey);
    await rejectsToken(iss.verify(unknownKid));
  });

  test('JWKS holds public keys only', async () => {
    const iss = await open();
    for (const k of iss.jwks().keys) {
      assert.equal(k.d, undefined);
      assert.equal(k.kty, 'EC');
      assert.equal(k.crv, 'P-256');
      assert.equal(k.alg, 'ES256');
    }
    const d = iss.discovery();
    assert.equal(d.jwks_uri, `${ISS}/oauth/jwks`);
    assert.equal(d.token_endpoint, `${ISS}/oauth/token`);
    assert.deepEqual(d.id_token_signing_alg_values_supported, ['ES256']);
  });

  test('rotation keeps old tokens valid; other replicas learn the new key; old keys age out', async () => {
    const clock = manualClock(T0);
    const a = await open(clock);
    const b = await open(clock);
    const old = (await a.issue(alice)).access_token;
    const oldKid = decodeProtectedHeader(old).kid;
    await a.rotate();
    const fresh = (await a.issue(alice)).access_token;
    const newKid = decodeProtectedHeader(fresh).kid;
    assert.notEqual(newKid, oldKid);
    assert.deepEqual(new Set(a.jwks().keys.map((k) => k.kid)), new Set([oldKid, newKid]));
    await a.verify(old);
    await b.verify(fresh); // b has never seen the new kid: one store lookup finds it
    await b.verify(old);
    clock.advance(TTL + 120_000);
    assert.deepEqual(a.jwks().keys.map((k) => k.kid), [newKid]);
    await rejectsToken(a.verify(old));
  });

  test('private keys can be sealed at rest with a master key', async () => {
    await db.query('DELETE FROM signing_keys');
    const masterKey = randomBytes(32);
    const iss = await BuiltinIssuer.open(db, manualClock(T0), { issuer: ISS, audience: 'gatehouse', tokenTtlMs: TTL, masterKey });
    await iss.verify((await iss.issue(alice)).access_token);
    const rows = await db.query<{ p: string }>('SELECT private_jwk::text AS p FROM signing_keys');
    assert.match(rows[0]!.p, /^\{"sealed": "v1:/);
    await assert.rejects(open(), (e: unknown) => isGatehouseError(e, 'config_invalid'));
    await db.query('DELETE FROM signing_keys');
    const plain = await open();
    const stored = (await db.query<{ p: Record<string, unknown> }>('SELECT private_jwk AS p FROM signing_keys'))[0]!.p;
    assert.equal(typeof stored.d, 'string', 'unsealed keys are kept as a private JWK (documented)');
    assert.equal(plain.jwks().keys.length, 1);
  });
});
