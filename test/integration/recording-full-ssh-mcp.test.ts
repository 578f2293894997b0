import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TEST_POLICIES, type TestGateway } from '../harness/gateway.ts';
import { startSshRecordingRig, type SshRecordingRig } from '../harness/ssh-recording.ts';
import { sshdSkip, type TestSshd } from '../harness/sshd.ts';
import { sshConnect, sshExec } from '../harness/ssh-client.ts';
import { MemoryRecorder, type RecordEvent } from '../../src/recording/recorder.ts';

// Review (session 12): SSH exec and MCP tool calls did not ask whether their session's recording
// was full (recording.max_session_bytes) before running: a command or call of a full session ran
// upstream with its request dropped, and only its result was withheld (at the flush). Each marker
// file that exists on the server must have its command in the recording.

const SHELL_POLICIES = readFileSync(fileURLToPath(new URL('../../policies/shell.cedar', import.meta.url)), 'utf8');
const POLICIES = `${TEST_POLICIES}
${SHELL_POLICIES}
@id("mcp-tools")
permit (principal, action == Action::"mcp.call", resource);
`;

describe('SSH: a session at recording.max_session_bytes runs nothing more (real OpenSSH server)', { skip: sshdSkip() }, () => {
  let sshd: TestSshd;
  let t: TestGateway;
  let key: string;

  let rig: SshRecordingRig;

  before(async () => {
    rig = await startSshRecordingRig({ policies: POLICIES, user: 'alice', groups: ['developers'], yaml: ['recording: { max_session_bytes: 12kb }'] });
    ({ sshd, t, key } = rig);
  });
  after(async () => {
    await rig?.close();
  });

  test('SSH exec: refused before it runs, with a clear message; every command that ran is recorded', async () => {
    const c = await sshConnect(t.gw.listeners.ssh!.port, 'web01', key);
    // Commands until two in a row fail for the recording (the first may be one whose output
    // crossed the limit after it ran; the one after it must not run).
    const failures: { i: number; stderr: string; code: number | null }[] = [];
    try {
      for (let i = 0; i < 40 && failures.length < 2; i++) {
        const r = await sshExec(c, `touch ${join(sshd.dir, `ssh-m${i}`)}; printf '%0900d' 0`);
        if (/max_session_bytes|could not be recorded/.test(r.stderr)) failures.push({ i, stderr: r.stderr, code: r.code });
        else failures.length = 0;
      }
    } finally { c.end(); }
    // Every command that ran on the server is in the recording (its request event).
    let recorded: string[] = [];
    for (let k = 0; k < 100; k++) {
      const s = (await t.gw.services.sessions.list({ connection: 'web01', limit: 50 })).find((x) => x.protocol === 'ssh');
      if (s?.closedAt !== undefined) {
        recorded = (await rig.events(s.id)).filter((e) => e.type === 'request').map((e) => String(e.data.statement));
        break;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    const onServer = Array.from({ length: 40 }, (_, i) => i).filter((i) => existsSync(join(sshd.dir, `ssh-m${i}`)));
    assert.ok(onServer.length > 0);
    const missing = onServer.filter((i) => !recorded.some((s) => s.includes(`ssh-m${i};`)));
    assert.deepEqual(missing, [], 'a command ran whose request is not in the recording');
    const refused = failures.at(-1);
    assert.ok(refused, 'the session filled up');
    assert.match(refused.stderr, /the session reached recording\.max_session_bytes.*start a new session/);
    assert.notEqual(refused.code, 0);
    assert.equal(existsSync(join(sshd.dir, `ssh-m${refused.i}`)), false, 'the refused command did not run');
  });
});

/**
 * A memory recorder that reports a session full from the event that records `FILL` on (what the
 * store recorder does when an event passes recording.max_session_bytes). HTTP and MCP sessions
 * rotate well before the limit on their own estimate; this is the second line behind it.
 */
class FillRecorder extends MemoryRecorder {
  readonly #full = new Set<string>();
  override record(e: RecordEvent): void {
    super.record(e);
    if (JSON.stringify(e.data).includes('FILL')) this.#full.add(e.session);
  }
  full(session: string): boolean { return this.#full.has(session); }
}

describe('MCP: a session whose recording is full runs no tool call (real OpenSSH server)', { skip: sshdSkip() }, () => {
  let sshd: TestSshd;
  let t: TestGateway;
  let key: string;
  const recorder = new FillRecorder();

  let rig: SshRecordingRig;

  before(async () => {
    rig = await startSshRecordingRig({ policies: POLICIES, user: 'alice', groups: ['developers'], recorder });
    ({ sshd, t, key } = rig);
  });
  after(async () => {
    await rig?.close();
  });

  test('tools/call: refused before it runs (store_unavailable, max_session_bytes) from the call whose request filled the session', async () => {
    const label = 'fill-me';
    const call = async (id: number, command: string): Promise<string> => {
      const res = await fetch(`${t.url}/mcp`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${key}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream',
          'mcp-protocol-version': '2025-03-26', 'gatehouse-session': label,
        },
        body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'run_command', arguments: { connection: 'web01', command } } }),
      });
      const body = await res.text();
      assert.equal(res.status, 200, body);
      return body;
    };
    const marker = (n: string): string => join(sshd.dir, `mcp-${n}`);
    const first = await call(1, `touch ${marker('before')}`);
    assert.doesNotMatch(first, /store_unavailable/, first);
    assert.ok(existsSync(marker('before')), 'a call of a session with room runs');
    // This call's request is the event that fills the session: it must not run.
    const filling = await call(2, `touch ${marker('filling')} # FILL`);
    assert.equal(existsSync(marker('filling')), false, 'the call whose request filled the session ran');
    assert.match(filling, /store_unavailable/);
    assert.match(filling, /the session reached recording\.max_session_bytes.*start a new session/);
    // The next call with the same label goes to the full session's successor (rotated, as on
    // /proxy), never to the full session itself.
    const full = recorder.events.find((e) => JSON.stringify(e.data).includes('FILL'))!.session;
    const later = await call(3, `touch ${marker('later')}`);
    assert.doesNotMatch(later, /store_unavailable/, later);
    assert.ok(existsSync(marker('later')), 'the successor session runs the next call');
    const successor = recorder.events.find((e) => e.type === 'session.open' && e.data.previous === full);
    assert.ok(successor, 'a successor session names the full one as previous');
    assert.ok(!recorder.events.some((e) => e.session === full && JSON.stringify(e.data).includes(marker('later'))), 'nothing of the later call is recorded in the full session');
  });
});
