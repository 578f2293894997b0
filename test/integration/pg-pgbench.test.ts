import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { getTestPostgres, pgSkip } from '../harness/postgres-server.ts';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';

const run = promisify(execFile);

/** pgbench, unchanged, through the gateway: the three protocol modes, and a write script denied. */
describe('pgbench through Gatehouse (real PostgreSQL)', { skip: await pgSkip() }, () => {
  let db: { url: string; stop(): Promise<void> } | undefined;
  let t: TestGateway | undefined;
  let key = '';
  before(async () => {
    db = await getTestPostgres();
    if (!db) throw new Error('no PostgreSQL server');
    await run('pgbench', ['-i', '-q', '-s', '1', db.url]);
    const u = new URL(db.url);
    const password = decodeURIComponent(u.password);
    u.password = '';
    t = await startTestGateway({
      env: { APP_DB_PASSWORD: password },
      policies: '@id("bench-read")\npermit (principal in Group::"bench", action == Action::"sql.read", resource);\n',
      yaml: `connections:\n  - { name: app, type: postgres, url: "${u.toString()}", credentials: { password: "\${APP_DB_PASSWORD}" } }`,
    });
    key = String((await t.api('POST', '/api/v1/api-keys', { user: 'bench', groups: ['bench'] })).json.key);
  });
  after(async () => {
    await t?.close();
    await db?.stop();
  });

  const pgbench = (args: string[]) => run('pgbench', [...args, '-h', t!.postgres.host, '-p', String(t!.postgres.port), '-U', 'bench', 'app'], { env: { ...process.env, PGPASSWORD: key } });

  for (const mode of ['simple', 'extended', 'prepared']) {
    test(`pgbench -S -M ${mode}`, async () => {
      const { stdout } = await pgbench(['-S', '-n', '-t', '50', '-c', '2', '-M', mode]);
      assert.match(stdout, /number of transactions actually processed: 100\/100/);
      assert.match(stdout, /number of failed transactions: 0\b/);
    });
  }

  test('the TPC-B write script is denied for a read-only principal, naming the reason', async () => {
    const err = await pgbench(['-n', '-t', '1', '-c', '1']).then(() => undefined, (e: unknown) => e as { stderr?: string });
    assert.ok(err, 'pgbench must fail');
    assert.match(err.stderr ?? '', /default-deny/);
  });
});
