/**
 * A gateway with one recorded PostgreSQL connection (`app`, on the test server) and an agent's key
 * (user `dev` via agent `bot`, group `developers`): the set-up the PostgreSQL recording tests share.
 *
 * @example const rig = await startPgRecordingRig({ yaml: ['recording: { max_session_bytes: 64kb }'] });
 */
import assert from 'node:assert/strict';
import pg from 'pg';
import { startTestGateway, TEST_POLICIES, type TestGateway } from './gateway.ts';
import { getTestPostgres, type TestDatabase } from './postgres-server.ts';

export interface PgRecordingRig {
  readonly t: TestGateway;
  readonly db: TestDatabase;
  /** The agent's API key (the PostgreSQL password of user `dev`). */
  readonly key: string;
  /** A `pg` client through the gateway on database `app` (errors after a FATAL are swallowed). */
  connect(): Promise<pg.Client>;
  close(): Promise<void>;
}

export async function startPgRecordingRig(opts: { readonly yaml?: readonly string[]; readonly setupSql?: string; readonly policies?: string } = {}): Promise<PgRecordingRig> {
  const db = await getTestPostgres();
  assert.ok(db, 'a PostgreSQL server was promised by pgSkip()');
  if (opts.setupSql !== undefined) {
    const init = new pg.Client({ connectionString: db.url });
    await init.connect();
    try { await init.query(opts.setupSql); } finally { await init.end(); }
  }
  const t = await startTestGateway({
    policies: opts.policies ?? TEST_POLICIES,
    yaml: [...(opts.yaml ?? []), 'connections:', `  - { name: app, type: postgres, url: "${db.url}" }`].join('\n'),
  });
  const created = await t.api('POST', '/api/v1/api-keys', { user: 'dev', groups: ['developers'], agent: 'bot' });
  assert.equal(created.status, 201, JSON.stringify(created.json));
  const key = String(created.json.key);
  return {
    t, db, key,
    async connect() {
      const c = new pg.Client({ host: t.postgres.host, port: t.postgres.port, user: 'dev', database: 'app', password: key });
      c.on('error', () => undefined);
      await c.connect();
      return c;
    },
    async close() {
      await t.close();
      await db.stop();
    },
  };
}
