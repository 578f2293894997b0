import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import type { SqlDriver, SqlExecutor } from './sql.ts';

/**
 * Embedded store: PGlite (PostgreSQL compiled to WASM) in `dir`, or in memory when `dir` is
 * undefined. PGlite is single-connection; it serializes queries itself.
 */
export async function openEmbedded(dir: string | undefined): Promise<SqlDriver> {
  if (dir !== undefined) mkdirSync(dir, { recursive: true, mode: 0o700 });
  const db = await PGlite.create(dir === undefined ? {} : { dataDir: dir });
  const exec = (e: Pick<PGlite, 'query'>): SqlExecutor => ({
    async query<R extends object>(text: string, params: readonly unknown[] = []) {
      const res = await e.query<R>(text, params as unknown[]);
      return res.rows;
    },
  });
  const base = exec(db);
  return {
    kind: 'embedded',
    ...base,
    transaction: (fn) => db.transaction((tx) => fn(exec(tx))),
    exec: async (text) => { await db.exec(text); },
    listen: async (channel, onPayload) => {
      const unsub = await db.listen(channel, onPayload);
      return async () => { await unsub(); };
    },
    notify: async (channel, payload) => { await db.query('SELECT pg_notify($1, $2)', [channel, payload]); },
    close: () => db.close(),
  };
}
