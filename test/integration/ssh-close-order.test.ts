import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TEST_POLICIES, type TestGateway } from '../harness/gateway.ts';
import { startSshRecordingRig, type SshRecordingRig } from '../harness/ssh-recording.ts';
import { sshdSkip } from '../harness/sshd.ts';
import { sshConnect } from '../harness/ssh-client.ts';
import { MemoryRecorder } from '../../src/recording/recorder.ts';

const SHELL_POLICIES = readFileSync(fileURLToPath(new URL('../../policies/shell.cedar', import.meta.url)), 'utf8');

// Review (session 13): when the client left while a command ran, the session's close (its anchor)
// was recorded at once and the command's response after it, so verify reported the anchor as not
// covering the chain. The close now waits for the running command's last event.
describe('SSH: a client leaving while its command runs — the session.close is the last event (real OpenSSH server)', { skip: sshdSkip() }, () => {
  let t: TestGateway;
  let key: string;
  const recorder = new MemoryRecorder();

  let rig: SshRecordingRig;

  before(async () => {
    rig = await startSshRecordingRig({ policies: `${TEST_POLICIES}\n${SHELL_POLICIES}`, user: 'alice', groups: ['developers'], recorder });
    ({ t, key } = rig);
  });
  after(async () => {
    await rig?.close();
  });

  test('the running command\'s response is recorded before the close', async () => {
    const c = await sshConnect(t.gw.listeners.ssh!.port, 'web01', key);
    await new Promise<void>((resolve, reject) => {
      c.exec('sleep 3', (err, stream) => {
        if (err) { reject(err); return; }
        stream.on('data', () => undefined);
        stream.stderr.on('data', () => undefined);
        resolve();
      });
    });
    // Once the command runs upstream, the client leaves.
    const deadline = Date.now() + 10_000;
    while (!recorder.events.some((e) => e.protocol === 'ssh' && e.type === 'decision' && e.data.effect === 'allow') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 300));
    c.end();
    while (!recorder.events.some((e) => e.protocol === 'ssh' && e.type === 'session.close') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 500));
    const ssh = recorder.events.filter((e) => e.protocol === 'ssh');
    const session = ssh.find((e) => e.type === 'session.close')?.session;
    assert.ok(session !== undefined, 'the session was closed');
    const mine = ssh.filter((e) => e.session === session);
    assert.ok(mine.some((e) => e.type === 'decision' && e.data.effect === 'allow'), JSON.stringify(mine.map((e) => [e.type, e.data])));
    assert.equal(mine.at(-1)?.type, 'session.close', `the close is the last event: ${JSON.stringify(mine.map((e) => e.type))}`);
    assert.ok(mine.some((e) => e.type === 'response'), 'the cut command\'s response is recorded (before the close)');
  });
});
