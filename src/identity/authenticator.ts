import { decodeJwt } from 'jose';
import { GatehouseError, isGatehouseError } from '../kernel/errors.ts';
import { API_KEY_PREFIX, type ApiKeys } from './api-keys.ts';
import type { BuiltinIssuer } from './issuer.ts';
import type { OidcVerifier } from './oidc.ts';
import type { Principal } from './principal.ts';

/** Longest credential we look at; anything longer is rejected before parsing. */
const MAX_CREDENTIAL_CHARS = 16 * 1024;

/**
 * The one entry point every protocol uses to turn a presented credential into a {@link Principal}:
 * `ghk_…` → API key; a JWT from the built-in issuer → its verifier; a JWT from a configured external
 * issuer → OIDC. Anything else, and any unexpected failure, is rejected: it only ever throws
 * `GatehouseError` (fail closed).
 *
 * @example
 *   const auth = new Authenticator({ apiKeys, issuer, oidc });
 *   const principal = await auth.authenticate(bearer); // throws GatehouseError('invalid_credential' | 'invalid_token' | …)
 */
export class Authenticator {
  readonly #apiKeys: ApiKeys;
  readonly #issuer: BuiltinIssuer;
  readonly #oidc: OidcVerifier;

  constructor(deps: { apiKeys: ApiKeys; issuer: BuiltinIssuer; oidc: OidcVerifier }) {
    this.#apiKeys = deps.apiKeys;
    this.#issuer = deps.issuer;
    this.#oidc = deps.oidc;
  }

  /**
   * `opts.audiences`: extra audiences an external OIDC token may carry instead of its issuer's
   * configured one (the MCP resource on `/mcp`). Built-in tokens and API keys are unaffected.
   */
  async authenticate(credential: string, opts: { readonly audiences?: readonly string[] } = {}): Promise<Principal> {
    try {
      return await this.#dispatch(credential, opts.audiences ?? []);
    } catch (err) {
      if (isGatehouseError(err)) throw err;
      throw new GatehouseError('invalid_credential', 'credential is invalid, expired or revoked', {}, { cause: err });
    }
  }

  async #dispatch(credential: string, audiences: readonly string[]): Promise<Principal> {
    if (typeof credential !== 'string' || credential.length === 0 || credential.length > MAX_CREDENTIAL_CHARS) {
      throw new GatehouseError('invalid_credential', 'credential is invalid, expired or revoked');
    }
    if (credential.startsWith(API_KEY_PREFIX)) return this.#apiKeys.verify(credential);
    const iss = jwtIssuer(credential);
    if (iss !== undefined && iss === this.#issuer.issuer) {
      const p = await this.#issuer.verify(credential);
      // A token minted from API keys lives only as long as every one of them (revocation is at once).
      for (const id of p.boundKeys ?? []) await this.#apiKeys.assertLive(id);
      return p;
    }
    if (iss !== undefined && this.#oidc.handles(credential)) return this.#oidc.verify(credential, audiences);
    throw new GatehouseError('invalid_credential', 'credential is not a Gatehouse key or a token from a trusted issuer');
  }
}

/** The unverified `iss` of a compact JWS, or undefined. Only used to pick the verifier. */
function jwtIssuer(credential: string): string | undefined {
  if (credential.split('.').length !== 3) return undefined;
  try {
    const { iss } = decodeJwt(credential);
    return typeof iss === 'string' ? iss : undefined;
  } catch {
    return undefined;
  }
}
