import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { holdStatement, statementSummary, type SqlHoldContext, type ReviewVerdict, type StatementBinding } from './hold.ts';
import type { Principal } from '../identity/principal.ts';

/** A masker that masks nothing, and a gate that records each fingerprint and answers pending. */
function context(fingerprints: string[]): SqlHoldContext {
  const reviewGate = {
    hold: (input: { fingerprint: string }) => { fingerprints.push(input.fingerprint); return Promise.resolve({ outcome: 'timeout' as const, reviewId: 'rv_1' }); },
  };
  return {
    svc: { reviewGate, scanner: { mask: (text: string) => ({ text }) } } as unknown as SqlHoldContext['svc'],
    principal: {} as Principal, connection: 'app', justification: undefined, signal: new AbortController().signal, cancelled: () => false,
  };
}
const VERDICT = { ok: false, effect: 'review', reviews: [{ action: 'sql.write', decision: {} }], facts: {} } as unknown as ReviewVerdict;
const binding = (over: Partial<StatementBinding> = {}): StatementBinding => ({ formats: [0], types: [], executes: [], ...over });

describe('holdStatement: the approval key covers what decides what runs', () => {
  test('formats, declared types and what an executed name is each change the fingerprint', async () => {
    const seen: string[] = [];
    const ctx = context(seen);
    const p = [Buffer.from('0000')];
    await holdStatement(ctx, VERDICT, 'DELETE FROM t WHERE id < $1', p, binding());
    await holdStatement(ctx, VERDICT, 'DELETE FROM t WHERE id < $1', p, binding());
    await holdStatement(ctx, VERDICT, 'DELETE FROM t WHERE id < $1', p, binding({ formats: [1] }));
    await holdStatement(ctx, VERDICT, 'DELETE FROM t WHERE id < $1', p, binding({ types: [23] }));
    await holdStatement(ctx, VERDICT, 'EXECUTE p', undefined, binding({ formats: [], executes: [{ name: 'p', definitions: [{ sql: 'UPDATE t SET a = 1 WHERE id = 7', types: [] }] }] }));
    await holdStatement(ctx, VERDICT, 'EXECUTE p', undefined, binding({ formats: [], executes: [{ name: 'p', definitions: [{ sql: 'DELETE FROM t', types: [] }] }] }));
    assert.equal(seen[0], seen[1]);
    assert.equal(new Set(seen).size, 5);
  });

  test('the summary shows what the name is, binary parameters in hex and the declared types', () => {
    const ctx = context([]);
    const s = statementSummary(ctx, 'EXECUTE p($1)', [Buffer.from('0000'), Buffer.from('x')], binding({
      formats: [1, 0], types: [23, 0],
      executes: [{ name: 'p', definitions: [{ sql: 'DELETE FROM t WHERE id < $1', types: [23] }, { sql: 'SELECT 1', types: [] }] }],
    }));
    assert.equal(s, 'EXECUTE p($1) -- "p" is one of: [DELETE FROM t WHERE id < $1 (parameter types [23])] [SELECT 1]'
      + ' -- params: ["binary 0x30303030","x"] -- parameter types: [23,0]');
  });
});
