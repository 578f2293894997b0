import { ACTIONS } from '../policy/request.ts';
import { REGISTRY, type CredentialKey, type ProtocolSet } from '../protocols/registry.ts';
import { bool, duration, list, obj, oneOf, str, type JsonSchema } from './schema-helpers.ts';

/** The registered connection types (`['llm', 'http', 'postgres']`), from src/protocols/registry.ts. */
export { CONNECTION_TYPES } from '../protocols/registry.ts';
/** LLM wire formats. */
export { LLM_PROVIDERS } from '../protocols/http/protocol.ts';
/** The credential keys a connection may hold (every registered type's). Every value becomes a `Secret` after load. */
export const CREDENTIAL_KEYS: readonly CredentialKey[] = REGISTRY.credentials().map((c) => c.key as CredentialKey);
/** Detector names of SPEC: masking. */
export const MASKING_ENTITIES = [
  'EMAIL', 'PHONE', 'CREDIT_CARD', 'IBAN', 'US_SSN', 'IP_ADDRESS', 'JWT', 'PRIVATE_KEY', 'SECRET',
] as const;
export const MASKING_STRATEGIES = ['redact', 'partial', 'hash'] as const;
export const MASKING_DIRECTIONS = ['request', 'response', 'both'] as const;
export const REVIEW_KINDS = ['command', 'jit'] as const;

/** Connection, rule and pattern names: lower-case, URL- and database-name-safe. */
export const NAME_PATTERN = '^[a-z0-9][a-z0-9_-]{0,62}$';

const SECRET_ADVICE = ' Usually "${ENV_VAR}" or "${file:path}"; held as a secret after load.';

/** `connections[].credentials`: every registered type's keys, merged. */
function credentialsSchema(set: ProtocolSet): JsonSchema {
  const merged = set.credentials();
  const dependentRequired: Record<string, readonly string[]> = {};
  for (const type of set.connectionTypes) Object.assign(dependentRequired, set.connectionType(type)?.credentialDependencies ?? {});
  return obj(
    'Secrets Gatehouse presents upstream; clients never see them. Only the keys listed are accepted.',
    Object.fromEntries(merged.map((c) => [c.key, str(c.kind === 'secret' ? `${c.description}${SECRET_ADVICE}` : c.description, c.pattern === undefined ? {} : { pattern: c.pattern })])),
    { default: {}, ...(Object.keys(dependentRequired).length > 0 ? { dependentRequired } : {}) },
  );
}

const typeIs = (type: string): JsonSchema => ({ properties: { type: { const: type } }, required: ['type'] });
const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The `connections[].url` pattern of a type: its schemes, then `://`. */
export function urlPattern(schemes: readonly string[]): string {
  return schemes.length === 1 ? `^${escapeRe(schemes[0] ?? '')}://` : `^(${schemes.map(escapeRe).join('|')})://`;
}

/**
 * `connections[]` for the protocols of `set`: the common fields, each type's own fields (refused
 * on other types), its required fields and its URL schemes.
 */
export function connectionSchema(set: ProtocolSet = REGISTRY): JsonSchema {
  const decls = set.connectionTypes.map((t) => set.connectionType(t)).filter((d) => d !== undefined);
  const fields = Object.fromEntries(decls.flatMap((d) => Object.entries(d.fields ?? {})));
  const bySchemes = new Map<string, string[]>();
  for (const d of decls) {
    const key = d.urlSchemes.map((s) => `${s}://`).join(' or ');
    bySchemes.set(key, [...(bySchemes.get(key) ?? []), d.type]);
  }
  const urls = [...bySchemes].map(([schemes, types]) => `${schemes} for ${types.join(' and ')}`).join('; ');
  return obj(
    'An upstream service reached through Gatehouse. Clients address it by name: /proxy/<name>/… (HTTP, LLM), database name <name> (PostgreSQL).',
    {
      name: str('Unique connection name: lower-case letters, digits, "_" and "-", at most 63 characters.', { pattern: NAME_PATTERN }),
      type: oneOf(`Kind of upstream: one of the registered connection types (${decls.map((d) => `${d.type}: ${d.summary}`).join('; ')}).`, set.connectionTypes),
      url: str(`Upstream base URL: ${urls}. Put passwords in credentials, not here.`, { format: 'uri' }),
      ...fields,
      credentials: credentialsSchema(set),
      description: str('Free text shown in the admin API.', { maxLength: 1000 }),
      tags: list('Labels visible to policy as the connection entity\'s tags.', str('A tag.', { pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,62}$' }), { uniqueItems: true, default: [] }),
      timeouts: obj('Upstream timeouts.', {
        connect: duration('Time allowed to open the upstream connection.', '10s'),
        headers: duration('Time allowed for the upstream to send response headers (HTTP, LLM).', '60s'),
        body: duration('Time allowed for the whole response body, streams included (HTTP, LLM).', '300s'),
      }, { default: {} }),
    },
    {
      required: ['name', 'type', 'url'],
      allOf: [
        // Each type's own fields: required on it, refused on any other type.
        ...decls.flatMap((d) => {
          const own = Object.keys(d.fields ?? {});
          const required = d.required ?? [];
          if (own.length === 0) return [];
          return [{
            if: typeIs(d.type),
            ...(required.length > 0 ? { then: { required: [...required] } } : {}),
            else: { properties: Object.fromEntries(own.map((f) => [f, false])) },
          }];
        }),
        // Each type's URL schemes.
        ...decls.map((d) => ({ if: typeIs(d.type), then: { properties: { url: { type: 'string', pattern: d.urlPattern ?? urlPattern(d.urlSchemes) } } } })),
      ],
    },
  );
}

/** `connections[]`: one upstream each. */
export const CONNECTION_SCHEMA: JsonSchema = connectionSchema();

/** `masking`. */
export const MASKING_SCHEMA: JsonSchema = obj('Inline masking of sensitive data (SPEC: masking).', {
  hash_key: str('Secret key of the "hash" strategy (HMAC-SHA256), at least 16 characters; required when any rule uses hash. Keep it stable: changing it changes every hash.', { minLength: 16 }),
  rules: list('Masking rules; every matching rule applies.', obj('One masking rule. Give at least one of entities, columns, patterns.', {
    connections: list('Connection names or globs ("*", "crm-*") this rule applies to.', str('A connection name or glob.', { minLength: 1 }), { minItems: 1, default: ['*'] }),
    direction: oneOf('response: data coming back to the client; request: data leaving for the upstream (egress redaction of prompts); both.', MASKING_DIRECTIONS, 'both'),
    entities: list('Detectors to run on content (they see through Unicode disguises: full-width digits, zero-width characters, other dashes and spaces). SECRET includes JWT and PRIVATE_KEY: a rule listing SECRET masks tokens and PEM private keys too (under their own names, [JWT] and [PRIVATE_KEY]); list JWT or PRIVATE_KEY alone to mask only those, or in an earlier rule to give them another strategy.', oneOf('A detector.', MASKING_ENTITIES), { minItems: 1, uniqueItems: true }),
    strategy: oneOf('How detected values are masked: redact ("[EMAIL]"), partial (keep the last 4 characters), hash (keyed HMAC, stable per deployment).', MASKING_STRATEGIES, 'redact'),
    columns: {
      type: 'object',
      description: 'PostgreSQL result columns masked whatever their content: "table.column" (or "schema.table.column") → strategy.',
      propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_$]*(\\.[A-Za-z_][A-Za-z0-9_$]*){1,2}$' },
      additionalProperties: oneOf('Strategy for this column.', MASKING_STRATEGIES),
    },
    patterns: list('Custom detectors: RE2 regular expressions (linear time), checked at load.', obj('A custom detector.', {
      name: str('Label used by redact ("[NAME]").', { pattern: '^[A-Za-z][A-Za-z0-9_]{0,62}$' }),
      regex: str('RE2 syntax (no backreferences or lookaround).', { minLength: 1, maxLength: 4096 }),
    }, { required: ['name', 'regex'] })),
  }), { default: [] }),
}, { default: {} });

/** `reviews`. */
export const REVIEWS_SCHEMA: JsonSchema = obj('Human approval before permitted requests run (SPEC: reviews).', {
  hold_timeout: duration('How long a held request waits for a decision before the client gets an error naming the review id.', '60s'),
  max_duration: duration('Longest jit grant any rule may give.', '8h'),
  rules: list('Review rules; a permitted request matching any rule needs approval first.', obj('One review rule.', {
    name: str('Unique rule name (shown in reviews and decision reasons as review:<name>).', { pattern: NAME_PATTERN }),
    connections: list('Connection names or globs.', str('A connection name or glob.', { minLength: 1 }), { minItems: 1 }),
    actions: list('Actions that need approval.', oneOf('A Cedar action.', ACTIONS), { minItems: 1, uniqueItems: true }),
    kind: oneOf('command: approve one exact request, run at most once; jit: a time-bound grant on the connection and actions.', REVIEW_KINDS),
    duration: duration('Length of a jit grant (at most max_duration). Only valid with kind jit.', '15m'),
    approvers: list('Groups whose members may approve (requesters never approve their own requests).', str('A group name.', { minLength: 1 }), { minItems: 1, uniqueItems: true }),
    min_approvals: { type: 'integer', description: 'Approvals needed, from distinct approvers.', minimum: 1, maximum: 100, default: 1 },
    when: str('Optional Cedar condition over the request (the body of a "when { … }" clause, e.g. "context.sql.has_where == false"); the rule applies only when it holds.', { maxLength: 4096 }),
    require_justification: bool('Requesters must give a reason when asking.', false),
    agent_approvers: bool('Whether an approver may be a person with an AI agent acting for them (a token or key with an agent). '
      + 'Off by default: human-in-the-loop means a human decides, so only a person with no acting agent approves, denies or revokes. '
      + 'When on, policy must still permit the person "review.approve" (context.agent is set).', false),
  }, { required: ['name', 'connections', 'actions', 'kind', 'approvers'] }), { default: [] }),
}, { default: {} });
