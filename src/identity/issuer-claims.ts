import type { JWTPayload } from 'jose';
import { GatehouseError } from '../kernel/errors.ts';
import { asClaimNameList, isClaimName } from './names.ts';
import { keyBinding, type Principal } from './principal.ts';

/** An API key id as carried in `gh_keys`. */
const KEY_ID = /^[0-9A-Za-z]{8}$/;
/** Most key ids a token may be bound to (a token exchange binds at most the subject's and the actor's). */
const MAX_BOUND_KEYS = 8;

/**
 * The Gatehouse-specific claims of a built-in token. `sub` is the user (or the agent acting on its
 * own); `act` (RFC 8693 §4.1) names the agent acting for the user, with the agent's groups.
 */
export interface GatehouseClaims {
  readonly gh_kind: 'user' | 'agent';
  readonly groups: readonly string[];
  readonly act?: { readonly sub: string; readonly groups: readonly string[] };
  /** Ids of the API keys the token was minted from; it is valid only while they all are. */
  readonly gh_keys?: readonly string[];
}

/** The claims to sign for a principal. Throws `internal` for a principal that cannot exist. */
export function claimsFor(p: Principal): GatehouseClaims {
  if (p.kind === 'agent' && p.agent !== undefined) throw new GatehouseError('internal', 'an agent principal cannot have an acting agent');
  const keys = keyBinding(p);
  if (keys.length > MAX_BOUND_KEYS) throw new GatehouseError('internal', 'a token cannot be bound to that many API keys');
  return {
    gh_kind: p.kind,
    groups: [...p.groups],
    ...(p.agent === undefined ? {} : { act: { sub: p.agent.id, groups: [...p.agent.groups] } }),
    ...(keys.length === 0 ? {} : { gh_keys: keys }),
  };
}

/**
 * The principal of a verified built-in token's payload. Throws `invalid_token` when the payload
 * does not have exactly the expected shape (fail closed on anything odd).
 */
export function principalFromClaims(payload: JWTPayload, issuer: string): Principal {
  const bad = (): never => { throw new GatehouseError('invalid_token', 'token claims are malformed'); };
  const { sub, jti, exp } = payload;
  const kind = payload.gh_kind;
  const groups = asClaimNameList(payload.groups);
  if (!isClaimName(sub) || typeof jti !== 'string' || typeof exp !== 'number' || !groups) return bad();
  if (kind !== 'user' && kind !== 'agent') return bad();
  let agent: Principal['agent'];
  if (payload.act !== undefined) {
    const act = payload.act;
    if (kind !== 'user' || typeof act !== 'object' || act === null || Array.isArray(act)) return bad();
    const actSub = (act as Record<string, unknown>).sub;
    const actGroups = asClaimNameList((act as Record<string, unknown>).groups);
    if (!isClaimName(actSub) || !actGroups) return bad();
    agent = { id: actSub, groups: actGroups };
  }
  let boundKeys: string[] | undefined;
  if (payload.gh_keys !== undefined) {
    const k = payload.gh_keys;
    if (!Array.isArray(k) || k.length === 0 || k.length > MAX_BOUND_KEYS) return bad();
    if (!k.every((id): id is string => typeof id === 'string' && KEY_ID.test(id))) return bad();
    boundKeys = [...new Set(k)].sort();
  }
  return {
    kind, id: sub, groups, ...(agent === undefined ? {} : { agent }),
    via: 'gatehouse_jwt', credentialId: jti, issuer, expiresAt: exp * 1000,
    ...(boundKeys === undefined ? {} : { boundKeys }),
  };
}
