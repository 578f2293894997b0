import type { JWTPayload } from 'jose';
import { GatehouseError } from '../kernel/errors.ts';
import { asClaimNameList, isClaimName } from './names.ts';
import type { Principal } from './principal.ts';

/**
 * The Gatehouse-specific claims of a built-in token. `sub` is the user (or the agent acting on its
 * own); `act` (RFC 8693 §4.1) names the agent acting for the user, with the agent's groups.
 */
export interface GatehouseClaims {
  readonly gh_kind: 'user' | 'agent';
  readonly groups: readonly string[];
  readonly act?: { readonly sub: string; readonly groups: readonly string[] };
}

/** The claims to sign for a principal. Throws `internal` for a principal that cannot exist. */
export function claimsFor(p: Principal): GatehouseClaims {
  if (p.kind === 'agent' && p.agent !== undefined) throw new GatehouseError('internal', 'an agent principal cannot have an acting agent');
  return {
    gh_kind: p.kind,
    groups: [...p.groups],
    ...(p.agent === undefined ? {} : { act: { sub: p.agent.id, groups: [...p.agent.groups] } }),
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
  return {
    kind, id: sub, groups, ...(agent === undefined ? {} : { agent }),
    via: 'gatehouse_jwt', credentialId: jti, issuer, expiresAt: exp * 1000,
  };
}
