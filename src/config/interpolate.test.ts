import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { interpolateString, interpolateTree, MAX_INTERPOLATED_FILE_BYTES, toPointer } from './interpolate.ts';
import type { ConfigIssue } from './config-error.ts';

const dir = mkdtempSync(join(tmpdir(), 'gh-interp-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const ctx = { env: { TOKEN: 'tok-123', EMPTY: '' }, baseDir: dir };
const ok = (text: string): string => {
  const r = interpolateString(text, ctx);
  assert.ok(r.ok, `expected ok for ${text}`);
  return r.value;
};
const fail = (text: string): string => {
  const r = interpolateString(text, ctx);
  assert.ok(!r.ok, `expected an error for ${text}`);
  return r.message;
};

describe('interpolateString', () => {
  test('expands variables, defaults and leaves other dollars alone', () => {
    assert.equal(ok('Bearer ${TOKEN}'), 'Bearer tok-123');
    assert.equal(ok('${TOKEN}${TOKEN}'), 'tok-123tok-123');
    assert.equal(ok('${MISSING:-fallback}'), 'fallback');
    assert.equal(ok('${EMPTY:-fallback}'), 'fallback');
    assert.equal(ok('${MISSING:-}'), '');
    assert.equal(ok('${TOKEN:-fallback}'), 'tok-123');
    assert.equal(ok('${EMPTY}'), '');
    assert.equal(ok('cost $5 and $$ and $'), 'cost $5 and $$ and $');
  });

  test('$${ is a literal ${ and is not expanded', () => {
    assert.equal(ok('$${TOKEN}'), '${TOKEN}');
    assert.equal(ok('a$${b}${TOKEN}'), 'a${b}tok-123');
  });

  test('the result is not re-scanned', () => {
    const r = interpolateString('${X}', { env: { X: '${TOKEN}' }, baseDir: dir });
    assert.deepEqual(r, { ok: true, value: '${TOKEN}' });
  });

  test('a missing variable names it, and bad syntax is an error', () => {
    assert.match(fail('${NOT_SET}'), /environment variable NOT_SET is not set/);
    assert.match(fail('x ${TOKEN'), /unterminated/);
    assert.match(fail('${1BAD}'), /invalid interpolation/);
    assert.match(fail('${}'), /invalid interpolation/);
  });

  test('${file:…} reads a file relative to baseDir, trimming one trailing newline', () => {
    writeFileSync(join(dir, 'secret.txt'), 'pa:ss {word}\n');
    writeFileSync(join(dir, 'crlf.txt'), 'two\n\r\n');
    assert.equal(ok('${file:secret.txt}'), 'pa:ss {word}');
    assert.equal(ok(`\${file:${join(dir, 'secret.txt')}}`), 'pa:ss {word}');
    assert.equal(ok('${file:crlf.txt}'), 'two\n');
    assert.match(fail('${file:nope.txt}'), /nope\.txt.*ENOENT/);
    assert.match(fail('${file:}'), /empty path/);
    assert.match(fail('${file:.}'), /not a regular file/);
    writeFileSync(join(dir, 'big.txt'), Buffer.alloc(MAX_INTERPOLATED_FILE_BYTES + 1, 'a'));
    assert.match(fail('${file:big.txt}'), /larger than/);
  });
});

describe('interpolateTree', () => {
  test('only string values are interpolated; keys and other scalars are untouched', () => {
    const issues: ConfigIssue[] = [];
    const out = interpolateTree({ '${TOKEN}': 1, a: ['${TOKEN}', 2, true, null], b: { c: '${NOPE}' } }, ctx, issues);
    assert.deepEqual(out, { '${TOKEN}': 1, a: ['tok-123', 2, true, null], b: { c: '' } });
    assert.deepEqual(issues.map((i) => i.path), ['/b/c']);
  });

  test('a __proto__ key stays an own property and does not change the prototype', () => {
    const src = JSON.parse('{"__proto__": {"polluted": "yes"}}') as unknown;
    const out = interpolateTree(src, ctx, []) as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
    assert.ok(Object.hasOwn(out, '__proto__'));
    assert.equal((out as { polluted?: unknown }).polluted, undefined);
  });

  test('toPointer escapes ~ and /', () => {
    assert.equal(toPointer(['a/b', 0, 'c~d']), '/a~1b/0/c~0d');
    assert.equal(toPointer([]), '');
  });
});
