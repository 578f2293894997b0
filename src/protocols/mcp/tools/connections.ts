import { z } from 'zod';
import type { ToolOutcome } from '../env.ts';
import { envelope } from '../results.ts';
import { defineTool } from '../tool-runner.ts';
import { toolFor, uses, usableActions } from './access.ts';
import { CONNECTION_TYPES, type ConnectionType } from '../../registry.ts';

/** The registered connection types as a non-empty tuple (what `z.enum` takes). */
function typeEnum(): [ConnectionType, ...ConnectionType[]] {
  const [first, ...rest] = CONNECTION_TYPES;
  if (first === undefined) throw new Error('no connection type is registered');
  return [first, ...rest];
}

const summary = z.object({
  name: z.string(),
  type: z.enum(typeEnum()),
  provider: z.string().optional(),
  description: z.string().optional(),
  tags: z.array(z.string()),
  actions: z.array(z.string()).describe('What you may do on it (some may need a human approval first)'),
  tool: z.string().describe('The tool that uses it'),
});


/** `list_connections`: only the connections the caller may use (policy decides, quietly). */
export const listConnectionsTool = defineTool({
  name: 'list_connections',
  title: 'List the connections you may use',
  description: 'Lists the upstream services you may use through the gateway: PostgreSQL databases (use query), LLM APIs (use call_llm) '
    + 'and HTTP APIs (use http_request), with the actions policy allows you on each. Connections you may not use are not listed. '
    + 'Call it first to find connection names.',
  input: z.object({}),
  output: envelope({ connections: z.array(summary) }),
  annotations: { readOnlyHint: true, openWorldHint: false },
  run: async (env) => {
    const out: z.output<typeof summary>[] = [];
    for (const c of await env.svc.connections.list()) {
      const actions = usableActions(env.svc, env.caller.principal, c);
      if (actions.length === 0) continue;
      out.push({
        name: c.name, type: c.type, tags: [...c.tags], actions, tool: toolFor(c.type) ?? 'none',
        ...(c.provider === undefined ? {} : { provider: c.provider }), ...(c.description === undefined ? {} : { description: c.description }),
      });
    }
    const text = out.length === 0 ? 'No connections are available to you.'
      : out.map((c) => `${c.name} (${c.type}${c.provider ? `/${c.provider}` : ''}): ${c.actions.join(', ')} — use ${c.tool}`).join('\n');
    return { kind: 'ok', data: { connections: out }, text };
  },
});

/** Most columns listed by describe_connection. */
export const MAX_CATALOG_ROWS = 5000;

const CATALOG_SQL = `SELECT n.nspname, c.relname, c.relkind::text, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull::text
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
  AND pg_catalog.has_table_privilege(c.oid, 'SELECT')
ORDER BY n.nspname, c.relname, a.attnum
LIMIT ${MAX_CATALOG_ROWS + 1}`;

const KINDS: Readonly<Record<string, string>> = { r: 'table', p: 'table', v: 'view', m: 'materialized view', f: 'foreign table' };
const columnSchema = z.object({ name: z.string(), type: z.string(), nullable: z.boolean() });
const tableSchema = z.object({ name: z.string(), kind: z.string(), columns: z.array(columnSchema) });
type Table = z.output<typeof tableSchema>;

/** `describe_connection`: what a connection is; for PostgreSQL, its schemas, tables and columns. */
export const describeConnectionTool = defineTool({
  name: 'describe_connection',
  title: 'Describe a connection',
  description: 'Describes one connection you may use. For a PostgreSQL connection it lists the schemas, tables and views with their '
    + 'columns and types (read from the database catalog), so you can write correct SQL for query. For LLM and HTTP connections it '
    + 'says which provider or API it is and which tool to use.',
  input: z.object({ connection: z.string().min(1).max(63).describe('The connection name (see list_connections)') }),
  output: envelope({
    name: z.string(), type: z.string(), provider: z.string().optional(), description: z.string().optional(),
    actions: z.array(z.string()),
    schemas: z.array(z.object({ name: z.string(), tables: z.array(tableSchema) })).optional().describe('PostgreSQL only'),
    truncated: z.boolean().optional(),
  }),
  annotations: { readOnlyHint: true, openWorldHint: false },
  connectionOf: (a) => a.connection,
  run: async (env, args, extra, conn): Promise<ToolOutcome> => {
    const actions = conn ? usableActions(env.svc, env.caller.principal, conn) : [];
    if (!conn || actions.length === 0) return { kind: 'error', code: 'not_found', reason: `no connection named "${args.connection}" that you may use` };
    const base = {
      name: conn.name, type: conn.type, actions,
      ...(conn.provider === undefined ? {} : { provider: conn.provider }), ...(conn.description === undefined ? {} : { description: conn.description }),
    };
    // The catalog is listed for the connections `query` uses (their SQL runner reads it; the
    // catalog query is PostgreSQL's, the one SQL protocol registered).
    if (!uses('query', conn)) {
      return { kind: 'ok', data: base, text: `${conn.name}: ${conn.type}${conn.provider ? ` (${conn.provider})` : ''}; you may: ${actions.join(', ')}; use ${toolFor(conn.type) ?? 'none'}` };
    }
    const runner = env.svc.sqlRunners[conn.type];
    if (!runner) return { kind: 'error', code: 'not_found', reason: `no SQL runner for connection type ${conn.type}` };
    const run = await runner.run(conn, CATALOG_SQL, { masked: false }, {
      maxRows: MAX_CATALOG_ROWS + 1, maxChars: 16 * 1024 * 1024, timeoutMs: 30_000, signal: AbortSignal.any([env.signal, extra.signal]),
    });
    if (run.error) return { kind: 'error', code: 'upstream_error', reason: `the catalog could not be read: ${run.error.sqlstate} ${run.error.message}` };
    const rows = run.results[0]?.rows ?? [];
    const schemas = new Map<string, Map<string, Table>>();
    for (const [nsp, rel, kind, col, type, notnull] of rows.slice(0, MAX_CATALOG_ROWS)) {
      if (nsp == null || rel == null || col == null) continue;
      let tables = schemas.get(nsp);
      if (!tables) { tables = new Map(); schemas.set(nsp, tables); }
      let t = tables.get(rel);
      if (!t) { t = { name: rel, kind: KINDS[kind ?? ''] ?? 'table', columns: [] }; tables.set(rel, t); }
      t.columns.push({ name: col, type: type ?? 'unknown', nullable: notnull !== 'true' });
    }
    const list = [...schemas].map(([name, tables]) => ({ name, tables: [...tables.values()] }));
    const truncated = rows.length > MAX_CATALOG_ROWS;
    const text = list.map((s) => s.tables.map((t) => `${s.name}.${t.name} (${t.kind}): ${t.columns.map((c) => `${c.name} ${c.type}`).join(', ')}`).join('\n')).join('\n');
    return { kind: 'ok', data: { ...base, schemas: list, truncated }, text: `${conn.name} (${conn.type}); you may: ${actions.join(', ')}\n${text}` };
  },
});
