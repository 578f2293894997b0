import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { openApiDocument } from '../api/openapi.ts';
import { validateConnection } from '../api/routes/connections.ts';
import { CONFIG_SCHEMA } from '../config/schema.ts';
import { finalizeConfig } from '../config/finalize.ts';
import { validateAgainstSchema } from '../config/validate.ts';
import { isGatehouseError } from '../kernel/errors.ts';
import { path } from '../kernel/json-schema.ts';
import { cedar, CEDAR_SCHEMA_PATH } from '../policy/cedar.ts';
import { toCedarRequest } from '../policy/cedar-request.ts';
import { cedarSchemaFor, optionalContext } from '../policy/cedar-schema.ts';
import { ACTIONS, type Action } from '../policy/request.ts';
import { connection, request, user } from '../policy/testing.ts';
import { defineProtocol, factsDecl, listenerDecl } from './contract.ts';
import { CONNECTION_TYPES, connectionFieldsOf, PROTOCOLS, ProtocolSet, REGISTRY, registryProblems, type ConnectionFields } from './registry.ts';
import { LLM_PROVIDERS } from './http/protocol.ts';

const BEFORE = fileURLToPath(new URL('../../test/fixtures/cedar-schema-before-registry.cedarschema', import.meta.url));

/** The schema's JSON form with every object's keys sorted: equal iff the schemas are the same. */
function canonicalSchema(text: string, without: { entities?: string[]; actions?: string[] } = {}): string {
  const json = cedar.schemaToJson(text);
  assert.equal(json.type, 'success', JSON.stringify(json));
  const ns = json.type === 'success' ? json.json[''] as { entityTypes: Record<string, unknown>; actions: Record<string, unknown> } | undefined : undefined;
  for (const e of without.entities ?? []) delete ns?.entityTypes[e];
  for (const a of without.actions ?? []) delete ns?.actions[a];
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => [k, sort(x)]));
    return v;
  };
  return JSON.stringify(sort(json.type === 'success' ? json.json : null));
}

describe('the protocol registry derives what was declared by hand before', () => {
  test('the Cedar schema is the hand-written one of before the registry (cedar-wasm JSON form)', () => {
    // The fixture predates ssh (its declarations came with the registry) and session.view with its
    // Session entity (issue 21): compare without them.
    const before = new ProtocolSet(PROTOCOLS.filter((p) => p.name !== 'ssh'));
    assert.equal(canonicalSchema(cedarSchemaFor(before), { entities: ['Session'], actions: ['session.view'] }), canonicalSchema(readFileSync(BEFORE, 'utf8')));
    assert.notEqual(canonicalSchema(cedarSchemaFor()), canonicalSchema(readFileSync(BEFORE, 'utf8')), 'ssh adds its actions and context.shell');
  });

  test('the published src/policy/schema.cedarschema is the derived text (run scripts/gen-cedar-schema.ts)', () => {
    assert.equal(readFileSync(CEDAR_SCHEMA_PATH, 'utf8'), cedarSchemaFor());
  });

  test('actions, connection types and optional context records, in order', () => {
    assert.deepEqual(ACTIONS, ['llm.invoke', 'http.request', 'sql.read', 'sql.write', 'sql.ddl', 'sql.admin', 'mcp.call',
      'shell.exec', 'shell.interactive', 'shell.transfer', 'review.approve', 'session.view', 'admin']);
    assert.deepEqual(CONNECTION_TYPES, ['llm', 'http', 'postgres', 'ssh']);
    assert.deepEqual([...optionalContext()].sort(), ['agent', 'http', 'llm', 'mcp', 'shell', 'sql']);
    assert.deepEqual(REGISTRY.listeners().map((l) => l.name), ['postgres', 'ssh']);
  });

  test('the configuration schema and the OpenAPI document list exactly the registered types', () => {
    const conn = ((CONFIG_SCHEMA.properties as Record<string, { items: { properties: Record<string, { enum?: unknown }> } }>).connections!).items;
    assert.deepEqual(conn.properties.type!.enum, [...CONNECTION_TYPES]);
    const schemas = (openApiDocument('http://x').components as { schemas: Record<string, { properties: { type: { enum: unknown } } }> }).schemas;
    assert.deepEqual(schemas.Connection!.properties.type.enum, [...CONNECTION_TYPES]);
    assert.deepEqual(schemas.ConnectionInput!.properties.type.enum, [...CONNECTION_TYPES]);
  });

  test('each type\'s own connection fields are derived: their names, TypeScript types, copies and OpenAPI schemas', () => {
    assert.deepEqual(REGISTRY.fieldNames(), ['provider', 'pass_media_types', 'host_key']);
    // Typed from the declared schemas (tsc checks these lines): no hand-written copy in config/types.ts.
    const fields: ConnectionFields = { provider: 'anthropic', pass_media_types: ['application/pdf'], host_key: 'ssh-ed25519 AAAA' };
    // @ts-expect-error: provider is one of LLM_PROVIDERS
    const wrong: ConnectionFields = { provider: 'gopher' };
    // @ts-expect-error: pass_media_types is a list of strings
    const wrongList: ConnectionFields = { pass_media_types: 'application/pdf' };
    assert.ok(wrong && wrongList);
    assert.deepEqual(connectionFieldsOf({ name: 'n', type: 'llm', url: 'u', tags: [], ...fields, extra: 1, description: 'd' }), fields);
    assert.deepEqual(connectionFieldsOf({ name: 'n', type: 'postgres' }), {});
    const schemas = (openApiDocument('http://x').components as { schemas: Record<string, { properties: Record<string, { enum?: unknown; description?: string; pattern?: unknown }> }> }).schemas;
    for (const s of [schemas.Connection!, schemas.ConnectionInput!]) {
      assert.deepEqual(s.properties.provider?.enum, [...LLM_PROVIDERS]);
      assert.match(s.properties.host_key?.description ?? '', /^ssh \(required\): /);
      assert.ok(typeof s.properties.host_key?.pattern === 'string', 'the declared pattern is published');
      assert.match(s.properties.pass_media_types?.description ?? '', /^http: /);
    }
  });

  test('URL rule per type: each type takes its own schemes only', () => {
    const issues = (type: string, url: string, extra: Record<string, unknown> = {}) =>
      validateAgainstSchema({ connections: [{ name: 'c', type, url, ...extra }] }, () => undefined).map((i) => `${i.path} ${i.message}`);
    assert.deepEqual(issues('postgres', 'postgresql://db/x'), []);
    assert.deepEqual(issues('postgres', 'https://db/x'), ['/connections/0/url must match the pattern ^(postgres|postgresql)://']);
    assert.deepEqual(issues('http', 'postgres://db/x'), ['/connections/0/url must match the pattern ^(http|https)://']);
    assert.deepEqual(issues('llm', 'https://api', { provider: 'openai' }), []);
    assert.deepEqual(issues('postgres', 'postgres://db/x', { pass_media_types: ['image/*'] }), ['/connections/0/pass_media_types is only allowed when type is http']);
  });

  test('an unregistered type (mcp) is refused naming the registered types; an unknown value is not quoted', () => {
    const [mcp] = validateAgainstSchema({ connections: [{ name: 'c', type: 'mcp', url: 'http://h' }] }, () => undefined);
    assert.equal(mcp?.path, '/connections/0/type');
    assert.match(mcp.message, /^type "mcp" is not a registered connection type, so it is not served yet \(registered: llm, http, postgres, ssh\)\. Upstream MCP servers/);
    const [other] = validateAgainstSchema({ connections: [{ name: 'c', type: 's3cr3t-value', url: 'http://h' }] }, () => undefined);
    assert.equal(other?.message, 'type is not a registered connection type, so it is not served yet (registered: llm, http, postgres, ssh).');
    const [typo] = validateAgainstSchema({ connections: [{ name: 'c', type: 'postgress', url: 'postgres://h' }] }, () => undefined);
    assert.match(typo?.message ?? '', /\(did you mean "postgres"\?\)\.$/);
  });

  test('an inconsistent registration is named', () => {
    assert.deepEqual(registryProblems(PROTOCOLS), []);
    const twin = defineProtocol({ name: 'twin', recording: 'twin', connectionTypes: [{ type: 'postgres', summary: 'x', actions: ['sql.read'], urlSchemes: ['x'], credentials: {} }], actions: [{ name: 'sql.read', resources: ['Connection'] }], facts: {} });
    assert.deepEqual(registryProblems([...PROTOCOLS, twin]), [
      'connection type "postgres" is declared by postgres and twin',
      'action "sql.read" is declared by postgres and twin',
    ]);
    const stray = defineProtocol({ name: 'stray', recording: 'stray', connectionTypes: [{ type: 'stray', summary: 'x', actions: ['stray.go'], urlSchemes: ['x'], credentials: {}, required: ['mode'] }], actions: [], facts: { sql: factsDecl<{ readonly a: string }>({ doc: 'x', cedarType: '{}', toContext: () => ({}) }) } });
    assert.deepEqual(registryProblems([...PROTOCOLS, stray]), [
      'connection type "stray" uses action "stray.go", which stray does not declare',
      'connection type "stray" requires "mode", which is not one of its fields',
      'facts "sql" is declared by postgres and stray',
    ]);
    assert.throws(() => new ProtocolSet([...PROTOCOLS, twin]), /protocol registry is inconsistent/);
  });
});

/** A protocol that exists only here: its registration alone must reach configuration and policy. */
interface BoxFacts { readonly command: string; readonly args: number }
const boxProtocol = defineProtocol({
  name: 'box',
  recording: 'box',
  connectionTypes: [{
    type: 'box', summary: 'a test box', actions: ['box.run'], urlSchemes: ['box'],
    credentials: { token: { description: 'Box token.' } },
    fields: {
      flavour: { type: 'string', enum: ['plain', 'spicy'], description: 'Flavour.' },
      script: path('A script file.'),
      includes: { type: 'array', description: 'Included files.', items: path('A file.') },
    },
    required: ['flavour'],
  }],
  actions: [{ name: 'box.run', resources: ['Connection'] }],
  facts: {
    box: factsDecl<BoxFacts>({
      doc: 'Box facts.',
      cedarType: '{\n    // The command.\n    command: String,\n    // Its argument count.\n    args: Long,\n  }',
      toContext: (f) => ({ command: f.command, args: f.args }),
    }),
  },
  listener: listenerDecl<{ readonly listen: string }>({
    description: 'Box listener.',
    config: { listen: { type: 'string', default: '127.0.0.1:2222', description: 'Where.' }, key: path('A key file.') },
    load: (section) => ({ listen: String(section.listen), ...(typeof section.key === 'string' ? { key: section.key } : {}) }),
  }),
});

describe('a protocol registered in a test', () => {
  const set = new ProtocolSet([...PROTOCOLS, boxProtocol]);

  test('its connection type, fields, credentials and listener section reach configuration validation', () => {
    const validate = (doc: unknown) => validateAgainstSchema(doc, () => undefined, set).map((i) => `${i.path} ${i.message}`);
    const doc = { server: { box: {} }, connections: [{ name: 'b', type: 'box', url: 'box://host', flavour: 'plain', credentials: { token: 't' } }] };
    assert.deepEqual(validate(doc), []);
    assert.equal(doc.server.box && (doc.server.box as { listen?: string }).listen, '127.0.0.1:2222', 'the section default applies');
    assert.deepEqual(validate({ connections: [{ name: 'b', type: 'box', url: 'box://host' }] }), ['/connections/0/flavour is required']);
    assert.deepEqual(validate({ connections: [{ name: 'b', type: 'box', url: 'https://host', flavour: 'plain' }] }), ['/connections/0/url must match the pattern ^box://']);
    assert.deepEqual(validate({ connections: [{ name: 'b', type: 'http', url: 'https://host', flavour: 'plain' }] }), ['/connections/0/flavour is only allowed when type is box']);
    assert.deepEqual(validate({ reviews: { rules: [] }, connections: [{ name: 'b', type: 'box', url: 'box://h', flavour: 'plain' }] }), []);
    // Without the registration the same document is refused.
    assert.match(validateAgainstSchema({ connections: [{ name: 'b', type: 'box', url: 'box://host' }] }, () => undefined)[0]?.message ?? '', /not a registered connection type/);
  });

  test('its own connection fields are copied by name without being named', () => {
    assert.deepEqual(set.fieldNames().slice(-3), ['flavour', 'script', 'includes']);
    assert.deepEqual(connectionFieldsOf({ name: 'b', type: 'box', flavour: 'plain', script: 's', other: 1 }, set), { flavour: 'plain', script: 's' });
    assert.deepEqual(connectionFieldsOf({ name: 'b', type: 'box', flavour: 'plain' }), {}, 'the gateway\'s own registry does not know them');
  });

  test('its path-valued settings (format: path) are resolved at load, whatever their name', () => {
    const doc = {
      server: { box: { key: 'keys/box.key' } },
      connections: [
        { name: 'b', type: 'box', url: 'box://h', flavour: 'plain', script: 'run.sh', includes: ['a.sh', '/abs/b.sh'] },
        { name: 'c', type: 'box', url: 'box://h', flavour: 'plain', script: '/abs/run.sh' },
      ],
    };
    assert.deepEqual(validateAgainstSchema(doc, () => undefined, set), []);
    type Loaded = { server: { box: { key: string } }; connections: Record<string, unknown>[] };
    const config = finalizeConfig(doc, '/base', set) as unknown as Loaded;
    assert.equal(config.server.box.key, '/base/keys/box.key');
    assert.deepEqual(config.connections[0], { name: 'b', type: 'box', url: 'box://h', flavour: 'plain', script: '/base/run.sh', includes: ['/base/a.sh', '/abs/b.sh'], credentials: {}, tags: [], timeouts: config.connections[0]?.timeouts });
    assert.equal(config.connections[1]?.script, '/abs/run.sh', 'an absolute path is kept');
    // Without the declaration nothing is resolved: the marker, not the name, decides.
    const plain = finalizeConfig({ server: { box: { key: 'keys/box.key' } } }, '/base') as unknown as Loaded;
    assert.equal(plain.server.box.key, 'keys/box.key');
  });

  test('the admin API refuses its path-valued connection fields (nothing resolves or confines them there)', () => {
    const body = { name: 'b', type: 'box', url: 'box://h', flavour: 'plain' };
    assert.equal((validateConnection(body, set) as unknown as { flavour: string }).flavour, 'plain', 'a connection without a path field is accepted');
    const refusal = (field: string) => (e: unknown): boolean => isGatehouseError(e, 'validation_failed')
      && e.message === `/${field}: ${field} is a file path: it must be set in the configuration file, not through the API`;
    assert.throws(() => validateConnection({ ...body, script: '/etc/shadow' }, set), refusal('script'));
    assert.throws(() => validateConnection({ ...body, includes: ['run.sh'] }, set), refusal('includes'));
  });

  test('its action and facts reach the Cedar schema and decide a request', () => {
    const schema = cedarSchemaFor(set);
    const policies = 'permit (principal, action == Action::"box.run", resource is Connection) when { context has box && context.box.command == "ls" && context.box.args < 3 };';
    const valid = cedar.validate({ schema, policies: { staticPolicies: policies } });
    assert.equal(valid.type, 'success');
    assert.deepEqual(valid.type === 'success' ? valid.validationErrors : null, []);
    const decide = (facts: BoxFacts): string => {
      const req = toCedarRequest(request(user('alice'), 'box.run' as Action, connection('b', 'box'), { box: facts } as never), set);
      assert.deepEqual(req.context.box, { command: facts.command, args: facts.args });
      const answer = cedar.isAuthorized({ ...req, policies: { staticPolicies: policies }, schema, validateRequest: true });
      assert.equal(answer.type, 'success', JSON.stringify(answer));
      return answer.type === 'success' ? answer.response.decision : 'failure';
    };
    assert.equal(decide({ command: 'ls', args: 1 }), 'allow');
    assert.equal(decide({ command: 'rm', args: 1 }), 'deny');
    assert.equal(decide({ command: 'ls', args: 5 }), 'deny');
    assert.ok(optionalContext(set).has('box'), 'review conditions get a `context has box` guard');
    // The gateway's own schema knows nothing of it.
    const without = cedar.validate({ schema: cedarSchemaFor(), policies: { staticPolicies: policies } });
    assert.ok(without.type === 'success' && without.validationErrors.length > 0, 'box.run is unknown without the registration');
  });
});
