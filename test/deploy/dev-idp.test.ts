/**
 * The quick-start's development identity provider (deploy/dev-idp/server.ts), in-process: the
 * device authorization grant end to end (the test plays the user at its pages), each user's
 * groups in the tokens, unknown users refused. The container runs it in `npm run test:deploy`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import { settingsFrom, startDevIdp } from '../../deploy/dev-idp/server.ts';
import { approveDeviceAs } from '../harness/oidc-provider.ts';
import { freePort } from '../harness/net.ts';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

describe('deploy/dev-idp: the development OpenID provider', () => {
  let issuer = '';
  let idp: { close(): Promise<void> };
  before(async () => {
    const port = await freePort();
    issuer = `http://localhost:${port}`;
    idp = await startDevIdp(settingsFrom({ DEV_IDP_ISSUER: issuer, DEV_IDP_LISTEN: `127.0.0.1:${port}`, DEV_IDP_USERS: 'alice:developers,bob:dba+developers' }));
  });
  after(async () => { await idp?.close(); });

  /** A device code for the CLI client; the user's approval; the tokens. */
  async function deviceFlow(user: string): Promise<Record<string, unknown>> {
    const auth = await fetch(`${issuer}/device/auth`, { method: 'POST', body: new URLSearchParams({ client_id: 'gatehouse-cli', scope: 'openid groups' }) });
    assert.equal(auth.status, 200);
    const { device_code: deviceCode, verification_uri_complete: uri } = (await auth.json()) as { device_code: string; verification_uri_complete: string };
    await approveDeviceAs(uri, user);
    const token = await fetch(`${issuer}/token`, { method: 'POST', body: new URLSearchParams({ grant_type: DEVICE_GRANT, device_code: deviceCode, client_id: 'gatehouse-cli' }) });
    const body = (await token.json()) as Record<string, unknown>;
    assert.equal(token.status, 200, JSON.stringify(body));
    return body;
  }

  test('a listed user signs in; the access token is a JWT for the gateway audience with the user\'s groups', async () => {
    const discovery = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as { issuer: string; device_authorization_endpoint: string };
    assert.equal(discovery.issuer, issuer);
    const alice = decodeJwt(String((await deviceFlow('alice')).access_token));
    assert.equal(alice.iss, issuer);
    assert.equal(alice.sub, 'alice');
    assert.equal(alice.aud, 'https://gatehouse.quickstart');
    assert.deepEqual(alice.groups, ['developers']);
    const bob = await deviceFlow('bob');
    assert.deepEqual(decodeJwt(String(bob.access_token)).groups, ['dba', 'developers']);
    assert.deepEqual(decodeJwt(String(bob.id_token)).groups, ['dba', 'developers']);
  });

  test('an unknown user is refused at the sign-in form', async () => {
    const auth = await fetch(`${issuer}/device/auth`, { method: 'POST', body: new URLSearchParams({ client_id: 'gatehouse-cli' }) });
    const { verification_uri_complete: uri } = (await auth.json()) as { verification_uri_complete: string };
    await assert.rejects(approveDeviceAs(uri, 'mallory'), /sign-in did not succeed: HTTP 400: unknown user "mallory"/);
  });

  test('settings: bad values stop the start with one line', () => {
    assert.throws(() => settingsFrom({ DEV_IDP_LISTEN: 'nope' }), /DEV_IDP_LISTEN must be host:port/);
    assert.throws(() => settingsFrom({ DEV_IDP_USERS: 'Bad Name:x' }), /bad user name/);
  });
});
