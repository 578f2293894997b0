import { GatehouseError, isGatehouseError } from '../kernel/errors.ts';
import type { Principal } from '../identity/principal.ts';
import type { Authenticator } from '../identity/authenticator.ts';
import type { AuditInput } from '../audit/record.ts';
import type { Metrics } from '../kernel/metrics.ts';
import type { Logger } from '../kernel/log.ts';

/** What authenticating a credential needs: the authenticator and where failures are reported. */
export interface AuthenticateDeps {
  readonly authenticator: Pick<Authenticator, 'authenticate'>;
  readonly audit: { append(e: AuditInput): Promise<unknown> };
  readonly metrics: Pick<Metrics, 'authFailures'>;
  readonly log: Pick<Logger, 'error'>;
}

/** Where a credential was presented: the audit and metrics labels of a failure. */
export interface AuthAttempt {
  /** `detail.surface` of the `auth.failure` audit record (`admin-api`, `proxy`, `mcp`, `postgres`). */
  readonly surface: string;
  /** Metrics label of `gatehouse_auth_failures_total`. */
  readonly protocol: string;
  /** The peer address (`detail.remote`), or null when unknown. */
  readonly remote: string | null;
  /** Further audit detail of a failure (never the credential). */
  readonly detail?: Readonly<Record<string, unknown>>;
  /** Extra audiences an external OIDC token may carry (the MCP resource on `/mcp`). */
  readonly audiences?: readonly string[];
  /** The error when no credential was presented (default: `unauthenticated`, "send a credential"). */
  readonly missing?: () => GatehouseError;
}

/**
 * The one authenticate-and-audit-failure path of every protocol: `credential` → principal. A
 * failure (no credential, or one the authenticator refuses) is counted, audited as
 * `auth.failure` (outcome: the error code; detail: surface, remote and `attempt.detail`, never
 * the credential; an audit write that fails is logged, not thrown) and thrown as a
 * GatehouseError (401 class) for the protocol to render in its own wire format.
 *
 * @example
 *   const principal = await authenticateAndAudit(deps, password, { surface: 'postgres', protocol: 'postgres', remote, detail: { database } });
 */
export async function authenticateAndAudit(deps: AuthenticateDeps, credential: string | undefined, attempt: AuthAttempt): Promise<Principal> {
  try {
    if (credential === undefined) throw attempt.missing?.() ?? new GatehouseError('unauthenticated', 'send a credential');
    return await deps.authenticator.authenticate(credential, attempt.audiences ? { audiences: attempt.audiences } : {});
  } catch (err) {
    const problem = isGatehouseError(err) ? err : new GatehouseError('invalid_credential');
    deps.metrics.authFailures.inc({ protocol: attempt.protocol });
    await deps.audit.append({
      kind: 'auth.failure', outcome: problem.code,
      detail: { surface: attempt.surface, remote: attempt.remote, ...attempt.detail },
    }).catch((e: unknown) => { deps.log.error({ err: String(e) }, 'audit append failed'); });
    throw problem;
  }
}
