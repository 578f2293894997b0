import {
  createRemoteJWKSet, customFetch, decodeJwt, decodeProtectedHeader, errors, jwtVerify,
  type JWTPayload, type JWTVerifyGetKey, type RemoteJWKSet,
} from 'jose';
import type { Clock } from '../kernel/clock.ts';
import { GatehouseError, isGatehouseError } from '../kernel/errors.ts';
import { boundedGet, fetchJsonObject } from './bounded-fetch.ts';
import { CLOCK_SKEW_S } from './issuer.ts';
import { asClaimNameList, isClaimName } from './names.ts';
import type { Principal } from './principal.ts';

/** One trusted external OpenID Connect issuer. */
export interface IssuerSettings {
  readonly issuer: string;
  readonly audience: string | readonly string[];
  /** Claim holding the groups: an array of strings or a space-separated string; `a.b` reaches nested claims. */
  readonly groupsClaim: string;
  /** Claim holding the user name (usually `sub`, `email` or `preferred_username`). */
  readonly userClaim: string;
  /** Allowed JWS algorithms; asymmetric only (`none` and HMAC are refused at construction). */
  readonly algorithms: readonly string[];
  /** How long discovery and the JWKS are trusted before they are fetched again. */
  readonly jwksCacheMs: number;
}

/** Tuning knobs, all with safe defaults. */
export interface OidcVerifierOptions {
  /** Timeout of each discovery or JWKS fetch. Default 5 s. */
  readonly timeoutMs?: number;
  /** Least time between two JWKS refreshes forced by an unknown `kid`. Default 30 s. */
  readonly refreshCooldownMs?: number;
}

/** Asymmetric JWS algorithms we can accept from an external issuer. */
const ASYMMETRIC = new Set(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519']);
const MAX_TOKEN_CHARS = 16 * 1024;
const INVALID = 'token is invalid or expired';

interface IssuerState {
  readonly settings: IssuerSettings;
  jwks: RemoteJWKSet | undefined;
  jwksUri: string | undefined;
  fetchedAt: number;
  lastForcedRefresh: number;
  pending: Promise<void> | undefined;
}

/**
 * Verifies JWTs from configured external OIDC issuers: discovery (its `issuer` must match), JWKS
 * with rotation (an unknown `kid` forces one refresh, at most once per cooldown), `iss`, `aud`,
 * `exp`, `nbf` with a small skew, and an algorithm allow-list. Time comes from the injected clock.
 * Every failure is `GatehouseError('invalid_token')` with a message that reveals nothing of the token.
 *
 * @example
 *   const oidc = new OidcVerifier([{ issuer: 'https://idp.example.com', audience: 'gatehouse', groupsClaim: 'groups',
 *     userClaim: 'sub', algorithms: ['RS256', 'ES256'], jwksCacheMs: 600_000 }], systemClock);
 *   if (oidc.handles(token)) principal = await oidc.verify(token);
 */
export class OidcVerifier {
  readonly #issuers = new Map<string, IssuerState>();
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  readonly #cooldownMs: number;

  constructor(issuers: readonly IssuerSettings[], clock: Clock, opts: OidcVerifierOptions = {}) {
    this.#clock = clock;
    this.#timeoutMs = opts.timeoutMs ?? 5000;
    this.#cooldownMs = opts.refreshCooldownMs ?? 30_000;
    for (const s of issuers) {
      if (this.#issuers.has(s.issuer)) throw new GatehouseError('config_invalid', `issuer ${s.issuer} is configured twice`);
      if (s.algorithms.length === 0) throw new GatehouseError('config_invalid', `issuer ${s.issuer}: no algorithms allowed`);
      for (const alg of s.algorithms) {
        if (!ASYMMETRIC.has(alg)) throw new GatehouseError('config_invalid', `issuer ${s.issuer}: algorithm ${alg} is not allowed (asymmetric only)`);
      }
      checkMetadataUrl(s.issuer, 'config_invalid');
      this.#issuers.set(s.issuer, { settings: s, jwks: undefined, jwksUri: undefined, fetchedAt: -Infinity, lastForcedRefresh: -Infinity, pending: undefined });
    }
  }

  /** True when `token` looks like a JWT whose (unverified) `iss` is a configured issuer. */
  handles(token: string): boolean {
    return this.#issuers.has(unverifiedIssuer(token) ?? '');
  }

  /**
   * Verifies `token` and returns its user. Throws `invalid_token` on any failure.
   * `extraAudiences` are accepted besides the issuer's configured audience (the MCP server passes
   * its resource identifier, RFC 8707/9728).
   */
  async verify(token: string, extraAudiences: readonly string[] = []): Promise<Principal> {
    try {
      return await this.#verify(token, extraAudiences);
    } catch (err) {
      if (isGatehouseError(err, 'invalid_token')) throw err;
      if (isGatehouseError(err, 'upstream_unreachable')) throw new GatehouseError('invalid_token', 'token issuer could not be reached', {}, { cause: err });
      throw new GatehouseError('invalid_token', INVALID, {}, { cause: err });
    }
  }

  async #verify(token: string, extraAudiences: readonly string[]): Promise<Principal> {
    const iss = unverifiedIssuer(token);
    const state = iss === undefined ? undefined : this.#issuers.get(iss);
    if (!state) throw new GatehouseError('invalid_token', 'token issuer is not trusted');
    const { settings } = state;
    const { alg } = decodeProtectedHeader(token);
    if (typeof alg !== 'string' || !settings.algorithms.includes(alg)) throw new GatehouseError('invalid_token', INVALID);
    if (this.#clock.now() - state.fetchedAt > settings.jwksCacheMs || !state.jwks) await this.#discover(state);
    const { payload } = await jwtVerify(token, this.#keyResolver(state), {
      issuer: settings.issuer,
      audience: [...(typeof settings.audience === 'string' ? [settings.audience] : settings.audience), ...extraAudiences],
      algorithms: [...settings.algorithms],
      currentDate: new Date(this.#clock.now()),
      clockTolerance: CLOCK_SKEW_S,
      requiredClaims: ['exp'],
    });
    return toPrincipal(payload, settings);
  }

  /** Resolves the key by kid; an unknown kid forces one JWKS refresh unless one was forced recently. */
  #keyResolver(state: IssuerState): JWTVerifyGetKey {
    return async (header, token) => {
      const jwks = state.jwks;
      if (!jwks) throw new GatehouseError('invalid_token', INVALID);
      try {
        return await jwks(header, token);
      } catch (err) {
        const now = this.#clock.now();
        if (!(err instanceof errors.JWKSNoMatchingKey) || now - state.lastForcedRefresh < this.#cooldownMs) throw err;
        state.lastForcedRefresh = now;
        await jwks.reload();
        state.fetchedAt = now;
        return jwks(header, token);
      }
    };
  }

  /** (Re)reads discovery and the JWKS; concurrent callers share one fetch. */
  async #discover(state: IssuerState): Promise<void> {
    state.pending ??= (async () => {
      const now = this.#clock.now();
      const { issuer } = state.settings;
      const doc = await fetchJsonObject(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`, this.#timeoutMs);
      if (doc.issuer !== issuer) throw new GatehouseError('invalid_token', 'identity provider discovery names another issuer');
      const uri = doc.jwks_uri;
      if (typeof uri !== 'string') throw new GatehouseError('invalid_token', 'identity provider discovery has no jwks_uri');
      checkMetadataUrl(uri, 'invalid_token');
      if (!state.jwks || state.jwksUri !== uri) {
        // jose's own timers run on wall time; freshness and cooldown are decided here, on the injected clock.
        state.jwks = createRemoteJWKSet(new URL(uri), {
          timeoutDuration: this.#timeoutMs, cooldownDuration: Infinity, cacheMaxAge: Infinity,
          [customFetch]: (url, init) => boundedGet(url, { signal: init.signal, headers: init.headers }),
        });
        state.jwksUri = uri;
      }
      await state.jwks.reload();
      state.fetchedAt = now;
    })().finally(() => { state.pending = undefined; });
    await state.pending;
  }
}

/** The `iss` of a JWT, unverified; undefined for anything that is not a JWT. */
function unverifiedIssuer(token: string): string | undefined {
  if (typeof token !== 'string' || token.length > MAX_TOKEN_CHARS || token.split('.').length !== 3) return undefined;
  try {
    const { iss } = decodeJwt(token);
    return typeof iss === 'string' ? iss : undefined;
  } catch {
    return undefined;
  }
}

/** Metadata must come over https, or plain http on loopback only (tests, sidecars). */
function checkMetadataUrl(raw: string, code: 'config_invalid' | 'invalid_token'): void {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new GatehouseError(code, 'identity provider URL is not a URL');
  }
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new GatehouseError(code, 'identity provider URLs must use https (plain http only on loopback)');
  }
}

/** A claim by name, or by dotted path into nested objects when no claim has that exact name. */
function claim(payload: JWTPayload, name: string): unknown {
  if (name in payload) return payload[name];
  let cur: unknown = payload;
  for (const part of name.split('.')) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function toPrincipal(payload: JWTPayload, s: IssuerSettings): Principal {
  const user = claim(payload, s.userClaim);
  if (!isClaimName(user)) throw new GatehouseError('invalid_token', `token has no usable "${s.userClaim}" claim`);
  const raw = claim(payload, s.groupsClaim);
  // A malformed groups claim rejects the token: dropping groups could lift a group-based forbid.
  const groups = raw === undefined ? [] : asClaimNameList(typeof raw === 'string' ? raw.split(' ').filter((g) => g.length > 0) : raw);
  if (!groups) throw new GatehouseError('invalid_token', `token has a malformed "${s.groupsClaim}" claim`);
  return {
    kind: 'user', id: user, groups: [...new Set(groups)], via: 'oidc', issuer: s.issuer,
    ...(typeof payload.jti === 'string' ? { credentialId: payload.jti } : {}),
    ...(typeof payload.exp === 'number' ? { expiresAt: payload.exp * 1000 } : {}),
  };
}
