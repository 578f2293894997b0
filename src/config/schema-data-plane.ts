import { ACTIONS } from '../policy/request.ts';
import { bool, duration, list, obj, oneOf, str, type JsonSchema } from './schema-helpers.ts';

/** The kinds of upstream a connection can be (SPEC: configuration). */
export const CONNECTION_TYPES = ['llm', 'http', 'postgres', 'mcp', 'ssh'] as const;
/** LLM wire formats. */
export const LLM_PROVIDERS = ['openai', 'anthropic', 'openai-compatible'] as const;
/** The credential keys a connection may hold. Every value becomes a `Secret` after load. */
export const CREDENTIAL_KEYS = ['api_key', 'password', 'username', 'bearer', 'header_name', 'header_value', 'private_key', 'passphrase'] as const;
/** Detector names of SPEC: masking. */
export const MASKING_ENTITIES = [
  'EMAIL', 'PHONE', 'CREDIT_CARD', 'IBAN', 'US_SSN', 'IP_ADDRESS', 'JWT', 'PRIVATE_KEY', 'SECRET',
] as const;
export const MASKING_STRATEGIES = ['redact', 'partial', 'hash'] as const;
export const MASKING_DIRECTIONS = ['request', 'response', 'both'] as const;
export const REVIEW_KINDS = ['command', 'jit'] as const;

/** Connection, rule and pattern names: lower-case, URL- and database-name-safe. */
export const NAME_PATTERN = '^[a-z0-9][a-z0-9_-]{0,62}$';

const credentialValue = (what: string): JsonSchema => str(`${what} Usually "\${ENV_VAR}" or "\${file:path}"; held as a secret after load.`);

const credentials = obj(
  'Secrets Gatehouse presents upstream; clients never see them. Only the keys listed are accepted.',
  {
    api_key: credentialValue('LLM API key (sent as "Authorization: Bearer" for openai, "x-api-key" for anthropic).'),
    password: credentialValue('PostgreSQL or SSH password (or HTTP basic-auth password with username).'),
    username: credentialValue('User name for HTTP basic auth; PostgreSQL takes the user from the url.'),
    bearer: credentialValue('Bearer token for HTTP and MCP upstreams ("Authorization: Bearer <bearer>").'),
    header_name: str('Name of a custom header carrying the credential (with header_value).', { pattern: '^[A-Za-z0-9!#$%&\'*+.^_`|~-]+$' }),
    header_value: credentialValue('Value of the custom credential header named by header_name.'),
    private_key: credentialValue('ssh: the OpenSSH or PEM private key Gatehouse logs in with upstream (usually "${file:path}").'),
    passphrase: credentialValue('ssh: passphrase of an encrypted private_key.'),
  },
  { default: {}, dependentRequired: { header_name: ['header_value'], header_value: ['header_name'] } },
);

const typeIs = (type: string): JsonSchema => ({ properties: { type: { const: type } }, required: ['type'] });

/** `connections[]`: one upstream each. */
export const CONNECTION_SCHEMA: JsonSchema = obj(
  'An upstream service reached through Gatehouse. Clients address it by name: /proxy/<name>/… (HTTP, LLM), database name <name> (PostgreSQL).',
  {
    name: str('Unique connection name: lower-case letters, digits, "_" and "-", at most 63 characters.', { pattern: NAME_PATTERN }),
    type: oneOf('Kind of upstream: llm | http | postgres | ssh. (mcp is reserved for upstream MCP servers and refused until they have a data path.)', CONNECTION_TYPES),
    provider: oneOf('LLM wire format; required when type is llm and not allowed otherwise.', LLM_PROVIDERS),
    url: str('Upstream base URL: http(s):// for llm, http and mcp; postgres:// (or postgresql://) for postgres; ssh://<user>@<host>[:<port>] for ssh. Put passwords in credentials, not here.', { format: 'uri' }),
    credentials,
    description: str('Free text shown in the admin API.', { maxLength: 1000 }),
    tags: list('Labels visible to policy as the connection entity\'s tags.', str('A tag.', { pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,62}$' }), { uniqueItems: true, default: [] }),
    pass_media_types: list(
      'http connections: response (and, with a request masking rule, request) media types passed without being parsed or masked, e.g. "application/pdf", "image/*". Everything else the gateway cannot read (JSON, NDJSON, form data, XML/HTML, plain text, SSE) is refused while a masking rule applies. Passed bodies are still scrubbed of the connection\'s own secrets. "*/*" passes everything: masking rules then cover only the readable types.',
      str('A media type "type/subtype", "type/*" or "*/*".', { pattern: '^([a-z0-9][a-z0-9!#$&^_.+-]{0,126}/([a-z0-9][a-z0-9!#$&^_.+-]{0,126}|\\*)|\\*/\\*)$' }),
      { uniqueItems: true },
    ),
    host_key: str('ssh connections (required): the upstream server\'s public host key, as in known_hosts or ssh-keyscan output without the host name ("ssh-ed25519 AAAA…"). A server presenting another key is refused; nothing is trusted on first use.', { pattern: '^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521|rsa-sha2-256|rsa-sha2-512) [A-Za-z0-9+/]+={0,2}( .*)?$', maxLength: 16384 }),
    timeouts: obj('Upstream timeouts.', {
      connect: duration('Time allowed to open the upstream connection.', '10s'),
      headers: duration('Time allowed for the upstream to send response headers (HTTP, LLM).', '60s'),
      body: duration('Time allowed for the whole response body, streams included (HTTP, LLM).', '300s'),
    }, { default: {} }),
  },
  {
    required: ['name', 'type', 'url'],
    allOf: [
      { if: typeIs('llm'), then: { required: ['provider'] }, else: { properties: { provider: false } } },
      { if: typeIs('http'), else: { properties: { pass_media_types: false } } },
      { if: typeIs('ssh'), then: { required: ['host_key'] }, else: { properties: { host_key: false } } },
      {
        if: typeIs('postgres'),
        then: { properties: { url: { type: 'string', pattern: '^postgres(ql)?://' } } },
        else: {
          if: typeIs('ssh'),
          then: { properties: { url: { type: 'string', pattern: '^ssh://[^@/:]+@[^@/]+(:[0-9]{1,5})?/?$' } } },
          else: { properties: { url: { type: 'string', pattern: '^https?://' } } },
        },
      },
    ],
  },
);

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
