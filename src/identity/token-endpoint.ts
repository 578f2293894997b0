import { isGatehouseError, type ErrorCode } from '../kernel/errors.ts';
import { API_KEY_PREFIX } from './api-keys.ts';
import type { BuiltinIssuer } from './issuer.ts';
import { keyBinding, type Principal } from './principal.ts';

export const GRANT_CLIENT_CREDENTIALS = 'client_credentials';
export const GRANT_TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const TOKEN_TYPE_ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
export const TOKEN_TYPE_JWT = 'urn:ietf:params:oauth:token-type:jwt';
const INPUT_TOKEN_TYPES = new Set([TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_JWT]);

/** What the token endpoint needs: a way to authenticate any credential, and the issuer. */
export interface TokenEndpointDeps {
  readonly authenticate: (credential: string) => Promise<Principal>;
  readonly issuer: BuiltinIssuer;
}

/** A response to render as JSON (with `Cache-Control: no-store`, RFC 6749 §5.1). */
export interface TokenResponse {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/**
 * The registry code of each RFC 6749 §5.2 / RFC 8693 error this endpoint answers. The wire keeps
 * the RFC's `error` (OAuth clients expect it); the code is what the error is inside the gateway.
 */
const OAUTH_CODES = {
  invalid_request: 'bad_request',
  invalid_client: 'invalid_client',
  invalid_grant: 'invalid_grant',
  unsupported_grant_type: 'unsupported_grant_type',
  invalid_target: 'bad_request',
  temporarily_unavailable: 'store_unavailable',
} as const satisfies Record<string, ErrorCode>;
type OAuthErrorName = keyof typeof OAUTH_CODES;

/** Thrown inside this module only; becomes an RFC 6749 §5.2 error body. */
export class OAuthError extends Error {
  override readonly name = 'OAuthError';
  readonly status: number;
  readonly error: OAuthErrorName;
  /** The registry code (the wire carries `error` as RFC 6749 spells it). */
  readonly code: ErrorCode;
  constructor(status: number, error: OAuthErrorName, description: string) {
    super(description);
    this.status = status;
    this.error = error;
    this.code = OAUTH_CODES[error];
  }
}

const fail = (status: number, error: OAuthErrorName, description: string): never => { throw new OAuthError(status, error, description); };

/**
 * `POST /oauth/token` without the HTTP: `client_credentials` (the client secret is a Gatehouse API
 * key, sent as `client_secret` or with HTTP Basic) and RFC 8693 token exchange (`subject_token` =
 * the user's credential, `actor_token` = the agent's). Never throws; every failure is an RFC 6749
 * error body (`{error, error_description}`) that does not echo any credential.
 *
 * @example
 *   const out = await handleTokenRequest(new URLSearchParams({ grant_type: 'client_credentials', client_secret: key }),
 *     undefined, { authenticate: (c) => authenticator.authenticate(c), issuer });
 *   // out = { status: 200, body: { access_token, token_type: 'Bearer', expires_in } }
 */
export async function handleTokenRequest(
  form: URLSearchParams,
  authorizationHeader: string | undefined,
  deps: TokenEndpointDeps,
): Promise<TokenResponse> {
  try {
    for (const name of new Set(form.keys())) {
      if (form.getAll(name).length > 1) fail(400, 'invalid_request', `parameter "${name}" is repeated`);
    }
    const grant = form.get('grant_type');
    if (!grant) return fail(400, 'invalid_request', 'missing "grant_type"');
    if (grant === GRANT_CLIENT_CREDENTIALS) return await clientCredentials(form, authorizationHeader, deps);
    if (grant === GRANT_TOKEN_EXCHANGE) return await tokenExchange(form, deps);
    return fail(400, 'unsupported_grant_type', 'supported: client_credentials, token exchange (RFC 8693)');
  } catch (err) {
    if (err instanceof OAuthError) return { status: err.status, body: { error: err.error, error_description: err.message } };
    return { status: 500, body: { error: 'server_error', error_description: 'the token could not be issued' } };
  }
}

async function clientCredentials(form: URLSearchParams, authorization: string | undefined, deps: TokenEndpointDeps): Promise<TokenResponse> {
  const secret = clientSecret(form, authorization);
  if (!secret.startsWith(API_KEY_PREFIX)) return fail(401, 'invalid_client', 'the client secret must be a Gatehouse API key');
  const principal = await authenticateOr(deps, secret, 401, 'invalid_client', 'client authentication failed');
  const { access_token, expires_in } = await issue(deps, principal);
  return { status: 200, body: { access_token, token_type: 'Bearer', expires_in } };
}

/** The client secret from exactly one of HTTP Basic (RFC 6749 §2.3.1) or the form. */
function clientSecret(form: URLSearchParams, authorization: string | undefined): string {
  const fromForm = form.get('client_secret');
  let fromBasic: string | undefined;
  if (authorization !== undefined) {
    const m = /^Basic[ ]+([A-Za-z0-9+/]+={0,2})\s*$/i.exec(authorization);
    if (!m) return fail(401, 'invalid_client', 'unsupported Authorization scheme; use HTTP Basic');
    const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return fail(401, 'invalid_client', 'malformed HTTP Basic credentials');
    try {
      fromBasic = decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' '));
    } catch {
      return fail(401, 'invalid_client', 'malformed HTTP Basic credentials');
    }
  }
  if (fromBasic !== undefined && fromForm !== null) return fail(400, 'invalid_request', 'use one client authentication method, not two');
  const secret = fromBasic ?? fromForm;
  if (!secret) return fail(401, 'invalid_client', 'client authentication is required');
  return secret;
}

async function tokenExchange(form: URLSearchParams, deps: TokenEndpointDeps): Promise<TokenResponse> {
  const subjectToken = required(form, 'subject_token');
  const subjectType = required(form, 'subject_token_type');
  const actorToken = required(form, 'actor_token');
  const actorType = required(form, 'actor_token_type');
  for (const [name, type, token] of [['subject_token_type', subjectType, subjectToken], ['actor_token_type', actorType, actorToken]] as const) {
    if (!INPUT_TOKEN_TYPES.has(type)) fail(400, 'invalid_request', `"${name}" must be ${TOKEN_TYPE_ACCESS_TOKEN} or ${TOKEN_TYPE_JWT}`);
    if (type === TOKEN_TYPE_JWT && token.split('.').length !== 3) fail(400, 'invalid_request', `"${name}" says jwt but the token is not one`);
  }
  const requested = form.get('requested_token_type');
  if (requested !== null && requested !== TOKEN_TYPE_ACCESS_TOKEN) fail(400, 'invalid_request', `"requested_token_type" must be ${TOKEN_TYPE_ACCESS_TOKEN}`);
  for (const name of ['audience', 'resource']) {
    const v = form.get(name);
    if (v !== null && v !== deps.issuer.audience) fail(400, 'invalid_target', `this issuer only issues tokens for "${deps.issuer.audience}"`);
  }
  // RFC 8693 §2.2.2: an invalid subject or actor token is invalid_request.
  const subject = await authenticateOr(deps, subjectToken, 400, 'invalid_request', 'subject_token is invalid');
  const actor = await authenticateOr(deps, actorToken, 400, 'invalid_request', 'actor_token is invalid');
  if (subject.kind !== 'user' || subject.agent !== undefined) fail(400, 'invalid_grant', 'the subject must be a user, not an agent or a delegated token');
  if (actor.kind !== 'agent' || actor.agent !== undefined) fail(400, 'invalid_grant', 'the actor must be an agent');
  const expiresAt = Math.min(subject.expiresAt ?? Infinity, actor.expiresAt ?? Infinity);
  // The exchanged token inherits the binding of both inputs: it dies with any key they came from.
  const bound = keyBinding(subject, actor);
  const delegated: Principal = {
    kind: 'user', id: subject.id, groups: subject.groups,
    agent: { id: actor.id, groups: actor.groups },
    via: 'gatehouse_jwt',
    ...(Number.isFinite(expiresAt) ? { expiresAt } : {}),
    ...(bound.length === 0 ? {} : { boundKeys: bound }),
  };

  const { access_token, expires_in } = await issue(deps, delegated);
  return { status: 200, body: { access_token, issued_token_type: TOKEN_TYPE_ACCESS_TOKEN, token_type: 'Bearer', expires_in } };
}

function required(form: URLSearchParams, name: string): string {
  const v = form.get(name);
  if (!v) return fail(400, 'invalid_request', `missing "${name}"`);
  return v;
}

/** Authenticates, mapping a rejected credential to the given OAuth error and an outage to 503. */
async function authenticateOr(deps: TokenEndpointDeps, credential: string, status: number, error: OAuthErrorName, description: string): Promise<Principal> {
  try {
    return await deps.authenticate(credential);
  } catch (err) {
    if (isGatehouseError(err) && err.status >= 500) return fail(503, 'temporarily_unavailable', 'identity store unavailable, retry later');
    return fail(status, error, description);
  }
}

async function issue(deps: TokenEndpointDeps, p: Principal): Promise<{ access_token: string; expires_in: number }> {
  try {
    return await deps.issuer.issue(p);
  } catch (err) {
    if (isGatehouseError(err, 'invalid_grant')) return fail(400, 'invalid_grant', err.detail);
    throw err;
  }
}
