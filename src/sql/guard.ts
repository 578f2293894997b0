import { connectionResource, decideAndRecord, denialReason, type DecideDeps } from '../enforce/authorize.ts';
import type { MaskingRules } from '../masking/rules.ts';
import type { Connection } from '../connections/registry.ts';
import type { Principal } from '../identity/principal.ts';
import { tooMany, type PreparedStatements } from '../inspect/sql/prepared.ts';
import { sortActions, type SqlAction, type SqlInspection, type StatementInfo } from '../inspect/sql/types.ts';
import type { DecisionMemo } from '../policy/decision-memo.ts';
import type { Decision, SqlFacts } from '../policy/request.ts';

/** One action of a statement that policy permits only after a review. */
export interface ReviewNeed {
  readonly action: SqlAction;
  /** The decision (effect `review`, with `reviewRule`) the review gate needs. */
  readonly decision: Decision;
}

/**
 * The outcome of guarding one SQL text: allowed; denied (any deny wins); or allowed only after a
 * review of every action in `reviews` (the statement must be held, see review-hold.ts).
 */
export type Verdict =
  | { readonly ok: true; readonly actions: readonly SqlAction[]; readonly facts: SqlFacts }
  | {
    readonly ok: false; readonly effect: 'deny'; readonly message: string; readonly reasons: readonly string[]; readonly actions: readonly SqlAction[];
    /** A genuine syntax error: answered as PostgreSQL would (42601 with the parser's position), still never forwarded. */
    readonly syntax?: { readonly message: string; readonly position: number };
  }
  | {
    readonly ok: false; readonly effect: 'review'; readonly message: string; readonly reasons: readonly string[];
    readonly actions: readonly SqlAction[]; readonly facts: SqlFacts; readonly reviews: readonly ReviewNeed[];
  };

/**
 * Which functions the upstream database marks volatile (the PostgreSQL catalog:
 * `protocols/postgres/function-volatility.ts`): `check` answers from what is loaded, or undefined
 * when `load` must run first.
 */
export interface VolatilityCheck {
  check(names: readonly string[]): string[] | undefined;
  load(): Promise<void>;
}

/** What the guard needs from the process: the decision point, the SQL inspector, the masking rules. */
export interface GuardDeps extends DecideDeps {
  /** Parses SQL (inline, or on an inspection worker for long texts). */
  readonly inspection: { inspectSql(sql: string): SqlInspection | Promise<SqlInspection> };
  readonly masking: Pick<MaskingRules, 'hasColumnRules'>;
}

/** What the guard needs from a session. */
export interface GuardContext {
  readonly svc: GuardDeps;
  readonly principal: Principal;
  readonly connection: Connection;
  readonly prepared: PreparedStatements;
  /** The session's decision memo (principal and connection are the session's). */
  readonly decisions?: DecisionMemo;
  /** Which functions the upstream marks volatile (absent: not checked, e.g. in unit tests). */
  readonly volatility?: VolatilityCheck;
}

function union(a: readonly string[], b: readonly string[]): string[] {
  return [...new Set([...a, ...b])];
}

/** The request's facts with those of every prepared statement it executes folded in. */
function mergeFacts(facts: SqlFacts, executed: readonly StatementInfo[]): SqlFacts {
  let f = facts;
  for (const s of executed) {
    f = {
      kinds: union(f.kinds, s.kinds), tables: union(f.tables, s.tables), functions: union(f.functions, s.functions),
      dangerous_functions: union(f.dangerous_functions, s.dangerous_functions), statements: f.statements,
      has_where: f.has_where && s.has_where, data_modifying_cte: f.data_modifying_cte || s.data_modifying_cte,
      do_block: f.do_block || s.do_block, copy_program: f.copy_program || s.copy_program,
      copy_out: (f.copy_out ?? false) || s.copy_out, side_effects: union(f.side_effects ?? [], s.side_effects),
      settings: union(f.settings ?? [], s.settings), server_secrets: union(f.server_secrets ?? [], s.server_secrets),
      possible_functions: union(f.possible_functions ?? f.functions, s.possible_functions),
      ...(f.volatile_functions === undefined ? {} : { volatile_functions: f.volatile_functions }),
    };
  }
  return f;
}

/**
 * Inspects `sql` with the PostgreSQL parser and authorizes every action it needs (all must be
 * allowed; any deny wins over any review, so a forbidden statement is never offered for review). What cannot be parsed, and an EXECUTE of an unknown
 * prepared statement, are denied. A protocol-level Parse into a named statement registers it
 * (`statementName`) so that a later SQL `EXECUTE` of that name needs what it needs.
 *
 * Synchronous unless the text is large (then it is parsed on an inspection worker, off the event
 * loop; a worker failure denies) or the audit queue is half full (then it waits for room first:
 * back-pressure, as `authorize()` does) or the upstream's volatile functions must be read first
 * (`ctx.volatility`; once a minute at most), so the wire protocol only leaves its fast path when it must.
 * A function the catalog marks volatile makes the statement need `sql.write`; COPY TO STDOUT on a
 * connection with column rules is denied here, before forwarding.
 *
 * @example
 *   const v = await guardSql(ctx, 'DELETE FROM t');
 *   if (!v.ok) client.write(errorResponse({ code: 'policy_denied', message: v.message })); // 42501
 */
export function guardSql(ctx: GuardContext, sql: string, statementName?: string, extra?: ExtraFacts): Verdict | Promise<Verdict> {
  const inspection = ctx.svc.inspection.inspectSql(sql);
  if (inspection instanceof Promise) return inspection.then((i) => guardInspected(ctx, i, statementName, extra));
  return guardInspected(ctx, inspection, statementName, extra);
}

/** Facts found outside the parser (column lineage on a connection with column rules). */
export type ExtraFacts = Pick<SqlFacts, 'protected_reads' | 'protected_filters'>;

function guardInspected(ctx: GuardContext, inspection: SqlInspection, statementName: string | undefined, extra: ExtraFacts | undefined): Verdict | Promise<Verdict> {
  const room = ctx.svc.audit.room();
  if (!room) return guardNow(ctx, inspection, statementName, extra);
  const go = (): Verdict | Promise<Verdict> => guardNow(ctx, inspection, statementName, extra);
  return room.then(go, go);
}

function guardNow(ctx: GuardContext, inspection: SqlInspection, statementName: string | undefined, extra: ExtraFacts | undefined): Verdict | Promise<Verdict> {
  if (!inspection.ok) {
    return {
      ok: false, effect: 'deny', reasons: ['unparseable'], actions: [], message: `Gatehouse denied the statement: it could not be parsed (${inspection.error})`,
      ...(inspection.syntax === undefined ? {} : { syntax: inspection.syntax }),
    };
  }
  const resolved = ctx.prepared.resolve(inspection);
  if (!resolved.ok) {
    return { ok: false, effect: 'deny', reasons: [resolved.reason], actions: inspection.actions, message: `Gatehouse denied the statement: ${resolved.error}` };
  }
  // A Parse into a new name past the bound of names is refused (no name is forgotten to make room).
  if (statementName !== undefined && statementName !== '' && ctx.prepared.full(statementName)) {
    return { ok: false, effect: 'deny', reasons: ['too-many-prepared-statements'], actions: inspection.actions, message: `Gatehouse denied the statement: ${tooMany(ctx.prepared.limit)}` };
  }
  const merged = mergeFacts(inspection.facts, resolved.executed);
  const facts = extra === undefined ? merged : { ...merged, ...extra };
  const names = facts.possible_functions ?? facts.functions;
  const vol = ctx.volatility;
  if (vol === undefined || names.length === 0) return decide(ctx, inspection, resolved.actions, facts, statementName);
  const found = vol.check(names);
  if (found !== undefined) return decide(ctx, inspection, resolved.actions, withVolatile(facts, found), statementName);
  return vol.load().then(
    () => decide(ctx, inspection, resolved.actions, withVolatile(facts, vol.check(names) ?? names), statementName),
    (err: unknown) => ({
      ok: false, effect: 'deny', reasons: ['catalog-unavailable'], actions: resolved.actions,
      message: `Gatehouse denied the statement: the upstream catalog could not be read to check the functions it calls (${err instanceof Error ? err.message : String(err)})`,
    }),
  );
}

/** Facts with the volatile functions found (a write: see `decide`). */
function withVolatile(facts: SqlFacts, found: readonly string[]): SqlFacts {
  if (found.length === 0) return facts;
  return { ...facts, volatile_functions: found, side_effects: union(facts.side_effects ?? [], ['volatile_function']).sort() };
}

function decide(ctx: GuardContext, inspection: Extract<SqlInspection, { ok: true }>, baseActions: readonly SqlAction[], facts: SqlFacts, statementName: string | undefined): Verdict {
  // A function the catalog marks volatile may write: the statement needs sql.write too.
  const actions = (facts.volatile_functions ?? []).length > 0 ? sortActions([...baseActions, 'sql.write']) : baseActions;
  // Decided before forwarding: COPY TO STDOUT bypasses the row masker, so on a connection with
  // column rules it is refused here, before the server runs anything it contains.
  if (facts.copy_out === true && ctx.svc.masking.hasColumnRules(ctx.connection.name)) {
    return { ok: false, effect: 'deny', reasons: ['copy-out-column-rules'], actions, message: 'Gatehouse denied COPY TO STDOUT: the connection has column masking rules' };
  }
  const resource = connectionResource(ctx.connection);
  const memo = ctx.decisions === undefined ? undefined : { memo: ctx.decisions, facts };
  const decisions = actions.map((action) => ({ action, d: decideAndRecord(ctx.svc, ctx.principal, action, resource, { sql: facts }, memo) }));
  const denied = decisions.find((x) => x.d.effect === 'deny');
  if (denied) return { ok: false, effect: 'deny', reasons: denied.d.reasons, actions, message: messageFor(denied.action, denied.d, ctx.connection.name) };
  // Allowed, or allowed after review: a named statement is known to later SQL EXECUTEs (which
  // are guarded, and so reviewed, again).
  if (statementName !== undefined && statementName !== '') {
    for (const s of inspection.statements) ctx.prepared.register(statementName, s);
  }
  const reviews = decisions.filter((x) => x.d.effect === 'review').map((x) => ({ action: x.action, decision: x.d }));
  const first = reviews[0];
  if (first) {
    return {
      ok: false, effect: 'review', reasons: first.decision.reasons, actions, facts, reviews,
      message: messageFor(first.action, first.decision, ctx.connection.name),
    };
  }
  return { ok: true, actions, facts };
}

function messageFor(action: SqlAction, d: Decision, connection: string): string {
  if (d.effect === 'review') {
    return `Gatehouse: approval required for ${action} on connection "${connection}" (review rule "${d.reviewRule ?? denialReason(d)}")`;
  }
  return `Gatehouse denied ${action} on connection "${connection}": ${denialReason(d)}`;
}
