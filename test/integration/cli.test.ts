import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { runProcess, type ProcessRun } from '../harness/run.ts';
import { mkdtempSync, mkdirSync, rmSync, statSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../harness/net.ts';

const BIN = fileURLToPath(new URL('../../bin/gatehouse', import.meta.url));
const STACK = /\n\s+at .+:\d+:\d+/;

function run(args: string[], opts: { cwd: string; env?: Record<string, string> }): Promise<ProcessRun> {
  return runProcess(BIN, args, { cwd: opts.cwd, env: { ...process.env, GATEHOUSE_CONFIG: '', ...opts.env } });
}


function workspace(policy: string, extraYaml = ''): { dir: string; port: Promise<number> } {
  const dir = mkdtempSync(join(tmpdir(), 'gh-cli-'));
  mkdirSync(join(dir, 'policies'));
  writeFileSync(join(dir, 'policies', 'main.cedar'), policy);
  const port = freePort().then((p) => {
    writeFileSync(join(dir, 'gatehouse.yaml'), [
      `server: { http: { listen: "127.0.0.1:${p}" }, postgres: { listen: "127.0.0.1:0" } }`,
      'store: { embedded: { path: ./.gatehouse } }',
      'policies: { files: [ "policies/*.cedar" ] }',
      'connections:',
      '  - { name: crm, type: postgres, url: "postgres://app@127.0.0.1:5432/crm" }',
      extraYaml,
    ].join('\n'));
    return p;
  });
  return { dir, port };
}

const GOOD_POLICY = `
@id("developers-read")
permit (principal in Group::"developers", action == Action::"sql.read", resource);
@id("agents-read-only")
forbid (principal, action in [Action::"sql.write", Action::"sql.ddl", Action::"sql.admin"], resource) when { context has agent };
@id("developers-write")
permit (principal in Group::"developers", action == Action::"sql.write", resource);
`;

describe('gatehouse CLI', () => {
  test('--help lists the commands; unknown commands and flags exit 2 with one line', async () => {
    const cwd = tmpdir();
    const help = await run(['--help'], { cwd });
    assert.equal(help.code, 0);
    for (const c of ['start', 'config validate', 'policy check', 'policy explain', 'keys create', 'keys list', 'keys revoke']) assert.ok(help.out.includes(c), c);
    const unknown = await run(['frobnicate'], { cwd });
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /unknown command/);
    const flag = await run(['keys', 'list', '--bogus'], { cwd });
    assert.equal(flag.code, 2);
    assert.doesNotMatch(flag.err, STACK);
  });

  test('config validate: every error with its path and line, exit 2; the example config is valid', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-cfg-'));
    try {
      writeFileSync(join(dir, 'bad.yaml'), 'server:\n  htp: {}\nconnections:\n  - name: x\n    type: llm\n    url: https://api.openai.com\nlog: { level: loud }\n');
      const bad = await run(['config', 'validate', '--config', 'bad.yaml'], { cwd: dir });
      assert.equal(bad.code, 2);
      assert.match(bad.err, /\/server\/htp/);
      assert.match(bad.err, /\/connections\/0/);
      assert.match(bad.err, /\/log\/level/);
      assert.match(bad.err, /bad\.yaml:\d+/);
      assert.doesNotMatch(bad.err, STACK);
      const example = await run(['config', 'validate', '--config', fileURLToPath(new URL('../../gatehouse.example.yaml', import.meta.url))], { cwd: dir });
      assert.equal(example.code, 0, example.err);
      const missing = await run(['config', 'validate', '--config', 'nope.yaml'], { cwd: dir });
      assert.equal(missing.code, 2);
      assert.doesNotMatch(missing.err, STACK);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('policy check and start report a bad policy with its position and exit 2', async () => {
    const ws = workspace('@id("x")\npermit (principal, action == Action::"sql.read", resource)\nwhen { context.sql.nonexistent == 1 };\n');
    await ws.port;
    try {
      const check = await run(['policy', 'check'], { cwd: ws.dir });
      assert.equal(check.code, 2);
      assert.match(check.err, /main\.cedar:\d+:\d+/);
      assert.doesNotMatch(check.err, STACK);
      const start = await run(['start'], { cwd: ws.dir });
      assert.equal(start.code, 2);
      assert.match(start.err, /main\.cedar:\d+:\d+/);
      assert.doesNotMatch(start.err, STACK);
    } finally {
      rmSync(ws.dir, { recursive: true, force: true });
    }
  });

  describe('against a running gateway', () => {
    let ws: { dir: string; port: Promise<number> };
    let child: ChildProcess;
    let startErr = '';
    let startOut = '';
    let url = '';
    before(async () => {
      ws = workspace(GOOD_POLICY);
      url = `http://127.0.0.1:${await ws.port}`;
      child = spawn(BIN, ['start'], { cwd: ws.dir, env: { ...process.env, GATEHOUSE_CONFIG: '' } });
      child.stdout?.on('data', (d: Buffer) => { startOut += d.toString(); });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`gateway did not start: ${startErr}`)), 60_000);
        child.stderr?.on('data', (d: Buffer) => {
          startErr += d.toString();
          if (startErr.includes('listening on')) { clearTimeout(timer); resolve(); }
        });
        child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`exited ${code}: ${startErr}`)); });
      });
    });
    after(async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(ws.dir, { recursive: true, force: true });
    });

    test('first start writes the admin key 0600 and prints its path, never the key', async () => {
      const keyFile = join(ws.dir, '.gatehouse', 'admin.key');
      assert.equal(statSync(keyFile).mode & 0o777, 0o600);
      const key = readFileSync(keyFile, 'utf8').trim();
      assert.match(startErr, /admin\.key/);
      assert.ok(!startErr.includes(key) && !startOut.includes(key), 'the admin key must not be printed or logged');
      assert.deepEqual(await (await fetch(`${url}/healthz`)).json(), { status: 'ok' });
    });

    test('keys create/list/revoke and policy explain through the CLI', async () => {
      const created = await run(['keys', 'create', '--user', 'alice', '--groups', 'developers', '--json'], { cwd: ws.dir });
      assert.equal(created.code, 0, created.err);
      const { key, id } = JSON.parse(created.out) as { key: string; id: string };
      assert.match(key, /^ghk_/);
      const list = await run(['keys', 'list', '--json'], { cwd: ws.dir });
      assert.equal(list.code, 0);
      assert.ok((JSON.parse(list.out) as { id: string }[]).some((k) => k.id === id));
      assert.ok(!list.out.includes(key));
      const table = await run(['keys', 'list'], { cwd: ws.dir });
      assert.match(table.out, /user alice/);

      const allow = await run(['policy', 'explain', '--principal', 'alice', '--groups', 'developers', '--action', 'sql.read', '--connection', 'crm', '--sql', 'SELECT * FROM customers'], { cwd: ws.dir });
      assert.equal(allow.code, 0, allow.err);
      assert.match(allow.out, /decision: ALLOW/);
      assert.match(allow.out, /developers-read/);
      const deny = await run(['policy', 'explain', '--principal', 'alice', '--groups', 'developers', '--agent', 'bot', '--action', 'sql.write', '--connection', 'crm', '--sql', 'DELETE FROM customers'], { cwd: ws.dir });
      assert.equal(deny.code, 0, deny.err);
      assert.match(deny.out, /decision: DENY/);
      assert.match(deny.out, /agents-read-only/);

      const revoke = await run(['keys', 'revoke', id], { cwd: ws.dir });
      assert.equal(revoke.code, 0, revoke.err);
      const asAlice = await run(['keys', 'list'], { cwd: ws.dir, env: { GATEHOUSE_TOKEN: key, GATEHOUSE_URL: url } });
      assert.equal(asAlice.code, 1);
      assert.match(asAlice.err, /invalid_credential/);
    });

    test('policies reload on file change; a bad edit keeps the last good set', async () => {
      const explain = async (): Promise<string> => {
        const r = await run(['policy', 'explain', '--principal', 'carol', '--groups', 'analysts', '--action', 'sql.read', '--connection', 'crm', '--json'], { cwd: ws.dir });
        assert.equal(r.code, 0, r.err);
        return (JSON.parse(r.out) as { effect: string }).effect;
      };
      const until = async (want: string): Promise<void> => {
        for (let i = 0; i < 100 && (await explain()) !== want; i++) await new Promise((r) => setTimeout(r, 100));
        assert.equal(await explain(), want);
      };
      assert.equal(await explain(), 'deny');
      writeFileSync(join(ws.dir, 'policies', 'analysts.cedar'), '@id("analysts-read")\npermit (principal in Group::"analysts", action == Action::"sql.read", resource);\n');
      await until('allow');
      writeFileSync(join(ws.dir, 'policies', 'analysts.cedar'), '@id("analysts-read")\npermit (principal in Group::"analysts", action == Action::"sql.read", resource) when { context.nope };\n');
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal(await explain(), 'allow', 'the last good set stays active');
      assert.match(startOut + startErr, /policy reload failed/);
    });

    test('an unreachable gateway is one clear line, exit 1', async () => {
      const r = await run(['keys', 'list'], { cwd: ws.dir, env: { GATEHOUSE_URL: 'http://127.0.0.1:1', GATEHOUSE_TOKEN: 'ghk_x' } });
      assert.equal(r.code, 1);
      assert.match(r.err, /cannot reach the gateway/);
      assert.doesNotMatch(r.err, STACK);
    });
  });
});
