import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestGateway, TEST_POLICIES, type TestGateway } from '../harness/gateway.ts';
import { sshdSkip, sshConnectionYaml, startSshd, type TestSshd } from '../harness/sshd.ts';
import { runProcess } from '../harness/run.ts';

// Red team round 4, through the real OpenSSH client, the gateway and a real OpenSSH server: a
// principal held to the allow-list example (only read-only commands) sends lines whose commands
// bash runs differ from what the inspector resolved. Each attack's marker file must stay absent.
const read = (p: string): string => readFileSync(fileURLToPath(new URL(p, import.meta.url)), 'utf8');
const POLICIES = `${TEST_POLICIES}
${read('../../policies/shell.cedar')}
${read('../../examples/policies/ssh-command-allow-list.cedar')}
`;

describe('SSH red team round 4: what bash runs vs what was decided (real OpenSSH client and server)', { skip: sshdSkip() }, () => {
  let sshd: TestSshd;
  let t: TestGateway;
  let key: string;
  let n = 0;
  const marker = (): string => join(sshd.dir, `rt4-marker-${++n}`);

  const ssh = (command: string): Promise<{ code: number | null; out: string; err: string }> =>
    runProcess('/usr/bin/sshpass', ['-e', '/usr/bin/ssh', '-p', String(t.gw.listeners.ssh?.port), '-o', 'StrictHostKeyChecking=no',
      '-o', 'UserKnownHostsFile=/dev/null', '-o', 'PreferredAuthentications=password', '-o', 'LogLevel=ERROR', 'web01@127.0.0.1', command],
    { env: { ...process.env, SSHPASS: key } });

  before(async () => {
    sshd = await startSshd();
    t = await startTestGateway({ policies: POLICIES, yaml: ['connections:', sshConnectionYaml(sshd)].join('\n') });
    const r = await t.api('POST', '/api/v1/api-keys', { user: 'alice', groups: ['developers'] });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    key = r.json.key as string;
  });
  after(async () => {
    await t?.close();
    await sshd?.stop();
  });

  test('the allow-list still runs a listed command', async () => {
    const r = await ssh('ls /');
    assert.equal(r.code, 0, r.err);
  });

  test('an unquoted empty or blank-holding variable is not one literal word (bash removes or splits it)', async () => {
    for (const attack of [(m: string) => `x=; $x touch ${m}`, (m: string) => `x='touch ${m}'; $x`, (m: string) => `x=''; ls; $x $x touch ${m}`]) {
      const m = marker();
      const r = await ssh(attack(m));
      assert.equal(r.code, 126, `${attack(m)}: ${r.err}`);
      assert.match(r.err, /gatehouse: command denied by policy/);
      assert.equal(existsSync(m), false, attack(m));
    }
  });

  test('a variable changed by a builtin, an array element or a later loop pass is not substituted with its first value', async () => {
    for (const attack of [
      (m: string) => `x=ls; read x <<< touch; $x ${m}`, (m: string) => `x=ls; printf -v x touch; $x ${m}`, (m: string) => `x=ls; x[0]=touch; $x ${m}`,
      (m: string) => `x=ls; for i in 1 2; do $x ${m}; x=touch; done`, (m: string) => `x=ls; f() { $x ${m}; }; x=touch; f`,
    ]) {
      const m = marker();
      const r = await ssh(attack(m));
      assert.equal(r.code, 126, `${attack(m)}: ${r.err}`);
      assert.equal(existsSync(m), false, attack(m));
    }
  });

  test('a line that changes which program a name runs (hash table, aliases, PATH) is not allowed as that name', async () => {
    for (const attack of [
      (m: string) => `BASH_CMDS[ls]=/usr/bin/touch; ls ${m}`, (m: string) => `hash -p /usr/bin/touch cat; cat ${m}`,
      (m: string) => `shopt -s expand_aliases; alias cat=touch\ncat ${m}`, (m: string) => `ln -sf /usr/bin/touch ~/cat; PATH=~:$PATH cat ${m}`,
    ]) {
      const m = marker();
      const r = await ssh(attack(m));
      assert.equal(r.code, 126, `${attack(m)}: ${r.err}`);
      assert.equal(existsSync(m), false, attack(m));
    }
  });
});
