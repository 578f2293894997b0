import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError, CliError } from '../cli/args.ts';
import { SamlRefused } from '../console/saml-login.ts';
import { OAuthError } from '../identity/token-endpoint.ts';
import { UnknownSqlError } from '../inspect/sql/walk.ts';
import { LineageUnknownError } from '../inspect/sql/lineage/types.ts';
import { LimitError } from '../inspect/shell/walk.ts';
import { ParseCancelled, ShellInspectorNotReady } from '../inspect/shell/parser.ts';
import { EmbeddedStoreError } from '../store/embedded.ts';
import { codeOf, isErrorCode } from './errors.ts';

const SRC = fileURLToPath(new URL('../', import.meta.url));

interface ErrorClass { readonly name: string; readonly base: string; readonly file: string; readonly coded: boolean }

/** Every `class X extends Y` of src (tests and fixtures left out), with whether its body declares a registry-typed `code`. */
function classesOf(dir: string): ErrorClass[] {
  const out: ErrorClass[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) { out.push(...classesOf(p)); continue; }
    if (!e.name.endsWith('.ts') || /\.(test|case|fixture)\.ts$/.test(e.name)) continue;
    const text = readFileSync(p, 'utf8');
    for (const m of text.matchAll(/^(?:export\s+)?class\s+(\w+)(?:<[^>{]*>)?\s+extends\s+(\w+)(?:<[^>{]*>)?\s*\{/gm)) {
      // The class body, by brace depth from its opening brace.
      let depth = 0;
      let end = m.index + m[0].length - 1;
      for (; end < text.length; end++) {
        if (text[end] === '{') depth++;
        else if (text[end] === '}' && --depth === 0) break;
      }
      const body = text.slice(m.index, end);
      // `readonly code = '…' satisfies ErrorCode`, `readonly code: ErrorCode` or a generic `code: C` of ErrorCode.
      const coded = /readonly code(?:\s*=\s*'[a-z_]+'\s+satisfies ErrorCode|\s*:\s*(?:ErrorCode|C)\b)/.test(body);
      out.push({ name: m[1]!, base: m[2]!, file: relative(SRC, p), coded });
    }
  }
  return out;
}

test('every error class in src carries a registry code (its own, or its base class\'s)', () => {
  const all = classesOf(SRC);
  const byName = new Map(all.map((c) => [c.name, c]));
  const isError = (c: ErrorClass, seen = new Set<string>()): boolean => {
    if (seen.has(c.name)) return false;
    seen.add(c.name);
    if (/^(Error|TypeError|RangeError|SyntaxError)$/.test(c.base)) return true;
    const base = byName.get(c.base);
    return base !== undefined && isError(base, seen);
  };
  const carries = (c: ErrorClass): boolean => c.coded || (byName.get(c.base) !== undefined && carries(byName.get(c.base)!));
  const errors = all.filter((c) => isError(c));
  // The scan finds them (a broken scan must not pass by finding nothing).
  for (const n of ['GatehouseError', 'OAuthError', 'SamlRefused', 'UsageError', 'CliError', 'UnknownSqlError', 'LineageUnknownError', 'LimitError',
    'ProtocolError', 'MessageLengthError', 'PolicyLoadError', 'EmbeddedStoreError', 'WorkerPoolError', 'SilentClose', 'TypesNeeded']) {
    assert.ok(errors.some((c) => c.name === n), `the scan finds ${n}`);
  }
  const uncoded = errors.filter((c) => !carries(c)).map((c) => `${c.file}: ${c.name}`);
  assert.deepEqual(uncoded, [], 'these error classes carry no registry code (add `readonly code = \'…\' satisfies ErrorCode`)');
});

test('the classes named by the follow-up of issue 18 surface as their registry codes', () => {
  assert.equal(codeOf(new UsageError('x')), 'bad_request');
  assert.equal(codeOf(new CliError('x')), 'internal');
  assert.equal(codeOf(new CliError('x', 2, 'policy_invalid')), 'policy_invalid');
  assert.equal(codeOf(new SamlRefused('wrong_issuer', 'x')), 'invalid_credential');
  assert.equal(codeOf(new SamlRefused('busy', 'x')), 'too_many_requests');
  assert.equal(codeOf(new SamlRefused('too_large', 'x')), 'payload_too_large');
  assert.equal(codeOf(new SamlRefused('dtd', 'x')), 'bad_request');
  // OAuth: the wire keeps RFC 6749's `error`; the registry code is beside it.
  const o = new OAuthError(400, 'invalid_request', 'x');
  assert.deepEqual([o.error, o.status, codeOf(o)], ['invalid_request', 400, 'bad_request']);
  assert.equal(codeOf(new OAuthError(401, 'invalid_client', 'x')), 'invalid_client');
  assert.equal(codeOf(new OAuthError(503, 'temporarily_unavailable', 'x')), 'store_unavailable');
  for (const e of [new UnknownSqlError('x'), new LineageUnknownError('x'), new LimitError('x'), new ParseCancelled()]) assert.equal(codeOf(e), 'policy_denied', e.name);
  assert.equal(codeOf(new ShellInspectorNotReady()), 'inspection_unavailable');
  const store = new EmbeddedStoreError('duplicate key', '23505');
  assert.deepEqual([codeOf(store), store.sqlstate], ['store_unavailable', '23505']);
  assert.ok(isErrorCode(codeOf(new SamlRefused('anything', 'x'))));
});
