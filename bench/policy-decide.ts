/**
 * Microbenchmark of a policy decision (not a test). Prints µs per decision for the shipped
 * policies, with and without schema validation of each request, through the Decider with a
 * conditional review rule, and the floor: an empty policy set with an empty request.
 *
 *   npx node bench/policy-decide.ts [iterations]
 */
import { fileURLToPath } from 'node:url';
import { authorizePreparsed, newPolicySetId, preparse } from '../src/policy/authorize.ts';
import { Decider } from '../src/policy/decider.ts';
import { PolicyEngine } from '../src/policy/engine.ts';
import { ReviewRules } from '../src/policy/review-rules.ts';
import { connection, request, sqlFacts, user } from '../src/policy/testing.ts';

const n = Number(process.argv[2] ?? 20_000);
const repo = fileURLToPath(new URL('../', import.meta.url));
const req = request(user('alice', ['developers'], { id: 'bot', groups: ['agents'] }), 'sql.read', connection('crm'), { sql: sqlFacts() });

function measure(name: string, f: () => unknown): void {
  for (let i = 0; i < Math.min(2000, n); i++) f();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) f();
  const us = Number(process.hrtime.bigint() - t0) / n / 1000;
  console.log(`${name.padEnd(44)} ${us.toFixed(1).padStart(7)} µs/decision`);
}

const floorId = newPolicySetId('bench-empty');
preparse(floorId, {});
const empty = { principal: { type: 'User', id: 'a' }, action: { type: 'Action', id: 'sql.read' }, resource: { type: 'Connection', id: 'c' }, context: {}, entities: [] };
measure('wasm floor (empty set, empty request)', () => authorizePreparsed(floorId, empty, false));

for (const validateRequests of [false, true]) {
  const engine = PolicyEngine.fromFiles(['policies/*.cedar'], { baseDir: repo, validateRequests });
  if (engine.decide(req).effect !== 'allow') throw new Error('bench request should be allowed');
  measure(`engine.decide (validateRequests: ${validateRequests})`, () => engine.decide(req));
}

const engine = PolicyEngine.fromFiles(['policies/*.cedar'], { baseDir: repo });
const rules = ReviewRules.compile([{
  name: 'big-reads', connections: ['crm'], actions: ['sql.read'], kind: 'command', approvers: ['dba'],
  min_approvals: 1, require_justification: false, when: 'context.sql.statements > 5',
}]);
const decider = new Decider(engine, rules);
measure('decider.decide (+1 conditional review rule)', () => decider.decide(req));
