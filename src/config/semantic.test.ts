import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from './load.ts';
import { configWarnings } from './semantic.ts';

/** The issues of `text`, where rules may name "db" (declared as a connection made through the API). */
function issues(text: string): [string, string][] {
  try {
    loadConfig({ text: /^api_connections:|name: db\b/m.test(text) ? text : `api_connections: [db]\n${text}`, env: {}, baseDir: '/srv' });
  } catch (err) {
    if (err instanceof ConfigError) return err.errors.map((e) => [e.path, e.message]);
    throw err;
  }
  return [];
}

const RULE = '{ name: r, connections: [db], actions: [sql.write], approvers: [dba]';

describe('semantic checks', () => {
  test('connection, review rule and issuer names are unique', () => {
    const found = issues([
      'connections:',
      '  - { name: a, type: http, url: "https://a.example" }',
      '  - { name: a, type: http, url: "https://b.example" }',
      'reviews:',
      `  rules: [${RULE}, kind: command }, ${RULE}, kind: command }]`,
      'identity:',
      '  issuers: [{ issuer: "https://i.example", audience: x }, { issuer: "https://i.example", audience: y }]',
    ].join('\n'));
    assert.deepEqual(found.map((f) => f[0]), ['/connections/1/name', '/reviews/rules/1/name', '/identity/issuers/1/issuer']);
    assert.match(found[0]![1], /duplicate connection name "a" \(first at \/connections\/0\)/);
  });

  test('jit durations are bounded by max_duration; command rules take no duration', () => {
    assert.deepEqual(issues(`reviews:\n  max_duration: 1h\n  rules: [${RULE}, kind: jit, duration: 2h }]`),
      [['/reviews/rules/0/duration', 'exceeds reviews.max_duration (1h)']]);
    assert.deepEqual(issues(`reviews:\n  rules: [${RULE}, kind: jit, duration: 0m }]`),
      [['/reviews/rules/0/duration', 'must be longer than 0']]);
    assert.deepEqual(issues(`reviews:\n  rules: [${RULE}, kind: command, duration: 15m }]`),
      [['/reviews/rules/0/duration', 'only allowed when kind is jit']]);
    assert.deepEqual(issues(`reviews:\n  rules: [${RULE}, kind: jit, duration: 8h }]`), []);
  });

  test('masking rules must do something, patterns must be RE2, hash needs a key', () => {
    assert.deepEqual(issues('masking:\n  rules: [{ connections: [db] }]'),
      [['/masking/rules/0', 'give at least one of entities, columns or patterns']]);
    const re = issues('masking:\n  rules: [{ patterns: [{ name: ORDER, regex: "(a)\\\\1" }, { name: OK, regex: "ORD-[0-9]{6}" }] }]');
    assert.equal(re.length, 1);
    assert.equal(re[0]![0], '/masking/rules/0/patterns/0/regex');
    assert.match(re[0]![1], /not a valid RE2 regular expression/);
    assert.deepEqual(issues('masking:\n  rules: [{ columns: { "t.c": hash } }]'),
      [['/masking/hash_key', 'is required when a masking rule uses the hash strategy']]);
    assert.deepEqual(issues('masking:\n  hash_key: "0123456789abcdef"\n  rules: [{ columns: { "t.c": hash } }]'), []);
  });

  test('URLs must not carry passwords, and the message does not repeat them', () => {
    const found = issues('connections:\n  - { name: db, type: postgres, url: "postgres://app:hunter2@db/app" }\nstore:\n  postgres: { url: "postgres://gh:pw2@db/gh" }');
    assert.deepEqual(found.map((f) => f[0]), ['/connections/0/url', '/store/postgres/url']);
    assert.ok(found.every((f) => !f[1].includes('hunter2') && !f[1].includes('pw2')));
    assert.deepEqual(issues('connections:\n  - { name: db, type: postgres, url: "postgres://app@db/app" }'), []);
  });

  test('non-loopback listeners need TLS or allow_insecure_public', () => {
    assert.deepEqual(issues('server:\n  http: { listen: "0.0.0.0:8080" }\n  postgres: { listen: "[::1]:15432" }').map((f) => f[0]), ['/server/http/listen']);
    assert.deepEqual(issues('server:\n  allow_insecure_public: true\n  http: { listen: "0.0.0.0:8080" }'), []);
    assert.deepEqual(issues('server:\n  http: { listen: "localhost:8080" }\n  postgres: { listen: "127.0.0.2:5" }'), []);
  });

  test('rules name configured or declared connections; typos and empty globs are refused with a hint', () => {
    const conns = 'connections:\n  - { name: app, type: postgres, url: "postgres://a@127.0.0.1/app" }\n';
    const found = issues(`api_connections: [analytics]\n${conns}masking:\n  rules:\n`
      + '    - { connections: [ap], entities: [EMAIL] }\n'
      + '    - { connections: ["crm-*"], entities: [EMAIL] }\n'
      + '    - { connections: ["*", app, analytics, "ana*"], entities: [EMAIL] }\n'
      + 'reviews:\n  rules:\n    - { name: w, connections: [analytcs], actions: [sql.write], kind: command, approvers: [dba] }');
    assert.deepEqual(found, [
      ['/masking/rules/0/connections/0', 'no connection named "ap" (did you mean "app"?); a connection created through the admin API must be listed in api_connections'],
      ['/masking/rules/1/connections/0', 'glob "crm-*" matches no connection; a connection created through the admin API must be listed in api_connections'],
      ['/reviews/rules/0/connections/0', 'no connection named "analytcs" (did you mean "analytics"?); a connection created through the admin API must be listed in api_connections'],
    ]);
    assert.deepEqual(issues(`api_connections: [app]\n${conns}`).map((f) => f[0]), ['/api_connections/0'], 'declared and configured at once');
    assert.deepEqual(issues('api_connections: []\nmasking:\n  rules: [{ connections: ["*"], entities: [EMAIL] }]'), [], '"*" alone always applies');
  });

  test('the mcp connection type is refused until a data path serves it; enum typos get a hint', () => {
    const found = issues('connections:\n  - { name: tools, type: mcp, url: "http://127.0.0.1:9000" }\n'
      + 'masking:\n  rules: [{ connections: ["*"], entities: [EMALE] }]\n'
      + 'reviews:\n  rules: [{ name: w, connections: ["*"], actions: [sql.wirte], kind: command, approvers: [dba] }]');
    assert.equal(found.length, 3);
    assert.match(found.find((f) => f[0] === '/connections/0/type')![1], /type "mcp" .* is not served yet/);
    assert.match(found.find((f) => f[0] === '/masking/rules/0/entities/0')![1], /did you mean "EMAIL"\?/);
    assert.match(found.find((f) => f[0] === '/reviews/rules/0/actions/0')![1], /did you mean "sql\.write"\?/);
  });

  test('approver groups no credential can carry are warned about', () => {
    const rule = (g: string): string => `reviews:\n  rules: [{ name: w, connections: ["*"], actions: [sql.write], kind: command, approvers: ["${g}"] }]`;
    const warn = (text: string): string[] => configWarnings(loadConfig({ text, env: {}, baseDir: '/srv' })).map((w) => w.path);
    assert.deepEqual(warn(rule('dba')), []);
    assert.deepEqual(warn(rule('data base admins')), ['/reviews/rules/0/approvers/0']);
    assert.deepEqual(warn(`${rule('DBA|team')}\nidentity:\n  issuers: [{ issuer: "https://idp.example", audience: gh }]`), [], 'an OIDC groups claim may carry it');
  });
});
