import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { EXAMPLE_CONFIG_PATH } from './find-config.ts';
import { loadConfig } from './load.ts';
import { CONFIG_SCHEMA, renderConfigSchema } from './schema.ts';

type Node = Record<string, unknown>;
const isNode = (v: unknown): v is Node => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Every schema object reachable from `node`, with its JSON-Pointer location. */
function* walk(node: unknown, at = '#'): Generator<[string, Node]> {
  if (!isNode(node)) return;
  yield [at, node];
  for (const [k, v] of Object.entries(node)) {
    if (k === 'default' || k === 'enum' || k === 'const') continue;
    if (Array.isArray(v)) for (const [i, x] of v.entries()) yield* walk(x, `${at}/${k}/${i}`);
    else yield* walk(v, `${at}/${k}`);
  }
}

describe('CONFIG_SCHEMA', () => {
  test('the committed schema/gatehouse.schema.json equals the generated one (run scripts/gen-schema.ts)', () => {
    const committed = readFileSync(fileURLToPath(new URL('../../schema/gatehouse.schema.json', import.meta.url)), 'utf8');
    assert.equal(committed, renderConfigSchema());
  });

  test('every object is closed and every property is described', () => {
    let objects = 0;
    for (const [at, node] of walk(CONFIG_SCHEMA)) {
      if (node.type === 'object') {
        objects++;
        const closed = node.additionalProperties === false || (isNode(node.additionalProperties) && isNode(node.propertyNames));
        assert.ok(closed, `${at}: objects must set additionalProperties: false (maps: a value schema and propertyNames)`);
        assert.equal(typeof node.description, 'string', `${at}: needs a description`);
      }
      if (isNode(node.properties)) {
        for (const [name, prop] of Object.entries(node.properties)) {
          if (at.includes('/if') || at.includes('/then') || at.includes('/else')) continue; // conditional refinements
          assert.ok(isNode(prop) && typeof prop.description === 'string' && prop.description.length > 3, `${at}/properties/${name}: needs a description`);
        }
      }
    }
    assert.ok(objects > 20, 'the walk reached the nested objects');
  });

  test('the keys SPEC fixes are accepted as written there', () => {
    const spec = `
server:
  http:     { listen: "127.0.0.1:8080" }
  postgres: { listen: "127.0.0.1:15432" }
store:
  embedded: { path: ./.gatehouse }
identity:
  issuers:
    - { issuer: "https://idp.example.com", audience: gatehouse, groups_claim: groups }
policies:
  files: [ "policies/*.cedar" ]
connections:
  - name: openai
    type: llm
    provider: openai
    url: https://api.openai.com
    credentials: { api_key: \${OPENAI_API_KEY} }
  - name: crm
    type: postgres
    url: postgres://app@db.internal:5432/crm
    credentials: { password: \${CRM_DB_PASSWORD} }
masking:
  hash_key: "0123456789abcdef"
  rules:
    - connections: ["*"]
      direction: both
      entities: [EMAIL, CREDIT_CARD, US_SSN, SECRET]
      strategy: redact
    - connections: [crm]
      columns: { "customers.email": partial, "customers.ssn": hash }
reviews:
  hold_timeout: 60s
  rules:
    - name: crm-writes
      connections: [crm]
      actions: [sql.write, sql.ddl]
      kind: command
      approvers: [dba]
`;
    const c = loadConfig({ text: spec, env: { OPENAI_API_KEY: 'k', CRM_DB_PASSWORD: 'p' }, baseDir: '/srv' });
    assert.equal(c.connections[1]?.credentials.password?.reveal(), 'p');
    assert.equal(c.reviews.rules[0]?.min_approvals, 1);
    assert.equal(c.identity.issuers[0]?.groups_claim, 'groups');
  });

  test('gatehouse.example.yaml validates with no environment variables set', () => {
    const c = loadConfig({ path: EXAMPLE_CONFIG_PATH, env: {} });
    assert.deepEqual(c.connections.map((x) => [x.name, x.type]), [['openai', 'llm'], ['httpbin', 'http'], ['app', 'postgres'], ['anthropic', 'llm']]);
    assert.equal(c.connections[0]?.credentials.api_key?.reveal(), 'unset');
    assert.equal(c.connections[2]?.credentials.password?.reveal(), '');
    assert.ok(c.policies.files.every((f) => f.endsWith('policies/*.cedar')));
    assert.equal(c.store.postgres, undefined);
    assert.deepEqual(c.reviews.rules.map((r) => [r.name, r.approvers]), [['app-writes', ['dba']], ['shell-ambiguous', ['ops']]]);
    assert.ok(c.masking.rules.length >= 1);
  });
});
