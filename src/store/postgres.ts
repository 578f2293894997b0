import pg from 'pg';
import type { SqlDriver, SqlExecutor } from './sql.ts';

/** Server store: a pool of connections to a real PostgreSQL at `url`. */
export async function openPostgres(url: string, opts: { max?: number } = {}): Promise<SqlDriver> {
  const pool = new pg.Pool({ connectionString: url, max: opts.max ?? 10 });
  // A pool error (server restart, network) must not crash the process; the next query reports it.
  pool.on('error', () => undefined);
  const probe = await pool.connect();
  probe.release();
  const exec = (c: pg.Pool | pg.PoolClient): SqlExecutor => ({
    async query<R extends object>(text: string, params: readonly unknown[] = []) {
      const res = await c.query<R>(text, params as unknown[]);
      return res.rows;
    },
  });
  let listener: pg.Client | undefined;
  const handlers = new Map<string, Set<(p: string) => void>>();
  const listenClient = async (): Promise<pg.Client> => {
    if (listener) return listener;
    const client = new pg.Client({ connectionString: url });
    client.on('error', () => undefined);
    client.on('notification', (n) => {
      for (const h of handlers.get(n.channel) ?? []) h(n.payload ?? '');
    });
    await client.connect();
    listener = client;
    return client;
  };
  const base = exec(pool);
  return {
    kind: 'postgres',
    ...base,
    async transaction(fn) {
      const client = await pool.connect();
      // A client whose ROLLBACK failed may still be inside a transaction: destroy it, never reuse it.
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const out = await fn(exec(client));
        await client.query('COMMIT');
        return out;
      } catch (err) {
        await client.query('ROLLBACK').catch((e: unknown) => { broken = e instanceof Error ? e : new Error(String(e)); });
        throw err;
      } finally {
        client.release(broken);
      }
    },
    exec: async (text) => { await pool.query(text); },
    async listen(channel, onPayload) {
      const client = await listenClient();
      let set = handlers.get(channel);
      if (!set) {
        set = new Set();
        handlers.set(channel, set);
        await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      }
      set.add(onPayload);
      return async () => {
        set.delete(onPayload);
        if (set.size === 0) {
          handlers.delete(channel);
          await client.query(`UNLISTEN ${pg.escapeIdentifier(channel)}`).catch(() => undefined);
        }
      };
    },
    notify: async (channel, payload) => { await pool.query('SELECT pg_notify($1, $2)', [channel, payload]); },
    async close() {
      await listener?.end().catch(() => undefined);
      await pool.end();
    },
  };
}
