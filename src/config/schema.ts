import { REGISTRY, type ProtocolSet } from '../protocols/registry.ts';
import { CONNECTION_SCHEMA, connectionSchema, MASKING_SCHEMA, NAME_PATTERN, REVIEWS_SCHEMA } from './schema-data-plane.ts';
import { bool, duration, list, listen, obj, oneOf, size, str, type JsonSchema } from './schema-helpers.ts';
import { HTTP_TIMEOUTS, LIMITS_SCHEMA } from './schema-limits.ts';

export type { JsonSchema } from './schema-helpers.ts';
export {
  CONNECTION_TYPES, CREDENTIAL_KEYS, LLM_PROVIDERS, MASKING_DIRECTIONS, MASKING_ENTITIES,
  MASKING_STRATEGIES, NAME_PATTERN, REVIEW_KINDS,
} from './schema-data-plane.ts';

/** Log levels (pino). */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
/** JWT algorithms an external issuer may use. Symmetric (HS*) and `none` are never accepted. */
export const JWT_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

/** `server`: the HTTP listener, each registered protocol's own listener (`server.<name>`), TLS. */
const server = (set: ProtocolSet): JsonSchema => obj('Listeners and transport security.', {
  http: obj('HTTP listener: data plane /proxy/<connection>/…, MCP /mcp, admin API /api/v1, identity /oauth, health and metrics.', {
    listen: listen('Address the HTTP listener binds.', '127.0.0.1:8080'),
    ...HTTP_TIMEOUTS,
  }, { default: {} }),
  ...Object.fromEntries(set.listeners().map(({ name, listener }) => [name, obj(listener.description, { ...listener.config }, { default: {} })])),
  tls: obj('TLS for both listeners (the PostgreSQL listener then accepts SSLRequest). Paths are relative to this file.', {
    cert: str('PEM certificate chain file.', { minLength: 1 }),
    key: str('PEM private key file.', { minLength: 1 }),
  }, { required: ['cert', 'key'] }),
  allow_insecure_public: bool('Allow binding a non-loopback address without TLS.', false),
  public_url: str('Externally visible base URL (issuer of Gatehouse JWTs, links in notifications). Default: http(s)://<server.http.listen>.', { format: 'uri', pattern: '^https?://' }),
  allowed_hosts: list('Extra Host header values the admin API accepts (besides the listen address, localhost and public_url\'s host); DNS-rebinding protection.', str('A host or host:port.', { minLength: 1 }), { uniqueItems: true, default: [] }),
  body_limit: size('Largest HTTP request body accepted.', '10mb'),
  metrics: obj('Prometheus /metrics. It always has the admin API\'s Host check (DNS rebinding); add a token for scrapers from other hosts, or serve it on its own address.', {
    token: str('Bearer token a scrape must send (Authorization: Bearer …), usually "${ENV_VAR}" or "${file:path}"; held as a secret after load.', { minLength: 16 }),
    listen: str('Serve /metrics only on this separate address (and not on the HTTP listener), e.g. "127.0.0.1:9464". Form: "host:port" (IPv6 as "[::1]:9464").', {
      pattern: '^(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.-]+):[0-9]{1,5}$',
    }),
  }, { default: {} }),
}, { default: {} });

const STORE = obj('Where Gatehouse keeps its state. If postgres is given it is used; otherwise the embedded store.', {
  embedded: obj('Embedded PostgreSQL (PGlite) in a local directory.', {
    path: str('Data directory, relative to this file. ":memory:" keeps everything in memory (tests).', { minLength: 1, default: './.gatehouse' }),
  }, { default: {} }),
  postgres: obj('A PostgreSQL server shared by every replica.', {
    url: str('Connection URL without the password, e.g. postgres://gatehouse@db:5432/gatehouse.', { pattern: '^postgres(ql)?://' }),
    password: str('Password for url, usually "${ENV_VAR}" or "${file:path}"; held as a secret after load.'),
    pool_max: { type: 'integer', description: 'Maximum pooled connections per process.', minimum: 1, maximum: 1000, default: 10 },
  }, { required: ['url'] }),
}, { default: {} });

const ISSUER = obj('An external OIDC provider whose JWTs are accepted (discovery + JWKS).', {
  issuer: str('Issuer URL; must equal the tokens\' "iss" claim.', { format: 'uri', pattern: '^https?://' }),
  audience: {
    type: ['string', 'array'],
    description: 'Accepted "aud" value (or list of values).',
    minLength: 1,
    items: { type: 'string', minLength: 1 },
    minItems: 1,
  },
  groups_claim: str('Claim holding the user\'s groups (an array of strings, or a space-separated string).', { minLength: 1, default: 'groups' }),
  algorithms: list('Allowed signing algorithms (asymmetric only).', oneOf('A JWS algorithm.', JWT_ALGORITHMS), { minItems: 1, uniqueItems: true, default: ['RS256', 'ES256', 'PS256', 'EdDSA'] }),
  jwks_cache: duration('How long fetched JWKS keys are cached (an unknown kid triggers a refetch).', '10m'),
  user_claim: str('Claim used as the user id.', { minLength: 1, default: 'sub' }),
  cli_client_id: str('Public client id (registered at this issuer for the device authorization grant) that `gatehouse login` uses when --client-id is not given. Not used by the gateway.', { minLength: 1 }),
  console_client_id: str('Public client id registered at this issuer for the web console\'s sign-in (authorization code with PKCE; redirect URI <public_url>/ui/auth/oidc/callback). When set, the console\'s sign-in page offers this issuer.', { minLength: 1 }),
  console_scope: str('Scopes the console asks for at sign-in.', { minLength: 1, default: 'openid groups' }),
}, { required: ['issuer', 'audience'] });

const SAML = obj('SAML 2.0 sign-in for the web console and `gatehouse login --saml` (SP-initiated only; IdP-initiated responses are refused). Register the SP metadata at <public_url>/ui/auth/saml/metadata (ACS <public_url>/ui/auth/saml/acs) at the identity provider.', {
  name: str('Name on the console\'s sign-in button.', { minLength: 1, maxLength: 64, default: 'SSO' }),
  idp_metadata: str('IdP metadata XML file (relative to this file). Supplies the entity id and SSO URL when they are not given; the pinned certificate must be one of its signing certificates. Never fetched over the network.', { minLength: 1 }),
  idp_entity_id: str('The IdP\'s entity id; the signed assertion\'s Issuer must equal it. Required unless idp_metadata gives it.', { minLength: 1 }),
  idp_sso_url: str('The IdP\'s single sign-on URL (HTTP-Redirect binding). Required unless idp_metadata gives it.', { format: 'uri', pattern: '^https?://' }),
  idp_certificate: str('Pinned IdP signing certificate(s), PEM (usually "${file:idp-signing.pem}"; several for a rollover). Only these verify a response.', { minLength: 1 }),
  sp_entity_id: str('This gateway\'s entity id (the audience assertions must name). Default: <public_url>/ui/auth/saml/metadata.', { minLength: 1 }),
  user_attribute: str('Attribute holding the user id. Default: the NameID.', { minLength: 1 }),
  groups_attribute: str('Attribute holding the user\'s groups (multi-valued). Without it, SAML users have no groups.', { minLength: 1 }),
  group_map: { type: 'object', description: 'IdP group value → Gatehouse group name(s). When set, only mapped values become groups; otherwise values that are valid names are taken as they are.', propertyNames: { minLength: 1, maxLength: 256 }, additionalProperties: { type: ['string', 'array'], minLength: 1, items: { type: 'string', minLength: 1 }, minItems: 1 } },
  clock_skew: duration('Clock difference tolerated on every time check of an assertion (at most 5m).', '60s'),
  max_assertion_age: duration('An assertion issued longer ago than this (its IssueInstant) is refused, whatever its NotOnOrAfter says.', '5m'),
}, { required: ['idp_certificate'] });

const IDENTITY = obj('Who callers are: the built-in issuer, external OIDC issuers, the bootstrap admin.', {
  builtin: obj('The built-in token issuer (ES256, JWKS at /oauth/jwks).', {
    token_ttl: duration('Lifetime of issued tokens.', '1h'),
    audience: str('"aud" of issued tokens.', { minLength: 1, default: 'gatehouse' }),
  }, { default: {} }),
  issuers: list('External OIDC issuers (optional).', ISSUER, { default: [] }),
  saml: SAML,
  bootstrap: obj('The admin created on first start (its key is written to the store directory).', {
    admin_user: str('User name of the bootstrap admin.', { minLength: 1, default: 'admin' }),
    admin_group: str('Group of the bootstrap admin; the built-in policy permits it the admin action.', { minLength: 1, default: 'admins' }),
  }, { default: {} }),
}, { default: {} });

const POLICIES = obj('Cedar authorization policies (default deny).', {
  files: list('Policy files or globs, relative to this file.', str('A path or glob.', { minLength: 1 }), { default: ['policies/*.cedar'] }),
}, { default: {} });

const RECORDING = obj('Tamper-evident session recording.', {
  enabled: bool('Record sessions.', true),
  max_session_bytes: size('Recorded bytes per session (canonical JSON of the events\' data). A session that reaches it runs nothing more ("start a new session"): a PostgreSQL statement whose record may not fit is refused before it runs (FATAL), SSH, MCP and HTTP refuse the next command or exchange of a full session; an event past it is dropped behind a `truncated` marker. HTTP/MCP sessions rotate before half of it.', '50mb'),
  retention: duration('How long recordings are kept.', '90d'),
  session_idle: duration('An HTTP or MCP session unused this long is closed (a `session.close` event, which anchors its hash chain in the audit log); a later request with its id starts a new session.', '15m'),
  durability: oneOf('When an exchange counts as recorded, before the client gets its answer. journal: appended to a local write-ahead journal in the state directory (microseconds; the store catches up in large batches) — a replica that dies must start again in the same directory to replay it. store: committed to the store (one group-committed transaction shared by concurrent exchanges) — nothing acknowledged depends on local disk, so a replica can be deleted for good (Kubernetes). docs/deployment.md, "Replicas that can be deleted".', ['journal', 'store'], 'journal'),
}, { default: {} });

const NOTIFICATIONS = obj('Where review events are sent.', {
  webhooks: list('Webhooks called on review events.', obj('A webhook.', {
    url: str('Endpoint (POST, JSON).', { format: 'uri', pattern: '^https?://' }),
    secret: str('Signing secret: requests carry an HMAC-SHA256 signature of the body.', { minLength: 1 }),
    format: oneOf('generic: Gatehouse JSON; slack: Slack-compatible incoming-webhook payload.', ['generic', 'slack'], 'generic'),
  }, { required: ['url'] }), { default: [] }),
}, { default: {} });

const LOG = obj('Logging (JSON lines on stdout; never secrets, prompts or rows).', {
  level: oneOf('Minimum level written.', LOG_LEVELS, 'info'),
}, { default: {} });

/**
 * The JSON Schema (draft 2020-12) of `gatehouse.yaml`: the one place defaults and units are
 * declared. Published as `schema/gatehouse.schema.json` by `scripts/gen-schema.ts`.
 *
 * @example
 *   import { CONFIG_SCHEMA } from './schema.ts';
 *   new Ajv2020({ useDefaults: true }).compile(CONFIG_SCHEMA);
 */
export const CONFIG_SCHEMA: JsonSchema = configSchema(REGISTRY);

/** The configuration schema of `set`: `CONFIG_SCHEMA` for the gateway's registry, else built for it. */
export function schemaFor(set: ProtocolSet): JsonSchema {
  return set === REGISTRY ? CONFIG_SCHEMA : configSchema(set);
}

/** The configuration schema for the protocols of `set` (tests register a fake protocol). */
export function configSchema(set: ProtocolSet): JsonSchema {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'urn:gatehouse:config:v1',
    title: 'Gatehouse configuration (gatehouse.yaml)',
    description: 'Values may use ${ENV_VAR}, ${ENV_VAR:-default} and ${file:path} inside strings; "$${" is a literal "${". Unknown keys are errors.',
    type: 'object',
    additionalProperties: false,
    properties: {
      server: server(set),
      store: STORE,
      identity: IDENTITY,
      connections: list('Upstream services (names unique). Connections added through the admin API live in the store.', set === REGISTRY ? CONNECTION_SCHEMA : connectionSchema(set), { default: [] }),
      api_connections: list('Names of connections created through the admin API that masking and review rules may name. '
        + 'A rule naming a connection that is neither configured nor listed here is an error; /readyz reports "not ready" while a listed one does not exist.',
      str('A connection name.', { pattern: NAME_PATTERN }), { uniqueItems: true, default: [] }),
      policies: POLICIES,
      masking: MASKING_SCHEMA,
      reviews: REVIEWS_SCHEMA,
      recording: RECORDING,
      notifications: NOTIFICATIONS,
      log: LOG,
      limits: LIMITS_SCHEMA,
    },
  };
}

/**
 * The published schema file's exact text (`schema/gatehouse.schema.json`).
 *
 * @example writeFileSync('schema/gatehouse.schema.json', renderConfigSchema());
 */
export function renderConfigSchema(): string {
  return `${JSON.stringify(CONFIG_SCHEMA, null, 2)}\n`;
}
