import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type ssh2 from 'ssh2';
import { TEST_POLICIES, type TestGateway } from '../harness/gateway.ts';
import { startSshRecordingRig, type SshRecordingRig } from '../harness/ssh-recording.ts';
import { sshdSkip, type TestSshd } from '../harness/sshd.ts';
import { sshConnect } from '../harness/ssh-client.ts';

// Review (rev2): an interactive shell asked whether its session's recording was full only before
// it started. Once its output filled the session (recording.max_session_bytes), every keystroke
// after it went upstream with its `terminal` event dropped: commands typed then ran unrecorded.

const SHELL_POLICIES = readFileSync(fileURLToPath(new URL('../../policies/shell.cedar', import.meta.url)), 'utf8');
const POLICIES = `${TEST_POLICIES}
${SHELL_POLICIES}
@id("ops-interactive")
permit (principal in Group::"ops", action == Action::"shell.interactive", resource == Connection::"web01");
`;

describe('SSH shell: keystrokes of a session whose recording is full do not reach the server (real OpenSSH server)', { skip: sshdSkip() }, () => {
  let sshd: TestSshd;
  let t: TestGateway;
  let key: string;

  let rig: SshRecordingRig;

  before(async () => {
    rig = await startSshRecordingRig({ policies: POLICIES, user: 'olga', groups: ['ops'], yaml: ['recording: { max_session_bytes: 12kb }'] });
    ({ sshd, t, key } = rig);
  });
  after(async () => {
    await rig?.close();
  });

  test('output fills the session, then a command typed does not run unrecorded', async () => {
    const c = await sshConnect(t.gw.listeners.ssh!.port, 'web01', key);
    const marker = join(sshd.dir, 'shell-after-full');
    let out = '';
    try {
      const stream = await new Promise<ssh2.ClientChannel>((resolve, reject) => {
        c.shell({ term: 'xterm', cols: 80, rows: 24 }, (err, s) => { if (err) reject(err); else resolve(s); });
      });
      const closed = new Promise<void>((r) => { stream.on('close', () => { r(); }); });
      stream.on('data', (d: Buffer) => { out += d.toString(); });
      stream.stderr.on('data', (d: Buffer) => { out += d.toString(); });
      // 30 KB of output: past the 12 KB the session may record.
      stream.write("printf '%030000d' 0; echo; echo FILLED\n");
      const until = Date.now() + 15_000;
      while (!/FILLED\r?\n/.test(out.slice(-200)) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 300));
      stream.write(`touch ${marker}; echo TOUCHED\n`);
      await Promise.race([closed, new Promise((r) => setTimeout(r, 3000))]);
      stream.close();
    } finally { c.end(); }
    await new Promise((r) => setTimeout(r, 300));
    let recorded = '';
    for (let k = 0; k < 100; k++) {
      const s = (await t.gw.services.sessions.list({ connection: 'web01', limit: 50 })).find((x) => x.protocol === 'ssh');
      if (s?.closedAt !== undefined) {
        recorded = (await rig.events(s.id)).filter((e) => e.type === 'terminal').map((e) => (typeof e.data.i === 'string' ? e.data.i : '')).join('');
        break;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.ok(recorded.includes('FILLED'), 'the command that filled the session is recorded');
    if (existsSync(marker)) assert.ok(recorded.includes('shell-after-full'), 'a command typed into the shell ran on the server and is not in the recording');
    // The shell ended, saying why.
    assert.match(out, /the session reached recording\.max_session_bytes.*start a new session/);
  });
});
