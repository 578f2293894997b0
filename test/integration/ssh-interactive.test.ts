import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type ssh2 from 'ssh2';
import { startTestGateway, TEST_POLICIES, type TestGateway } from '../harness/gateway.ts';
import { sshdSkip, sshConnectionYaml, startSshd, type TestSshd } from '../harness/sshd.ts';
import { sshConnect } from '../harness/ssh-client.ts';
import { gatehouseCli } from '../harness/review-tools.ts';

const SHELL_POLICIES = readFileSync(fileURLToPath(new URL('../../policies/shell.cedar', import.meta.url)), 'utf8');
const POLICIES = `${TEST_POLICIES}
${SHELL_POLICIES}
@id("ops-interactive")
permit (principal in Group::"ops", action == Action::"shell.interactive", resource == Connection::"web01");
`;

/** An interactive shell on the gateway: what arrived so far, and a wait for a pattern. */
class Term {
  out = '';
  readonly #waiters = new Set<() => void>();
  readonly closed: Promise<void>;
  readonly stream: ssh2.ClientChannel;
  constructor(stream: ssh2.ClientChannel) {
    this.stream = stream;
    const wake = (): void => { for (const w of this.#waiters) w(); };
    stream.on('data', (d: Buffer) => { this.out += d.toString(); wake(); });
    stream.stderr.on('data', (d: Buffer) => { this.out += d.toString(); wake(); });
    this.closed = new Promise((r) => { stream.on('close', () => { wake(); r(); }); });
  }
  async waitFor(re: RegExp, ms = 15_000): Promise<void> {
    const until = Date.now() + ms;
    while (!re.test(this.out)) {
      if (Date.now() > until) throw new Error(`timed out waiting for ${String(re)}; got ${JSON.stringify(this.out.slice(-400))}`);
      await new Promise<void>((r) => { this.#waiters.add(r); setTimeout(r, 200); });
    }
  }
}

function openShell(c: ssh2.Client, size: { cols: number; rows: number }): Promise<Term> {
  return new Promise((resolve, reject) => {
    c.shell({ term: 'xterm', cols: size.cols, rows: size.rows }, (err, s) => { if (err) reject(err); else resolve(new Term(s)); });
  });
}

describe('SSH interactive shells: shell.interactive, masking, asciicast recording and replay (real OpenSSH server)', { skip: sshdSkip() }, () => {
  let sshd: TestSshd;
  let t: TestGateway;
  let alice: string;
  let olga: string;
  let port: number;

  before(async () => {
    sshd = await startSshd();
    t = await startTestGateway({
      policies: POLICIES,
      yaml: [
        'connections:',
        sshConnectionYaml(sshd),
        'masking:',
        '  rules: [ { connections: ["web01"], direction: response, entities: [EMAIL] } ]',
      ].join('\n'),
    });
    port = t.gw.listeners.ssh!.port;
    for (const [who, groups] of [['alice', ['developers']], ['olga', ['ops']]] as const) {
      const r = await t.api('POST', '/api/v1/api-keys', { user: who, groups });
      assert.equal(r.status, 201, JSON.stringify(r.json));
      if (who === 'alice') alice = r.json.key as string; else olga = r.json.key as string;
    }
  });
  after(async () => {
    await t?.close();
    await sshd?.stop();
  });

  test('an interactive shell is refused unless a policy permits shell.interactive', async () => {
    const c = await sshConnect(port, 'web01', alice);
    try {
      const term = await openShell(c, { cols: 80, rows: 24 });
      await term.closed;
      assert.match(term.out, /gatehouse: shell.interactive denied by policy \(default-deny\)/);
    } finally { c.end(); }
  });

  test('a permitted shell runs with the real terminal size, resizes reach the server, output is masked; the session replays', async () => {
    const c = await sshConnect(port, 'web01', olga);
    let sessionId: string;
    try {
      const term = await openShell(c, { cols: 100, rows: 30 });
      term.stream.write('stty size; echo "hi-$((6*7))"\n');
      await term.waitFor(/30 100\r?\n/);
      await term.waitFor(/hi-42/);
      term.stream.setWindow(40, 132, 0, 0);
      term.stream.write("stty size; printf 'x %s@%s\\n' carol example.org\n");
      await term.waitFor(/40 132\r?\n/);
      await term.waitFor(/x \[EMAIL\]/);
      assert.ok(!term.out.includes('carol@example.org'), 'the email never reached the client');
      term.stream.write('exit\n');
      await term.closed;
    } finally { c.end(); }

    // The recording: find the session, wait until it is closed (recorded asynchronously).
    const until = Date.now() + 20_000;
    for (;;) {
      const list = await t.api('GET', '/api/v1/sessions?connection=web01&user=olga');
      const s = (list.json.items as { id: string; protocol: string; closedAt?: string }[]).find((i) => i.protocol === 'ssh' && i.closedAt !== undefined);
      if (s) { sessionId = s.id; break; }
      if (Date.now() > until) throw new Error(`no closed ssh session recorded: ${JSON.stringify(list.json)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const res = await fetch(`${t.url}/api/v1/sessions/${sessionId}/export?format=asciicast`, { headers: { authorization: `Bearer ${t.adminKey}` } });
    assert.equal(res.status, 200);
    const lines = (await res.text()).trim().split('\n');
    const header = JSON.parse(lines[0]!) as { version: number; width: number; height: number };
    assert.deepEqual([header.version, header.width, header.height], [2, 100, 30], 'the real terminal size, not 80x24');
    const frames = lines.slice(1).map((l) => JSON.parse(l) as [number, string, string]);
    assert.ok(frames.some((f) => f[1] === 'r' && f[2] === '132x40'), 'the resize is recorded');
    assert.ok(frames.some((f) => f[1] === 'i' && f[2].includes('stty size')), 'keystrokes are recorded');
    const output = frames.filter((f) => f[1] === 'o').map((f) => f[2]).join('');
    assert.match(output, /hi-42/);
    assert.match(output, /x \[EMAIL\]/);
    assert.ok(!output.includes('carol@example.org'), 'the recording holds the masked output');
    for (let i = 1; i < frames.length; i++) assert.ok(frames[i]![0] >= frames[i - 1]![0], 'times never go back');

    const verify = await t.api('GET', `/api/v1/sessions/${sessionId}/verify`);
    assert.equal(verify.json.ok, true, JSON.stringify(verify.json));
    const replayed = await gatehouseCli(['sessions', 'replay', sessionId, '--speed', '1000'], t.url, t.adminKey);
    assert.equal(replayed.code, 0, replayed.err);
    assert.match(replayed.out, /hi-42/);
    assert.match(replayed.out, /40 132/);
  });

  test('a huge terminal size is clamped to 1000×500: the server gets it, the recording holds it (a pty request and a resize)', async () => {
    const c = await sshConnect(port, 'web01', olga);
    try {
      const term = await openShell(c, { cols: 5000, rows: 5000 });
      term.stream.write('stty size; echo "big-$((6*7))"\n');
      await term.waitFor(/500 1000\r?\n/);
      await term.waitFor(/big-42/);
      term.stream.setWindow(99_999, 4_000_000, 0, 0);
      term.stream.write('stty size; echo "bigger-$((6*7))"\n');
      await term.waitFor(/bigger-42/);
      assert.equal(term.out.match(/500 1000\r?\n/g)?.length, 2, `both sizes clamped: ${JSON.stringify(term.out.slice(-300))}`);
      term.stream.write('exit\n');
      await term.closed;
    } finally { c.end(); }
    let frames: [number, string, string][] = [];
    let header = { width: 0, height: 0 };
    const until = Date.now() + 20_000;
    for (;;) {
      const list = await t.api('GET', '/api/v1/sessions?connection=web01&user=olga&limit=200');
      for (const s of (list.json.items as { id: string; protocol: string; closedAt?: string }[]).filter((i) => i.protocol === 'ssh' && i.closedAt !== undefined)) {
        const res = await fetch(`${t.url}/api/v1/sessions/${s.id}/export?format=asciicast`, { headers: { authorization: `Bearer ${t.adminKey}` } });
        const lines = (await res.text()).trim().split('\n');
        const f = lines.slice(1).map((l) => JSON.parse(l) as [number, string, string]);
        if (f.some((x) => x[1] === 'o' && x[2].includes('bigger-42'))) { frames = f; header = JSON.parse(lines[0]!) as typeof header; }
      }
      if (frames.length > 0) break;
      if (Date.now() > until) throw new Error('no closed ssh session with the huge terminal recorded');
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.deepEqual([header.width, header.height], [1000, 500], 'the recorded size is the applied one');
    assert.deepEqual(frames.filter((f) => f[1] === 'r').map((f) => f[2]), ['1000x500'], 'the resize is recorded as applied');
  });
});
