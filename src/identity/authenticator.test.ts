import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair, SignJWT } from 'jose';
import { manualClock } from '../kernel/clock.ts';
import { isGatehouseError } from '../kernel/errors.ts';
import { openEmbedded } from '../store/embedded.ts';
import { migrate } from '../store/migrate.ts';
import type { SqlDriver } from '../store/sql.ts';
import { ApiKeys } from './api-keys.ts';
import { Authenticator } from './authenticator.ts';
import { BuiltinIssuer } from './issuer.ts';
import { OidcVerifier } from './oidc.ts';

const T0 = Date.UTC(2030, 0, 1);
const clock = manualClock(T0);
let db: SqlDriver;
let keys: ApiKeys;
let issuer: BuiltinIssuer;
let oidc: OidcVerifier;
let auth: Authenticator;

before(async () => {
  db = await openEmbedded(undefined);
  await migrate(db);
  keys = new ApiKeys(db, clock);
  issuer = await BuiltinIssuer.open(db, clock, { issuer: 'http://127.0.0.1:8080', audience: 'gatehouse', tokenTtlMs: 600_000 });
  // A trusted issuer nobody listens on: tokens naming it are routed to OIDC, which fails closed.
  oidc = new OidcVerifier([{ issuer: 'http://127.0.0.1:9', audience: 'gatehouse', groupsClaim: 'groups', userClaim: 'sub', algorithms: ['ES256'], jwksCacheMs: 60_000 }], clock, { timeoutMs: 2000 });
  auth = new Authenticator({ apiKeys: keys, issuer, oidc });
});
after(async () => { await db.close(); });

const rejects = (p: Promise<unknown>, code: string): Promise<void> =>
  assert.rejects(p, (e: unknown) => isGatehouseError(e) && e.code === code);

async function foreignJwt(iss: string): Promise<string> {
  const { privateKey } = await generateKeyPair('ES256');
  return new SignJWT({ groups: ['admins'] }).setProtectedHeader({ alg: 'ES256', kid: 'k' })
    .setIssuer(iss).setAudience('gatehouse').setSubject('mallory').setIssuedAt(T0 / 1000).setExpirationTime(T0 / 1000 + 60)
    .sign(privateKey);
}

describe('Authenticator', () => {
  test('dispatches API keys and built-in tokens', async () => {
    const { key } = await keys.create({ user: 'alice', groups: ['dev'] });
    const byKey = await auth.authenticate(key);
    assert.equal(byKey.via, 'api_key');
    assert.equal(byKey.id, 'alice');
    const { access_token } = await issuer.issue(byKey);
    const byJwt = await auth.authenticate(access_token);
    assert.equal(byJwt.via, 'gatehouse_jwt');
    assert.equal(byJwt.id, 'alice');
  });

  test('rejects what no verifier claims, and tokens from untrusted issuers', async () => {
    await rejects(auth.authenticate(''), 'invalid_credential');
    await rejects(auth.authenticate('sk-live-123'), 'invalid_credential');
    await rejects(auth.authenticate('a.b.c'), 'invalid_credential');
    await rejects(auth.authenticate('x'.repeat(20_000)), 'invalid_credential');
    await rejects(auth.authenticate(await foreignJwt('https://evil.example')), 'invalid_credential');
    await rejects(auth.authenticate('ghk_nope'), 'invalid_credential');
  });

  test('a token forged in the built-in issuer\'s name is rejected', async () => {
    await rejects(auth.authenticate(await foreignJwt(issuer.issuer)), 'invalid_token');
  });

  test('a configured external issuer that cannot be reached fails closed', async () => {
    const token = await foreignJwt('http://127.0.0.1:9');
    assert.equal(oidc.handles(token), true);
    await rejects(auth.authenticate(token), 'invalid_token');
  });

  test('unexpected errors become invalid_credential, never escape raw', async () => {
    const broken = new Authenticator({
      apiKeys: { verify: () => Promise.reject(new TypeError('boom')) } as unknown as ApiKeys, issuer, oidc,
    });
    await assert.rejects(broken.authenticate('ghk_' + 'A'.repeat(40)), (e: unknown) => isGatehouseError(e, 'invalid_credential') && !e.message.includes('boom'));
  });
});
