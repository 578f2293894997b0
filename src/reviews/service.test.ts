import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { manualClock } from '../kernel/clock.ts';
import { isGatehouseError, type ErrorCode } from '../kernel/errors.ts';
import { openStore } from '../store/index.ts';
import type { SqlDriver } from '../store/sql.ts';
import type { ReviewService } from './service.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import {
  alice, aliceViaBot, bob, bobViaBot, bobViaHelper, bot, carol, commandRule, dave, eve, jitRule, makeService,
  sqlRequest, type RecordingNotifier,
} from './kit.case.ts';

const code = (c: ErrorCode) => (e: unknown) => isGatehouseError(e, c);

describe('ReviewService (PGlite, manual clock)', () => {
  let db: SqlDriver;
  const clock = manualClock(Date.UTC(2025, 0, 1));
  let reviews: ReviewService;
  let audit: AuditLog;
  let notes: RecordingNotifier;
  let n = 0;
  const fp = (): string => `fp-${++n}`;

  before(async () => {
    db = await openStore({});
    ({ reviews, audit, notes } = await makeService(db, clock));
  });
  after(async () => { await reviews.close(); await audit.flush(); await db.close(); });

  test('request creates a pending review and re-sending the same request reuses it', async () => {
    const f = fp();
    const r1 = await reviews.request(sqlRequest(alice, f));
    assert.equal(r1.status, 'pending');
    assert.match(r1.id, /^rv_[0-9A-Za-z]{16}$/);
    assert.equal(r1.expiresAt, clock.now() + 24 * 3_600_000);
    const r2 = await reviews.request(sqlRequest(alice, f));
    assert.equal(r2.id, r1.id);
    assert.notEqual((await reviews.request(sqlRequest(alice, fp()))).id, r1.id, 'another request, another review');
    assert.notEqual((await reviews.request(sqlRequest(aliceViaBot, f))).id, r1.id, 'another requester (via an agent), another review');
    assert.deepEqual(notes.kinds(r1.id), ['review.requested']);
  });

  test('approve → approved; consume runs once; every transition is audited with both identities', async () => {
    const r = await reviews.request(sqlRequest(alice, fp()));
    const approved = await reviews.approve(r.id, bob, 'looks fine');
    assert.equal(approved.status, 'approved');
    assert.deepEqual(approved.decidedBy, { kind: 'user', id: 'bob' });
    assert.equal(approved.approvals[0]?.comment, 'looks fine');
    assert.equal(await reviews.consume(approved), true);
    assert.equal(await reviews.consume(approved), false);
    assert.equal((await reviews.get(r.id))?.status, 'executed');
    await audit.flush();
    const recs = (await audit.list({ limit: 1000 })).filter((a) => a.detail.review === r.id).reverse();
    assert.deepEqual(recs.map((a) => a.kind), ['review.requested', 'review.approval', 'review.approved', 'review.executed']);
    const ok = recs.find((a) => a.kind === 'review.approved')!;
    assert.equal(ok.user, 'alice');
    assert.equal(ok.detail.by, 'user:bob');
    assert.equal(ok.detail.requester, 'user:alice');
    assert.equal(ok.resource, 'Connection::crm');
    assert.deepEqual(notes.kinds(r.id), ['review.requested', 'review.approval', 'review.approved', 'review.executed']);
  });

  test('illegal transitions are refused with conflict', async () => {
    const r = await reviews.request(sqlRequest(alice, fp()));
    await reviews.deny(r.id, bob, 'no');
    await assert.rejects(reviews.approve(r.id, carol), code('conflict'));
    await assert.rejects(reviews.deny(r.id, carol, 'again'), code('conflict'));
    await assert.rejects(reviews.revoke(r.id, carol), code('conflict'));
    await assert.rejects(reviews.cancel(r.id, alice), code('conflict'));
    assert.equal(await reviews.consume(r), false);
    const p = await reviews.request(sqlRequest(alice, fp()));
    await assert.rejects(reviews.revoke(p.id, bob), code('conflict'), 'a pending review cannot be revoked');
    assert.equal(await reviews.consume(p), false, 'a pending review cannot be consumed');
    await assert.rejects(reviews.approve('rv_nope', bob), code('not_found'));
  });

  test('requesters never approve their own requests, also through an agent', async () => {
    const mine = await reviews.request(sqlRequest(alice, fp()));
    await assert.rejects(reviews.approve(mine.id, alice), (e) => isGatehouseError(e, 'policy_denied') && /own requests/.test(e.detail));
    await assert.rejects(reviews.approve(mine.id, aliceViaBot), code('policy_denied'));
    // A rule that lets people with acting agents decide, so only the self-approval check refuses.
    const viaBot = await reviews.request(sqlRequest(aliceViaBot, fp(), { ...commandRule, name: 'agents-ok', agent_approvers: true }));
    await assert.rejects(reviews.approve(viaBot.id, alice), code('policy_denied'), 'the user behind the agent');
    await assert.rejects(reviews.approve(viaBot.id, bot), code('policy_denied'), 'the agent on its own');
    await assert.rejects(reviews.approve(viaBot.id, bobViaBot), code('policy_denied'), 'the same agent acting for someone else');
    await assert.rejects(reviews.deny(mine.id, alice, 'x'), code('policy_denied'));
    assert.equal((await reviews.approve(viaBot.id, bobViaHelper)).status, 'approved', 'another person via another agent may');
  });

  test('a person with an acting agent does not decide unless the rule says agent_approvers', async () => {
    const r = await reviews.request(sqlRequest(alice, fp()));
    const agentic = (e: unknown): boolean => isGatehouseError(e, 'policy_denied') && /AI agent acting for it/.test(e.detail) && /agent_approvers/.test(e.detail);
    await assert.rejects(reviews.approve(r.id, bobViaHelper), agentic);
    await assert.rejects(reviews.deny(r.id, bobViaHelper, 'no'), agentic);
    assert.equal((await reviews.get(r.id))?.status, 'pending');
    assert.equal((await reviews.get(r.id))?.agentApprovers, false);
    const allowed = await reviews.request(sqlRequest(alice, fp(), { ...commandRule, name: 'agents-ok', agent_approvers: true }));
    assert.equal(allowed.agentApprovers, true, 'snapshotted on the review');
    assert.equal((await reviews.approve(allowed.id, bobViaHelper)).status, 'approved');
    assert.equal((await reviews.approve(r.id, bob)).status, 'approved', 'the same person without the agent may');
  });

  test('approvers must be in an approver group and permitted by policy; agents alone never approve', async () => {
    const r = await reviews.request(sqlRequest(alice, fp()));
    await assert.rejects(reviews.approve(r.id, eve), (e) => isGatehouseError(e, 'policy_denied') && /approver group/.test(e.detail));
    await assert.rejects(reviews.approve(r.id, dave), (e) => isGatehouseError(e, 'policy_denied') && /review\.approve/.test(e.detail));
    const other = await reviews.request(sqlRequest(eve, fp()));
    await assert.rejects(reviews.approve(other.id, bot), (e) => isGatehouseError(e, 'policy_denied') && /agent/.test(e.detail));
    assert.equal((await reviews.get(r.id))?.status, 'pending');
  });

  test('min_approvals 2 needs two distinct approvers', async () => {
    const r = await reviews.request(sqlRequest(alice, fp(), { ...commandRule, name: 'two', min_approvals: 2, agent_approvers: true }));
    const one = await reviews.approve(r.id, bob);
    assert.equal(one.status, 'pending');
    assert.equal(one.approvals.length, 1);
    await assert.rejects(reviews.approve(r.id, bob), code('conflict'));
    await assert.rejects(reviews.approve(r.id, bobViaHelper), code('conflict'), 'bob through an agent is still bob');
    const two = await reviews.approve(r.id, carol);
    assert.equal(two.status, 'approved');
    assert.deepEqual(two.approvals.map((a) => a.by.id), ['bob', 'carol']);
  });

  test('deny needs a reason and releases a held request at once', async () => {
    const r = await reviews.request(sqlRequest(alice, fp()));
    await assert.rejects(reviews.deny(r.id, bob, '  '), code('validation_failed'));
    const held = reviews.hold(r, 60_000);
    await reviews.deny(r.id, bob, 'not during business hours');
    assert.equal(await held, 'denied');
    const after = await reviews.get(r.id);
    assert.equal(after?.reason, 'not during business hours');
    assert.equal(reviews.holding, 0);
  });

  test('hold: approval while held, timeout, abort, cancel by the requester only', async () => {
    const r = await reviews.request(sqlRequest(alice, fp()));
    const held = reviews.hold(r, 60_000);
    await reviews.approve(r.id, carol);
    assert.equal(await held, 'approved');
    const p = await reviews.request(sqlRequest(alice, fp()));
    assert.equal(await reviews.hold(p, 30), 'timeout');
    const ac = new AbortController();
    const aborted = reviews.hold(p, 60_000, ac.signal);
    ac.abort();
    assert.equal(await aborted, 'cancelled');
    assert.equal((await reviews.get(p.id))?.status, 'pending', 'an aborted hold leaves the review pending');
    await assert.rejects(reviews.cancel(p.id, bob), code('policy_denied'));
    const heldAgain = reviews.hold(p, 60_000);
    await reviews.cancel(p.id, alice);
    assert.equal(await heldAgain, 'cancelled');
  });

  test('pending reviews expire (sweep and lazily); a held request learns it', async () => {
    const r = await reviews.request(sqlRequest(alice, fp()));
    const held = reviews.hold(r, 60_000);
    clock.advance(24 * 3_600_000);
    assert.ok(await reviews.sweep() >= 1);
    assert.equal(await held, 'expired');
    await assert.rejects(reviews.approve(r.id, bob), code('conflict'));
    const late = await reviews.request(sqlRequest(alice, fp()));
    clock.advance(24 * 3_600_000 + 1);
    assert.equal((await reviews.get(late.id))?.status, 'expired', 'expired on read without a sweep');
    assert.ok(notes.kinds(late.id).includes('review.expired'));
  });

  test('an approved command review expires unused after the approval window', async () => {
    const r = await reviews.request(sqlRequest(alice, fp()));
    const a = await reviews.approve(r.id, bob);
    clock.advance(24 * 3_600_000);
    assert.equal(await reviews.approvedCommand(alice, r.fingerprint), undefined);
    assert.equal(await reviews.consume(a), false);
    assert.equal((await reviews.get(r.id))?.status, 'expired');
  });

  test('jit: the grant covers the rule actions on that connection until it expires', async () => {
    const r = await reviews.request({ ...sqlRequest(alice, fp(), jitRule) });
    assert.equal(await reviews.activeGrant(alice, 'crm', 'sql.write'), undefined);
    const a = await reviews.approve(r.id, bob);
    assert.equal(a.expiresAt, clock.now() + 15 * 60_000);
    assert.equal((await reviews.activeGrant(alice, 'crm', 'sql.write'))?.id, r.id);
    assert.equal((await reviews.activeGrant(alice, 'crm', 'sql.ddl'))?.id, r.id);
    assert.equal(await reviews.activeGrant(alice, 'crm', 'sql.admin'), undefined, 'not an action of the rule');
    assert.equal(await reviews.activeGrant(alice, 'billing', 'sql.write'), undefined, 'another connection');
    assert.equal(await reviews.activeGrant(aliceViaBot, 'crm', 'sql.write'), undefined, 'another requester');
    assert.equal(await reviews.consume(a), false, 'a jit grant is never consumed');
    clock.advance(15 * 60_000 - 1);
    assert.ok(await reviews.activeGrant(alice, 'crm', 'sql.write'));
    clock.advance(1);
    assert.equal(await reviews.activeGrant(alice, 'crm', 'sql.write'), undefined);
    assert.equal((await reviews.get(r.id))?.status, 'expired');
  });

  test('jit: duration is capped by max_duration; revoke ends the grant at once', async () => {
    const r = await reviews.request(sqlRequest(alice, fp(), { ...jitRule, name: 'long', duration_ms: 8 * 3_600_000 }));
    const a = await reviews.approve(r.id, bob);
    assert.equal(a.expiresAt - (a.decidedAt ?? 0), 3_600_000);
    assert.ok(await reviews.activeGrant(alice, 'crm', 'sql.write'));
    await assert.rejects(reviews.revoke(r.id, eve), code('policy_denied'));
    const revoked = await reviews.revoke(r.id, carol, 'incident over');
    assert.equal(revoked.status, 'revoked');
    assert.equal(await reviews.activeGrant(alice, 'crm', 'sql.write'), undefined);
    const own = await reviews.request(sqlRequest(alice, fp(), jitRule));
    await reviews.approve(own.id, bob);
    assert.equal((await reviews.revoke(own.id, alice)).status, 'revoked', 'the requester may give its grant back');
  });

  test('jit: the approver\'s time window bounds the grant; a window above the rule\'s (or on a command review) is refused', async () => {
    const r = await reviews.request(sqlRequest(alice, fp(), jitRule));
    await assert.rejects(reviews.approve(r.id, bob, undefined, 15 * 60_000 + 1000), (e) => isGatehouseError(e, 'validation_failed') && /longer than this review allows \(900 s/.test(e.detail));
    await assert.rejects(reviews.approve(r.id, bob, undefined, 0), code('validation_failed'));
    await assert.rejects(reviews.approve(r.id, bob, undefined, 1.5e3 + 0.5), code('validation_failed'));
    assert.equal((await reviews.get(r.id))?.approvals.length, 0, 'a refused window records no approval');
    const a = await reviews.approve(r.id, bob, 'five minutes', 5 * 60_000);
    assert.equal(a.status, 'approved');
    assert.equal(a.expiresAt, clock.now() + 5 * 60_000);
    assert.equal(a.grantMs, 5 * 60_000);
    clock.advance(5 * 60_000 - 1);
    assert.equal((await reviews.activeGrant(alice, 'crm', 'sql.write'))?.id, r.id);
    clock.advance(1);
    assert.equal(await reviews.activeGrant(alice, 'crm', 'sql.write'), undefined, 'over at the chosen window, not the rule\'s 15 min');
    await audit.flush();
    const rec = (await audit.list({ limit: 1000 })).find((x) => x.detail.review === r.id && x.kind === 'review.approval');
    assert.equal(rec?.detail.window_seconds, 300);

    const capped = await reviews.request(sqlRequest(alice, fp(), { ...jitRule, name: 'long', duration_ms: 8 * 3_600_000 }));
    await assert.rejects(reviews.approve(capped.id, bob, undefined, 2 * 3_600_000), code('validation_failed'), 'above reviews.max_duration (1 h)');
    assert.equal((await reviews.approve(capped.id, bob, undefined, 3_600_000)).expiresAt, clock.now() + 3_600_000);

    const cmd = await reviews.request(sqlRequest(alice, fp()));
    await assert.rejects(reviews.approve(cmd.id, bob, undefined, 60_000), (e) => isGatehouseError(e, 'validation_failed') && /only to jit/.test(e.detail));

    const two = await reviews.request(sqlRequest(alice, fp(), { ...jitRule, name: 'two-jit', min_approvals: 2 }));
    const first = await reviews.approve(two.id, bob, undefined, 2 * 60_000);
    assert.equal(first.status, 'pending');
    assert.equal(first.grantMs, 2 * 60_000, 'the first approver narrowed the grant');
    await assert.rejects(reviews.approve(two.id, carol, undefined, 10 * 60_000), code('validation_failed'), 'a later approver cannot widen it');
    const both = await reviews.approve(two.id, carol);
    assert.equal(both.expiresAt, clock.now() + 2 * 60_000, 'the shortest window chosen');
  });

  test('consume is at most once under concurrency', async () => {
    const r = await reviews.request(sqlRequest(alice, fp()));
    const a = await reviews.approve(r.id, bob);
    const wins = await Promise.all(Array.from({ length: 12 }, () => reviews.consume(a)));
    assert.equal(wins.filter(Boolean).length, 1);
  });

  test('concurrent approvals by two approvers approve once', async () => {
    const r = await reviews.request(sqlRequest(alice, fp(), { ...commandRule, name: 'two', min_approvals: 2, agent_approvers: true }));
    await Promise.all([reviews.approve(r.id, bob), reviews.approve(r.id, carol)]);
    assert.equal((await reviews.get(r.id))?.status, 'approved');
    assert.deepEqual(notes.kinds(r.id).filter((k) => k === 'review.approved'), ['review.approved']);
  });

  test('list: own requests and reviews one may approve; all when unscoped', async () => {
    const mine = await reviews.request(sqlRequest(eve, fp()));
    const ids = async (f: Parameters<ReviewService['list']>[0]): Promise<string[]> => (await reviews.list(f)).map((r) => r.id);
    assert.ok((await ids({ visibleTo: eve })).includes(mine.id));
    assert.ok((await ids({ visibleTo: bob })).includes(mine.id), 'bob is in the approver group dba');
    assert.ok(!(await ids({ visibleTo: alice })).includes(mine.id), 'alice neither asked nor may approve');
    assert.ok((await ids({})).includes(mine.id));
    assert.ok((await ids({ status: 'pending', requester: 'eve' })).includes(mine.id));
    assert.ok(!(await ids({ status: 'denied', requester: 'eve' })).includes(mine.id));
  });
});
