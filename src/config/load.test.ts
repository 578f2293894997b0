import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { Secret } from '../kernel/secret.ts';
import { ConfigError, formatConfigErrors, loadConfig } from './load.ts';

const dir = mkdtempSync(join(tmpdir(), 'gh-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Loads `text` and returns the ConfigError it must throw. */
function errorsOf(text: string, env: Record<string, string> = {}): ConfigError {
  try {
    loadConfig({ text, env, baseDir: dir });
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  assert.fail('expected a ConfigError');
}

const LLM = 'connections:\n  - name: openai\n    type: llm\n    provider: openai\n    url: https://api.openai.com\n';

describe('loadConfig: defaults', () => {
  test('an empty document gets every default, declared once in the schema', () => {
    for (const text of ['', '# only a comment\n', '{}']) {
      const c = loadConfig({ text, env: {}, baseDir: dir });
      assert.equal(c.server.http.listen, '127.0.0.1:8080');
      assert.equal(c.server.postgres.listen, '127.0.0.1:15432');
      assert.equal(c.server.postgres.allow_insecure_auth, false);
      assert.equal(c.server.allow_insecure_public, false);
      assert.deepEqual(c.server.allowed_hosts, []);
      assert.equal(c.server.body_limit_bytes, 10 * 1024 * 1024);
      assert.equal(c.store.embedded.path, join(dir, '.gatehouse'));
      assert.equal(c.store.postgres, undefined);
      assert.deepEqual(c.identity.builtin, { token_ttl_ms: 3_600_000, audience: 'gatehouse' });
      assert.deepEqual(c.identity.bootstrap, { admin_user: 'admin', admin_group: 'admins' });
      assert.deepEqual(c.policies.files, [join(dir, 'policies/*.cedar')]);
      assert.deepEqual(c.connections, []);
      assert.equal(c.reviews.hold_timeout_ms, 60_000);
      assert.equal(c.reviews.max_duration_ms, 8 * 3_600_000);
      assert.deepEqual(c.recording, { enabled: true, max_session_bytes: 50 * 1024 * 1024, retention_ms: 90 * 86_400_000, session_idle_ms: 15 * 60_000, durability: 'journal' });
      assert.deepEqual(c.notifications.webhooks, []);
      assert.equal(c.log.level, 'info');
    }
  });

  test('nested defaults: connections, issuers, masking and review rules', () => {
    const c = loadConfig({
      env: {},
      baseDir: dir,
      text: `${LLM}identity:\n  issuers: [{ issuer: "https://idp.example.com", audience: gatehouse }]\n`
        + 'masking:\n  rules: [{ entities: [EMAIL] }]\n'
        + 'reviews:\n  rules: [{ name: w, connections: [openai], actions: [llm.invoke], kind: jit, approvers: [ops] }]\n',
    });
    const conn = c.connections[0]!;
    assert.deepEqual(conn.timeouts, { connect_ms: 10_000, headers_ms: 60_000, body_ms: 300_000 });
    assert.deepEqual(conn.credentials, {});
    assert.deepEqual(conn.tags, []);
    assert.deepEqual(c.identity.issuers[0], {
      issuer: 'https://idp.example.com', audience: 'gatehouse', groups_claim: 'groups',
      algorithms: ['RS256', 'ES256', 'PS256', 'EdDSA'], jwks_cache_ms: 600_000, user_claim: 'sub', console_scope: 'openid groups',
    });
    assert.deepEqual(c.masking.rules[0], { connections: ['*'], direction: 'both', entities: ['EMAIL'], strategy: 'redact' });
    const rule = c.reviews.rules[0]!;
    assert.equal(rule.duration_ms, 15 * 60_000);
    assert.equal(rule.min_approvals, 1);
    assert.equal(rule.require_justification, false);
  });

  test('relative paths resolve against the config file directory; :memory: is kept', () => {
    mkdirSync(join(dir, 'conf'), { recursive: true });
    const file = join(dir, 'conf', 'gatehouse.yaml');
    writeFileSync(file, 'server:\n  tls: { cert: certs/a.crt, key: /abs/a.key }\n  http: { listen: "0.0.0.0:8080" }\nstore:\n  embedded: { path: data }\npolicies:\n  files: ["p/*.cedar", "/etc/x.cedar"]\n');
    const c = loadConfig({ path: file, env: {} });
    assert.deepEqual(c.server.tls, { cert: join(dir, 'conf', 'certs/a.crt'), key: '/abs/a.key' });
    assert.equal(c.store.embedded.path, join(dir, 'conf', 'data'));
    assert.deepEqual(c.policies.files, [join(dir, 'conf', 'p/*.cedar'), '/etc/x.cedar']);
    const mem = loadConfig({ text: 'store: { embedded: { path: ":memory:" } }', env: {}, baseDir: dir });
    assert.equal(mem.store.embedded.path, ':memory:');
  });

  test('a protocol listener\'s path setting (server.ssh.host_key, declared format: path) resolves too', () => {
    const rel = loadConfig({ text: 'server:\n  ssh: { host_key: keys/ssh_host }\n', env: {}, baseDir: dir });
    assert.equal(rel.server.ssh.host_key, join(dir, 'keys/ssh_host'));
    const abs = loadConfig({ text: 'server:\n  ssh: { host_key: /abs/ssh_host }\n', env: {}, baseDir: dir });
    assert.equal(abs.server.ssh.host_key, '/abs/ssh_host');
    assert.equal(loadConfig({ text: '', env: {}, baseDir: dir }).server.ssh.host_key, undefined, 'no default: the state directory\'s key');
  });
});

describe('loadConfig: errors', () => {
  test('an unknown key is rejected with its path, line and the allowed keys', () => {
    const err = errorsOf('server:\n  http:\n    listn: "127.0.0.1:1"\n');
    assert.deepEqual(err.errors.map((e) => [e.path, e.line]), [['/server/http/listn', 3]]);
    assert.match(err.errors[0]!.message, /unknown key \(allowed here: listen, headers_timeout, request_timeout, keep_alive_timeout\)/);
    assert.equal(err.code, 'config_invalid');
    assert.equal(errorsOf('colour: blue\n').errors[0]!.path, '/colour');
  });

  test('several errors are all reported, in line order, and formatted one per line', () => {
    const err = errorsOf([
      'log: { level: loud }',
      'connections:',
      '  - name: Bad Name',
      '    type: ftp',
      '    url: https://x.example',
      '  - name: db',
      '    type: postgres',
      '    url: https://not-postgres',
      'reviews:',
      '  hold_timeout: 60 seconds',
    ].join('\n'));
    assert.deepEqual(err.errors.map((e) => e.path), [
      '/log/level', '/connections/0/name', '/connections/0/type', '/connections/1/url', '/reviews/hold_timeout',
    ]);
    assert.match(err.errors[0]!.message, /must be one of: trace, debug, info, warn, error, fatal/);
    assert.match(err.errors[4]!.message, /must be a duration/);
    const lines = formatConfigErrors(new ConfigError(err.errors, 'gh.yaml')).split('\n');
    assert.equal(lines.length, 5);
    assert.equal(lines[0], 'gh.yaml:1: /log/level: must be one of: trace, debug, info, warn, error, fatal');
    assert.match(lines[4]!, /^gh\.yaml:10: \/reviews\/hold_timeout: /);
  });

  test('llm without provider is rejected, and provider is rejected on other types', () => {
    const missing = errorsOf('connections:\n  - { name: a, type: llm, url: "https://a.example" }\n');
    assert.deepEqual(missing.errors.map((e) => [e.path, e.message]), [['/connections/0/provider', 'is required']]);
    const extra = errorsOf('connections:\n  - { name: a, type: http, provider: openai, url: "https://a.example" }\n');
    assert.deepEqual(extra.errors.map((e) => [e.path, e.message]), [['/connections/0/provider', 'is only allowed when type is llm']]);
  });

  test('credential keys are a closed list; header_name needs header_value', () => {
    const err = errorsOf('connections:\n  - { name: a, type: http, url: "https://a.example", credentials: { token: x, header_name: X-Key } }\n');
    assert.deepEqual(err.errors.map((e) => e.path).sort(), ['/connections/0/credentials', '/connections/0/credentials/token']);
  });

  test('duplicate YAML keys are rejected with their line', () => {
    const err = errorsOf('log:\n  level: info\nlog:\n  level: debug\n');
    assert.equal(err.errors.length, 1);
    assert.equal(err.errors[0]!.line, 3);
    assert.match(err.errors[0]!.message, /unique/);
  });

  test('YAML syntax errors do not quote the source text, and cascades are capped', () => {
    const err = errorsOf('log: { level: info } sk-LITERAL-SECRET\n' + 'x: [\n'.repeat(40));
    assert.ok(err.errors.length <= 10);
    assert.ok(!formatConfigErrors(err).includes('sk-LITERAL-SECRET'));
    assert.equal(err.errors[0]!.line, 1);
  });

  test('YAML syntax errors and non-object documents are errors', () => {
    assert.match(errorsOf('server: [unclosed\n').errors[0]!.message, /^YAML: /);
    assert.match(errorsOf('- a\n- b\n').errors[0]!.message, /must be object/);
    assert.match(errorsOf('---\na: 1\n---\nb: 2\n').errors[0]!.message, /^YAML: /);
  });

  test('a missing file is a ConfigError naming the reason', () => {
    assert.throws(() => loadConfig({ path: join(dir, 'absent.yaml') }), (e: unknown) =>
      e instanceof ConfigError && /ENOENT/.test(e.errors[0]!.message) && e.file === join(dir, 'absent.yaml'));
  });
});

describe('loadConfig: interpolation and secrets', () => {
  const SECRET = 'sk-live-0123456789abcdef';

  test('env and file values are interpolated inside strings', () => {
    writeFileSync(join(dir, 'pw.txt'), 'file-pass\n');
    const c = loadConfig({
      env: { KEY: SECRET, HOST: 'db.internal' },
      baseDir: dir,
      text: `${LLM}    credentials: { api_key: "\${KEY}" }\n  - name: db\n    type: postgres\n    url: "postgres://app@\${HOST}:5432/app"\n    credentials: { password: "\${file:pw.txt}" }\n    description: "costs $\${5}"\n`,
    });
    assert.equal(c.connections[0]!.credentials.api_key?.reveal(), SECRET);
    assert.equal(c.connections[1]!.url, 'postgres://app@db.internal:5432/app');
    assert.equal(c.connections[1]!.credentials.password?.reveal(), 'file-pass');
    assert.equal(c.connections[1]!.description, 'costs ${5}');
  });

  test('${…} may stand unquoted, as in SPEC, even inside flow maps', () => {
    const text = `${LLM}    credentials: { api_key: \${K} }\n  - { name: b, type: http, url: https://b.example, description: $\${K} }\n`;
    const c = loadConfig({ env: { K: 'sk-1' }, baseDir: dir, text });
    assert.equal(c.connections[0]!.credentials.api_key?.reveal(), 'sk-1');
    assert.equal(c.connections[1]!.description, '${K}');
  });

  test('a value with YAML syntax cannot inject structure', () => {
    const v = 'x"\nlog: { level: trace }\n';
    const c = loadConfig({ env: { V: v }, baseDir: dir, text: `${LLM}    description: "\${V}"\n` });
    assert.equal(c.log.level, 'info');
    assert.equal(c.connections[0]!.description, v);
  });

  test('a missing variable is reported with its name and path, never a secret value', () => {
    const err = errorsOf(`${LLM}    credentials: { api_key: "\${KEY}", bearer: "\${MISSING_TOKEN}" }\n  - { name: b, type: "\${KEY}", url: "https://\${KEY}" }\n`, { KEY: SECRET });
    assert.ok(err.errors.some((e) => e.path === '/connections/1/type'), 'the invalid interpolated value is reported');
    const text = `${formatConfigErrors(err)}\n${err.message}\n${JSON.stringify(err.errors)}\n${inspect(err)}`;
    assert.ok(!text.includes(SECRET), 'an error must never contain a secret value');
    const missing = err.errors.find((e) => e.path === '/connections/0/credentials/bearer');
    assert.ok(missing, 'the missing variable is reported at its path');
    assert.match(missing.message, /MISSING_TOKEN is not set/);
  });

  test('credentials, hash_key, webhook and store passwords are Secret; JSON shows none of them', () => {
    const c = loadConfig({
      env: { KEY: SECRET, HK: 'hash-key-0123456789', WH: 'whsec-abc', DBPW: 'db-pass-xyz' },
      baseDir: dir,
      text: `${LLM}    credentials: { api_key: "\${KEY}", username: u-name }\n`
        + 'masking:\n  hash_key: "${HK}"\n  rules: [{ entities: [EMAIL], strategy: hash }]\n'
        + 'notifications:\n  webhooks: [{ url: "https://hooks.example", secret: "${WH}" }]\n'
        + 'store:\n  postgres: { url: "postgres://gh@db/gh", password: "${DBPW}" }\n',
    });
    const creds = c.connections[0]!.credentials;
    assert.ok(creds.api_key instanceof Secret && creds.username instanceof Secret);
    assert.ok(c.masking.hash_key instanceof Secret);
    assert.equal(c.notifications.webhooks[0]!.secret?.reveal(), 'whsec-abc');
    assert.equal(c.store.postgres?.password?.reveal(), 'db-pass-xyz');
    const shown = JSON.stringify(c) + inspect(c, { depth: 20 });
    for (const s of [SECRET, 'hash-key-0123456789', 'whsec-abc', 'db-pass-xyz', 'u-name']) assert.ok(!shown.includes(s), s);
  });

  test('the loaded config is deeply frozen', () => {
    const c = loadConfig({ text: `${LLM}masking:\n  rules: [{ columns: { "t.c": redact } }]\n`, env: {}, baseDir: dir });
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.connections[0]!.timeouts) && Object.isFrozen(c.masking.rules[0]!.columns));
    assert.throws(() => { (c.server.http as { listen: string }).listen = '0.0.0.0:1'; }, TypeError);
    assert.throws(() => { (c.connections as unknown[]).push({}); }, TypeError);
    assert.throws(() => { (c.policies.files as string[])[0] = 'x'; }, TypeError);
  });
});
