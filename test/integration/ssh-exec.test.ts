import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ssh2 from 'ssh2';
import { startTestGateway, TEST_POLICIES, type TestGateway } from '../harness/gateway.ts';
import { sshdSkip, sshConnectionYaml, startSshd, type TestSshd } from '../harness/sshd.ts';
import { sshConnect, sshExec } from '../harness/ssh-client.ts';
import { runProcess } from '../harness/run.ts';

const SHELL_POLICIES = readFileSync(fileURLToPath(new URL('../../policies/shell.cedar', import.meta.url)), 'utf8');
const POLICIES = `${TEST_POLICIES}
${SHELL_POLICIES}
@id("ops-approve")
permit (principal in Group::"ops", action == Action::"review.approve", resource);
`;
const OTHER_HOST_KEY = ssh2.utils.parseKey(ssh2.utils.generateKeyPairSync('ed25519').public);

const skip = sshdSkip();

describe('SSH exec through the gateway (real OpenSSH server)', { skip }, () => {
  let sshd: TestSshd;
  let t: TestGateway;
  let alice: string;
  let bob: string;
  let port: number;

  before(async () => {
    sshd = await startSshd();
    const other = OTHER_HOST_KEY instanceof Error || Array.isArray(OTHER_HOST_KEY) ? '' : `ssh-ed25519 ${OTHER_HOST_KEY.getPublicSSH().toString('base64')}`;
    t = await startTestGateway({
      policies: POLICIES,
      yaml: [
        'connections:',
        sshConnectionYaml(sshd),
        sshConnectionYaml(sshd, 'impostor', other),
        'masking:',
        '  rules: [ { connections: ["web01"], direction: response, entities: [EMAIL] } ]',
        'reviews:',
        '  hold_timeout: 1s',
        '  rules:',
        '    - { name: shell-ambiguous, connections: ["*"], actions: [shell.exec], kind: command, approvers: [ops], when: \'context.shell.risks.containsAny(["parse_error","dynamic_command","dynamic_sensitive_arg","inline_code","system_write","permission_recursive"])\' }',
      ].join('\n'),
    });
    assert.ok(t.gw.listeners.ssh, 'the SSH listener runs when a connection has type ssh');
    port = t.gw.listeners.ssh.port;
    for (const [who, groups] of [['alice', ['developers']], ['bob', ['ops']]] as const) {
      const r = await t.api('POST', '/api/v1/api-keys', { user: who, groups });
      assert.equal(r.status, 201, JSON.stringify(r.json));
      if (who === 'alice') alice = r.json.key as string; else bob = r.json.key as string;
    }
  });
  after(async () => {
    await t?.close();
    await sshd?.stop();
  });

  test('an allowed command runs upstream; its output and exit status come back (ssh2 client)', async () => {
    const c = await sshConnect(port, 'web01', alice);
    try {
      const ok = await sshExec(c, 'echo hello; whoami');
      assert.equal(ok.stdout, `hello\n${sshd.user}\n`);
      assert.equal(ok.code, 0);
      const failing = await sshExec(c, 'ls /definitely-not-here');
      assert.notEqual(failing.code, 0);
      assert.match(failing.stderr, /definitely-not-here/);
    } finally { c.end(); }
  });

  test('a dangerous command is denied: exit 126, a clear message, nothing runs upstream', async () => {
    const c = await sshConnect(port, 'web01', alice);
    try {
      const marker = join(sshd.dir, 'ran');
      const r = await sshExec(c, `touch ${marker}; curl -s http://127.0.0.1:9/x | sh`);
      assert.equal(r.code, 126);
      assert.match(r.stderr, /gatehouse: command denied by policy \(.*shell-dangerous.*\)/);
      assert.equal(r.stdout, '');
      assert.throws(() => readFileSync(marker), /ENOENT/);
    } finally { c.end(); }
  });

  test('the OpenSSH client with the credential as password (sshpass) runs a command', async () => {
    const r = await runProcess('/usr/bin/sshpass', ['-e', '/usr/bin/ssh', '-p', String(port), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
      '-o', 'PreferredAuthentications=password', '-o', 'LogLevel=ERROR', 'web01@127.0.0.1', 'echo', 'from-openssh'], { env: { ...process.env, SSHPASS: alice } });
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'from-openssh\n');
  });

  test('a wrong credential is refused and audited', async () => {
    await assert.rejects(sshConnect(port, 'web01', 'ghk_not-a-key'), /authentication methods failed/);
    const audit = await t.api('GET', '/api/v1/audit?kind=auth.failure&limit=20');
    assert.equal(audit.status, 200, JSON.stringify(audit.json));
    const items = audit.json.items as { detail?: { surface?: string } }[];
    assert.ok(items.some((i) => i.detail?.surface === 'ssh'), JSON.stringify(items));
  });

  test('an email split across output chunks never reaches the client unmasked', async () => {
    const c = await sshConnect(port, 'web01', alice);
    try {
      const seen: string[] = [];
      const r = await sshExec(c, "printf 'mail bob@exa'; sleep 0.3; printf 'mple.com now\\n'", { onData: (s) => seen.push(s) });
      assert.equal(r.code, 0);
      assert.equal(r.stdout, 'mail [EMAIL] now\n');
      assert.ok(!seen.join('').includes('bob@'), seen.join('|'));
    } finally { c.end(); }
  });

  test('a held command runs once after approval; a changed argument is reviewed again', async () => {
    const c = await sshConnect(port, 'web01', alice);
    try {
      const cmd = 'python3 -c "print(6*7)"';
      const first = await sshExec(c, cmd, { env: { GATEHOUSE_JUSTIFICATION: 'ticket 42' } });
      assert.equal(first.code, 126);
      const m = /review (\S+) is pending/.exec(first.stderr);
      assert.ok(m, first.stderr);
      const review = await t.api('GET', `/api/v1/reviews/${m[1]!}`, undefined, bob);
      assert.equal(review.json.justification, 'ticket 42');
      const approved = await t.api('POST', `/api/v1/reviews/${m[1]!}/approve`, {}, bob);
      assert.equal(approved.status, 200, JSON.stringify(approved.json));
      const second = await sshExec(c, cmd);
      assert.equal(second.stdout, '42\n', second.stderr);
      assert.equal(second.code, 0);
      const third = await sshExec(c, cmd);
      assert.equal(third.code, 126, 'the approval ran once');
      assert.match(third.stderr, /pending/);
      const changed = await sshExec(c, 'python3 -c "print(6*8)"');
      assert.equal(changed.code, 126);
      assert.match(changed.stderr, /review (\S+) is pending/);
      assert.notEqual(/review (\S+) is pending/.exec(changed.stderr)?.[1], m[1]);
    } finally { c.end(); }
  });

  test('an upstream presenting another host key than the pinned one is refused', async () => {
    const c = await sshConnect(port, 'impostor', alice);
    try {
      const r = await sshExec(c, 'echo should-not-run');
      assert.equal(r.code, 255);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /presented host key SHA256:\S+, not the pinned ssh-ed25519 SHA256:\S+: refused/);
    } finally { c.end(); }
  });

  test('an ssh connection created through the admin API keeps its pinned host key and runs commands', async () => {
    const body = {
      name: 'web01api', type: 'ssh', url: `ssh://${sshd.user}@127.0.0.1:${sshd.port}`, host_key: sshd.hostKey,
      credentials: { private_key: readFileSync(join(sshd.dir, 'gw_client_key'), 'utf8') },
    };
    const created = await t.api('POST', '/api/v1/connections', body);
    assert.equal(created.status, 201, JSON.stringify(created.json));
    assert.equal(created.json.host_key, sshd.hostKey);
    assert.ok(!JSON.stringify(created.json).includes('PRIVATE KEY'));
    const c = await sshConnect(port, 'web01api', alice);
    try {
      const r = await sshExec(c, 'echo via-api');
      assert.equal(r.stdout, 'via-api\n', r.stderr);
      assert.equal(r.code, 0);
    } finally { c.end(); }
    // A patch without host_key keeps it; a wrong one is then refused like a config connection's.
    const patched = await t.api('PATCH', '/api/v1/connections/web01api', { description: 'patched' });
    assert.equal(patched.json.host_key, sshd.hostKey);
    const other = OTHER_HOST_KEY instanceof Error || Array.isArray(OTHER_HOST_KEY) ? '' : `ssh-ed25519 ${OTHER_HOST_KEY.getPublicSSH().toString('base64')}`;
    assert.equal((await t.api('PATCH', '/api/v1/connections/web01api', { host_key: other })).status, 200);
    const c2 = await sshConnect(port, 'web01api', alice);
    try {
      const r = await sshExec(c2, 'echo should-not-run');
      assert.equal(r.code, 255);
      assert.match(r.stderr, /not the pinned ssh-ed25519/);
    } finally { c2.end(); }
    const missing = await t.api('POST', '/api/v1/connections', { ...body, name: 'nokey', host_key: undefined });
    assert.equal(missing.status, 400, 'an ssh connection without host_key is refused by the API too');
  });

  test('sftp and port forwarding are refused', async () => {
    const c = await sshConnect(port, 'web01', alice);
    try {
      await assert.rejects(new Promise((resolve, reject) => { c.sftp((err, s) => { if (err) reject(err); else resolve(s); }); }));
      await assert.rejects(new Promise((resolve, reject) => {
        c.forwardOut('127.0.0.1', 0, '127.0.0.1', sshd.port, (err, s) => { if (err) reject(err); else resolve(s); });
      }));
    } finally { c.end(); }
  });

  test('paramiko (Python) runs a command with keyboard-interactive or password auth', async () => {
    const script = [
      'import sys, paramiko',
      'c = paramiko.SSHClient()',
      'c.set_missing_host_key_policy(paramiko.AutoAddPolicy())',
      'c.connect("127.0.0.1", port=int(sys.argv[1]), username="web01", password=sys.argv[2], allow_agent=False, look_for_keys=False)',
      '_, out, err = c.exec_command("uname -s")',
      'sys.stdout.write(out.read().decode()); sys.stdout.write("exit=%d\\n" % out.channel.recv_exit_status())',
    ].join('\n');
    const r = await runProcess('/usr/bin/python3', ['-c', script, String(port), alice]);
    assert.equal(r.out, 'Linux\nexit=0\n', r.err);
  });
});
