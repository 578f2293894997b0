import { AuditLog } from '../audit/audit-log.ts';
import type { Clock } from '../kernel/clock.ts';
import type { Principal } from '../identity/principal.ts';
import type { ReviewRuleConfig } from '../policy/review-rules.ts';
import type { SqlDriver } from '../store/sql.ts';
import type { Notifier } from './notifiers/types.ts';
import { ReviewService, type ReviewServiceOptions } from './service.ts';
import type { ReviewEvent } from './types.ts';

/** Shared fixtures of the review tests (principals, rules, a service with a recording notifier). */

export const alice: Principal = { kind: 'user', id: 'alice', groups: ['developers'], via: 'api_key' };
export const aliceViaBot: Principal = { ...alice, agent: { id: 'bot', groups: ['agents'] } };
export const bot: Principal = { kind: 'agent', id: 'bot', groups: ['dba'], via: 'api_key' };
export const bob: Principal = { kind: 'user', id: 'bob', groups: ['dba'], via: 'api_key' };
export const bobViaHelper: Principal = { ...bob, agent: { id: 'helper', groups: [] } };
export const bobViaBot: Principal = { ...bob, agent: { id: 'bot', groups: [] } };
export const carol: Principal = { kind: 'user', id: 'carol', groups: ['dba', 'ops'], via: 'api_key' };
/** In an approver group, but policy does not permit her review.approve. */
export const dave: Principal = { kind: 'user', id: 'dave', groups: ['dba'], via: 'api_key' };
export const eve: Principal = { kind: 'user', id: 'eve', groups: ['sales'], via: 'api_key' };

export const commandRule: ReviewRuleConfig = {
  name: 'crm-writes', connections: ['crm'], actions: ['sql.write', 'sql.ddl'], kind: 'command',
  approvers: ['dba'], min_approvals: 1, require_justification: false,
};
export const jitRule: ReviewRuleConfig = { ...commandRule, name: 'crm-jit', kind: 'jit', duration_ms: 15 * 60_000 };

/** Records notifier events. */
export class RecordingNotifier implements Notifier {
  readonly events: ReviewEvent[] = [];
  notify(e: ReviewEvent): void { this.events.push(e); }
  close(): Promise<void> { return Promise.resolve(); }
  kinds(id?: string): string[] { return this.events.filter((e) => id === undefined || e.review.id === id).map((e) => e.event); }
}

/** A service over `db` where policy permits review.approve to everyone but dave. */
export async function makeService(db: SqlDriver, clock: Clock, over: Partial<ReviewServiceOptions> = {}): Promise<{ reviews: ReviewService; audit: AuditLog; notes: RecordingNotifier }> {
  const audit = new AuditLog(db, clock);
  const notes = new RecordingNotifier();
  const reviews = await ReviewService.open({
    db, clock, audit, notifier: notes, maxDurationMs: 3_600_000, sweepIntervalMs: 0, recheckMs: 50,
    mayApprove: (p) => Promise.resolve(p.id !== 'dave'), ...over,
  });
  return { reviews, audit, notes };
}

/** Resolves once `cond()` holds (polled every few ms, for at most 10 s of real time). */
export async function until(cond: () => boolean, what = 'condition'): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** A request body for `ReviewService.request`. */
export function sqlRequest(principal: Principal, fingerprint: string, rule: ReviewRuleConfig = commandRule) {
  return {
    principal, action: 'sql.write' as const, resource: 'crm', fingerprint, rule,
    facts: { sql: { kinds: ['delete'], tables: ['customers'], functions: [], dangerous_functions: [], statements: 1, has_where: false, data_modifying_cte: false, do_block: false, copy_program: false } },
    summary: 'DELETE FROM customers',
  };
}
