import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { manualClock } from '../kernel/clock.ts';
import { openStore } from '../store/index.ts';
import type { SqlDriver } from '../store/sql.ts';
import type { Decision } from '../policy/request.ts';
import type { ReviewRuleConfig } from '../policy/review-rules.ts';
import type { ReviewService } from './service.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { reviewGate, type ReviewGateInput, type ReviewGateResult } from './gate.ts';
import { alice, bob, carol, commandRule, jitRule, makeService, sqlRequest, until } from './kit.case.ts';

const justified: ReviewRuleConfig = { ...commandRule, name: 'justified', require_justification: true };
const decision = (rule: string): Decision => ({ effect: 'review', reasons: ['developers-write', `review:${rule}`], errors: [], reviewRule: rule });
const silent = { log: { error: () => undefined } };

describe('reviewGate', () => {
  let db: SqlDriver;
  const clock = manualClock(Date.UTC(2025, 0, 1));
  let reviews: ReviewService;
  let audit: AuditLog;
  let n = 0;
  const rules = { rules: () => [commandRule, jitRule, justified] };

  before(async () => {
    db = await openStore({});
    ({ reviews, audit } = await makeService(db, clock));
  });
  after(async () => { await reviews.close(); await audit.flush(); await db.close(); });

  const input = (fingerprint: string, rule = commandRule, over: Partial<ReviewGateInput> = {}): ReviewGateInput => {
    const { principal, action, resource, facts, summary } = sqlRequest(alice, fingerprint, rule);
    return { principal, action, resource, facts, summary, fingerprint, decision: decision(rule.name), ...over };
  };
  const gate = (i: ReviewGateInput, holdTimeoutMs = 60_000): Promise<ReviewGateResult> => reviewGate(silent, { reviews, holdTimeoutMs, rules }, i);
  const pendingId = async (fingerprint: string): Promise<string> => {
    await until(() => reviews.holding > 0, 'the request to be held');
    const id = (await reviews.list({ status: 'pending', requester: 'alice' })).find((r) => r.fingerprint === fingerprint)?.id;
    assert.ok(id);
    return id;
  };

  test('approve while held → run', async () => {
    const f = `g-${++n}`;
    const res = gate(input(f));
    const id = await pendingId(f);
    await reviews.approve(id, bob);
    assert.deepEqual(await res, { outcome: 'run', reviewId: id });
    assert.equal((await reviews.get(id))?.status, 'executed');
  });

  test("deny while held → denied with the denier's reason", async () => {
    const f = `g-${++n}`;
    const res = gate(input(f));
    const id = await pendingId(f);
    await reviews.deny(id, carol, 'use a WHERE clause');
    const out = await res;
    assert.equal(out.outcome, 'denied');
    assert.ok(out.outcome === 'denied' && /denied by user:carol: use a WHERE clause/.test(out.reason), JSON.stringify(out));
  });

  test('timeout → review id; approve; re-send runs once; a second re-send is reviewed again', async () => {
    const f = `g-${++n}`;
    const first = await gate(input(f), 20);
    assert.equal(first.outcome, 'timeout');
    const id = first.outcome === 'timeout' ? first.reviewId : '';
    const again = await gate(input(f), 20);
    assert.deepEqual(again, { outcome: 'timeout', reviewId: id }, 're-sending while pending reuses the review');
    await reviews.approve(id, bob);
    assert.deepEqual(await gate(input(f), 20), { outcome: 'run', reviewId: id });
    const third = await gate(input(f), 20);
    assert.equal(third.outcome, 'timeout');
    assert.ok(third.outcome === 'timeout' && third.reviewId !== id, 'a new review');
  });

  test('justification required: refused without, carried with', async () => {
    const f = `g-${++n}`;
    const out = await gate(input(f, justified, { justification: '   ' }), 20);
    assert.ok(out.outcome === 'denied' && /requires a justification/.test(out.reason));
    const held = await gate(input(f, justified, { justification: 'ticket OPS-42' }), 20);
    assert.equal(held.outcome, 'timeout');
    assert.equal(held.outcome === 'timeout' ? (await reviews.get(held.reviewId))?.justification : '', 'ticket OPS-42');
  });

  test('jit: once approved, later requests run under the grant until it is revoked', async () => {
    const first = gate(input(`j-${++n}`, jitRule));
    const id = await pendingId(`j-${n}`);
    await reviews.approve(id, bob);
    assert.deepEqual(await first, { outcome: 'run', reviewId: id });
    assert.deepEqual(await gate(input(`j-${++n}`, jitRule), 20), { outcome: 'run', reviewId: id }, 'another statement, same grant');
    await reviews.revoke(id, carol, 'done');
    const next = await gate(input(`j-${++n}`, jitRule), 20);
    assert.equal(next.outcome, 'timeout', 'after revoke the next request is held again');
  });

  test('requester cancels while held → denied; abort → timeout with the review still pending', async () => {
    const f = `g-${++n}`;
    const res = gate(input(f));
    const id = await pendingId(f);
    await reviews.cancel(id, alice);
    const out = await res;
    assert.ok(out.outcome === 'denied' && /cancelled/.test(out.reason));
    const ac = new AbortController();
    const f2 = `g-${++n}`;
    const res2 = gate(input(f2, commandRule, { signal: ac.signal }));
    const id2 = await pendingId(f2);
    ac.abort();
    assert.deepEqual(await res2, { outcome: 'timeout', reviewId: id2 });
    assert.equal((await reviews.get(id2))?.status, 'pending');
  });

  test('fail closed: unknown rule, non-review decision, store failure', async () => {
    const unknown = await gate({ ...input(`g-${++n}`), decision: decision('nope') });
    assert.ok(unknown.outcome === 'denied' && /not configured/.test(unknown.reason));
    const allow = await gate({ ...input(`g-${++n}`), decision: { effect: 'allow', reasons: [], errors: [] } });
    assert.equal(allow.outcome, 'denied');
    const broken = Object.create(reviews, { approvedCommand: { value: () => Promise.reject(new Error('store down')) } }) as ReviewService;
    const errs: string[] = [];
    const out = await reviewGate({ log: { error: (_o: unknown, m: string) => { errs.push(m); } } }, { reviews: broken, holdTimeoutMs: 20, rules }, input(`g-${++n}`));
    assert.ok(out.outcome === 'denied' && /review-error/.test(out.reason));
    assert.equal(errs.length, 1);
  });
});
