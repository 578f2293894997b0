/**
 * The PostgreSQL protocol's runtime (see `ProtocolRuntime` in src/protocols/contract.ts), loaded
 * by the composition root through the declaration in protocol.ts: the wire-protocol listener,
 * and the SQL runner MCP's query tools use for postgres connections.
 */
import type { Clock } from '../../kernel/clock.ts';
import type { MaskingRules } from '../../masking/rules.ts';
import type { SqlQueryRunner } from '../../sql/runner.ts';
import { PostgresQueryRunner } from './query-runner.ts';

export { startPostgresListener as startListener } from './serve.ts';

/** The SQL runner of postgres connections (a fresh upstream session per run). */
export function sqlRunner(deps: { readonly masking: MaskingRules; readonly clock: Clock }): SqlQueryRunner {
  return new PostgresQueryRunner(deps);
}
