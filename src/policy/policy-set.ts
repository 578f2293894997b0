import {
  cedar, cedarSchemaText, issueFromCedar, issuesFromCedar, SourceText, type PolicyLoadIssue,
} from './cedar.ts';
import { splitPolicies } from './split.ts';

/** A policy file's name (as shown in errors and ids) and its text. */
export interface PolicySource {
  readonly file: string;
  readonly text: string;
}

/** One policy of the active set, as `gatehouse policy check` and `explain` show it. */
export interface PolicyInfo {
  /** The `@id` annotation, else `<file>#<index>` (0-based index within the file). */
  readonly id: string;
  readonly file: string;
  /** 1-based line of the policy's first character in its file. */
  readonly line: number;
  readonly effect: 'permit' | 'forbid';
  /** The policy as written (annotations included, leading comments not). */
  readonly text: string;
  /** True for the built-in admin policy, which cannot be removed. */
  readonly builtin: boolean;
}

/** Id of the built-in policy that permits the bootstrap admin group the `admin` action. */
export const BUILTIN_ADMIN_ID = 'builtin-admins';
/** Pseudo file name of built-in policies. */
export const BUILTIN_FILE = '<builtin>';

/** Reason codes that are not policy ids; an `@id` may not take one of them. */
const RESERVED_IDS = new Set(['default-deny', 'policy-error']);

/**
 * The built-in policy: group `adminGroup` may do the `admin` action, nothing more.
 * @example builtinAdminPolicy('admins').text.startsWith('@id("builtin-admins")')
 */
export function builtinAdminPolicy(adminGroup: string): PolicyInfo {
  if (adminGroup === '' || /[\p{Cc}"\\]/u.test(adminGroup)) {
    throw new Error(`admin group name ${JSON.stringify(adminGroup)} is not allowed`);
  }
  // The admin group administers the gateway and sees every recorded session; a user sees the
  // sessions recorded under its own name — and an agent acting for it only those recorded with
  // that user and that same agent (not the user's own, agent-less sessions). An agent acting
  // alone owns none (its recordings name no user). Other visibility (auditors) comes from policy files.
  const text = `@id("${BUILTIN_ADMIN_ID}")\npermit (principal, action in [Action::"admin", Action::"session.view"], resource)\n`
    + `when { principal in Group::"${adminGroup}" || (resource is Session && resource in principal && principal is User`
    + ` && (!(context has agent) || (context has agent && resource has agent && resource.agent == context.agent.id))) };`;
  return { id: BUILTIN_ADMIN_ID, file: BUILTIN_FILE, line: 1, effect: 'permit', text, builtin: true };
}

/** A validated policy set: its policies in load order, and Cedar's input keyed by policy id. */
export interface CompiledPolicySet {
  readonly policies: readonly PolicyInfo[];
  readonly byId: ReadonlyMap<string, PolicyInfo>;
  readonly cedarPolicies: Readonly<Record<string, string>>;
}

interface Located { readonly info: PolicyInfo; readonly src: SourceText; readonly base: number }

/**
 * Parses every source, gives each policy its id, and validates the whole set (with `builtin`)
 * against the schema in strict mode. Returns every problem found, with file, line and column.
 *
 * @example
 *   const r = compilePolicySet([{ file: 'a.cedar', text }], builtinAdminPolicy('admins'));
 *   if (!r.ok) console.error(r.errors);
 */
export function compilePolicySet(
  sources: readonly PolicySource[], builtin: PolicyInfo,
): { ok: true; set: CompiledPolicySet } | { ok: false; errors: PolicyLoadIssue[] } {
  const errors: PolicyLoadIssue[] = [];
  const located = new Map<string, Located>();
  located.set(builtin.id, { info: builtin, src: new SourceText(builtin.text), base: 0 });
  for (const source of sources) {
    for (const item of parseFile(source, errors)) {
      const clash = checkId(item.info.id, located);
      if (clash) errors.push({ file: item.info.file, ...item.src.position(item.base), message: clash });
      else located.set(item.info.id, item);
    }
  }
  if (errors.length > 0) return { ok: false, errors };

  const cedarPolicies: Record<string, string> = {};
  for (const [id, l] of located) cedarPolicies[id] = l.info.text;
  const res = cedar.validate({ schema: cedarSchemaText(), policies: { staticPolicies: cedarPolicies } });
  if (res.type === 'failure') return { ok: false, errors: issuesFromCedar('<policy set>', res.errors) };
  const seen = new Set<string>();
  for (const v of res.validationErrors) {
    const loc = v.error.sourceLocations?.[0];
    // Strict validation reports one error per action a policy may apply to; keep the first.
    const key = `${v.policyId}:${loc?.start ?? ''}:${loc?.end ?? ''}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const l = located.get(v.policyId);
    errors.push(l
      ? issueFromCedar(l.info.file, v.error, l.src, l.base)
      : { file: '<policy set>', message: v.error.message });
  }
  if (errors.length > 0) return { ok: false, errors: errors.sort(byPosition) };
  const policies = [...located.values()].map((l) => l.info);
  return { ok: true, set: { policies, byId: new Map(policies.map((p) => [p.id, p])), cedarPolicies } };
}

function byPosition(a: PolicyLoadIssue, b: PolicyLoadIssue): number {
  return a.file.localeCompare(b.file) || (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0);
}

function checkId(id: string, taken: ReadonlyMap<string, Located>): string | undefined {
  if (id.trim() === '') return 'policy id must not be empty';
  if (RESERVED_IDS.has(id) || id.startsWith('review:')) return `policy id "${id}" is reserved`;
  const other = taken.get(id);
  if (!other) return undefined;
  const where = other.info.builtin ? 'the built-in policy' : `${other.info.file}:${other.info.line}`;
  return `duplicate policy id "${id}" (also used by ${where})`;
}

/** Parses one file into located policies; problems go to `errors`. */
function parseFile(source: PolicySource, errors: PolicyLoadIssue[]): Located[] {
  const src = new SourceText(source.text);
  const parsed = cedar.checkParsePolicySet({ staticPolicies: source.text });
  if (parsed.type === 'failure') {
    errors.push(...issuesFromCedar(source.file, parsed.errors, src));
    return [];
  }
  const { spans, trailing } = splitPolicies(source.text);
  const parts = cedar.policySetTextToParts(source.text);
  const expected = parts.type === 'success' ? parts.policies.length + parts.policy_templates.length : -1;
  if (trailing || expected !== spans.length) {
    errors.push({ file: source.file, message: `could not split the file into policies (found ${spans.length}, Cedar found ${expected})` });
    return [];
  }
  const out: Located[] = [];
  spans.forEach((span, index) => {
    const base = src.byteOffset(span.start);
    const json = cedar.policyToJson(span.text);
    if (json.type === 'failure') {
      errors.push(...issuesFromCedar(source.file, json.errors, src, base));
      return;
    }
    const id = json.json.annotations?.id ?? `${source.file}#${index}`;
    const info: PolicyInfo = {
      id, file: source.file, line: src.position(base).line, effect: json.json.effect, text: span.text, builtin: false,
    };
    out.push({ info, src, base });
  });
  return out;
}
