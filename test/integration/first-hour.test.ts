import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startHttpUpstream, type HttpUpstream } from '../harness/http-upstream.ts';
import { freePort } from '../harness/net.ts';
import { startPgliteServer, type PgliteServer } from '../harness/pglite-server.ts';

/**
 * The first hour, word for word (issue 17 §4): every shell command of README.md and
 * docs/getting-started.md runs, in order, in one shell, on a fresh copy of the repository
 * (its tracked files, with this checkout's node_modules), against a gateway started by `npm
 * start` and the demo's scripted model started by `npm run demo -- --model-only`.
 *
 * What is substituted, and only that: the ports (8080, 15432, 8089 → free ones, in the commands
 * and in the copy's gatehouse.example.yaml), the placeholders `sk-…`/`…`/`<id>`, and the
 * upstreams reached through the example's environment variables (HTTPBIN_URL: a local echo
 * server, APP_DB_URL: PGlite over the wire protocol, OPENAI_BASE_URL: the demo model). Lines
 * that start a long-running process (`npm start`, `npm run demo`) or install (`npm install`,
 * `npm test`) are run by the test itself, not inline. `npm run demo` (the full demo) has its
 * own test (demo.test.ts).
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DOCS = ['README.md', 'docs/getting-started.md'];
const psql = spawnSync('psql', ['--version']).status === 0;
const curl = spawnSync('curl', ['--version']).status === 0;
const skip = psql && curl ? false : 'psql and curl are needed (apt-get install postgresql-client curl)';

/** The ```sh blocks of a Markdown file, in order. */
function shellBlocks(text: string): string[] {
  return [...text.matchAll(/^```sh\n([\s\S]*?)^```/gm)].map((m) => m[1] ?? '');
}

/** A copy of the repository's tracked (and new, unignored) files, with node_modules linked. */
function freshClone(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gh-first-hour-'));
  const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: ROOT, encoding: 'utf8' }).split('\0').filter((f) => f !== '' && !f.startsWith('node_modules'));
  for (const f of files) {
    try {
      mkdirSync(dirname(join(dir, f)), { recursive: true });
      cpSync(join(ROOT, f), join(dir, f));
    } catch { /* a file deleted in the working tree */ }
  }
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

interface Ports { readonly http: number; readonly pg: number; readonly model: number }

const withPorts = (text: string, p: Ports): string =>
  text.replace(/\b8080\b/g, String(p.http)).replace(/\b15432\b/g, String(p.pg)).replace(/\b8089\b/g, String(p.model));

/** The shell script: every block, with the substitutions of the file comment. */
function script(p: Ports): string {
  const lines: string[] = [
    'set -euo pipefail',
    // `<id>` of a review: the pending one (the held write may take a moment to arrive).
    'pending_review() { for _ in $(seq 1 100); do id=$(GATEHOUSE_TOKEN=$BOB_KEY ./bin/gatehouse reviews list --status pending --json | node -p \'(JSON.parse(require("fs").readFileSync(0, "utf8"))[0] || {}).id || ""\'); [ -n "$id" ] && { echo "$id"; return; }; sleep 0.1; done; echo "no pending review" >&2; return 1; }',
    'first_session() { ./bin/gatehouse sessions list --user alice --json | node -p \'JSON.parse(require("fs").readFileSync(0, "utf8"))[0].id\'; }',
  ];
  for (const doc of DOCS) {
    shellBlocks(readFileSync(join(ROOT, doc), 'utf8')).forEach((block, i) => {
      lines.push(`echo "### ${doc} block ${i + 1}"`);
      for (const raw of withPorts(block, p).split(/\n(?!\s)/)) {
        const line = raw.trim();
        if (line === '' || line.startsWith('#')) continue;
        if (/^npm (install|test)\b|npm start\b|^npm run demo\b/.test(line)) continue;
        const out = line.replace(/sk-…/g, 'demo-model-key').replace(/=…/g, '=')
          .replace(/reviews approve <id>/g, 'reviews approve "$(pending_review)"')
          .replace(/<id>/g, '"$(first_session)"');
        lines.push(out);
        if (/&$/.test(out.replace(/\s+#.*$/, ''))) lines.push('HELD=$!');
        if (out.includes('reviews approve "$(pending_review)"')) lines.push('wait "$HELD" # the held statement ran');
      }
    });
  }
  lines.push('echo "### done"');
  return lines.join('\n');
}

/** Spawns a long-running process in its own group; resolves once `ready` matches its output. */
function startProcess(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }, ready: RegExp): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(cmd, args, { ...opts, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolveStart, reject) => {
    const timer = setTimeout(() => { reject(new Error(`${cmd} ${args.join(' ')} did not start:\n${output}`)); }, 60_000);
    const onData = (c: Buffer): void => {
      output += c.toString('utf8');
      if (ready.test(output)) {
        clearTimeout(timer);
        resolveStart({ child, output: () => output });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${cmd} exited (${code ?? 'signal'}):\n${output}`)); });
  });
}

/** Runs a bash script to its end (at most 2 minutes), collecting its output. */
/** How long the documented commands may take in all. */
const SCRIPT_TIMEOUT_MS = 300_000;

function runScript(text: string, opts: { cwd: string; env: NodeJS.ProcessEnv }): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn('bash', ['-c', text], { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => { stdout += c.toString('utf8'); });
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString('utf8'); });
  // ~60 s on a quiet 2-core machine; a busy one (other test files in parallel) needs more.
  const timer = setTimeout(() => { child.kill('SIGKILL'); }, SCRIPT_TIMEOUT_MS);
  return new Promise((r) => child.once('close', (status) => { clearTimeout(timer); r({ status, stdout, stderr }); }));
}

function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.pid === undefined) return Promise.resolve();
  return new Promise((r) => {
    child.once('exit', () => { r(); });
    try { process.kill(-child.pid!, 'SIGTERM'); } catch { r(); }
    setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } }, 10_000).unref();
  });
}

describe('README and getting-started, word for word', { skip }, () => {
  let dir: string;
  let ports: Ports;
  let httpbin: HttpUpstream;
  let db: PgliteServer;
  let model: ChildProcess | undefined;
  let gateway: ChildProcess | undefined;
  let gatewayOutput: () => string = () => '';
  let env: NodeJS.ProcessEnv;

  before(async () => {
    dir = freshClone();
    ports = { http: await freePort(), pg: await freePort(), model: await freePort() };
    writeFileSync(join(dir, 'gatehouse.example.yaml'), withPorts(readFileSync(join(dir, 'gatehouse.example.yaml'), 'utf8'), ports));
    httpbin = await startHttpUpstream();
    db = await startPgliteServer();
    const home = join(dir, '.home');
    mkdirSync(home);
    env = {
      PATH: process.env.PATH, HOME: home, LANG: 'C.UTF-8', NO_COLOR: '1',
      HTTPBIN_URL: httpbin.url, APP_DB_URL: db.url, OPENAI_API_KEY: 'demo-model-key', OPENAI_BASE_URL: `http://127.0.0.1:${ports.model}`,
    };
    // The two long-running commands of the guide, as written there.
    model = (await startProcess('npm', ['run', 'demo', '--', '--model-only', '--port', String(ports.model)], { cwd: dir, env }, /demo model .* at http/)).child;
    const started = await startProcess('npm', ['start'], { cwd: dir, env }, /listening on http/);
    gateway = started.child;
    gatewayOutput = started.output;
  });

  after(async () => {
    await stopProcess(gateway);
    await stopProcess(model);
    await httpbin.close();
    await db.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('every command runs, with the outcomes the docs describe', { timeout: SCRIPT_TIMEOUT_MS + 60_000 }, async () => {
    const text = script(ports);
    // Asynchronously: the upstreams (echo server, PGlite) run in this process.
    const run = await runScript(text, { cwd: dir, env });
    const out = run.stdout;
    const context = `\n--- script\n${text}\n--- stdout\n${out}\n--- stderr\n${run.stderr}\n--- gateway\n${gatewayOutput().slice(-4000)}`;
    assert.equal(run.status, 0, `a documented command failed${context}`);
    assert.match(out, /### done/, context);
    assert.match(out, /\{"status":"ok"\}/, `curl /healthz${context}`);
    assert.match(out, /decision: ALLOW\nreasons: {2}developers-read/, `README: the first explain${context}`);
    assert.match(out, /decision: DENY\nreasons: {2}agents-readonly/, `the DELETE of an agent is denied${context}`);
    assert.match(out, /"path":\s*"\/get"/, `curl /proxy/httpbin/get reached the upstream${context}`);
    assert.match(out, /"name":\s*"query"/, `the MCP inspector listed the tools${context}`);
    assert.match(out, /"object":\s*"chat\.completion"/, `a chat completion through the gateway to the demo model${context}`);
    assert.match(out, /is now approved/, `bob approved the held write${context}`);
    assert.match(out, /intact|ok/i, `sessions verify${context}`);
    assert.ok(httpbin.received.some((r) => r.path === '/get' && r.headers.authorization === undefined), 'the Gatehouse key never reached the upstream');
  });
});
