import type { LimitsConfig } from '../config/types.ts';
import { REGISTRY, type ProtocolLimitSurface } from '../protocols/registry.ts';
import { ConcurrencyLimiter } from '../kernel/concurrency.ts';
import { GatehouseError } from '../kernel/errors.ts';
import { describePrincipal, optionalAgent, type Principal } from '../identity/principal.ts';
import type { Metrics } from '../kernel/metrics.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Clock } from '../kernel/clock.ts';
import type { Logger } from '../kernel/log.ts';

/** Where a refusal is counted, audited and logged. */
export interface LimitDeps {
  readonly metrics: Pick<Metrics, 'limitRefusals'>;
  readonly audit: Pick<AuditLog, 'enqueue'>;
  readonly clock: Pick<Clock, 'now'>;
  readonly log: Pick<Logger, 'warn'>;
}

/** Where a per-principal limit applies: the HTTP surfaces, and each protocol's own (`postgres`). */
export type LimitedSurface = 'proxy' | 'mcp' | ProtocolLimitSurface;

/**
 * Per-principal concurrency (`limits.per_principal`): in-flight `/proxy` requests, in-flight
 * `/mcp` requests (separately, since an MCP tool call may itself go through `/proxy`), and each
 * registered protocol's own limits (`principalLimits`: open PostgreSQL sessions). Per process: with replicas, each replica applies the limits on its own.
 * A principal is its user or agent id with the acting agent (`user:alice via agent:bot`).
 */
export class PrincipalLimits {
  readonly #limiters: Readonly<Record<LimitedSurface, ConcurrencyLimiter>>;
  /** Last audited refusal per principal and surface (at most one record a second each). */
  readonly #lastAudit = new Map<string, number>();

  constructor(config: LimitsConfig['per_principal']) {
    const values: Readonly<Record<string, number>> = config;
    const protocols = REGISTRY.principalLimits().map(([key, l]) => [l.surface, new ConcurrencyLimiter(values[key] ?? l.default)] as const);
    this.#limiters = {
      ...Object.fromEntries(protocols) as Record<ProtocolLimitSurface, ConcurrencyLimiter>,
      proxy: new ConcurrencyLimiter(config.http_requests),
      mcp: new ConcurrencyLimiter(config.http_requests),
    };
  }

  /** The limiter of a surface (tests, metrics). */
  limiter(surface: LimitedSurface): ConcurrencyLimiter {
    return this.#limiters[surface];
  }

  /**
   * Takes one unit for `principal` on `surface`; undefined when the principal is at its limit.
   * A refusal is counted in `gatehouse_limit_refusals_total` and audited (`limit.exceeded`, at
   * most once a second per principal and surface, so a client hammering the limit cannot flood
   * the log).
   */
  acquire(svc: LimitDeps, surface: LimitedSurface, principal: Principal): (() => void) | undefined {
    const key = describePrincipal(principal);
    const release = this.#limiters[surface].acquire(key);
    if (release !== undefined) return release;
    svc.metrics.limitRefusals.inc({ protocol: surface });
    const now = svc.clock.now();
    const auditKey = `${surface}\0${key}`;
    const last = this.#lastAudit.get(auditKey);
    if (last === undefined || now - last >= 1000) {
      if (this.#lastAudit.size >= 10_000) this.#lastAudit.clear();
      this.#lastAudit.set(auditKey, now);
      try {
        svc.audit.enqueue({
          kind: 'limit.exceeded', outcome: 'refused', user: principal.id, ...optionalAgent(principal),
          detail: { surface, limit: this.#limiters[surface].max },
        });
      } catch (err) {
        // The refusal stands whether or not it could be queued (the audit gate handles the rest).
        svc.log.warn({ err: String(err) }, 'limit refusal not audited');
      }
    }
    return undefined;
  }

  /**
   * HTTP: takes a unit for the request and gives it back when the response closes (finished or
   * aborted), or throws `too_many_requests` (429, `Retry-After: 1`).
   */
  admitHttp(svc: LimitDeps, surface: 'proxy' | 'mcp', principal: Principal, res: { once(event: 'close', listener: () => void): unknown }): void {
    const release = this.acquire(svc, surface, principal);
    if (release === undefined) {
      throw new GatehouseError('too_many_requests', `${describePrincipal(principal)} already has ${this.#limiters[surface].max} requests in flight on /${surface}; retry when one has finished`, { retry_after: 1 });
    }
    res.once('close', release);
  }
}
