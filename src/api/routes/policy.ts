import type { Router } from '../../http/router.ts';
import { sendJson } from '../../http/problem.ts';
import { GatehouseError } from '../../kernel/errors.ts';
import type { Principal } from '../../identity/principal.ts';
import { isAction, type AccessRequest, type Action, type Facts, type Resource } from '../../policy/request.ts';
import { connectionResource } from '../../enforce/authorize.ts';
import { jsonObject, optString, optStrings, requireAction, type AdminState } from '../context.ts';

/**
 * `POST /api/v1/policy/explain`: evaluates a hypothetical request and returns the decision with
 * the policies that produced it. `sql`, when given, is inspected with the real parser and its
 * facts are in the context, exactly as on the PostgreSQL data path — and, as there, the actions
 * evaluated are the ones the statement needs (`DELETE` is `sql.write` whatever `action` says; a
 * multi-statement string needs each of its actions). The answer is the data path's: deny if any
 * action is denied, else review if any needs one, else allow; `actions` lists what was evaluated
 * and `decisions` the outcome of each. `action` is optional when `sql` is given.
 */
export function registerPolicyRoutes(r: Router<AdminState>): void {
  r.add('POST', '/api/v1/policy/explain', async (ctx) => {
    await requireAction(ctx);
    const { svc } = ctx.state;
    const body = await jsonObject(ctx);
    const user = optString(body, 'principal');
    const action = optString(body, 'action');
    const connection = optString(body, 'connection');
    const sql = optString(body, 'sql');
    if (!user) throw new GatehouseError('validation_failed', '"principal" is required');
    if (action === undefined && sql === undefined) throw new GatehouseError('validation_failed', '"action" is required (or "sql", whose statements decide the actions)');
    if (action !== undefined && !isAction(action)) throw new GatehouseError('validation_failed', `"action" must be one of the Gatehouse actions`);
    const agent = optString(body, 'agent');
    const kind = optString(body, 'principal_kind') === 'agent' ? 'agent' : 'user';
    const principal: Principal = {
      kind, id: user, groups: optStrings(body, 'groups') ?? [], via: 'api_key',
      ...(agent === undefined ? {} : { agent: { id: agent, groups: optStrings(body, 'agent_groups') ?? [] } }),
    };
    let resource: Resource = { kind: 'gateway' };
    if (action !== 'admin') {
      if (!connection) throw new GatehouseError('validation_failed', '"connection" is required for this action');
      resource = connectionResource(await svc.connections.require(connection));
    }
    const facts: { -readonly [K in keyof Facts]: Facts[K] } = {};
    let actions: Action[] = action === undefined ? [] : [action];
    if (sql !== undefined) {
      // The gateway's inspector: its limits, and large texts off the event loop.
      const inspection = await svc.inspection.inspectSql(sql);
      if (!inspection.ok) {
        sendJson(ctx.res, 200, { effect: 'deny', reasons: ['sql-unparseable'], errors: [inspection.error], policies: [], actions: [] });
        return;
      }
      facts.sql = inspection.facts;
      // As on the data path: the statement decides the SQL actions, not the caller.
      if (action === undefined || action.startsWith('sql.')) actions = [...inspection.actions];
    }
    const at = svc.clock.now();
    const results = actions.map((a) => {
      const req: AccessRequest = { principal, action: a, resource, facts, at };
      return { action: a, explanation: svc.policy.explain(req), decision: svc.decider.decide(req) };
    });
    const shown = results.find((r) => r.decision.effect === 'deny') ?? results.find((r) => r.decision.effect === 'review') ?? results[0];
    if (!shown) throw new GatehouseError('internal', 'no action to evaluate');
    const { explanation, decision } = shown;
    sendJson(ctx.res, 200, {
      ...explanation, effect: decision.effect, reasons: decision.reasons, errors: decision.errors, review_rule: decision.reviewRule ?? null,
      action: shown.action, actions, decisions: results.map((r) => ({ action: r.action, effect: r.decision.effect, reasons: r.decision.reasons })),
    });
  });

  r.add('GET', '/api/v1/policy/policies', async (ctx) => {
    await requireAction(ctx);
    sendJson(ctx.res, 200, { items: ctx.state.svc.policy.policies() });
  });
}
