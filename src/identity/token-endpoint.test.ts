import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { manualClock } from '../kernel/clock.ts';
import { GatehouseError } from '../kernel/errors.ts';
import { openEmbedded } from '../store/embedded.ts';
import { migrate } from '../store/migrate.ts';
import type { SqlDriver } from '../store/sql.ts';
import { ApiKeys } from './api-keys.ts';
import { Authenticator } from './authenticator.ts';
import { BuiltinIssuer } from './issuer.ts';
import { OidcVerifier } from './oidc.ts';
import {
  GRANT_TOKEN_EXCHANGE, handleTokenRequest, TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_JWT, type TokenEndpointDeps, type TokenResponse,
} from './token-endpoint.ts';

const T0 = Date.UTC(2030, 0, 1);
const TTL = 3_600_000;
const clock = manualClock(T0);
let db: SqlDriver;
let keys: ApiKeys;
let issuer: BuiltinIssuer;
let deps: TokenEndpointDeps;
let userKey: string;
let agentKey: string;
let delegatedKey: string;

before(async () => {
  db = await openEmbedded(undefined);
  await migrate(db);
  keys = new ApiKeys(db, clock);
  issuer = await BuiltinIssuer.open(db, clock, { issuer: 'http://127.0.0.1:8080', audience: 'gatehouse', tokenTtlMs: TTL });
  const auth = new Authenticator({ apiKeys: keys, issuer, oidc: new OidcVerifier([], clock) });
  deps = { authenticate: (c) => auth.authenticate(c), issuer };
  userKey = (await keys.create({ user: 'alice', groups: ['dev'] })).key;
  agentKey = (await keys.create({ agent: 'bot', groups: ['bots'] })).key;
  delegatedKey = (await keys.create({ user: 'alice', agent: 'bot', groups: ['dev'], agentGroups: ['bots'] })).key;
});
after(async () => { await db.close(); });

const post = (fields: Record<string, string>, authorization?: string): Promise<TokenResponse> =>
  handleTokenRequest(new URLSearchParams(fields), authorization, deps);
const basic = (id: string, secret: string): string => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const exchange = (subject: string, actor: string, extra: Record<string, string> = {}): Promise<TokenResponse> => post({
  grant_type: GRANT_TOKEN_EXCHANGE, subject_token: subject, subject_token_type: TOKEN_TYPE_ACCESS_TOKEN,
  actor_token: actor, actor_token_type: TOKEN_TYPE_ACCESS_TOKEN, ...extra,
});

function assertError(out: TokenResponse, status: number, error: string): void {
  assert.equal(out.status, status, JSON.stringify(out.body));
  assert.equal(out.body.error, error);
  assert.equal(typeof out.body.error_description, 'string');
  for (const k of [userKey, agentKey, delegatedKey]) assert.equal(JSON.stringify(out.body).includes(k), false);
}

describe('client_credentials', () => {
  test('client_secret_post with an agent key returns a Bearer JWT for the agent', async () => {
    const out = await post({ grant_type: 'client_credentials', client_id: 'bot', client_secret: agentKey });
    assert.equal(out.status, 200);
    assert.equal(out.body.token_type, 'Bearer');
    assert.equal(out.body.expires_in, TTL / 1000);
    const p = await issuer.verify(String(out.body.access_token));
    assert.equal(p.kind, 'agent');
    assert.equal(p.id, 'bot');
    assert.deepEqual(p.groups, ['bots']);
  });

  test('client_secret_basic works too', async () => {
    const out = await post({ grant_type: 'client_credentials' }, basic('alice', userKey));
    assert.equal(out.status, 200);
    assert.equal((await issuer.verify(String(out.body.access_token))).id, 'alice');
  });

  test('client authentication failures are 401 invalid_client', async () => {
    assertError(await post({ grant_type: 'client_credentials' }), 401, 'invalid_client');
    assertError(await post({ grant_type: 'client_credentials', client_secret: 'ghk_' + 'A'.repeat(40) }), 401, 'invalid_client');
    assertError(await post({ grant_type: 'client_credentials' }, 'Bearer something'), 401, 'invalid_client');
    const jwt = String((await post({ grant_type: 'client_credentials', client_secret: userKey })).body.access_token);
    assertError(await post({ grant_type: 'client_credentials', client_secret: jwt }), 401, 'invalid_client');
    const { key, record } = await keys.create({ agent: 'short-lived' });
    await keys.revoke(record.id);
    assertError(await post({ grant_type: 'client_credentials', client_secret: key }), 401, 'invalid_client');
  });

  test('two authentication methods at once are invalid_request', async () => {
    assertError(await post({ grant_type: 'client_credentials', client_secret: agentKey }, basic('bot', agentKey)), 400, 'invalid_request');
  });

  test('the token expires no later than the key', async () => {
    const { key } = await keys.create({ agent: 'brief', expiresAt: T0 + 120_000 });
    const out = await post({ grant_type: 'client_credentials', client_secret: key });
    assert.equal(out.body.expires_in, 120);
  });
});

describe('request errors', () => {
  test('missing, unknown and repeated parameters', async () => {
    assertError(await post({}), 400, 'invalid_request');
    assertError(await post({ grant_type: 'password', username: 'a', password: 'b' }), 400, 'unsupported_grant_type');
    const form = new URLSearchParams([['grant_type', 'client_credentials'], ['client_secret', agentKey], ['client_secret', userKey]]);
    assertError(await handleTokenRequest(form, undefined, deps), 400, 'invalid_request');
  });

  test('a store outage is 503, not a credential error', async () => {
    const down: TokenEndpointDeps = { issuer, authenticate: () => Promise.reject(new GatehouseError('store_unavailable')) };
    const out = await handleTokenRequest(new URLSearchParams({ grant_type: 'client_credentials', client_secret: agentKey }), undefined, down);
    assertError(out, 503, 'temporarily_unavailable');
  });
});

describe('token exchange (RFC 8693)', () => {
  test('user key + agent key gives a delegated token: sub = user, act = agent', async () => {
    const out = await exchange(userKey, agentKey);
    assert.equal(out.status, 200, JSON.stringify(out.body));
    assert.equal(out.body.issued_token_type, TOKEN_TYPE_ACCESS_TOKEN);
    assert.equal(out.body.token_type, 'Bearer');
    const p = await issuer.verify(String(out.body.access_token));
    assert.equal(p.kind, 'user');
    assert.equal(p.id, 'alice');
    assert.deepEqual(p.groups, ['dev']);
    assert.deepEqual(p.agent, { id: 'bot', groups: ['bots'] });
  });

  test('a Gatehouse JWT subject bounds the lifetime of the exchanged token', async () => {
    const subject = String((await post({ grant_type: 'client_credentials', client_secret: userKey })).body.access_token);
    clock.advance(1000 * 1000);
    try {
      const out = await post({
        grant_type: GRANT_TOKEN_EXCHANGE, subject_token: subject, subject_token_type: TOKEN_TYPE_JWT,
        actor_token: agentKey, actor_token_type: TOKEN_TYPE_ACCESS_TOKEN,
      });
      assert.equal(out.status, 200, JSON.stringify(out.body));
      assert.equal(out.body.expires_in, TTL / 1000 - 1000);
    } finally {
      clock.set(T0);
    }
  });

  test('the subject must be a plain user and the actor an agent', async () => {
    assertError(await exchange(agentKey, agentKey), 400, 'invalid_grant');
    assertError(await exchange(delegatedKey, agentKey), 400, 'invalid_grant');
    assertError(await exchange(userKey, userKey), 400, 'invalid_grant');
    assertError(await exchange(userKey, delegatedKey), 400, 'invalid_grant');
    const delegatedJwt = String((await exchange(userKey, agentKey)).body.access_token);
    assertError(await exchange(delegatedJwt, agentKey), 400, 'invalid_grant');
  });

  test('invalid tokens and parameters are invalid_request', async () => {
    assertError(await exchange('ghk_' + 'B'.repeat(40), agentKey), 400, 'invalid_request');
    assertError(await exchange(userKey, 'garbage'), 400, 'invalid_request');
    assertError(await exchange(userKey, agentKey, { subject_token_type: 'urn:ietf:params:oauth:token-type:saml2' }), 400, 'invalid_request');
    assertError(await exchange(userKey, agentKey, { subject_token_type: TOKEN_TYPE_JWT }), 400, 'invalid_request');
    assertError(await exchange(userKey, agentKey, { requested_token_type: 'urn:ietf:params:oauth:token-type:id_token' }), 400, 'invalid_request');
    assertError(await exchange(userKey, agentKey, { audience: 'elsewhere' }), 400, 'invalid_target');
    assertError(await post({ grant_type: GRANT_TOKEN_EXCHANGE, subject_token: userKey, subject_token_type: TOKEN_TYPE_ACCESS_TOKEN }), 400, 'invalid_request');
  });
});
