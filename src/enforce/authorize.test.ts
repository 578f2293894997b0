import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AuditLog } from '../audit/audit-log.ts';
import { manualClock } from '../kernel/clock.ts';
import { Metrics } from '../kernel/metrics.ts';
import { connection, user } from '../policy/testing.ts';
import type { Decision } from '../policy/request.ts';
import { openStore } from '../store/index.ts';
import type { SqlDriver } from '../store/sql.ts';
import { authorize, DecisionState, type DecideDeps } from './authorize.ts';

const ALLOW: Decision = { effect: 'allow', reasons: ['p-allow'], errors: [] };

describe('authorize: audit on the data path', () => {
  let db: SqlDriver;
  before(async () => { db = await openStore({ embedded: { path: undefined } }); });
  after(() => db.close());

  function services(audit: AuditLog): { svc: DecideDeps; errors: string[] } {
    const errors: string[] = [];
    const log = { error: (_o: object, msg: string) => { errors.push(msg); } } as unknown as DecideDeps['log'];
    const decider = { decide: () => ALLOW, memoToken: () => undefined } as unknown as DecideDeps['decider'];
    return { svc: { decider, audit, metrics: new Metrics({ defaultMetrics: false }), clock: manualClock(0), log, decisions: new DecisionState() }, errors };
  }

  test('returns before the commit; the decision is in the log after one group commit', async () => {
    const audit = new AuditLog(db, manualClock(0));
    const { svc } = services(audit);
    const d = await authorize(svc, user('alice'), 'llm.invoke', connection('openai', 'llm'));
    assert.equal(d.effect, 'allow');
    await audit.flush();
    const [r] = await audit.list({ limit: 1, kind: 'policy.decision' });
    assert.equal(r?.user, 'alice');
    assert.equal(r.outcome, 'allow');
    assert.equal(r.resource, 'Connection::openai');
  });

  test('a failed batch makes later decisions deny with audit-unavailable until a batch commits', async () => {
    let fail = false;
    const flaky: SqlDriver = { ...db, transaction: (fn) => (fail ? Promise.reject(new Error('store closed')) : db.transaction(fn)) };
    const audit = new AuditLog(flaky, manualClock(0));
    const { svc, errors } = services(audit);
    fail = true;
    assert.equal((await authorize(svc, user('bob'), 'llm.invoke', connection('openai', 'llm'))).effect, 'allow');
    await audit.flush(); // the batch holding bob's decision fails
    assert.equal(audit.healthy(), false);
    const denied = await authorize(svc, user('bob'), 'llm.invoke', connection('openai', 'llm'));
    assert.equal(denied.effect, 'deny');
    assert.deepEqual(denied.reasons, ['audit-unavailable']);
    assert.ok(errors.some((m) => m.includes('audit log unavailable')));
    await audit.flush();
    assert.equal(audit.healthy(), false, 'still failing');
    fail = false;
    assert.equal((await authorize(svc, user('bob'), 'llm.invoke', connection('openai', 'llm'))).effect, 'deny', 'this one is the probe');
    await audit.flush();
    assert.equal(audit.healthy(), true);
    assert.equal((await authorize(svc, user('bob'), 'llm.invoke', connection('openai', 'llm'))).effect, 'allow');
    await audit.flush();
    const outcomes = (await audit.list({ user: 'bob', kind: 'policy.decision' })).map((r) => r.outcome).reverse();
    assert.deepEqual(outcomes, ['allow', 'deny', 'deny', 'allow'], 'retried records are kept, in order');
    assert.deepEqual((await audit.verify()).ok, true);
  });

  test('a closed store under the audit log denies', async () => {
    const own = await openStore({ embedded: { path: undefined } });
    const audit = new AuditLog(own, manualClock(0));
    const { svc } = services(audit);
    await own.close();
    await authorize(svc, user('carol'), 'llm.invoke', connection('openai', 'llm'));
    await audit.flush();
    const d = await authorize(svc, user('carol'), 'llm.invoke', connection('openai', 'llm'));
    assert.deepEqual(d.reasons, ['audit-unavailable']);
  });

  test('a full queue denies', async () => {
    const never: SqlDriver = { ...db, transaction: () => new Promise(() => undefined) };
    const audit = new AuditLog(never, manualClock(0), { maxQueue: 2, maxBatch: 1, groupCommitMs: 0 });
    const { svc } = services(audit);
    const effects: string[] = [];
    // Each decision differs from the one before (the user): identical ones would be one run record.
    for (let i = 0; i < 4; i++) effects.push((await authorize(svc, user(`dan${i}`), 'llm.invoke', connection('openai', 'llm'))).effect);
    assert.deepEqual(effects, ['allow', 'allow', 'allow', 'deny']);
  });

  test('identical allowed decisions are one run record and take one place in the queue', async () => {
    const never: SqlDriver = { ...db, transaction: () => new Promise(() => undefined) };
    const audit = new AuditLog(never, manualClock(0), { maxQueue: 2, maxBatch: 1, groupCommitMs: 0 });
    const { svc } = services(audit);
    const effects: string[] = [];
    for (let i = 0; i < 10; i++) effects.push((await authorize(svc, user('erin'), 'llm.invoke', connection('openai', 'llm'))).effect);
    assert.deepEqual(effects, Array.from({ length: 10 }, () => 'allow'));
  });
});
