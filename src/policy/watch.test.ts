import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PolicyEngine, type ReloadResult } from './engine.ts';
import { connection, request, user } from './testing.ts';
import { reloadOnSighup, watchPolicies } from './watch.ts';

const READ = '@id("read") permit (principal, action == Action::"sql.read", resource);\n';
const WRITE = '@id("write") permit (principal, action == Action::"sql.write", resource);\n';

describe('policy watching', () => {
  let dir = '';
  before(() => { dir = mkdtempSync(join(tmpdir(), 'gatehouse-watch-')); });
  after(() => { rmSync(dir, { recursive: true, force: true }); });

  test('watchPolicies reloads after file changes; a bad edit keeps the old set', async () => {
    writeFileSync(join(dir, 'a.cedar'), READ);
    const engine = PolicyEngine.fromFiles(['*.cedar'], { baseDir: dir });
    assert.deepEqual(engine.watchTargets(), [{ dir, recursive: false }]);
    const results: ReloadResult[] = [];
    let wake: ((r: ReloadResult) => void) | undefined;
    const watcher = watchPolicies(engine, (r) => { results.push(r); wake?.(r); }, { debounceMs: 50 });
    /** Resolves at the first reload result that satisfies `want`. */
    const next = (want: (r: ReloadResult) => boolean) => new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => { reject(new Error('no such reload within 10 s')); }, 10_000);
      wake = (r) => { if (want(r)) { clearTimeout(t); resolve(); } };
    });
    try {
      const first = next((r) => r.ok && r.count === 3);
      writeFileSync(join(dir, 'b.cedar'), WRITE);
      writeFileSync(join(dir, 'b.cedar'), WRITE + '// edited\n');
      await first;
      assert.deepEqual(results.at(-1), { ok: true, count: 3 });
      assert.deepEqual(engine.decide(request(user('u'), 'sql.write', connection('crm'))).reasons, ['write']);

      const second = next((r) => !r.ok);
      writeFileSync(join(dir, 'b.cedar'), 'permit (');
      await second;
      assert.equal(results.at(-1)?.ok, false);
      assert.deepEqual(engine.decide(request(user('u'), 'sql.write', connection('crm'))).reasons, ['write']);
    } finally {
      watcher.close();
    }
  });

  test('reloadOnSighup reloads on the signal and stops after close', () => {
    writeFileSync(join(dir, 'only.cedar'), READ);
    const engine = PolicyEngine.fromFiles(['only.cedar'], { baseDir: dir });
    const results: ReloadResult[] = [];
    const hook = reloadOnSighup(engine, (r) => results.push(r));
    writeFileSync(join(dir, 'only.cedar'), READ + WRITE);
    process.emit('SIGHUP', 'SIGHUP');
    assert.deepEqual(results, [{ ok: true, count: 3 }]);
    hook.close();
    assert.equal(process.listenerCount('SIGHUP'), 0);
  });
});
