import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isGatehouseError } from '../kernel/errors.ts';
import { assertTransition, canTransition, isTerminal } from './state.ts';
import type { ReviewStatus } from './types.ts';

const ALL: ReviewStatus[] = ['pending', 'approved', 'denied', 'expired', 'cancelled', 'executed', 'revoked'];

test('exactly the documented transitions are legal', () => {
  const legal = new Set<string>();
  for (const kind of ['command', 'jit'] as const) {
    for (const from of ALL) for (const to of ALL) if (canTransition(kind, from, to)) legal.add(`${kind}:${from}->${to}`);
  }
  assert.deepEqual([...legal].sort(), [
    'command:approved->executed', 'command:approved->expired', 'command:approved->revoked',
    'command:pending->approved', 'command:pending->cancelled', 'command:pending->denied', 'command:pending->expired',
    'jit:approved->expired', 'jit:approved->revoked',
    'jit:pending->approved', 'jit:pending->cancelled', 'jit:pending->denied', 'jit:pending->expired',
  ]);
});

test('illegal transitions throw conflict; terminal states are terminal', () => {
  assert.throws(() => { assertTransition('command', 'denied', 'approved'); }, (e) => isGatehouseError(e, 'conflict'));
  assert.throws(() => { assertTransition('jit', 'approved', 'executed'); }, (e) => isGatehouseError(e, 'conflict'));
  assert.doesNotThrow(() => { assertTransition('command', 'pending', 'approved'); });
  assert.deepEqual(ALL.filter(isTerminal), ['denied', 'expired', 'cancelled', 'executed', 'revoked']);
});
