import { test } from 'node:test';
import assert from 'node:assert/strict';

// Counts WebAssembly instantiations before the modules are imported: libpg-query instantiates its
// WASM when imported, so importing the inspector (and the PostgreSQL lineage code) must not.
let instantiated = 0;
// (tsconfig has no DOM library, so no WebAssembly types.)
const wasm = (globalThis as unknown as { WebAssembly: { instantiate: (...args: unknown[]) => Promise<unknown> } }).WebAssembly;
const instantiate = wasm.instantiate.bind(wasm);
wasm.instantiate = (...args: unknown[]) => { instantiated++; return instantiate(...args); };
const { initSqlInspector, sqlInspectorLoaded } = await import('../inspect/sql/inspect.ts');
const { InspectionPool } = await import('./inspection-pool.ts');
await import('../protocols/postgres/output-lineage.ts');

// Its own file, so its own process: the PostgreSQL parser is not loaded when it starts (the gateway
// loads it at start only when a PostgreSQL connection is configured; issue 23, idle memory).

test('the SQL parser is loaded by the first inspection; until then, and when the load fails, SQL is denied', async () => {
  const pool = new InspectionPool(
    { workers: 0, queue: 10, timeoutMs: 60_000, inlineSqlChars: 200, inlinePromptBytes: 200, maxSqlBytes: 1024 * 1024, maxStatements: 50 },
    { maskingRules: [], hashKey: new Uint8Array(32) },
  );
  try {
    assert.equal(sqlInspectorLoaded(), false);
    assert.equal(instantiated, 0, 'no WebAssembly module instantiated by the imports');
    // The synchronous path cannot wait for the load: it fails closed.
    const now = pool.inspectSqlNow('SELECT 1');
    assert.equal(now.ok, false);
    // A load that fails: the inspection waiting for it is denied (never answered "ok").
    const failing = initSqlInspector(() => Promise.reject(new Error('no wasm here')));
    const denied = await pool.inspectSql('DELETE FROM t');
    assert.equal(denied.ok, false);
    assert.match(denied.ok ? '' : denied.error, /SQL inspector could not be loaded/);
    await assert.rejects(failing, /no wasm here/);
    assert.equal(sqlInspectorLoaded(), false);
    // The next inspection loads it (retried), and is answered as usual.
    const r = await pool.inspectSql('DELETE FROM t');
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(sqlInspectorLoaded(), true);
    assert.ok(instantiated >= 1);
    assert.deepEqual(r.statements.map((s) => s.kind), ['write']);
    // The "not loaded" denial was not cached.
    assert.equal(pool.inspectSqlNow('SELECT 1').ok, true);
  } finally {
    await pool.close();
  }
});
