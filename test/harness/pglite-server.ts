import { startPgliteServer } from '../../demo/lib/pglite-server.ts';

// One implementation, shared with the demo (`npm run demo`): see demo/lib/pglite-server.ts.
export { startPgliteServer, type PgliteServer } from '../../demo/lib/pglite-server.ts';

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
