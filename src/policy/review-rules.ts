import { createHash } from 'node:crypto';
import { authorizePreparsed, preparse, type CedarOutcome } from './authorize.ts';
import { optionalContext } from './cedar-schema.ts';
import { cedar, cedarSchemaText, issueFromCedar, SourceText, type PolicyLoadIssue } from './cedar.ts';
import { toCedarRequest, toPrunedCedarRequest, type CedarRequest } from './cedar-request.ts';
import { DecisionCache } from './decision-cache.ts';
import { PolicyLoadError } from './engine.ts';
import { isAction, type AccessRequest, type Action } from './request.ts';
import { analyzeUsage, readsTime, type RequestUsage } from './request-usage.ts';
import type { ErrorCode } from '../kernel/errors.ts';

/** One `reviews.rules[]` entry of gatehouse.yaml (defaults already applied by the config loader). */
export interface ReviewRuleConfig {
  readonly name: string;
  /** Connection names or globs (`*` matches any characters). */
  readonly connections: readonly string[];
  readonly actions: readonly string[];
  readonly kind: 'command' | 'jit';
  /** Approver groups. */
  readonly approvers: readonly string[];
  readonly min_approvals: number;
  /** A Cedar condition, e.g. `context.sql.has_where == false`. See `ReviewRules.compile`. */
  readonly when?: string;
  readonly require_justification: boolean;
  /** Whether a person with an AI agent acting for them may decide (default false). */
  readonly agent_approvers?: boolean;
  /** jit: grant length in milliseconds (the config's `duration: 15m`, converted at load). */
  readonly duration_ms?: number;
}

/** What `evaluate` found: the first matching rule, or the errors that make the request deny. */
export interface ReviewMatch {
  readonly rule?: ReviewRuleConfig;
  readonly errors: readonly string[];
}

interface CompiledRule {
  readonly config: ReviewRuleConfig;
  readonly actions: ReadonlySet<Action>;
  readonly globs: readonly RegExp[];
  /** Cedar policy id of the `when` condition, when there is one. */
  readonly policyId?: string;
}

/** Context attributes that are optional in the schema; conditions get `context has x &&` guards. */
const OPTIONAL_CONTEXT = optionalContext();

/**
 * Review rules: which permitted requests need a human first (SPEC: reviews). A rule matches a
 * request on a connection when the connection name matches one of its globs, the action is one
 * of its actions, and its `when` condition (if any) holds. The first matching rule wins.
 *
 * `when` is Cedar, evaluated with the same entities and context as the policies: each rule is
 * compiled into `permit (principal, action in [<actions>], resource is Connection)
 * when { <guards> && (<when>) };` and
 * validated against the schema at load. Guards (`context has sql`, ...) are added for the
 * optional context records the condition reads, so `context.sql.has_where == false` is valid
 * as written and is false when the request carries no SQL facts.
 *
 * @example
 *   const rules = new ReviewRules([{ name: 'no-where', connections: ['crm'], actions: ['sql.write'],
 *     kind: 'command', approvers: ['dba'], min_approvals: 1, require_justification: false,
 *     when: 'context.sql.has_where == false' }]);
 *   rules.match(req)?.name; // 'no-where' for an UPDATE without WHERE on crm
 */
export class ReviewRules {
  readonly #rules: readonly CompiledRule[];
  readonly #setId: string | undefined;
  readonly #usage: RequestUsage | undefined;
  readonly #validate: boolean;
  /** Error-free Cedar outcomes of the conditions, by the JSON of the (pruned) request. */
  readonly #cache: DecisionCache<CedarOutcome>;

  /**
   * Compiles and validates the rules. Throws `PolicyLoadError` naming the rule on any problem.
   * `decisionCacheEntries` bounds the cache of condition outcomes (default 10 000; 0 = off).
   */
  constructor(configs: readonly ReviewRuleConfig[], opts: ReviewRulesOptions = {}) {
    const { rules, setId, usage } = compileRules(configs);
    this.#rules = rules;
    this.#setId = setId;
    this.#usage = usage;
    this.#validate = opts.validateRequests ?? false;
    this.#cache = new DecisionCache(opts.decisionCacheEntries);
  }

  /** Same as `new ReviewRules(configs, opts)`. */
  static compile(configs: readonly ReviewRuleConfig[], opts: ReviewRulesOptions = {}): ReviewRules {
    return new ReviewRules(configs, opts);
  }

  /** The rules, in order. */
  rules(): readonly ReviewRuleConfig[] {
    return this.#rules.map((r) => r.config);
  }

  /** Whether a condition can match differently at different times (it reads `context.time`). */
  readsTime(): boolean {
    return this.#setId !== undefined && (this.#usage === undefined || readsTime(this.#usage));
  }

  /**
   * The first rule matching `req`, or the errors met while evaluating conditions (the caller
   * must deny then: fail closed). Requests on the gateway itself (`admin`) never match.
   */
  evaluate(req: AccessRequest): ReviewMatch {
    if (req.resource.kind !== 'connection') return { errors: [] };
    const name = req.resource.name;
    const needed: CompiledRule[] = [];
    for (const r of this.#rules) {
      if (!r.actions.has(req.action) || !r.globs.some((g) => g.test(name))) continue;
      needed.push(r);
      if (r.policyId === undefined) break;
    }
    const first = needed[0];
    if (!first) return { errors: [] };
    if (first.policyId === undefined || this.#setId === undefined) return { rule: first.config, errors: [] };
    const outcome = this.#conditions(this.#setId, req);
    if (!outcome.ok) return { errors: outcome.errors };
    const satisfied = new Set(outcome.allow ? outcome.reasons : []);
    const errored = new Set(outcome.errored);
    for (const r of needed) {
      if (r.policyId === undefined) return { rule: r.config, errors: [] };
      if (errored.has(r.policyId)) return { errors: outcome.errors.filter((e) => e.startsWith(`${r.policyId}: `)) };
      if (satisfied.has(r.policyId)) return { rule: r.config, errors: [] };
    }
    return { errors: [] };
  }

  /** Evaluates the conditions' policy set (cached by the request Cedar sees, like the engine). */
  #conditions(setId: string, req: AccessRequest): CedarOutcome {
    let request: CedarRequest;
    let key: string;
    try {
      request = this.#validate || !this.#usage ? toCedarRequest(req) : toPrunedCedarRequest(req, this.#usage);
      key = JSON.stringify(request);
    } catch (err) {
      return { ok: false, errors: [(err as Error).message] };
    }
    const hit = this.#cache.get(key);
    if (hit) return hit;
    const outcome = authorizePreparsed(setId, request, this.#validate);
    if (outcome.ok && outcome.errors.length === 0) this.#cache.set(key, Object.freeze(outcome));
    return outcome;
  }

  /** The matching rule, if any. Throws `PolicyEvaluationError` when a condition fails to evaluate. */
  match(req: AccessRequest): ReviewRuleConfig | undefined {
    const m = this.evaluate(req);
    if (m.errors.length > 0) throw new PolicyEvaluationError(m.errors);
    return m.rule;
  }
}

/** Options of `ReviewRules`. */
export interface ReviewRulesOptions {
  /** Check each request against the schema before evaluating conditions (default false). */
  readonly validateRequests?: boolean;
  /** Entries of the cache of condition outcomes (default 10 000; 0 turns it off). */
  readonly decisionCacheEntries?: number;
}

/** Checks and compiles rules, validating conditions against the schema, and preparses them. */
function compileRules(configs: readonly ReviewRuleConfig[]): { rules: CompiledRule[]; setId?: string; usage?: RequestUsage } {
  const errors: PolicyLoadIssue[] = [];
  const names = new Set<string>();
  const texts: Record<string, string> = {};
  const where = new Map<string, { src: SourceText; base: number; file: string }>();
  const rules: CompiledRule[] = [];
  for (const config of configs) {
    const file = `review rule "${config.name}"`;
    const problem = checkShape(config, names);
    if (problem) { errors.push({ file, message: problem }); continue; }
    names.add(config.name);
    let policyId: string | undefined;
    if (config.when !== undefined) {
      const compiled = compileCondition(config.when, config.actions, file);
      if ('issue' in compiled) { errors.push(compiled.issue); continue; }
      policyId = `review:${config.name}`;
      texts[policyId] = compiled.text;
      where.set(policyId, { src: new SourceText(config.when), base: compiled.condStart, file });
    }
    rules.push({
      config,
      actions: new Set(config.actions.filter(isAction)),
      globs: config.connections.map(globToRegExp),
      ...(policyId === undefined ? {} : { policyId }),
    });
  }
  if (errors.length === 0 && Object.keys(texts).length > 0) {
    const res = cedar.validate({ schema: cedarSchemaText(), policies: { staticPolicies: texts } });
    if (res.type === 'failure') errors.push(...res.errors.map((e) => ({ file: 'reviews.rules', message: e.message })));
    else {
      const seen = new Set<string>();
      for (const v of res.validationErrors) {
        const w = where.get(v.policyId);
        if (!w || seen.has(v.policyId)) continue;
        seen.add(v.policyId);
        // Offsets are in the synthetic policy; shift them into the condition text.
        errors.push(issueFromCedar(w.file, v.error, w.src, -w.base));
      }
    }
  }
  if (errors.length > 0) throw new PolicyLoadError(errors);
  if (Object.keys(texts).length === 0) return { rules };
  const setId = `gatehouse-review-rules-${createHash('sha256').update(JSON.stringify(texts)).digest('hex').slice(0, 16)}`;
  let usage: RequestUsage;
  try {
    usage = analyzeUsage(Object.values(texts));
  } catch (err) {
    throw new PolicyLoadError([{ file: 'reviews.rules', message: (err as Error).message }]);
  }
  preparse(setId, texts);
  return { rules, setId, usage };
}

/** A review-rule condition failed to evaluate; the request must be denied. */
export class PolicyEvaluationError extends Error {
  /** The registry code: the rules cannot be evaluated as written. */
  readonly code = 'policy_invalid' satisfies ErrorCode;
  readonly errors: readonly string[];
  constructor(errors: readonly string[]) {
    super(`review rule evaluation failed: ${errors.join('; ')}`);
    this.name = 'PolicyEvaluationError';
    this.errors = errors;
  }
}

function checkShape(c: ReviewRuleConfig, names: ReadonlySet<string>): string | undefined {
  if (c.name.trim() === '') return 'a review rule needs a name';
  if (names.has(c.name)) return 'duplicate review rule name';
  if (c.connections.length === 0) return 'connections must not be empty';
  if (c.actions.length === 0) return 'actions must not be empty';
  const bad = c.actions.find((a) => !isAction(a) || a === 'admin' || a === 'session.view');
  if (bad !== undefined) return `action "${bad}" cannot be reviewed`;
  if (!Number.isInteger(c.min_approvals) || c.min_approvals < 1) return 'min_approvals must be an integer ≥ 1';
  if (c.approvers.length === 0) return 'approvers must not be empty';
  if (c.duration_ms !== undefined && !(Number.isSafeInteger(c.duration_ms) && c.duration_ms >= 0)) return `duration ${c.duration_ms} is not a number of milliseconds`;
  return undefined;
}

const PREFIX = 'permit (principal, action, resource) when { ';

/**
 * Wraps a condition into a policy scoped to the rule's actions and `Connection` resources,
 * adding `has` guards; `condStart` is the condition's byte offset in the policy text.
 */
function compileCondition(
  cond: string, actions: readonly string[], file: string,
): { text: string; condStart: number } | { issue: PolicyLoadIssue } {
  const src = new SourceText(cond);
  const probe = `${PREFIX}${cond}\n};`;
  const json = cedar.policyToJson(probe);
  if (json.type === 'failure') {
    const e = json.errors[0];
    const issue = e ? issueFromCedar(file, e, src, -Buffer.byteLength(PREFIX)) : { file, message: 'invalid condition' };
    return { issue };
  }
  const attrs = new Set<string>();
  collectContextAttrs(json.json.conditions, attrs);
  const guards = [...attrs].filter((a) => OPTIONAL_CONTEXT.has(a)).sort().map((a) => `context has ${a} && `).join('');
  const scope = actions.map((a) => `Action::"${a}"`).join(', ');
  const head = `permit (principal, action in [${scope}], resource is Connection) when { ${guards}(`;
  return { text: `${head}${cond}\n) };`, condStart: Buffer.byteLength(head) };
}

/** Adds every attribute read directly off `context` (`context.x` / `context["x"]`). */
function collectContextAttrs(node: unknown, out: Set<string>): void {
  if (Array.isArray(node)) {
    for (const n of node) collectContextAttrs(n, out);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const rec = node as Record<string, unknown>;
  const dot = rec['.'];
  if (dot !== null && typeof dot === 'object') {
    const { left, attr } = dot as { left?: unknown; attr?: unknown };
    if (typeof attr === 'string' && left !== null && typeof left === 'object' && (left as { Var?: unknown }).Var === 'context') out.add(attr);
  }
  for (const v of Object.values(rec)) collectContextAttrs(v, out);
}

/** `crm-*` → /^crm-.*$/ (only `*` is special). */
function globToRegExp(glob: string): RegExp {
  const body = glob.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')).join('.*');
  return new RegExp(`^${body}$`, 's');
}
