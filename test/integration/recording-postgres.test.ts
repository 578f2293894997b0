import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openStore } from '../../src/store/index.ts';
import type { SqlDriver } from '../../src/store/sql.ts';
import { runRecordingConformance } from '../../src/recording/recording.case.ts';
import { getTestPostgres, pgSkip } from '../harness/postgres-server.ts';

// The recording conformance suite on a real PostgreSQL server (PGlite runs it in src/recording).
const skip = await pgSkip();

if (skip) {
  test('recording conformance: postgres server', { skip }, () => undefined);
} else {
  runRecordingConformance('postgres server', async (): Promise<SqlDriver> => {
    const pgdb = await getTestPostgres();
    assert.ok(pgdb, 'a PostgreSQL server was promised by pgSkip()');
    const db = await openStore({ postgres: { url: pgdb.url, poolMax: 5 } });
    return { ...db, close: async () => { await db.close(); await pgdb.stop(); } };
  });
}
