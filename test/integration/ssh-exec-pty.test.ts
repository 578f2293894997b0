import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type ssh2 from 'ssh2';
import { startTestGateway, TEST_POLICIES, type TestGateway } from '../harness/gateway.ts';
import { sshdSkip, sshConnectionYaml, startSshd, type TestSshd } from '../harness/sshd.ts';
import { sshConnect } from '../harness/ssh-client.ts';

// Red team round 4: an exec on a pseudo-terminal is a terminal session. The command line is
// decided, but a pager or editor it starts (`less`, `man`, `git log`, `journalctl`, `vim`) reads
// keystrokes from the client, and `!cmd` runs any command. So its keystrokes are not forwarded
// unless the principal may have an interactive shell (`shell.interactive`).
const SHELL_POLICIES = readFileSync(fileURLToPath(new URL('../../policies/shell.cedar', import.meta.url)), 'utf8');
const POLICIES = `${TEST_POLICIES}
${SHELL_POLICIES}
@id("ops-interactive")
permit (principal in Group::"ops", action == Action::"shell.interactive", resource == Connection::"web01");
`;

/** Runs `command` on a pty, types `keys` once output appeared, then `q`; resolves with what came back. */
function ptyExec(c: ssh2.Client, command: string, keys: string): Promise<{ out: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    c.exec(command, { pty: { term: 'dumb', cols: 80, rows: 24 } }, (err, stream) => {
      if (err) { reject(err); return; }
      let out = '';
      let code: number | null = null;
      let typed = false;
      stream.on('data', (d: Buffer) => {
        out += d.toString();
        if (!typed) {
          typed = true;
          void (async () => { await sleep(300); stream.write(keys); await sleep(700); stream.write('q'); await sleep(300); stream.end(); })();
        }
      });
      stream.stderr.on('data', (d: Buffer) => { out += d.toString(); });
      stream.on('exit', (c2: number | null) => { code = c2; });
      stream.on('close', () => { resolve({ out, code }); });
      setTimeout(() => { stream.close(); }, 8_000).unref();
    });
  });
}

describe('SSH exec on a pty: keystrokes reach a pager or editor (real OpenSSH server)', { skip: sshdSkip() }, () => {
  let sshd: TestSshd;
  let t: TestGateway;
  let dev: string;
  let ops: string;
  let n = 0;
  const marker = (): string => join(sshd.dir, `pty-marker-${++n}`);

  before(async () => {
    sshd = await startSshd();
    t = await startTestGateway({
      policies: POLICIES,
      yaml: [
        'connections:', sshConnectionYaml(sshd), 'reviews:', '  hold_timeout: 1s', '  rules:',
        '    - { name: shell-ambiguous, connections: ["*"], actions: [shell.exec], kind: command, approvers: [ops], when: \'context.shell.risks.containsAny(["parse_error","dynamic_command","dynamic_sensitive_arg","inline_code","system_write","permission_recursive"])\' }',
      ].join('\n'),
    });
    for (const [who, groups] of [['alice', ['developers']], ['bob', ['developers', 'ops']]] as const) {
      const r = await t.api('POST', '/api/v1/api-keys', { user: who, groups });
      assert.equal(r.status, 201, JSON.stringify(r.json));
      if (who === 'alice') dev = r.json.key as string; else ops = r.json.key as string;
    }
    writeFileSync(join(sshd.dir, 'page.txt'), Array.from({ length: 200 }, (_, i) => `line ${i}`).join('\n'));
  });
  after(async () => {
    await t?.close();
    await sshd?.stop();
  });

  test('a pager started by an allowed command cannot be made to run a command (less !cmd)', async () => {
    const c = await sshConnect(t.gw.listeners.ssh!.port, 'web01', dev);
    try {
      const m = marker();
      const r = await ptyExec(c, `less ${join(sshd.dir, 'page.txt')}`, `!touch ${m}\n`);
      assert.equal(existsSync(m), false, r.out);
    } finally { c.end(); }
  });

  test('a principal allowed interactive shells still types into the command', async () => {
    const c = await sshConnect(t.gw.listeners.ssh!.port, 'web01', ops);
    try {
      const m = marker();
      await ptyExec(c, `less ${join(sshd.dir, 'page.txt')}`, `!touch ${m}\n`);
      assert.equal(existsSync(m), true);
    } finally { c.end(); }
  });

  test('without a terminal, an editor or console reading its commands from the client\'s stdin is held (vim :!cmd)', async () => {
    const c = await sshConnect(t.gw.listeners.ssh!.port, 'web01', dev);
    try {
      for (const [cmd, keys] of [
        [`vim -N -u NONE -i NONE ${join(sshd.dir, 'page.txt')}`, (m: string) => `:!touch ${m}\n:q!\n`],
        [`awk -f - ${join(sshd.dir, 'page.txt')}`, (m: string) => `BEGIN { system("touch ${m}") }\n`],
      ] as const) {
        const m = marker();
        const r = await new Promise<{ code: number | null; err: string }>((resolve, reject) => {
          c.exec(cmd, (err, stream) => {
            if (err) { reject(err); return; }
            let e = '';
            let code: number | null = null;
            stream.stderr.on('data', (d: Buffer) => { e += d.toString(); });
            stream.on('data', () => undefined);
            stream.on('exit', (x: number | null) => { code = x; });
            stream.on('close', () => { resolve({ code, err: e }); });
            stream.end(keys(m));
          });
        });
        assert.equal(existsSync(m), false, `${cmd}: ${r.err}`);
        assert.equal(r.code, 126, r.err);
      }
    } finally { c.end(); }
  });
});
