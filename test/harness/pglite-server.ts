import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

/** A PGlite database served over the PostgreSQL wire protocol on a free loopback port. */
export interface PgliteServer {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (PGlite accepts any password: trust). */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly db: PGlite;
  stop(): Promise<void>;
}

/**
 * Starts an in-memory PGlite (a real PostgreSQL engine compiled to WASM) behind
 * `@electric-sql/pglite-socket`, so suites run against a real server on a fresh machine.
 * `maxConnections` > 1 so pools work (PGlite still runs one query at a time).
 *
 * @example
 *   const up = await startPgliteServer('CREATE TABLE t (id int)');
 *   … connections: [{ name: app, type: postgres, url: up.url }] … await up.stop();
 */
export async function startPgliteServer(initSql?: string): Promise<PgliteServer> {
  const db = await PGlite.create();
  if (initSql) await db.exec(initSql);
  const server = new PGLiteSocketServer({ db, port: 0, host: '127.0.0.1', maxConnections: 64 });
  await server.start();
  const conn = server.getServerConn();
  const port = Number(conn.slice(conn.lastIndexOf(':') + 1));
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`, host: '127.0.0.1', port, db,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}

/** An upstream database for a test suite, on one of the backends. */
export interface UpstreamDb {
  /** URL without password; the password (if any) is separate, as Gatehouse vaults it. */
  readonly url: string;
  readonly password: string | undefined;
  stop(): Promise<void>;
}

/** A backend suites run against: PGlite-over-wire always, a real server when there is one. */
export interface PgBackend {
  readonly name: 'pglite' | 'postgres';
  start(initSql: string): Promise<UpstreamDb>;
}

/**
 * The backends to run PostgreSQL suites against: `pglite` always; `postgres` too when
 * `getTestPostgres()` (passed in, from postgres-server.ts) yields a server.
 */
export async function pgBackends(getTestPostgres: () => Promise<{ url: string; stop(): Promise<void> } | undefined>): Promise<PgBackend[]> {
  const backends: PgBackend[] = [{
    name: 'pglite',
    async start(initSql) {
      const s = await startPgliteServer(initSql);
      return { url: s.url, password: undefined, stop: () => s.stop() };
    },
  }];
  const probe = await getTestPostgres();
  if (probe) {
    await probe.stop();
    backends.push({
      name: 'postgres',
      async start(initSql) {
        const d = await getTestPostgres();
        if (!d) throw new Error('the PostgreSQL server went away');
        const { default: pg } = await import('pg');
        const c = new pg.Client({ connectionString: d.url });
        await c.connect();
        try { await c.query(initSql); } finally { await c.end(); }
        const u = new URL(d.url);
        const password = decodeURIComponent(u.password);
        u.password = '';
        return { url: u.toString(), password, stop: () => d.stop() };
      },
    });
  }
  return backends;
}
