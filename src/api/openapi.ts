import { CONNECTION_TYPES, REGISTRY } from '../protocols/registry.ts';

/**
 * The OpenAPI 3.1 document of the admin API, served at `/api/openapi.json`. A test checks that
 * every route the router registers is documented here and that nothing documented is missing.
 */
const problem = { description: 'Error', content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } };
const errors = { '400': problem, '401': problem, '403': problem, '404': problem };
const json = (schema: object, description = 'OK') => ({ description, content: { 'application/json': { schema } } });
const body = (schema: object) => ({ required: true, content: { 'application/json': { schema } } });
const optBody = (properties: object) => ({ required: false, content: { 'application/json': { schema: { type: 'object', properties } } } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const list = (name: string) => ({ type: 'object', properties: { items: { type: 'array', items: ref(name) } }, required: ['items'] });
const nameParam = { name: 'name', in: 'path', required: true, schema: { type: 'string' } };
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
const str = { type: 'string' };
const strs = { type: 'array', items: str };

/** Each registered type's own connection fields (`provider`, `host_key`, …): their declared schema, named by type. */
const typeFields = Object.fromEntries(REGISTRY.connectionTypes.flatMap((type) => {
  const decl = REGISTRY.connectionType(type);
  return Object.entries(decl?.fields ?? {}).map(([field, schema]) => {
    const required = decl?.required?.includes(field) === true ? ' (required)' : '';
    return [field, { ...schema, description: `${type}${required}: ${typeof schema.description === 'string' ? schema.description : field}` }] as const;
  });
}));

const schemas = {
  Problem: {
    type: 'object', required: ['type', 'title', 'status', 'code', 'detail'],
    properties: { type: str, title: str, status: { type: 'integer' }, code: { type: 'string', description: 'Stable error code (docs/errors.md)' }, detail: str, review_id: str },
  },
  Connection: {
    type: 'object', required: ['name', 'type', 'url', 'source', 'credentials'],
    properties: {
      name: str, type: { enum: [...CONNECTION_TYPES] }, url: str, description: str, tags: strs,
      source: { enum: ['config', 'api'], description: '`config` connections are read-only through the API' },
      credentials: { ...strs, description: 'Names of the credentials set; values are never returned' },
      ...typeFields,
    },
  },
  ConnectionInput: {
    type: 'object', required: ['name', 'type', 'url'],
    properties: {
      name: str, type: { enum: [...CONNECTION_TYPES] }, url: str,
      description: str, tags: strs, credentials: { type: 'object', additionalProperties: str, description: 'Write-only; sealed at rest' },
      ...typeFields,
    },
  },
  ApiKey: {
    type: 'object', required: ['id', 'groups', 'createdAt'],
    properties: { id: str, user: str, agent: str, groups: strs, agentGroups: strs, description: str, createdAt: str, expiresAt: str, revokedAt: str, lastUsedAt: str },
  },
  ApiKeyInput: {
    type: 'object', description: 'At least one of user and agent. Both: the agent acts for the user.',
    properties: { user: str, agent: str, groups: strs, agent_groups: strs, expires: { type: 'string', description: 'Duration, e.g. 24h' }, description: str },
  },
  AuditRecord: {
    type: 'object', required: ['seq', 'at', 'kind', 'outcome', 'count', 'hash'],
    description: 'One event, or a run of `count` identical allowed decisions (everything but their time equal), from `at` (the first) to `lastAt` (the last)',
    properties: {
      seq: { type: 'integer' }, at: str, kind: str, user: str, agent: str, action: str, resource: str, outcome: str, detail: { type: 'object' },
      count: { type: 'integer', minimum: 1, description: 'Decisions this record stands for (1: a single event)' },
      lastAt: { type: 'string', description: 'The last decision of a run (present when count > 1)' }, prevHash: str, hash: str,
    },
  },
  Review: {
    type: 'object', required: ['id', 'kind', 'status', 'rule', 'connection', 'action', 'requester', 'summary', 'approvals', 'min_approvals', 'created_at', 'expires_at'],
    properties: {
      id: str, kind: { enum: ['command', 'jit'] }, status: { enum: ['pending', 'approved', 'denied', 'expired', 'cancelled', 'executed', 'revoked'] },
      rule: str, connection: str, action: str, actions: strs, requester: { type: 'object' }, summary: { type: 'string', description: 'Masked' },
      justification: str, facts: { type: 'object' }, approvers: strs, min_approvals: { type: 'integer' }, approvals: { type: 'array', items: { type: 'object' } },
      grant_seconds: { type: 'integer' }, created_at: str, expires_at: str, decided_at: str, decided_by: { type: 'object' }, reason: str, executed_at: str,
    },
  },
  Session: {
    type: 'object', required: ['id', 'protocol', 'openedAt', 'lastAt', 'bytes', 'events', 'headHash', 'truncated', 'dropped', 'decisions'],
    properties: {
      id: str, protocol: str, user: str, agent: str, connection: str, openedAt: str, lastAt: str, closedAt: str, bytes: { type: 'integer' },
      events: { type: 'integer' }, headHash: str, truncated: { type: 'boolean' }, dropped: { type: 'integer' }, decisions: { type: 'array', items: { enum: ['allow', 'deny', 'review'] } },
    },
  },
  SessionEvent: {
    type: 'object', required: ['session', 'seq', 'at', 'type', 'data', 'prevHash', 'hash'],
    properties: { session: str, seq: { type: 'integer' }, at: str, type: str, user: str, agent: str, data: { type: 'object' }, prevHash: str, hash: str },
  },
  ExplainInput: {
    type: 'object', required: ['principal', 'action'],
    properties: { principal: str, principal_kind: { enum: ['user', 'agent'] }, groups: strs, agent: str, agent_groups: strs, action: str, connection: str, sql: str },
  },
  Explanation: {
    type: 'object', required: ['effect', 'reasons'],
    properties: { effect: { enum: ['allow', 'deny', 'review'] }, reasons: strs, errors: strs, review_rule: { type: ['string', 'null'] }, policies: { type: 'array', items: { type: 'object' } } },
  },
};

export function openApiDocument(serverUrl: string): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: { title: 'Gatehouse admin API', version: '1', description: 'Every call needs a bearer credential permitted the `admin` action (Cedar); review decisions need `review.approve` on the review\'s connection instead. Errors are problem+json with a stable `code`.' },
    servers: [{ url: serverUrl }],
    security: [{ bearer: [] }],
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'API key (ghk_…) or JWT' } }, schemas },
    paths: {
      '/api/v1/connections': {
        get: { operationId: 'listConnections', responses: { '200': json(list('Connection')), ...errors } },
        post: { operationId: 'createConnection', requestBody: body(ref('ConnectionInput')), responses: { '201': json(ref('Connection'), 'Created'), '409': problem, ...errors } },
      },
      '/api/v1/connections/{name}': {
        parameters: [nameParam],
        get: { operationId: 'getConnection', responses: { '200': json(ref('Connection')), ...errors } },
        patch: { operationId: 'updateConnection', requestBody: body(ref('ConnectionInput')), responses: { '200': json(ref('Connection')), '409': problem, ...errors } },
        delete: { operationId: 'deleteConnection', responses: { '200': json({ type: 'object' }), '409': problem, ...errors } },
      },
      '/api/v1/api-keys': {
        get: { operationId: 'listApiKeys', responses: { '200': json(list('ApiKey')), ...errors } },
        post: { operationId: 'createApiKey', requestBody: body(ref('ApiKeyInput')), responses: { '201': json({ allOf: [ref('ApiKey'), { type: 'object', properties: { key: { type: 'string', description: 'Shown once' } } }] }, 'Created'), ...errors } },
      },
      '/api/v1/api-keys/{id}': {
        parameters: [idParam],
        get: { operationId: 'getApiKey', responses: { '200': json(ref('ApiKey')), ...errors } },
        delete: { operationId: 'revokeApiKey', responses: { '200': json({ type: 'object' }), ...errors } },
      },
      '/api/v1/policy/explain': {
        post: { operationId: 'explainPolicy', requestBody: body(ref('ExplainInput')), responses: { '200': json(ref('Explanation')), ...errors } },
      },
      '/api/v1/policy/policies': {
        get: { operationId: 'listPolicies', responses: { '200': json({ type: 'object' }), ...errors } },
      },
      '/api/v1/audit': {
        get: {
          operationId: 'listAudit',
          parameters: ['limit', 'before', 'kind', 'user'].map((n) => ({ name: n, in: 'query', required: false, schema: { type: 'string' } })),
          responses: { '200': json(list('AuditRecord')), ...errors },
        },
      },
      '/api/v1/reviews': {
        get: { operationId: 'listReviews', parameters: ['status', 'limit', 'scope'].map((n) => ({ name: n, in: 'query', required: false, schema: { type: 'string' } })), responses: { '200': json(list('Review')), ...errors } },
      },
      '/api/v1/reviews/{id}': { parameters: [idParam], get: { operationId: 'getReview', responses: { '200': json(ref('Review')), ...errors } } },
      '/api/v1/reviews/{id}/approve': { parameters: [idParam], post: { operationId: 'approveReview', requestBody: optBody({ comment: str, duration: { type: 'string', description: 'jit reviews only: the grant\'s time window (e.g. 30m, 1h), at most the review\'s grant_seconds (the rule\'s duration capped by reviews.max_duration); default that' } }), responses: { '200': json(ref('Review')), '409': problem, ...errors } } },
      '/api/v1/reviews/{id}/deny': { parameters: [idParam], post: { operationId: 'denyReview', requestBody: body({ type: 'object', required: ['reason'], properties: { reason: str } }), responses: { '200': json(ref('Review')), '409': problem, ...errors } } },
      '/api/v1/reviews/{id}/revoke': { parameters: [idParam], post: { operationId: 'revokeReview', requestBody: optBody({ reason: str }), responses: { '200': json(ref('Review')), '409': problem, ...errors } } },
      '/api/v1/reviews/{id}/cancel': { parameters: [idParam], post: { operationId: 'cancelReview', requestBody: optBody({ reason: str }), responses: { '200': json(ref('Review')), '409': problem, ...errors } } },
      '/api/v1/sessions': {
        get: {
          operationId: 'listSessions',
          parameters: ['user', 'agent', 'connection', 'since', 'until', 'decision', 'limit', 'before'].map((n) => ({ name: n, in: 'query', required: false, schema: str })),
          responses: { '200': json(list('Session')), ...errors },
        },
      },
      '/api/v1/sessions/{id}': { parameters: [idParam], get: { operationId: 'getSession', responses: { '200': json(ref('Session')), ...errors } } },
      '/api/v1/sessions/{id}/events': {
        parameters: [idParam],
        get: {
          operationId: 'listSessionEvents',
          parameters: ['after', 'limit'].map((n) => ({ name: n, in: 'query', required: false, schema: str })),
          responses: { '200': json({ type: 'object', properties: { items: { type: 'array', items: ref('SessionEvent') }, next: { type: 'integer' } }, required: ['items'] }), ...errors },
        },
      },
      '/api/v1/sessions/{id}/verify': {
        parameters: [idParam],
        get: { operationId: 'verifySession', responses: { '200': json({ type: 'object', properties: { ok: { type: 'boolean' }, events: { type: 'integer' }, seq: { type: 'integer' }, reason: { enum: ['changed', 'missing', 'inserted', 'anchor-mismatch'] } } }), ...errors } },
      },
      '/api/v1/sessions/{id}/export': {
        parameters: [idParam],
        get: {
          operationId: 'exportSession',
          parameters: [{ name: 'format', in: 'query', required: false, schema: { enum: ['json', 'csv', 'asciicast'] } }],
          responses: { '200': { description: 'The export (streamed)', content: { 'application/json': {}, 'text/csv': {}, 'application/x-asciicast': {} } }, ...errors },
        },
      },
      '/api/v1/audit/verify': {
        get: { operationId: 'verifyAudit', responses: { '200': json({ type: 'object', properties: { ok: { type: 'boolean' }, count: { type: 'integer' }, seq: { type: 'integer' }, reason: str } }), ...errors } },
      },
    },
  };
}
