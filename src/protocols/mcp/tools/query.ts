import { z } from 'zod';
import { PreparedStatements } from '../../../inspect/sql/prepared.ts';
import { holdStatement } from '../../../sql/hold.ts';
import { guardSql } from '../../../sql/guard.ts';
import type { QueryRun } from '../../../sql/runner.ts';
import type { ToolEnv, ToolExtra, ToolOutcome } from '../env.ts';
import { envelope } from '../results.ts';
import { defineTool, pendingMessage } from '../tool-runner.ts';
import type { Connection } from '../../../connections/registry.ts';
import { uses } from './access.ts';

/** Default and hard maximum of `max_rows`. */
export const DEFAULT_ROWS = 100;
export const MAX_ROWS = 1000;
/** Most characters of cell text returned by one call. */
export const MAX_CHARS = 1024 * 1024;
/** A query still running after this is cancelled. */
export const QUERY_TIMEOUT_MS = 60_000;

const input = z.object({
  connection: z.string().min(1).max(63).describe('Name of a PostgreSQL connection (see list_connections)'),
  sql: z.string().min(1).max(100_000).describe('The SQL to run: one statement or several separated by ";" (one implicit transaction)'),
  max_rows: z.number().int().min(1).max(MAX_ROWS).default(DEFAULT_ROWS).describe(`Most rows returned over all statements (default ${DEFAULT_ROWS}, at most ${MAX_ROWS})`),
  justification: z.string().max(1000).optional().describe('Why you need this; shown to the human approver when the statement needs approval'),
});

const column = z.object({ name: z.string(), type_oid: z.number() });
const result = z.object({
  command: z.string().nullable().describe('Command tag, e.g. "SELECT 3", "INSERT 0 1"'),
  columns: z.array(column),
  rows: z.array(z.array(z.string().nullable())).describe('Values as text (masked), null for SQL NULL'),
  row_count: z.number().describe('Rows the statement returned (also those left out)'),
  truncated: z.boolean(),
});
const output = envelope({
  connection: z.string(),
  results: z.array(result).describe('One entry per statement that returned or completed'),
  truncated: z.boolean().describe('Some rows or cells were left out (max_rows or the size cap)'),
});

/**
 * `query`: SQL on a PostgreSQL connection through exactly the wire listener's guarantees — the
 * real parser (`guardSql`: every statement, every action authorized, unparseable denied), the
 * review gate (held briefly, then `pending_approval`), the vaulted upstream credential, and row
 * masking (column rules + detectors) before a row is kept.
 */
export const queryTool = defineTool({
  name: 'query',
  title: 'Run SQL on a PostgreSQL connection',
  description: [
    'Runs SQL on a PostgreSQL connection of the gateway and returns the rows.',
    'Use it to read data (SELECT) or, where policy allows, to change it. Each call is its own database session.',
    'Every statement is checked by the PostgreSQL parser and the gateway policy before it runs; sensitive values in the rows come back masked (e.g. [EMAIL], ****1234).',
    `Returns one result per statement: command tag, columns, rows as text (at most max_rows, default ${DEFAULT_ROWS}); "truncated" says rows were left out.`,
    'A denied statement returns an error naming the policy that denied it; SQL the parser cannot read is denied.',
    'A statement that needs human approval returns status "pending_approval" with a review_id: call review_wait with it to get the result once a person approves.',
  ].join(' '),
  input,
  output,
  annotations: { destructiveHint: true, openWorldHint: false },
  connectionOf: (a) => a.connection,
  run: (env, args, extra, conn) => runSql(env, args, extra, conn),
});

async function runSql(env: ToolEnv, args: z.output<typeof input>, extra: ToolExtra, conn: Connection | undefined): Promise<ToolOutcome> {
  const { svc, session } = env;
  const principal = env.caller.principal;
  if (!conn || !uses('query', conn)) return { kind: 'error', code: 'not_found', reason: `"${args.connection}" is not a PostgreSQL connection` };
  const v = await guardSql({ svc, principal, connection: conn, prepared: new PreparedStatements() }, args.sql);
  session.record('decision', v.ok ? { effect: 'allow', actions: v.actions } : { effect: v.effect, actions: v.actions, reasons: v.reasons }, conn.name);
  if (!v.ok && v.effect === 'deny') return { kind: 'error', code: 'policy_denied', reason: v.message };
  if (!v.ok) {
    const held = await holdStatement({
      svc, holdMs: env.limits.holdMs, principal, connection: conn.name,
      justification: args.justification, signal: AbortSignal.any([env.signal, extra.signal]), cancelled: () => false,
    }, v, args.sql, undefined);
    session.record('review', held.run ? { outcome: 'run', review_ids: held.reviewIds } : { outcome: 'refused', review_id: held.reviewId ?? null, message: held.message }, conn.name);
    if (!held.run) {
      const review = held.reviewId === undefined ? undefined : await svc.reviews.get(held.reviewId);
      if (review?.status === 'pending') return { kind: 'pending', reviewId: review.id, message: pendingMessage(review.id) };
      return { kind: 'error', code: 'policy_denied', reason: held.message };
    }
  }
  const runner = svc.sqlRunners[conn.type];
  if (!runner) return { kind: 'error', code: 'not_found', reason: `"${args.connection}" is not a PostgreSQL connection` };
  const run: QueryRun = await runner.run(conn, args.sql, { masked: true }, {
    maxRows: args.max_rows, maxChars: MAX_CHARS, timeoutMs: QUERY_TIMEOUT_MS, signal: AbortSignal.any([env.signal, extra.signal]),
  });
  if (run.error) return { kind: 'error', code: 'upstream_error', reason: `PostgreSQL error ${run.error.sqlstate}: ${run.error.message}` };
  const truncated = run.results.some((r) => r.truncated);
  return { kind: 'ok', data: { connection: conn.name, results: run.results, truncated }, text: render(run, truncated) };
}

/** A plain-text rendering: per statement, its tag, a header line and tab-separated rows. */
function render(run: QueryRun, truncated: boolean): string {
  const cell = (v: string | null): string => (v === null ? 'NULL' : v.replace(/[\t\n\r]/g, ' '));
  const parts = run.results.map((r) => {
    const lines = [r.command ?? '(no command tag)'];
    if (r.columns.length > 0) {
      lines.push(r.columns.map((c) => c.name).join('\t'));
      for (const row of r.rows) lines.push(row.map(cell).join('\t'));
      if (r.truncated) lines.push(`… ${r.row_count - r.rows.length} more row(s) not shown`);
    }
    return lines.join('\n');
  });
  return `${parts.join('\n\n')}${truncated ? '\n(truncated: raise max_rows or narrow the query)' : ''}`;
}
