import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type ssh2 from 'ssh2';
import { startTestGateway, TEST_POLICIES, type TestGateway } from '../harness/gateway.ts';
import { sshdSkip, sshConnectionYaml, startSshd, type TestSshd } from '../harness/sshd.ts';
import { sshConnect, sshExec } from '../harness/ssh-client.ts';

/**
 * Issue 17 on the SSH listener: no client stalls the event loop (every command is parsed on an
 * inspection worker; a worker that cannot answer refuses the command), per-principal connection
 * limits (refused, counted, audited), revocation ends live connections (the key's and a token's
 * minted from it), and a client that never authenticates is cut after server.ssh.auth_timeout.
 */

const SHELL_POLICIES = readFileSync(fileURLToPath(new URL('../../policies/shell.cedar', import.meta.url)), 'utf8');
const POLICIES = `${TEST_POLICIES}\n${SHELL_POLICIES}`;
const skip = sshdSkip();

/** The bash grammar's error recovery on a trailing pipe: ~250 ms+ of parsing for 128 bytes. */
const PATHOLOGICAL = 'a|'.repeat(64);

/** Resolves when `c` closes (rejects after `maxMs`). */
function closed(c: ssh2.Client | Socket, maxMs: number): Promise<number> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { reject(new Error(`still open after ${maxMs} ms`)); }, maxMs);
    c.once('close', () => { clearTimeout(t); resolve(Date.now() - t0); });
  });
}

async function waitFor(cond: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('SSH availability (real OpenSSH server)', { skip }, () => {
  let sshd: TestSshd;
  let t: TestGateway;
  let port: number;
  const key = async (user: string): Promise<{ key: string; id: string }> => {
    const r = await t.api('POST', '/api/v1/api-keys', { user, groups: ['developers'] });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    return { key: String(r.json.key), id: String(r.json.id) };
  };

  before(async () => {
    sshd = await startSshd();
    t = await startTestGateway({
      policies: POLICIES,
      serverYaml: '  ssh: { auth_timeout: 1s }',
      yaml: ['connections:', sshConnectionYaml(sshd), 'limits:', '  per_principal: { ssh_sessions: 2 }', '  inspection: { workers: 1 }'].join('\n'),
    });
    assert.ok(t.gw.listeners.ssh);
    port = t.gw.listeners.ssh.port;
  });
  after(async () => {
    await t?.close();
    await sshd?.stop();
  });

  test('every command is parsed on an inspection worker, a pathological one too (decided, not run)', async () => {
    const alice = await key('alice');
    const c = await sshConnect(port, 'web01', alice.key);
    try {
      const counts = t.gw.services.inspection.counts;
      const before = counts.worker;
      const ok = await sshExec(c, 'echo hello');
      assert.equal(ok.stdout, 'hello\n');
      assert.equal(counts.worker, before + 1, 'a small command went to the worker');
      // Decided on the worker (a parse error; these policies hold nothing for review, so bash runs it and fails).
      await sshExec(c, PATHOLOGICAL);
      assert.equal(counts.worker, before + 2);
      const metrics = await (await fetch(`${t.url}/metrics`)).text();
      assert.match(metrics, /gatehouse_inspections_total\{kind="shell",where="worker"\} 2/);
    } finally { c.end(); }
  });

  test('the N+1th SSH connection of one principal is told why (stderr, exit 126) and ended; counted, audited; another principal connects', async () => {
    const carol = await key('carol');
    const dave = await key('dave');
    const c1 = await sshConnect(port, 'web01', carol.key);
    const c2 = await sshConnect(port, 'web01', carol.key);
    const c3 = await sshConnect(port, 'web01', carol.key);
    try {
      const ended = closed(c3, 15_000);
      const r = await sshExec(c3, 'echo should-not-run');
      assert.equal(r.code, 126);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /too many SSH connections: user:carol already has 2 open .*limits\.per_principal\.ssh_sessions/);
      await ended;
      assert.match(await (await fetch(`${t.url}/metrics`)).text(), /gatehouse_limit_refusals_total\{protocol="ssh"\} 1/);
      await waitFor(async () => {
        const a = await t.api('GET', '/api/v1/audit?kind=limit.exceeded');
        return (a.json.items as { user?: string; detail?: { surface?: string } }[]).some((i) => i.user === 'carol' && i.detail?.surface === 'ssh');
      }, 'the ssh limit.exceeded audit record');
      const d = await sshConnect(port, 'web01', dave.key);
      assert.equal((await sshExec(d, 'echo dave')).stdout, 'dave\n');
      d.end();
      // Both held connections still work; closing one gives its unit back.
      assert.equal((await sshExec(c2, 'echo two')).stdout, 'two\n');
      const gone = closed(c1, 5_000);
      c1.end();
      await gone;
      await waitFor(() => t.gw.services.limits.limiter('ssh').held('user:carol') === 1, 'the unit released');
      const c4 = await sshConnect(port, 'web01', carol.key);
      assert.equal((await sshExec(c4, 'echo four')).stdout, 'four\n');
      c4.end();
    } finally { c1.end(); c2.end(); c3.end(); }
  });

  test('revoking an API key ends the live SSH connections of the key and of a token minted from it; audited', async () => {
    const doomed = await key('erin');
    const other = await key('frank');
    const res = await fetch(`${t.url}/oauth/token`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_secret: doomed.key }),
    });
    assert.equal(res.status, 200);
    const jwt = String((await res.json() as { access_token?: string }).access_token);
    const byKey = await sshConnect(port, 'web01', doomed.key);
    const byToken = await sshConnect(port, 'web01', jwt);
    const bystander = await sshConnect(port, 'web01', other.key);
    try {
      assert.equal((await sshExec(byToken, 'echo token')).stdout, 'token\n');
      const endings = [closed(byKey, 10_000), closed(byToken, 10_000)];
      const r = await t.api('DELETE', `/api/v1/api-keys/${doomed.id}`);
      assert.equal(r.status, 200);
      await Promise.all(endings);
      assert.equal((await sshExec(bystander, 'echo still')).stdout, 'still\n');
      let seen: unknown;
      await waitFor(async () => {
        const a = await t.api('GET', '/api/v1/audit?kind=ssh.session_revoked&limit=20');
        seen = a.json;
        return (a.json.items as { detail?: { key_id?: string } }[]).filter((i) => i.detail?.key_id === doomed.id).length === 2;
      }, 'two ssh.session_revoked records').catch((e: unknown) => { throw new Error(`${String(e)}: ${JSON.stringify(seen)}`); });
      await assert.rejects(sshConnect(port, 'web01', jwt), /authentication methods failed/);
    } finally { byKey.end(); byToken.end(); bystander.end(); }
  });

  test('a client that never authenticates is cut after server.ssh.auth_timeout (silent, or ident only)', async () => {
    const silent = connect(port, '127.0.0.1');
    silent.on('error', () => undefined);
    silent.resume(); // read, so that the gateway's close is seen
    const identOnly = connect(port, '127.0.0.1');
    identOnly.on('error', () => undefined);
    identOnly.resume();
    identOnly.write('SSH-2.0-slowloris\r\n');
    const [a, b] = await Promise.all([closed(silent, 8_000), closed(identOnly, 8_000)]);
    assert.ok(a < 4_000 && b < 4_000, `cut after ${a} / ${b} ms`);
  });
});

describe('SSH: a command whose inspection worker cannot answer is refused (fail closed)', { skip }, () => {
  let sshd: TestSshd;
  let t: TestGateway;
  before(async () => {
    sshd = await startSshd();
    t = await startTestGateway({
      policies: POLICIES,
      // No worker can load the grammar and answer within 1 ms.
      yaml: ['connections:', sshConnectionYaml(sshd), 'limits:', '  inspection: { workers: 1, timeout: 1ms }'].join('\n'),
    });
  });
  after(async () => {
    await t?.close();
    await sshd?.stop();
  });

  test('exit 126 with a clear message; nothing runs upstream', async () => {
    const r = await t.api('POST', '/api/v1/api-keys', { user: 'gina', groups: ['developers'] });
    const marker = join(sshd.dir, 'ran-despite-failed-inspection');
    const c = await sshConnect(t.gw.listeners.ssh!.port, 'web01', String(r.json.key));
    try {
      const out = await sshExec(c, `touch ${marker}`);
      assert.equal(out.code, 126);
      assert.match(out.stderr, /gatehouse: command refused: it could not be inspected/);
      assert.throws(() => readFileSync(marker), /ENOENT/);
      assert.ok(t.gw.services.inspection.counts.failed >= 1);
    } finally { c.end(); }
  });
});
