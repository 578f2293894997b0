import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Principal } from '../../identity/principal.ts';
import { PendingCalls } from './pending.ts';
import type { Rerun } from './env.ts';

const alice: Principal = { kind: 'user', id: 'alice', groups: [], via: 'api_key' };
const aliceViaBot: Principal = { ...alice, agent: { id: 'bot', groups: [] } };
const bob: Principal = { kind: 'user', id: 'bob', groups: [], via: 'api_key' };
const rerun: Rerun = () => Promise.resolve({ content: [] });

test('only the principal (with the same acting agent) that made the call takes it, once', () => {
  const p = new PendingCalls();
  p.put('rv_1', aliceViaBot, 'query', 1000, rerun);
  assert.equal(p.take('rv_1', bob, 0), undefined);
  assert.equal(p.take('rv_1', alice, 0), undefined, 'alice without her agent is another requester');
  assert.equal(p.peek('rv_1', aliceViaBot, 0), 'query');
  assert.equal(p.take('rv_1', aliceViaBot, 0)?.tool, 'query');
  assert.equal(p.take('rv_1', aliceViaBot, 0), undefined, 'taken once');
});

test('entries expire with their review and the table is bounded (oldest dropped)', () => {
  const p = new PendingCalls(2);
  p.put('rv_1', alice, 'query', 100, rerun);
  assert.equal(p.take('rv_1', alice, 100), undefined, 'expired at expiresAt');
  p.put('rv_1', alice, 'query', 1000, rerun);
  p.put('rv_2', alice, 'call_llm', 1000, rerun);
  p.put('rv_3', alice, 'http_request', 1000, rerun);
  assert.equal(p.size, 2);
  assert.equal(p.peek('rv_1', alice, 0), undefined);
  assert.equal(p.peek('rv_3', alice, 0), 'http_request');
});
