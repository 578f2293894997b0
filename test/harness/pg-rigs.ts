import pg from 'pg';
import { startTestGateway, type TestGateway } from './gateway.ts';
import { getTestPostgres, type TestDatabase } from './postgres-server.ts';
import { LINEAGE_INIT, LINEAGE_MASKING } from '../fixtures/pg-lineage-db.ts';

/** A gateway on a real PostgreSQL database of its own, and how to mint a key and end both. */
export interface PgRig {
  readonly db: TestDatabase;
  readonly t: TestGateway;
  /** An API key of `user` in `groups` (acting through `agent` when given). */
  key(user: string, groups: readonly string[], agent?: string): Promise<string>;
  close(): Promise<void>;
}

async function rig(setupSql: string, policies: string, yaml: (url: string) => string[]): Promise<PgRig> {
  const db = await getTestPostgres();
  if (!db) throw new Error('no PostgreSQL');
  const setup = new pg.Client({ connectionString: db.url });
  await setup.connect();
  try { await setup.query(setupSql); } finally { await setup.end(); }
  const t = await startTestGateway({ policies, yaml: ['connections:', `  - { name: app, type: postgres, url: "${db.url}" }`, ...yaml(db.url)].join('\n') });
  return {
    db, t,
    key: async (user, groups, agent) => String((await t.api('POST', '/api/v1/api-keys', { user, groups, ...(agent === undefined ? {} : { agent }) })).json.key),
    close: async () => { await t.close(); await db.stop(); },
  };
}

/** The column-lineage fixture (`customers.phone` redacted, `name` partial) on connection `app`. */
export function startLineageRig(policies: string): Promise<PgRig> {
  return rig(LINEAGE_INIT, policies, () => [...LINEAGE_MASKING]);
}

/** {@link startOrdersReviewRig}'s rig: a direct connection to its database, and keys of a writer and of an approver. */
export interface OrdersReviewRig extends PgRig {
  /** Connected to the database directly (to look at `orders` past the gateway). */
  readonly admin: pg.Client;
  /** An API key of `writer` (group `writers`) and of `dba1` (group `dba`, the approvers). */
  readonly writer: string;
  readonly dba: string;
}

/** A table `orders` of 50 rows (total 100 each) on connection `app`, whose writes are held for group `dba`'s review (hold timeout 200 ms). */
export async function startOrdersReviewRig(policies: string): Promise<OrdersReviewRig> {
  const r = await rig('CREATE TABLE orders (id int PRIMARY KEY, total int); INSERT INTO orders SELECT g, 100 FROM generate_series(1, 50) g', policies, () => [
    'reviews:', '  hold_timeout: 200ms', '  rules:',
    '    - { name: writes, connections: [app], actions: [sql.write], kind: command, approvers: [dba] }',
  ]);
  const admin = new pg.Client({ connectionString: r.db.url });
  await admin.connect();
  return {
    ...r, admin, writer: await r.key('writer', ['writers']), dba: await r.key('dba1', ['dba']),
    close: async () => { await admin.end(); await r.close(); },
  };
}
