import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { AuditLog } from '../audit/audit-log.ts';
import { manualClock } from '../kernel/clock.ts';
import { Secret } from '../kernel/secret.ts';
import { ConnectionsRepo } from './connections-repo.ts';
import { openStore } from './index.ts';
import { migrate } from './migrate.ts';
import type { SqlDriver } from './sql.ts';
import { runStoreConformance } from './store.case.ts';

const dirs: string[] = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'gh-store-'));
  dirs.push(d);
  return d;
};

runStoreConformance('embedded, in memory', () => openStore({ embedded: { path: undefined } }));
runStoreConformance('embedded, on disk', () => openStore({ embedded: { path: join(tempDir(), 'db') } }));

describe('embedded store on disk', () => {
  test('data survives a reopen; migrations do not run twice; the chain still verifies', async () => {
    const path = join(tempDir(), 'db');
    const key = randomBytes(32);
    let db: SqlDriver = await openStore({ embedded: { path } });
    try {
      await new ConnectionsRepo(db, key).create({ name: 'crm', type: 'postgres', url: 'postgres://db/crm', credentials: { password: new Secret('pw') } });
      const audit = new AuditLog(db, manualClock(0));
      await Promise.all([1, 2, 3].map((i) => audit.append({ kind: 'k', outcome: 'ok', detail: { i } })));
    } finally {
      await db.close();
    }
    assert.ok(existsSync(join(path, 'pgdata', 'PG_VERSION')), 'the cluster lives in <path>/pgdata');
    db = await openStore({ embedded: { path } });
    try {
      assert.deepEqual(await migrate(db), []);
      assert.equal((await new ConnectionsRepo(db, key).get('crm'))?.credentials.password?.reveal(), 'pw');
      const audit = new AuditLog(db, manualClock(0));
      assert.equal((await audit.append({ kind: 'k', outcome: 'ok' })).seq, 4);
      assert.deepEqual(await audit.verify(), { ok: true, count: 4 });
    } finally {
      await db.close();
    }
  });

  test('a data directory that cannot be initialized fails the open with initdb\'s reason (initdb runs in a process of its own)', async () => {
    const file = join(tempDir(), 'not-a-directory');
    writeFileSync(file, 'x');
    await assert.rejects(openStore({ embedded: { path: file } }), (err: Error) => {
      assert.equal(err.name, 'EmbeddedStoreError');
      assert.match(err.message, /could not initialize its data directory: .*ENOTDIR/);
      return true;
    });
  });
});

describe('embedded store in memory', () => {
  test('each in-memory store starts empty, whatever the stores opened before it held', async () => {
    const names = async (db: SqlDriver): Promise<string[]> =>
      (await db.query<{ relname: string }>("SELECT relname FROM pg_class WHERE relname LIKE 'probe_%' ORDER BY 1")).map((r) => r.relname);
    const first = await openStore({ embedded: { path: undefined } });
    await first.exec('CREATE TABLE probe_first (a int); INSERT INTO probe_first VALUES (1)');
    // The second and third start from the cluster the first one's initdb made (not from its data).
    const [second, third] = await Promise.all([openStore({ embedded: { path: undefined } }), openStore({ embedded: { path: undefined } })]);
    try {
      assert.deepEqual(await names(second), []);
      await second.exec('CREATE TABLE probe_second (a int)');
      assert.deepEqual(await names(third), []);
      assert.deepEqual(await names(first), ['probe_first']);
      assert.deepEqual(await names(second), ['probe_second']);
      // Migrated like a fresh store: the schema the store needs is there.
      assert.ok((await third.query("SELECT 1 FROM pg_tables WHERE tablename = 'audit_log'")).length === 1);
    } finally {
      await Promise.all([first.close(), second.close(), third.close()]);
    }
  });
});
