import { join } from 'node:path';
import { GatehouseError } from '../kernel/errors.ts';
import { openEmbedded } from './embedded.ts';
import { migrate } from './migrate.ts';
import { openPostgres } from './postgres.ts';
import type { SqlDriver } from './sql.ts';

export type { SqlDriver, SqlExecutor } from './sql.ts';

/** Where the store lives: a PostgreSQL server (wins when given) or embedded PGlite. */
export interface StoreOptions {
  /**
   * The local state directory; the PGlite cluster lives in `<path>/pgdata`, so other state files
   * (master.key, admin.key) can sit beside it. `path: undefined` keeps everything in memory.
   */
  readonly embedded?: { readonly path: string | undefined };
  /** `password`, when given, replaces any password in `url` (keep it out of the URL in config). */
  readonly postgres?: { readonly url: string; readonly poolMax?: number; readonly password?: string };
}

/**
 * Opens the configured store and brings its schema up to date. With neither option, opens an
 * in-memory embedded store. The driver is closed again if migrations fail.
 *
 * @example const db = await openStore({ embedded: { path: './.gatehouse' } });
 */
export async function openStore(opts: StoreOptions): Promise<SqlDriver> {
  const pg = opts.postgres;
  const path = opts.embedded?.path;
  const db = pg
    ? await openPostgres(withPassword(pg.url, pg.password), pg.poolMax === undefined ? {} : { max: pg.poolMax })
    : await openEmbedded(path === undefined ? undefined : join(path, 'pgdata'));
  try {
    await migrate(db);
  } catch (err) {
    await db.close().catch(() => undefined);
    throw err;
  }
  return db;
}

/** node-postgres lets the URL's (possibly empty) password win over a separate one, so inject it. */
function withPassword(url: string, password: string | undefined): string {
  if (password === undefined) return url;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    // No cause: Node's URL error carries the input, which may hold credentials.
    throw new GatehouseError('config_invalid', 'store.postgres.url is not a valid URL');
  }
  if (u.host === '') throw new GatehouseError('config_invalid', 'store.postgres.url needs a host to carry a separate password');
  u.password = encodeURIComponent(password);
  return u.toString();
}
