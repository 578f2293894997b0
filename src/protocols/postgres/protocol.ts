/**
 * The PostgreSQL protocol's declaration (see src/protocols/contract.ts): the `postgres`
 * connection type, the `sql.*` actions, `context.sql`, and the wire-protocol listener
 * (`server.postgres`, started by runtime.ts). Pure data.
 */
import { defineProtocol, factsDecl, listenerDecl } from '../contract.ts';
import { bool, duration, list, listen, size, str } from '../../kernel/json-schema.ts';
import type { SqlFacts } from './facts.ts';

/** `server.postgres` after load: durations in milliseconds, sizes in bytes (config/numbers.ts). */
export interface PostgresServerConfig {
  readonly listen: string;
  readonly allow_insecure_auth: boolean;
  readonly startup_timeout_ms: number;
  readonly message_timeout_ms: number;
  readonly safe_functions: readonly string[];
  readonly max_message_size_bytes: number;
}

const SQL_CONTEXT = `{
    // Statement categories: "read", "write", "ddl", "admin", "transaction", "utility".
    kinds: Set<String>,
    // Tables referenced, schema-qualified when written so (e.g. "public.customers").
    tables: Set<String>,
    // Functions called.
    functions: Set<String>,
    // Functions on the dangerous list (pg_read_file, lo_export, dblink, ...).
    dangerous_functions: Set<String>,
    // Number of statements in the query string.
    statements: Long,
    // Every UPDATE/DELETE has a WHERE clause (true when there is no UPDATE/DELETE).
    has_where: Bool,
    // A CTE (WITH ...) contains INSERT/UPDATE/DELETE.
    data_modifying_cte: Bool,
    // A DO block (anonymous code) is present.
    do_block: Bool,
    // COPY ... TO/FROM PROGRAM is present.
    copy_program: Bool,
    // COPY ... TO STDOUT is present.
    copy_out: Bool,
    // Side effects beyond table reads/writes: "lock" (advisory locks, LOCK, FOR UPDATE),
    // "notify" (NOTIFY, LISTEN, pg_notify), "settings" (SET, RESET, set_config),
    // "transaction_id" (txid_current), "sequence" (nextval, setval),
    // "volatile_function" (a function the catalog marks volatile, not listed as safe).
    side_effects: Set<String>,
    // Settings changed by SET/RESET/set_config ("all" for RESET ALL, "*" when unknown).
    settings: Set<String>,
    // Server secrets read (pg_authid, pg_hba_file_rules, pg_stat_activity, data_directory, ...); needs sql.admin.
    server_secrets: Set<String>,
    // Every name that may be a function call: explicit calls and attribute notation (t.f, (x).f).
    possible_functions: Set<String>,
    // Functions the upstream catalog marks volatile that the connection does not list as safe.
    volatile_functions: Set<String>,
    // Protected columns (connection column rules) the result columns derive from, as
    // "schema.table.column" and "table.column"; empty without column rules.
    protected_reads: Set<String>,
    // Protected columns filtered, joined, grouped or ordered on (WHERE, JOIN ON, HAVING, ORDER BY).
    protected_filters: Set<String>,
  }`;

/** The PostgreSQL protocol module. */
export const postgresProtocol = defineProtocol({
  name: 'postgres',
  recording: 'postgres',
  connectionTypes: [{
    type: 'postgres',
    summary: 'a PostgreSQL database, reached through the wire-protocol listener (database name = connection name)',
    actions: ['sql.read', 'sql.write', 'sql.ddl', 'sql.admin'],
    urlSchemes: ['postgres', 'postgresql'],
    mcpTool: 'query',
    credentials: {
      password: { description: 'PostgreSQL password (the user comes from the url).' },
    },
  }],
  actions: [
    { name: 'sql.read', resources: ['Connection'] },
    { name: 'sql.write', resources: ['Connection'] },
    { name: 'sql.ddl', resources: ['Connection'] },
    { name: 'sql.admin', resources: ['Connection'] },
  ],
  facts: {
    sql: factsDecl<SqlFacts>({
      doc: 'SQL facts from the PostgreSQL parser (every statement of the query string).',
      cedarType: SQL_CONTEXT,
      toContext: (s) => ({
        kinds: [...s.kinds], tables: [...s.tables], functions: [...s.functions],
        dangerous_functions: [...s.dangerous_functions], statements: s.statements, has_where: s.has_where,
        data_modifying_cte: s.data_modifying_cte, do_block: s.do_block, copy_program: s.copy_program,
        copy_out: s.copy_out ?? false, side_effects: [...(s.side_effects ?? [])], settings: [...(s.settings ?? [])],
        server_secrets: [...(s.server_secrets ?? [])], possible_functions: [...(s.possible_functions ?? s.functions)],
        volatile_functions: [...(s.volatile_functions ?? [])],
        protected_reads: [...(s.protected_reads ?? [])], protected_filters: [...(s.protected_filters ?? [])],
      }),
    }),
  },
  listener: listenerDecl<PostgresServerConfig>({
    description: 'PostgreSQL wire-protocol listener.',
    config: {
      listen: listen('Address the PostgreSQL listener binds.', '127.0.0.1:15432'),
      allow_insecure_auth: bool('Accept cleartext passwords (Gatehouse credentials) without TLS on a non-loopback listener. Only for trusted networks.', false),
      startup_timeout: duration('Longest time a PostgreSQL client may take from connecting to completing authentication (SSL/startup/password); then the connection is closed (a client silent on one message gets FATAL 08P01 first).', '10s'),
      message_timeout: duration('Longest time a signed-in PostgreSQL client may take to send one message, from its first byte to its last (time the gateway itself stops reading, for backpressure or a review, does not count); then the session ends with FATAL 08P01. Without it a client could hold a session and its buffer by sending a message a byte at a time.', '60s'),
      max_message_size: size('Largest PostgreSQL protocol message either side may send (a query text, a row). A bigger one ends the session with an error naming the side and the limit.', '64mb'),
      safe_functions: list('Functions the upstream catalog marks volatile that are known to change nothing (e.g. a logging-free lookup): "name" or "schema.name". Any other volatile function called by a statement (also in attribute notation t.f) makes it a write (sql.write, context.sql.volatile_functions).', str('A function name, optionally schema-qualified.', { pattern: '^[A-Za-z_][A-Za-z0-9_$]*(\\.[A-Za-z_][A-Za-z0-9_$]*)?$' }), { uniqueItems: true, default: [] }),
    },
    load: (section) => section as unknown as PostgresServerConfig,
  }),
  runtime: () => import('./runtime.ts'),
  principalLimits: {
    postgres_sessions: { surface: 'postgres', description: 'Concurrent PostgreSQL sessions.', default: 32 },
  },
});
