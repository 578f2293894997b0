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
  readonly via: 'api_key' | 'gatehouse_jwt' | 'oidc';
  /** Id of the API key or `jti` of the token, for audit; never the secret. */
  readonly credentialId?: string;
  /** The issuer, for JWTs. */
  readonly issuer?: string;
  /** When the credential stops being valid (ms since epoch), if it expires. Bounds derived tokens. */
  readonly expiresAt?: number;
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

/** Human-readable `user (agent bot)` form used in audit lines and CLI output. */
export function describePrincipal(p: Principal): string {
  const who = `${p.kind}:${p.id}`;
  return p.agent ? `${who} via agent:${p.agent.id}` : who;
}
