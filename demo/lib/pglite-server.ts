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
 * `@electric-sql/pglite-socket`, so the demo and the test suites get a real server on a fresh
 * machine with nothing installed. `maxConnections` > 1 so pools work (PGlite still runs one query
 * at a time). The demo and the test harness share this one implementation.
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
