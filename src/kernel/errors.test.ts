import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERROR_CODES, GatehouseError, isGatehouseError, codeOf, sqlstateOf, jsonRpcCodeOf, sshExitOf, SQLSTATE, JSONRPC, SSH_EXIT } from './errors.ts';

test('docs/errors.md lists exactly the registered codes with their statuses', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  const documented = new Map([...doc.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1]!, Number(m[2])]));
  const registered = new Map(Object.entries(ERROR_CODES).map(([c, e]) => [c, e.status]));
  assert.deepEqual([...documented.entries()].sort(), [...registered.entries()].sort());
});

test('docs/errors.md lists each code\'s SQLSTATE, JSON-RPC code and SSH exit status as registered', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  const documented = [...doc.matchAll(/^\| `([a-z_]+)` \| \d{3} \| `([0-9A-Z]{5})` \| (-\d+) \| (\d+) \|/gm)]
    .map((m) => [m[1]!, m[2]!, Number(m[3]), Number(m[4])] as const);
  const registered = Object.entries(ERROR_CODES).map(([c, e]) => [c, e.sqlstate, e.jsonrpc, e.sshExit] as const);
  assert.deepEqual([...documented].sort(), [...registered].sort());
});

test('renderings: the SQLSTATEs, JSON-RPC codes and exit statuses clients already rely on', () => {
  assert.equal(sqlstateOf('policy_denied'), '42501');
  assert.equal(sqlstateOf('too_many_requests'), '53300');
  assert.equal(sqlstateOf('invalid_credential'), '28P01');
  assert.equal(sqlstateOf('unauthenticated'), '28000');
  assert.equal(sqlstateOf('bad_request'), '08P01');
  assert.equal(sqlstateOf('upstream_unreachable'), '08006');
  assert.equal(sqlstateOf('masking_failed'), 'XX000');
  // A call site may name a more specific SQLSTATE (typed: one of SQLSTATE's values).
  assert.equal(sqlstateOf('bad_request', SQLSTATE.syntaxError), '42601');
  // /mcp: a 400 is an invalid request, everything else a server error (as before the registry).
  for (const [code, e] of Object.entries(ERROR_CODES)) {
    assert.equal(jsonRpcCodeOf(code as keyof typeof ERROR_CODES), e.status === 400 ? JSONRPC.invalidRequest : JSONRPC.serverError, code);
    // SSH: a refusal is 126; the gateway's own failure (5xx except a refused inspection) is 255.
    assert.equal(sshExitOf(code as keyof typeof ERROR_CODES), e.status < 500 || code === 'inspection_unavailable' ? SSH_EXIT.refused : SSH_EXIT.failed, code);
  }
});

test('typed extras: each code takes its own members', () => {
  const e = new GatehouseError('too_many_requests', 'busy', { retry_after: 1 });
  assert.equal(e.extra.retry_after, 1);
  const r = new GatehouseError('review_required', 'wait', { review_id: 'r1' });
  assert.equal(r.extra.review_id, 'r1');
  // @ts-expect-error not_found carries no `hint`
  assert.ok(new GatehouseError('not_found', 'x', { hint: 1 }));
  // @ts-expect-error review_required must name its review
  assert.ok(new GatehouseError('review_required', 'x'));
  // @ts-expect-error retry_after is a number
  assert.ok(new GatehouseError('too_many_requests', 'x', { retry_after: '1' }));
  const thrown: unknown = r;
  if (isGatehouseError(thrown, 'method_not_allowed')) assert.fail('narrowed to the wrong code');
  if (isGatehouseError(thrown)) assert.equal(thrown.extra.review_id, 'r1');
});

test('codeOf: a registered code of a GatehouseError or an internal error class; anything else is internal', () => {
  class Inner extends Error { readonly code = 'masking_failed' as const; }
  assert.equal(codeOf(new GatehouseError('not_found')), 'not_found');
  assert.equal(codeOf(new Inner('x')), 'masking_failed');
  assert.equal(codeOf(Object.assign(new Error('reset'), { code: 'ECONNRESET' })), 'internal');
  assert.equal(codeOf(Object.assign(new Error('proto'), { code: 'toString' })), 'internal');
  assert.equal(codeOf('a string'), 'internal');
});

test('GatehouseError carries code, status and a safe detail', () => {
  const e = new GatehouseError('not_found', 'no connection named "x"');
  assert.equal(e.status, 404);
  assert.equal(e.code, 'not_found');
  assert.equal(e.detail, 'no connection named "x"');
  assert.ok(isGatehouseError(e, 'not_found'));
  assert.ok(!isGatehouseError(e, 'conflict'));
  assert.ok(!isGatehouseError(new Error('x')));
  assert.equal(new GatehouseError('internal').detail, 'Internal error');
});
