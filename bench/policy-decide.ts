/**
 * Microbenchmark of a policy decision (not a test). Prints µs per decision (the best of 5
 * rounds, the machine is shared) for the shipped policies: warm (a repeated request shape, served
 * by the decision cache), first-seen (a new principal each time: pruned request + Cedar + cache
 * insert), uncached (cache off), with schema validation of each request, through the Decider with
 * a conditional review rule, and the floor: an empty policy set with an empty request.
 *
 *   npx node bench/policy-decide.ts [iterations]
 */
import { fileURLToPath } from 'node:url';
import { authorizePreparsed, newPolicySetId, preparse } from '../src/policy/authorize.ts';
import { Decider } from '../src/policy/decider.ts';
import { PolicyEngine, type PolicyEngineOptions } from '../src/policy/engine.ts';
import { ReviewRules, type ReviewRuleConfig } from '../src/policy/review-rules.ts';
import type { AccessRequest } from '../src/policy/request.ts';
import { connection, request, sqlFacts, user } from '../src/policy/testing.ts';

const n = Number(process.argv[2] ?? 20_000);
const repo = fileURLToPath(new URL('../', import.meta.url));
const alice = (id = 'alice'): AccessRequest =>
  request(user(id, ['developers'], { id: 'bot', groups: ['agents'] }), 'sql.read', connection('crm'), { sql: sqlFacts() });
const req = alice();
const fresh = Array.from({ length: n }, (_, i) => alice(`user-${i}`));

function measure(name: string, f: (i: number) => unknown): void {
  const round = Math.max(1, Math.floor(n / 5));
  for (let i = 0; i < Math.min(2000, round); i++) f(i);
  let best = Infinity;
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < round; i++) f(r * round + i);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / round / 1000);
  }
  console.log(`${name.padEnd(52)} ${best.toFixed(1).padStart(7)} µs/decision`);
}

const floorId = newPolicySetId('bench-empty');
preparse(floorId, {});
const empty = { principal: { type: 'User', id: 'a' }, action: { type: 'Action', id: 'sql.read' }, resource: { type: 'Connection', id: 'c' }, context: {}, entities: [] };
measure('wasm floor (empty set, empty request)', () => authorizePreparsed(floorId, empty, false));

function engine(opts: PolicyEngineOptions): PolicyEngine {
  const e = PolicyEngine.fromFiles(['policies/*.cedar'], { baseDir: repo, ...opts });
  if (e.decide(req).effect !== 'allow') throw new Error('bench request should be allowed');
  return e;
}
for (const validateRequests of [false, true]) {
  const warm = engine({ validateRequests });
  measure(`engine.decide warm (validateRequests: ${validateRequests})`, () => warm.decide(req));
  const firstSeen = engine({ validateRequests });
  measure(`engine.decide first-seen (validateRequests: ${validateRequests})`, (i) => firstSeen.decide(fresh[i % n] ?? req));
  const off = engine({ validateRequests, decisionCacheEntries: 0 });
  measure(`engine.decide uncached (validateRequests: ${validateRequests})`, () => off.decide(req));
  measure(`  full request, as before pruning (explain)`, () => off.explain(req));
}

const rule: ReviewRuleConfig = {
  name: 'big-reads', connections: ['crm'], actions: ['sql.read'], kind: 'command', approvers: ['dba'],
  min_approvals: 1, require_justification: false, when: 'context.sql.statements > 5',
};
const decider = new Decider(engine({}), ReviewRules.compile([rule]));
measure('decider.decide warm (+1 conditional review rule)', () => decider.decide(req));
const deciderFresh = new Decider(engine({}), ReviewRules.compile([rule]));
measure('decider.decide first-seen (+1 conditional rule)', (i) => deciderFresh.decide(fresh[i % n] ?? req));
const deciderOff = new Decider(engine({ decisionCacheEntries: 0 }), ReviewRules.compile([rule], { decisionCacheEntries: 0 }));
measure('decider.decide uncached (+1 conditional rule)', () => deciderOff.decide(req));
