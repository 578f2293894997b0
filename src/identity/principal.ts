/**
 * Who is asking. Every protocol authenticates its credential into one `Principal`.
 * An agent acting for a user is the user as principal with `agent` set (SPEC: policy);
 * an agent acting on its own is `kind: 'agent'` with no `agent` field.
 */
export interface Principal {
  readonly kind: 'user' | 'agent';
  /** The user or agent name (Cedar entity id). */
  readonly id: string;
  readonly groups: readonly string[];
  /** The agent acting for this user, when there is one. */
  readonly agent?: { readonly id: string; readonly groups: readonly string[] };
  /** How the credential was verified. */
  readonly via: 'api_key' | 'gatehouse_jwt' | 'oidc' | 'saml';
  /** Id of the API key or `jti` of the token, for audit; never the secret. */
  readonly credentialId?: string;
  /** The issuer, for JWTs. */
  readonly issuer?: string;
  /** When the credential stops being valid (ms since epoch), if it expires. Bounds derived tokens. */
  readonly expiresAt?: number;
  /**
   * Ids of the API keys this credential was derived from (a JWT minted by `client_credentials` or
   * a token exchange from keys). The credential is valid only while every one of them is: the
   * authenticator checks their status on every use, so revoking a key kills what was minted from it.
   */
  readonly boundKeys?: readonly string[];
}

/**
 * The API key ids a credential minted from `p` must stay bound to: `p`'s own key when it is one,
 * plus whatever `p` was itself bound to. Sorted, without duplicates.
 *
 * @example keyBinding({ via: 'api_key', credentialId: 'AbCd1234', … }) // ['AbCd1234']
 */
export function keyBinding(...ps: readonly Principal[]): string[] {
  const ids = new Set<string>();
  for (const p of ps) {
    if (p.via === 'api_key' && p.credentialId !== undefined) ids.add(p.credentialId);
    for (const id of p.boundKeys ?? []) ids.add(id);
  }
  return [...ids].sort();
}

/**
 * The agent behind a request, for audit and recording: the agent acting for the user, or the
 * principal itself when it is an agent acting on its own; undefined for a user alone.
 */
export function actingAgent(p: Principal): string | undefined {
  return p.agent ? p.agent.id : p.kind === 'agent' ? p.id : undefined;
}

/** `{ agent }` for spreading into an audit or recording event, or nothing for a user alone. */
export function optionalAgent(p: Principal): { agent?: string } {
  const agent = actingAgent(p);
  return agent === undefined ? {} : { agent };
}

/**
 * Whom a recording names: `user` only for a user principal (an agent acting on its own owns no
 * recording by name: Agent::"alice" is not User::"alice"), and the acting agent, if any.
 */
export function recordedIdentity(p: Principal): { user?: string; agent?: string } {
  return { ...(p.kind === 'user' ? { user: p.id } : {}), ...optionalAgent(p) };
}

/** Human-readable `user (agent bot)` form used in audit lines and CLI output. */
export function describePrincipal(p: Principal): string {
  const who = `${p.kind}:${p.id}`;
  return p.agent ? `${who} via agent:${p.agent.id}` : who;
}
