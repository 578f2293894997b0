import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { base64url, decodeJwt, decodeProtectedHeader, exportSPKI, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import { manualClock } from '../../src/kernel/clock.ts';
import { isGatehouseError } from '../../src/kernel/errors.ts';
import { openEmbedded } from '../../src/store/embedded.ts';
import { migrate } from '../../src/store/migrate.ts';
import { ApiKeys } from '../../src/identity/api-keys.ts';
import { Authenticator } from '../../src/identity/authenticator.ts';
import { BuiltinIssuer } from '../../src/identity/issuer.ts';
import { OidcVerifier, type IssuerSettings } from '../../src/identity/oidc.ts';
import { handleTokenRequest, GRANT_TOKEN_EXCHANGE, TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_JWT } from '../../src/identity/token-endpoint.ts';
import { startOidcProvider, type OidcProviderHarness } from '../harness/oidc-provider.ts';

const AUDIENCE = 'https://gatehouse.test';
let op: OidcProviderHarness;
let other: OidcProviderHarness;

before(async () => {
  op = await startOidcProvider({ audience: AUDIENCE, groups: ['dev', 'ops'] });
  other = await startOidcProvider({ audience: AUDIENCE, groups: ['admins'] });
});
after(async () => {
  await op.stop();
  await other.stop();
});

const settings = (issuer: string, extra: Partial<IssuerSettings> = {}): IssuerSettings => ({
  issuer, audience: AUDIENCE, groupsClaim: 'groups', userClaim: 'sub', algorithms: ['ES256', 'RS256'], jwksCacheMs: 600_000, ...extra,
});

async function rejectsToken(p: Promise<unknown>): Promise<void> {
  await assert.rejects(p, (e: unknown) => isGatehouseError(e, 'invalid_token'));
}

/** Signs `payload` with a key nobody publishes. */
async function foreign(payload: Record<string, unknown>, kid: string): Promise<string> {
  const { privateKey } = await generateKeyPair('ES256');
  return new SignJWT(payload).setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' }).sign(privateKey);
}

describe('external OIDC against a real oidc-provider', () => {
  test('a provider token verifies and yields the user and groups', async () => {
    const oidc = new OidcVerifier([settings(op.issuer)], manualClock(Date.now()));
    const token = await op.getToken();
    assert.equal(oidc.handles(token), true);
    const p = await oidc.verify(token);
    assert.equal(p.kind, 'user');
    assert.equal(p.via, 'oidc');
    assert.equal(p.id, op.clientId);
    assert.deepEqual(p.groups, ['dev', 'ops']);
    assert.equal(p.issuer, op.issuer);
    assert.equal(p.expiresAt, (decodeJwt(token).exp ?? 0) * 1000);
  });

  test('groups from a space-separated claim, or none when the claim is absent', async () => {
    const clock = manualClock(Date.now());
    const token = await op.getToken();
    assert.deepEqual((await new OidcVerifier([settings(op.issuer, { groupsClaim: 'scope' })], clock).verify(token)).groups, ['api']);
    assert.deepEqual((await new OidcVerifier([settings(op.issuer, { groupsClaim: 'roles' })], clock).verify(token)).groups, []);
  });

  test('wrong audience is rejected', async () => {
    const oidc = new OidcVerifier([settings(op.issuer)], manualClock(Date.now()));
    await rejectsToken(oidc.verify(await op.getToken('https://someone-else.test')));
  });

  test('wrong issuer is rejected, and discovery must name the configured issuer', async () => {
    const clock = manualClock(Date.now());
    const oidc = new OidcVerifier([settings(op.issuer)], clock);
    const fromOther = await other.getToken();
    assert.equal(oidc.handles(fromOther), false);
    await rejectsToken(oidc.verify(fromOther));
    // Configured as "localhost": the provider's discovery says 127.0.0.1, so nothing is trusted.
    const alias = op.issuer.replace('127.0.0.1', 'localhost');
    const aliased = new OidcVerifier([settings(alias)], clock);
    const before = op.jwksRequests();
    const claims = { ...decodeJwt(await op.getToken()), iss: alias };
    await rejectsToken(aliased.verify(await foreign(claims, 'whatever')));
    assert.equal(op.jwksRequests(), before, 'the JWKS of a mismatching discovery document is never fetched');
  });

  test('expiry follows the injected clock', async () => {
    const clock = manualClock(Date.now());
    const oidc = new OidcVerifier([settings(op.issuer)], clock);
    const token = await op.getToken();
    await oidc.verify(token);
    clock.advance(2 * 3_600_000);
    await rejectsToken(oidc.verify(token));
  });

  test('tampered tokens are rejected', async () => {
    const oidc = new OidcVerifier([settings(op.issuer)], manualClock(Date.now()));
    const [h, p, s] = (await op.getToken()).split('.') as [string, string, string];
    const claims = JSON.parse(new TextDecoder().decode(base64url.decode(p))) as Record<string, unknown>;
    claims.groups = ['admins'];
    await rejectsToken(oidc.verify(`${h}.${base64url.encode(JSON.stringify(claims))}.${s}`));
    await rejectsToken(oidc.verify(`${h}.${p}.${s.slice(0, -4)}AAAA`));
  });

  test('alg none and HS256 keyed with the public key are rejected', async () => {
    const oidc = new OidcVerifier([settings(op.issuer)], manualClock(Date.now()));
    const good = await op.getToken();
    await oidc.verify(good);
    const kid = decodeProtectedHeader(good).kid!;
    const payload = decodeJwt(good);
    const none = `${base64url.encode(JSON.stringify({ alg: 'none', kid }))}.${good.split('.')[1]!}.`;
    await rejectsToken(oidc.verify(none));
    const jwks = (await (await fetch(`${op.issuer}/jwks`)).json()) as { keys: JWK[] };
    const pub = jwks.keys.find((k) => k.kid === kid)!;
    const pem = await exportSPKI(await importJWK(pub, 'ES256', { extractable: true }) as CryptoKey);
    for (const secret of [pem, JSON.stringify(pub)]) {
      const forged = await new SignJWT(payload).setProtectedHeader({ alg: 'HS256', kid }).sign(new TextEncoder().encode(secret));
      await rejectsToken(oidc.verify(forged));
    }
    assert.throws(() => new OidcVerifier([settings(op.issuer, { algorithms: ['HS256'] })], manualClock(0)), (e: unknown) => isGatehouseError(e, 'config_invalid'));
    assert.throws(() => new OidcVerifier([settings(op.issuer, { algorithms: ['none'] })], manualClock(0)), (e: unknown) => isGatehouseError(e, 'config_invalid'));
  });

  test('an unknown kid triggers one JWKS refresh (rotation works); a kid that is nowhere is rejected', async () => {
    const clock = manualClock(Date.now());
    const oidc = new OidcVerifier([settings(op.issuer)], clock, { refreshCooldownMs: 30_000 });
    const oldToken = await op.getToken();
    await oidc.verify(oldToken);
    const afterFirst = op.jwksRequests();

    await op.rotateKeys();
    const newToken = await op.getToken();
    assert.notEqual(decodeProtectedHeader(newToken).kid, decodeProtectedHeader(oldToken).kid);
    assert.deepEqual((await oidc.verify(newToken)).groups, ['dev', 'ops']);
    assert.equal(op.jwksRequests(), afterFirst + 1, 'the new kid caused exactly one JWKS fetch');
    await oidc.verify(oldToken);

    const nowhere = await foreign({ ...decodeJwt(newToken) }, 'kid-that-is-nowhere');
    await rejectsToken(oidc.verify(nowhere));
    assert.equal(op.jwksRequests(), afterFirst + 1, 'within the cooldown, no further fetch');
    clock.advance(31_000);
    await rejectsToken(oidc.verify(nowhere));
    assert.equal(op.jwksRequests(), afterFirst + 2, 'after the cooldown, one refresh, then rejection');
    await rejectsToken(oidc.verify(nowhere));
    assert.equal(op.jwksRequests(), afterFirst + 2);
  });
});

describe('external OIDC through the authenticator and token exchange', () => {
  test('an IdP user token + an agent key exchange into a delegated Gatehouse JWT', async () => {
    const clock = manualClock(Date.now());
    const db = await openEmbedded(undefined);
    try {
      await migrate(db);
      const apiKeys = new ApiKeys(db, clock);
      const issuer = await BuiltinIssuer.open(db, clock, { issuer: 'http://127.0.0.1:8080', audience: 'gatehouse', tokenTtlMs: 24 * 3_600_000 });
      const auth = new Authenticator({ apiKeys, issuer, oidc: new OidcVerifier([settings(op.issuer)], clock) });
      const userToken = await op.getToken();
      assert.equal((await auth.authenticate(userToken)).via, 'oidc');
      await assert.rejects(auth.authenticate(await other.getToken()), (e: unknown) => isGatehouseError(e, 'invalid_credential'));

      const { key: agentKey } = await apiKeys.create({ agent: 'report-bot', groups: ['bots'] });
      const out = await handleTokenRequest(new URLSearchParams({
        grant_type: GRANT_TOKEN_EXCHANGE, subject_token: userToken, subject_token_type: TOKEN_TYPE_JWT,
        actor_token: agentKey, actor_token_type: TOKEN_TYPE_ACCESS_TOKEN,
      }), undefined, { authenticate: (c) => auth.authenticate(c), issuer });
      assert.equal(out.status, 200, JSON.stringify(out.body));
      const exchanged = String(out.body.access_token);
      assert.ok((decodeJwt(exchanged).exp ?? Infinity) <= (decodeJwt(userToken).exp ?? 0), 'never outlives the subject token');
      const p = await auth.authenticate(exchanged);
      assert.equal(p.via, 'gatehouse_jwt');
      assert.equal(p.id, op.clientId);
      assert.deepEqual(p.groups, ['dev', 'ops']);
      assert.deepEqual(p.agent, { id: 'report-bot', groups: ['bots'] });
    } finally {
      await db.close();
    }
  });
});
