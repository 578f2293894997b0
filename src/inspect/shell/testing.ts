/**
 * Test support (not used at runtime): the shipped policies (policies/*.cedar, shell.cedar among them) evaluated by
 * the real Cedar engine against the Gatehouse schema extended with this folder's fragment, and
 * the shipped review rule. `decide` answers what the gateway would do with a command.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cedar, cedarSchemaText } from '../../policy/cedar.ts';
import { SHELL_CEDAR_TYPE, SHELL_FACTS_DOC, shellCedarContext, shellSchemaFragment } from './cedar-context.ts';
import { inspectCommand } from './inspect.ts';
import { REVIEW_RISKS } from './types.ts';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const ROOT = join(HERE, '..', '..', '..');

/** The shipped review rule's condition (see SHELL-API / gatehouse.yaml `shell-ambiguous`). */
export const SHELL_REVIEW_WHEN = `context.shell.risks.containsAny([${REVIEW_RISKS.map((r) => `"${r}"`).join(', ')}])`;

/** The Gatehouse schema plus the shell declarations (`shell?:` in Context, the actions), unless already there. */
export function shellSchemaText(): string {
  const base = cedarSchemaText();
  const marker = 'type Context = {';
  if (!base.includes(marker)) throw new Error('schema has no Context type');
  if (base.includes('"shell.exec"')) return base;
  const withShell = base.replace(marker, `${marker}\n  // ${SHELL_FACTS_DOC}\n  shell?: ${SHELL_CEDAR_TYPE},`);
  return `${withShell}\n${shellSchemaFragment()}`;
}

export type Outcome = 'allow' | 'deny' | 'review';

export class ShellPolicyHarness {
  readonly #schema = shellSchemaText();
  readonly #policies: string;
  readonly #review: string;

  /** `extra`: more policy files (e.g. an allow-list example), relative to the repository root. */
  constructor(extra: readonly string[] = []) {
    const dir = join(ROOT, 'policies');
    const files = [
      ...readdirSync(dir).filter((f) => f.endsWith('.cedar')).map((f) => join(dir, f)),
      ...extra.map((f) => join(ROOT, f)),
    ];
    this.#policies = files.map((f) => readFileSync(f, 'utf8')).join('\n');
    this.#review = `@id("shell-ambiguous") permit (principal, action in [Action::"shell.exec"], resource is Connection) when { context has shell && (${SHELL_REVIEW_WHEN}) };`;
    for (const text of [this.#policies, this.#review]) {
      const v = cedar.validate({ schema: this.#schema, policies: { staticPolicies: text }, validationSettings: { mode: 'strict' } });
      if (v.type === 'failure') throw new Error(v.errors.map((e) => e.message).join('; '));
      if (v.validationErrors.length > 0) throw new Error(v.validationErrors.map((e) => `${e.policyId}: ${e.error.message}`).join('; '));
    }
  }

  /** What the gateway decides for `command` by `who` on the ssh connection `connection`. */
  decide(command: string, who: { kind: 'agent' | 'user'; id: string; groups: readonly string[] } = { kind: 'agent', id: 'bot', groups: ['agents'] }, connection = 'web01'): Outcome {
    const facts = inspectCommand(command).facts;
    const principal = { type: who.kind === 'agent' ? 'Agent' : 'User', id: who.id };
    const entities = [
      { uid: principal, attrs: {}, parents: who.groups.map((g) => ({ type: 'Group', id: g })) },
      ...who.groups.map((g) => ({ uid: { type: 'Group', id: g }, attrs: {}, parents: [] })),
      { uid: { type: 'Connection', id: connection }, attrs: { name: connection, type: 'ssh', tags: [] }, parents: [] },
    ];
    const call = (policies: string): boolean => {
      const a = cedar.isAuthorized({
        principal, action: { type: 'Action', id: 'shell.exec' }, resource: { type: 'Connection', id: connection },
        context: { via: 'api_key', time: { hour: 10, weekday: 1, epoch: 1736157600 }, shell: shellCedarContext(facts) as Record<string, string[] | boolean> },
        schema: this.#schema, validateRequest: true, policies: { staticPolicies: policies }, entities,
      });
      if (a.type === 'failure') throw new Error(a.errors.map((e) => e.message).join('; '));
      if (a.response.diagnostics.errors.length > 0) throw new Error(JSON.stringify(a.response.diagnostics.errors));
      return a.response.decision === 'allow';
    };
    if (!call(this.#policies)) return 'deny';
    return call(this.#review) ? 'review' : 'allow';
  }
}
