import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from './load.ts';

function issues(text: string): [string, string][] {
  try {
    loadConfig({ text, env: {}, baseDir: '/srv' });
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
});
