import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cedar, cedarSchemaText, SourceText } from './cedar.ts';
import { builtinAdminPolicy, compilePolicySet } from './policy-set.ts';
import { splitPolicies } from './split.ts';
import { ACTIONS } from './request.ts';

const POLICY_DIR = fileURLToPath(new URL('../../policies/', import.meta.url));
const builtin = builtinAdminPolicy('admins');

function compileErrors(text: string, file = 'bad.cedar') {
  const r = compilePolicySet([{ file, text }], builtin);
  assert.equal(r.ok, false, 'expected the set to be rejected');
  return r.ok ? [] : r.errors;
}

describe('schema', () => {
  test('parses and declares exactly the SPEC actions', () => {
    assert.deepEqual(cedar.checkParseSchema(cedarSchemaText()), { type: 'success' });
    const json = cedar.schemaToJson(cedarSchemaText());
    assert.equal(json.type, 'success');
    if (json.type !== 'success') return;
    const ns = json.json[''];
    assert.ok(ns, 'schema has no namespace');
    assert.deepEqual(Object.keys(ns.actions).sort(), [...ACTIONS].sort());
    assert.deepEqual(Object.keys(ns.entityTypes).sort(), ['Agent', 'Connection', 'Gateway', 'Group', 'Session', 'User']);
  });
});

describe('shipped policies', () => {
  test('every policies/*.cedar file validates against the schema', () => {
    const files = readdirSync(POLICY_DIR).filter((f) => f.endsWith('.cedar'));
    assert.ok(files.length >= 3);
    const sources = files.map((f) => ({ file: `policies/${f}`, text: readFileSync(`${POLICY_DIR}${f}`, 'utf8') }));
    const r = compilePolicySet(sources, builtin);
    assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.errors, null, 2));
    const ids = r.set.policies.map((p) => p.id);
    for (const id of ['builtin-admins', 'developers-read', 'agents-readonly', 'no-secrets-to-llm', 'llm-users', 'dba-approve', 'block-dangerous-sql']) {
      assert.ok(ids.includes(id), `missing ${id}`);
    }
    assert.ok(r.set.policies.every((p) => p.builtin === (p.id === 'builtin-admins')));
  });
});

describe('compilePolicySet', () => {
  test('ids: @id where present, else <file>#<index>; text and line as written', () => {
    const text = '// header\n@id("a")\npermit (principal, action == Action::"sql.read", resource);\n\nforbid (principal, action, resource)\n  when { context has sql && context.sql.do_block };\n';
    const r = compilePolicySet([{ file: 'p.cedar', text }], builtin);
    assert.ok(r.ok);
    const [b, a, second] = r.set.policies;
    assert.equal(b?.id, 'builtin-admins');
    assert.deepEqual(a, { id: 'a', file: 'p.cedar', line: 2, effect: 'permit', builtin: false, text: '@id("a")\npermit (principal, action == Action::"sql.read", resource);' });
    assert.equal(second?.id, 'p.cedar#1');
    assert.equal(second?.effect, 'forbid');
    assert.equal(second?.line, 5);
  });

  test('syntax error reports file, line and column', () => {
    const bad = 'permit (principal, action, resource) when { 1 + };';
    const errors = compileErrors(`permit (principal, action, resource);\n\n${bad}\n`);
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.file, 'bad.cedar');
    assert.equal(errors[0]?.line, 3);
    assert.equal(errors[0]?.column, bad.indexOf('}') + 1);
  });

  test('validation error points into the right policy, after non-ASCII text', () => {
    const text = '// café ünïcode\npermit (principal, action, resource);\n@id("x") permit (principal, action, resource) when { resource.nme == "crm" };\n';
    const errors = compileErrors(text);
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.line, 3);
    assert.equal(errors[0]?.column, text.split('\n')[2]!.indexOf('resource.nme') + 1);
    assert.match(errors[0]?.message ?? '', /nme/);
  });

  test('unguarded optional context attribute is rejected once, not once per action', () => {
    const errors = compileErrors('permit (principal, action, resource) when { context.sql.do_block };');
    assert.equal(errors.length, 1);
    assert.match(errors[0]?.message ?? '', /context has sql/);
  });

  test('duplicate @id is rejected, within and across files, and against the built-in', () => {
    const p = '@id("same") permit (principal, action, resource);\n';
    const r1 = compilePolicySet([{ file: 'a.cedar', text: p + p }], builtin);
    assert.equal(r1.ok, false);
    if (!r1.ok) assert.deepEqual(r1.errors.map((e) => [e.file, e.line]), [['a.cedar', 2]]);
    const r2 = compilePolicySet([{ file: 'a.cedar', text: p }, { file: 'b.cedar', text: p }], builtin);
    assert.equal(r2.ok, false);
    if (!r2.ok) assert.match(r2.errors[0]?.message ?? '', /duplicate policy id "same" \(also used by a\.cedar:1\)/);
    const errors = compileErrors('@id("builtin-admins") permit (principal, action, resource);');
    assert.match(errors[0]?.message ?? '', /built-in/);
  });

  test('reserved ids and templates are rejected', () => {
    assert.match(compileErrors('@id("default-deny") permit (principal, action, resource);')[0]?.message ?? '', /reserved/);
    assert.match(compileErrors('@id("review:x") permit (principal, action, resource);')[0]?.message ?? '', /reserved/);
    assert.match(compileErrors('permit (principal == ?principal, action, resource);')[0]?.message ?? '', /template/);
  });

  test('the built-in admin policy uses the configured group and refuses unsafe names', () => {
    assert.match(builtinAdminPolicy('ops').text, /Group::"ops"/);
    assert.throws(() => builtinAdminPolicy('a"b'));
    assert.throws(() => builtinAdminPolicy(''));
  });
});

describe('splitPolicies', () => {
  test('ignores ; inside strings and comments and keeps exact spans', () => {
    const text = '// a ; comment\n@id("x;y") permit (principal, action, resource) when { "a;b" == "a;b" };\n  forbid (principal, action, resource); // tail ;\n';
    const { spans, trailing } = splitPolicies(text);
    assert.equal(trailing, false);
    assert.equal(spans.length, 2);
    assert.equal(spans[0]?.text, '@id("x;y") permit (principal, action, resource) when { "a;b" == "a;b" };');
    assert.equal(text.slice(spans[1]!.start).startsWith('forbid'), true);
  });

  test('SourceText maps UTF-8 byte offsets to line and column', () => {
    const s = new SourceText('é\nab€c');
    assert.deepEqual(s.position(s.byteOffset(5)), { line: 2, column: 4 });
    assert.equal(s.byteOffset(3), 4);
  });
});
