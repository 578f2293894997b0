/** Builders of normalized requests for tests (policy, reviews, protocols). Not used at runtime. */
import type { Principal } from '../identity/principal.ts';
import type { AccessRequest, Action, Facts, LlmFacts, Resource, SqlFacts } from './request.ts';

/** Monday 2025-01-06 10:00:00 UTC. */
export const TEST_TIME = Date.UTC(2025, 0, 6, 10, 0, 0);

/** A user principal. @example user('alice', ['developers']) */
export function user(id: string, groups: readonly string[] = [], agent?: { id: string; groups: readonly string[] }): Principal {
  return agent ? { kind: 'user', id, groups, agent, via: 'gatehouse_jwt' } : { kind: 'user', id, groups, via: 'api_key' };
}

/** An agent acting on its own. */
export function agent(id: string, groups: readonly string[] = []): Principal {
  return { kind: 'agent', id, groups, via: 'api_key' };
}

/**
 * A connection resource: `tags`, and any other member is one of its declared attributes.
 * @example connection('openai', 'llm', { provider: 'openai', tags: ['prod'] })
 */
export function connection(name: string, type = 'postgres', extra: { readonly tags?: readonly string[]; readonly [attr: string]: string | readonly string[] | undefined } = {}): Resource {
  const { tags, ...rest } = extra;
  const attrs = Object.fromEntries(Object.entries(rest).filter((e): e is [string, string] => typeof e[1] === 'string'));
  return { kind: 'connection', name, type, ...(tags === undefined ? {} : { tags }), ...(Object.keys(attrs).length === 0 ? {} : { attrs }) };
}

/** SQL facts of a harmless single SELECT, with overrides. */
export function sqlFacts(over: Partial<SqlFacts> = {}): SqlFacts {
  return {
    kinds: ['select'], tables: ['customers'], functions: [], dangerous_functions: [], statements: 1,
    has_where: true, data_modifying_cte: false, do_block: false, copy_program: false,
    copy_out: false, side_effects: [], settings: [], server_secrets: [], possible_functions: [], volatile_functions: [],
    protected_reads: [], protected_filters: [], ...over,
  };
}

/** LLM facts of a clean chat completion, with overrides. */
export function llmFacts(over: Partial<LlmFacts> = {}): LlmFacts {
  return {
    provider: 'openai', endpoint: '/v1/chat/completions', model: 'gpt-4o-mini', stream: false, tools: [],
    secret_types: [], pii_types: [], findings: 0, ...over,
  };
}

/** A request at `TEST_TIME`. @example request(user('alice', ['developers']), 'sql.read', connection('crm'), { sql: sqlFacts() }) */
export function request(principal: Principal, action: Action, resource: Resource, facts: Facts = {}, at = TEST_TIME): AccessRequest {
  return { principal, action, resource, facts, at };
}
