import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { manualTimers, type ManualTimers } from '../kernel/clock.ts';
import { PolicyEngine, type ReloadResult } from './engine.ts';
import { connection, request, user } from './testing.ts';
import { reloadOnSighup, watchPolicies } from './watch.ts';

const READ = '@id("read") permit (principal, action == Action::"sql.read", resource);\n';
const WRITE = '@id("write") permit (principal, action == Action::"sql.write", resource);\n';

/**
 * Resolves once the watcher has seen a file event, i.e. armed its debounce on `clock`. File
 * events are real I/O, so this polls in real time (at most 10 s); the debounce itself is then
 * run by advancing the manual clock, never by sleeping.
 */
async function fileEvent(clock: ManualTimers, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (clock.pending() === 0) {
    if (Date.now() > deadline) throw new Error(`no file event within 10 s (${what})`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('policy watching', () => {
  let dir = '';
  before(() => { dir = mkdtempSync(join(tmpdir(), 'gatehouse-watch-')); });
  after(() => { rmSync(dir, { recursive: true, force: true }); });

  test('watchPolicies reloads after file changes; a bad edit keeps the old set', async () => {
    writeFileSync(join(dir, 'a.cedar'), READ);
    const engine = PolicyEngine.fromFiles(['*.cedar'], { baseDir: dir });
    assert.deepEqual(engine.watchTargets(), [{ dir, recursive: false }]);
    const results: ReloadResult[] = [];
    const clock = manualTimers(0);
    const watcher = watchPolicies(engine, (r) => { results.push(r); }, { debounceMs: 50, clock });
    try {
      writeFileSync(join(dir, 'b.cedar'), WRITE);
      writeFileSync(join(dir, 'b.cedar'), WRITE + '// edited\n');
      await fileEvent(clock, 'b.cedar written');
      clock.advance(49);
      assert.equal(results.length, 0, 'no reload before the debounce has passed');
      clock.advance(1);
      assert.deepEqual(results.at(-1), { ok: true, count: 3 });
      assert.deepEqual(engine.decide(request(user('u'), 'sql.write', connection('crm'))).reasons, ['write']);

      writeFileSync(join(dir, 'b.cedar'), 'permit (');
      await fileEvent(clock, 'b.cedar broken');
      clock.advance(50);
      assert.equal(results.at(-1)?.ok, false);
      assert.deepEqual(engine.decide(request(user('u'), 'sql.write', connection('crm'))).reasons, ['write']);
    } finally {
      watcher.close();
    }
  });

  test('a Kubernetes ConfigMap volume update (the kubelet swaps a ..data symlink) reloads the policies', async () => {
    // The kubelet's AtomicWriter: the files live in a timestamped directory; "..data" points at
    // it; each visible file is a symlink through "..data". An update writes a new directory,
    // renames a new "..data_tmp" symlink over "..data", adds links for new files, then removes
    // the old directory. No visible file is ever written in place.
    const cm = mkdtempSync(join(tmpdir(), 'gatehouse-configmap-'));
    try {
      const v1 = join(cm, '..2026_12_06_10_00_00.000000001');
      mkdirSync(v1);
      writeFileSync(join(v1, 'a.cedar'), READ);
      symlinkSync('..2026_12_06_10_00_00.000000001', join(cm, '..data'));
      symlinkSync('..data/a.cedar', join(cm, 'a.cedar'));
      const engine = PolicyEngine.fromFiles(['*.cedar'], { baseDir: cm });
      assert.equal(engine.decide(request(user('u'), 'sql.write', connection('crm'))).effect, 'deny');
      const results: ReloadResult[] = [];
      const clock = manualTimers(0);
      const watcher = watchPolicies(engine, (r) => { results.push(r); }, { debounceMs: 50, clock });
      try {
        const v2 = join(cm, '..2026_12_06_10_05_00.000000002');
        mkdirSync(v2);
        writeFileSync(join(v2, 'a.cedar'), READ);
        writeFileSync(join(v2, 'b.cedar'), WRITE);
        symlinkSync('..2026_12_06_10_05_00.000000002', join(cm, '..data_tmp'));
        renameSync(join(cm, '..data_tmp'), join(cm, '..data'));
        symlinkSync('..data/b.cedar', join(cm, 'b.cedar'));
        rmSync(v1, { recursive: true });
        await fileEvent(clock, 'the ConfigMap update');
        // The debounce gathers the whole swap into one reload: it runs after every step of it.
        clock.advance(50);
        assert.deepEqual(results.at(-1), { ok: true, count: 3 });
        assert.deepEqual(engine.decide(request(user('u'), 'sql.write', connection('crm'))).reasons, ['write']);
      } finally {
        watcher.close();
      }
    } finally {
      rmSync(cm, { recursive: true, force: true });
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
