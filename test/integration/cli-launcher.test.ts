import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

/**
 * The first hour (issue 17 §4): bin/gatehouse says what is wrong in one line and a non-zero exit,
 * never a stack trace — on an old Node, before npm install, when its reader goes away (EPIPE) —
 * and a production install keeps the pinned runtime.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PINNED_NODE_DIR = dirname(join(ROOT, 'node_modules', 'node', 'bin', 'node'));
const STACK = /^\s+at /m;

function systemNode(): { path: string; version: string } | undefined {
  for (const path of ['/usr/bin/node', '/usr/local/bin/node']) {
    const r = spawnSync(path, ['--version'], { encoding: 'utf8' });
    if (r.status === 0) return { path, version: r.stdout.trim() };
  }
  return undefined;
}
const old = systemNode();
const tooOld = old !== undefined && /^v(\d+)\.(\d+)/.test(old.version) && (() => {
  const [, a, b] = /^v(\d+)\.(\d+)/.exec(old.version)!;
  return Number(a) < 22 || (Number(a) === 22 && Number(b) < 18);
})();

describe('bin/gatehouse', () => {
  test('on a Node older than 22.18: one line, exit 1', { skip: tooOld ? false : 'no Node older than 22.18 on this machine' }, () => {
    const r = spawnSync(old!.path, [join(ROOT, 'bin', 'gatehouse.mjs'), 'keys', 'list'], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /Node\.js >= 22\.18 is required .*run npm install/);
    assert.doesNotMatch(r.stderr, STACK);
  });

  test('before npm install: --version works, a command says "run npm install" in one line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-fresh-'));
    try {
      for (const p of ['bin', 'src', 'package.json', 'gatehouse.example.yaml', 'policies']) cpSync(join(ROOT, p), join(dir, p), { recursive: true });
      const env = { ...process.env, PATH: `${PINNED_NODE_DIR}:/usr/bin:/bin` };
      const version = spawnSync(join(dir, 'bin', 'gatehouse'), ['--version'], { encoding: 'utf8', env, cwd: dir });
      assert.equal(version.status, 0, version.stderr);
      for (const argv of [['keys', 'list'], ['config', 'validate'], ['start']]) {
        const r = spawnSync(join(dir, 'bin', 'gatehouse'), argv, { encoding: 'utf8', env, cwd: dir });
        assert.equal(r.status, 1, argv.join(' '));
        assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
        assert.match(r.stderr, /run npm install/);
        assert.doesNotMatch(r.stderr, STACK);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the compile cache reaches worker threads and child processes: NODE_COMPILE_CACHE is set for them, a user\'s own kept (issue 23: memory)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-launcher-ncc-'));
    try {
      // Runs before the CLI; prints at exit what the CLI left in the environment for the threads it starts.
      const probe = join(dir, 'probe.mjs');
      writeFileSync(probe, `process.on('exit', () => { process.stdout.write(JSON.stringify({ cache: process.env.NODE_COMPILE_CACHE ?? null })); });\n`);
      const run = (extra: Record<string, string>): string | null => {
        const env: Record<string, string | undefined> = { ...process.env, NODE_OPTIONS: `--import=${probe}`, ...extra };
        if (!('NODE_COMPILE_CACHE' in extra)) delete env.NODE_COMPILE_CACHE;
        delete env.NODE_DISABLE_COMPILE_CACHE;
        const r = spawnSync(join(ROOT, 'bin', 'gatehouse'), ['--version'], { encoding: 'utf8', env });
        assert.equal(r.status, 0, r.stderr);
        return (JSON.parse(/\{"cache".*\}$/.exec(r.stdout.trim())?.[0] ?? 'null') as { cache: string | null }).cache;
      };
      const tmp = join(dir, 'tmp');
      mkdirSync(tmp);
      const mine = join(tmp, `gatehouse-compile-cache-${process.getuid!()}`);
      // Unset: a directory of the gateway's own account, which only it can write.
      assert.equal(run({ TMPDIR: tmp }), mine);
      assert.equal(statSync(mine).mode & 0o777, 0o700);
      // The operator's own choice is kept.
      const own = join(dir, 'cache');
      assert.equal(run({ NODE_COMPILE_CACHE: own, TMPDIR: tmp }), own);
      // A directory others may write (planted, or loosened), or a link in its place: no cache at all
      // rather than code others could have written (Node's default, <tmp>/node-compile-cache, is shared).
      chmodSync(mine, 0o777);
      assert.equal(run({ TMPDIR: tmp }), null);
      rmSync(mine, { recursive: true });
      const elsewhere = join(dir, 'elsewhere');
      mkdirSync(elsewhere, { mode: 0o700 });
      symlinkSync(elsewhere, mine);
      assert.equal(run({ TMPDIR: tmp }), null);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('glibc malloc settings: the launcher\'s mmap threshold when unset, the user\'s own when set (issue 23: memory)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-launcher-env-'));
    try {
      // Runs before the CLI (NODE_OPTIONS --import): prints what the gateway process was started with.
      const probe = join(dir, 'probe.mjs');
      writeFileSync(probe, `process.stdout.write(JSON.stringify({ arena: process.env.MALLOC_ARENA_MAX ?? null, mmap: process.env.MALLOC_MMAP_THRESHOLD_ ?? null, args: process.execArgv })); process.exit(0);\n`);
      const run = (extra: Record<string, string>): { arena: string | null; mmap: string | null; args: string[] } => {
        const env: Record<string, string | undefined> = { ...process.env, NODE_OPTIONS: `--import=${probe}`, ...extra };
        if (!('MALLOC_ARENA_MAX' in extra)) delete env.MALLOC_ARENA_MAX;
        if (!('MALLOC_MMAP_THRESHOLD_' in extra)) delete env.MALLOC_MMAP_THRESHOLD_;
        const r = spawnSync(join(ROOT, 'bin', 'gatehouse'), ['--version'], { encoding: 'utf8', env });
        assert.equal(r.status, 0, r.stderr);
        return JSON.parse(r.stdout) as { arena: string | null; mmap: string | null; args: string[] };
      };
      const unset = run({});
      assert.equal(unset.mmap, '131072');
      assert.ok(unset.args.includes('--max-semi-space-size=4'), unset.args.join(' '));
      // MALLOC_ARENA_MAX is not set by the launcher (2 arenas measured no better: docs/PERFORMANCE.md, session 12).
      assert.equal(unset.arena, null);
      const own = run({ MALLOC_ARENA_MAX: '8', MALLOC_MMAP_THRESHOLD_: '65536' });
      assert.deepEqual([own.arena, own.mmap], ['8', '65536']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a reader that goes away (| head) ends it quietly', async () => {
    const child = spawn(join(ROOT, 'bin', 'gatehouse'), ['--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy(); // closed before the CLI writes: its write gets EPIPE
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString('utf8'); });
    const code = await new Promise<number | null>((r) => child.on('close', r));
    assert.equal(code, 0, stderr);
    assert.equal(stderr, '');
  });
});

describe('package.json', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    engines: { node: string }; dependencies: Record<string, string>; devDependencies: Record<string, string>; scripts: Record<string, string>;
  };
  test('engines states the true minimum, which the launcher checks', () => {
    assert.equal(pkg.engines.node, '>=22.18');
    assert.match(readFileSync(join(ROOT, 'bin', 'gatehouse.mjs'), 'utf8'), /const MIN = \[22, 18\];/);
  });
  test('the pinned Node is a production dependency (npm ci --omit=dev keeps it); npm start goes through the launcher', () => {
    assert.ok(pkg.dependencies.node, 'node in dependencies');
    assert.equal(pkg.devDependencies.node, undefined);
    assert.match(pkg.scripts.start ?? '', /bin\/gatehouse\.mjs start/);
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    assert.notEqual(lock.packages['node_modules/node']?.dev, true, 'the lock file agrees');
  });
});
