import { globSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { GatehouseError } from '../kernel/errors.ts';
import { authorizePreparsed, newPolicySetId, preparse, type CedarOutcome } from './authorize.ts';
import { formatIssue, type PolicyLoadIssue } from './cedar.ts';
import { toCedarRequest, toPrunedCedarRequest, type CedarRequest } from './cedar-request.ts';
import { DecisionCache, DEFAULT_DECISION_CACHE_ENTRIES } from './decision-cache.ts';
import {
  builtinAdminPolicy, compilePolicySet, type CompiledPolicySet, type PolicyInfo, type PolicySource,
} from './policy-set.ts';
import type { AccessRequest, Decision } from './request.ts';
import { analyzeUsage, readsTime, type RequestUsage } from './request-usage.ts';

export type { PolicyInfo, PolicySource } from './policy-set.ts';
export type { PolicyLoadIssue } from './cedar.ts';

/** Largest policy file read (bytes); a bigger one is a load error. */
export const MAX_POLICY_FILE_BYTES = 1024 * 1024;

/** Thrown when policies do not parse or validate. `errors` carries file, line and column. */
export class PolicyLoadError extends GatehouseError {
  readonly errors: readonly PolicyLoadIssue[];

  constructor(errors: readonly PolicyLoadIssue[]) {
    const shown = errors.slice(0, 5).map(formatIssue).join('; ');
    const more = errors.length > 5 ? ` (and ${errors.length - 5} more)` : '';
    super('policy_invalid', `policy set is invalid: ${shown}${more}`, { errors });
    this.name = 'PolicyLoadError';
    this.errors = errors;
  }
}

/** Options shared by both constructors. */
export interface PolicyEngineOptions {
  /** `identity.bootstrap.admin_group`: the group the built-in policy permits `admin`. Default `admins`. */
  readonly adminGroup?: string;
  /**
   * Also check every request against the schema in Cedar before evaluating (default false).
   * The request builder copies exactly the schema's fields (a test validates its output for every
   * fact family), and malformed values still fail closed without it; turning it on roughly
   * doubles the cost of a decision.
   */
  readonly validateRequests?: boolean;
  /**
   * Entries of the decision cache (default 10 000; 0 turns it off). Decisions are cached by the
   * canonical JSON of the (pruned) Cedar request, which is all Cedar sees, so a cached decision
   * equals a fresh one; the cache is emptied on every successful reload. Decisions with errors
   * are never cached.
   */
  readonly decisionCacheEntries?: number;
}

/** The active policy set with what was derived from it; replaced as a whole on reload. */
interface ActiveSet {
  readonly set: CompiledPolicySet;
  readonly usage: RequestUsage;
  readonly cache: DecisionCache<Decision>;
}

/** A decision with what produced it, for `gatehouse policy explain`. */
export interface Explanation {
  readonly decision: Decision;
  /** The policies named in `decision.reasons` (absent for `default-deny` / `policy-error`). */
  readonly policies: readonly PolicyInfo[];
  /** The Cedar request as evaluated (undefined when the request could not be built). */
  readonly request?: CedarRequest;
}

/** Result of `reload()`: the new count, or the errors (the previous set stays active). */
export type ReloadResult = { ok: true; count: number } | { ok: false; errors: readonly PolicyLoadIssue[] };

/**
 * Cedar policy engine: loads and validates policy files, keeps the active set preparsed in the
 * wasm module, and decides normalized requests. Default deny; forbid overrides permit; any
 * error denies (an evaluation error in any policy turns an allow into a deny: fail closed).
 *
 * @example
 *   const engine = PolicyEngine.fromFiles(['policies/*.cedar'], { baseDir: configDir });
 *   const d = engine.decide(req); // { effect: 'allow', reasons: ['developers-read'], errors: [] }
 */
export class PolicyEngine {
  readonly #setId = newPolicySetId('gatehouse-policies');
  readonly #builtin: PolicyInfo;
  readonly #validate: boolean;
  readonly #read: () => PolicySource[];
  readonly #watch: readonly { dir: string; recursive: boolean }[];
  readonly #cacheEntries: number;
  #active: ActiveSet;

  private constructor(read: () => PolicySource[], opts: PolicyEngineOptions, watch: { dir: string; recursive: boolean }[]) {
    try {
      this.#builtin = builtinAdminPolicy(opts.adminGroup ?? 'admins');
    } catch (err) {
      throw new PolicyLoadError([{ file: 'identity.bootstrap.admin_group', message: (err as Error).message }]);
    }
    this.#validate = opts.validateRequests ?? false;
    this.#read = read;
    this.#watch = watch;
    this.#cacheEntries = opts.decisionCacheEntries ?? DEFAULT_DECISION_CACHE_ENTRIES;
    const r = this.#load();
    if (!r.ok) throw new PolicyLoadError(r.errors);
    preparse(this.#setId, r.active.set.cedarPolicies);
    this.#active = r.active;
  }

  /**
   * Loads the files matched by glob `patterns` (relative to `baseDir`, default the cwd).
   * A pattern that matches no file is an error. Throws `PolicyLoadError`.
   */
  static fromFiles(patterns: readonly string[], opts: PolicyEngineOptions & { baseDir?: string } = {}): PolicyEngine {
    const baseDir = resolve(opts.baseDir ?? '.');
    const watch = watchTargets(patterns, baseDir);
    return new PolicyEngine(() => readPatterns(patterns, baseDir), opts, watch);
  }

  /** Builds an engine from in-memory sources (tests, `policy check` on stdin). */
  static fromSources(sources: readonly PolicySource[], opts: PolicyEngineOptions = {}): PolicyEngine {
    const copy = sources.map((s) => ({ file: s.file, text: s.text }));
    return new PolicyEngine(() => copy, opts, []);
  }

  /** Re-reads the sources; on any error keeps the last good set and returns the errors. */
  reload(): ReloadResult {
    const r = this.#load();
    if (!r.ok) return r;
    try {
      preparse(this.#setId, r.active.set.cedarPolicies);
    } catch (err) {
      return { ok: false, errors: [{ file: '<policy set>', message: (err as Error).message }] };
    }
    this.#active = r.active; // a fresh, empty decision cache comes with the new set
    return { ok: true, count: r.active.set.policies.length };
  }

  /**
   * Decides one request. Never throws. Evaluates the pruned request (`toPrunedCedarRequest`)
   * and caches error-free decisions by its JSON; with `validateRequests` the full request is
   * evaluated (the schema needs every attribute) and is the key.
   */
  decide(req: AccessRequest): Decision {
    const active = this.#active;
    let request: CedarRequest;
    let key: string;
    try {
      request = this.#validate ? toCedarRequest(req) : toPrunedCedarRequest(req, active.usage);
      key = JSON.stringify(request);
    } catch (err) {
      return { effect: 'deny', reasons: ['policy-error'], errors: [(err as Error).message] };
    }
    const hit = active.cache.get(key);
    if (hit) return hit;
    const outcome = authorizePreparsed(this.#setId, request, this.#validate);
    const decision = toDecision(outcome);
    if (outcome.ok && outcome.errors.length === 0) active.cache.set(key, freezeDecision(decision));
    return decision;
  }

  /**
   * What a memo of decisions must be keyed on (see `DecisionMemo`): an object that stays the same
   * as long as the active policy set does, or undefined when decisions must not be memoized (the
   * set reads `context.time`, or the decision cache is off).
   */
  memoToken(): object | undefined {
    const active = this.#active;
    return this.#cacheEntries === 0 || readsTime(active.usage) ? undefined : active;
  }

  /**
   * The decision, the policies that determined it, and the Cedar request (for debugging). Not
   * cached; evaluates the full request (`toCedarRequest`), which decides as the pruned one does.
   */
  explain(req: AccessRequest): Explanation {
    const { decision, request } = this.#evaluate(req);
    const policies = decision.reasons.flatMap((id) => this.#active.set.byId.get(id) ?? []);
    return request ? { decision, policies, request } : { decision, policies };
  }

  /** The active policies, built-in first, then in file order. */
  policies(): readonly PolicyInfo[] {
    return this.#active.set.policies;
  }

  /** Directories a watcher should observe (empty for `fromSources`). */
  watchTargets(): readonly { dir: string; recursive: boolean }[] {
    return this.#watch;
  }

  #load(): { ok: true; active: ActiveSet } | { ok: false; errors: PolicyLoadIssue[] } {
    let sources: PolicySource[];
    try {
      sources = this.#read();
    } catch (err) {
      if (err instanceof PolicyLoadError) return { ok: false, errors: [...err.errors] };
      return { ok: false, errors: [{ file: '<policies>', message: (err as Error).message }] };
    }
    const r = compilePolicySet(sources, this.#builtin);
    if (!r.ok) return r;
    let usage: RequestUsage;
    try {
      usage = analyzeUsage(Object.values(r.set.cedarPolicies));
    } catch (err) {
      return { ok: false, errors: [{ file: '<policy set>', message: (err as Error).message }] };
    }
    return { ok: true, active: { set: r.set, usage, cache: new DecisionCache<Decision>(this.#cacheEntries) } };
  }

  #evaluate(req: AccessRequest): { decision: Decision; request?: CedarRequest } {
    let request: CedarRequest;
    try {
      request = toCedarRequest(req);
    } catch (err) {
      return { decision: { effect: 'deny', reasons: ['policy-error'], errors: [(err as Error).message] } };
    }
    return { decision: toDecision(authorizePreparsed(this.#setId, request, this.#validate)), request };
  }
}

/** Freezes a decision and its arrays (a cached decision is shared by every caller). */
export function freezeDecision(d: Decision): Decision {
  Object.freeze(d.reasons);
  Object.freeze(d.errors);
  return Object.freeze(d);
}

/**
 * Maps Cedar's outcome to a Decision. Allow: the permit ids. Deny: the forbid ids, else
 * `default-deny`. Any error (request-level, or in any policy) denies; an explicit forbid keeps
 * its ids as reasons, otherwise the reason is `policy-error`.
 */
export function toDecision(o: CedarOutcome): Decision {
  if (!o.ok) return { effect: 'deny', reasons: ['policy-error'], errors: o.errors };
  if (o.errors.length > 0) {
    const forbids = o.allow ? [] : o.reasons;
    return { effect: 'deny', reasons: forbids.length > 0 ? forbids : ['policy-error'], errors: o.errors };
  }
  if (o.allow) return { effect: 'allow', reasons: o.reasons, errors: [] };
  return { effect: 'deny', reasons: o.reasons.length > 0 ? o.reasons : ['default-deny'], errors: [] };
}

function readPatterns(patterns: readonly string[], baseDir: string): PolicySource[] {
  const issues: PolicyLoadIssue[] = [];
  const seen = new Set<string>();
  const sources: PolicySource[] = [];
  for (const pattern of patterns) {
    const matches = globSync(pattern, { cwd: baseDir })
      .filter((f) => statSync(resolve(baseDir, f)).isFile())
      .sort();
    if (matches.length === 0) issues.push({ file: pattern, message: 'no policy file matches this pattern' });
    for (const file of matches) {
      const abs = resolve(baseDir, file);
      if (seen.has(abs)) continue;
      seen.add(abs);
      const size = statSync(abs).size;
      if (size > MAX_POLICY_FILE_BYTES) {
        issues.push({ file, message: `file is larger than ${MAX_POLICY_FILE_BYTES} bytes` });
        continue;
      }
      sources.push({ file, text: readFileSync(abs, 'utf8') });
    }
  }
  if (issues.length > 0) throw new PolicyLoadError(issues);
  return sources;
}

/** The directory before the first glob segment of each pattern (recursive when it has `**`). */
function watchTargets(patterns: readonly string[], baseDir: string): { dir: string; recursive: boolean }[] {
  const out = new Map<string, boolean>();
  for (const pattern of patterns) {
    const abs = isAbsolute(pattern) ? pattern : resolve(baseDir, pattern);
    const segments = abs.split('/');
    const firstGlob = segments.findIndex((s) => /[*?[{]/.test(s));
    const dir = firstGlob === -1 ? dirname(abs) : segments.slice(0, firstGlob).join('/') || '/';
    const recursive = pattern.includes('**') || (firstGlob !== -1 && firstGlob < segments.length - 1);
    out.set(dir, (out.get(dir) ?? false) || recursive);
  }
  return [...out].map(([dir, recursive]) => ({ dir, recursive }));
}
