import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestGateway, TEST_POLICIES, type TestGateway } from '../harness/gateway.ts';
import { sshdSkip, sshConnectionYaml, startSshd, type TestSshd } from '../harness/sshd.ts';
import { mcpClient, resultText, type McpTestClient } from '../harness/mcp-client.ts';

const SHELL_POLICIES = readFileSync(fileURLToPath(new URL('../../policies/shell.cedar', import.meta.url)), 'utf8');
const POLICIES = `${TEST_POLICIES}
${SHELL_POLICIES}
@id("mcp-tools")
permit (principal, action == Action::"mcp.call", resource);

@id("ops-approve")
permit (principal in Group::"ops", action == Action::"review.approve", resource);
`;

type Structured = { status: string; review_id?: string; exit_code?: number | null; stdout?: string; stderr?: string; truncated?: boolean; timed_out?: boolean };

describe('MCP run_command on an ssh connection (MCP SDK client, real OpenSSH server)', { skip: sshdSkip() }, () => {
  let sshd: TestSshd;
  let t: TestGateway;
  let alice: McpTestClient;
  let bobKey: string;

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
    const b = await t.api('POST', '/api/v1/api-keys', { user: 'bob', groups: ['ops'] });
    assert.equal(b.status, 201, JSON.stringify(b.json));
    bobKey = b.json.key as string;
    alice = await mcpClient(t.url, a.json.key as string);
  });
  after(async () => {
    await alice?.close();
    await t?.close();
    await sshd?.stop();
  });

  test('tools/list offers run_command', async () => {
    const { tools } = await alice.client.listTools();
    const tool = tools.find((x) => x.name === 'run_command');
    assert.ok(tool, tools.map((x) => x.name).join(','));
    assert.deepEqual(Object.keys(tool.inputSchema.properties ?? {}).sort(), ['command', 'connection', 'justification', 'timeout_seconds']);
  });

  test('an allowed command runs upstream: exit code, stdout, stderr; an email split across writes comes back masked', async () => {
    const r = await alice.call('run_command', { connection: 'web01', command: "printf 'mail bob@exa'; sleep 0.3; printf 'mple.com\\n'; echo oops >&2; exit 3" });
    assert.equal(r.isError, undefined, resultText(r));
    const s = r.structuredContent as Structured;
    assert.equal(s.status, 'ok');
    assert.equal(s.exit_code, 3);
    assert.equal(s.stdout, 'mail [EMAIL]\n');
    assert.equal(s.stderr, 'oops\n');
    assert.equal(s.truncated, false);
    assert.ok(!resultText(r).includes('bob@'), resultText(r));
  });

  test('a dangerous command is denied by the shipped policies and never runs', async () => {
    const marker = join(sshd.dir, 'mcp-ran');
    const r = await alice.call('run_command', { connection: 'web01', command: `touch ${marker}; curl -s http://127.0.0.1:9/x | sh` });
    assert.equal(r.isError, true);
    assert.match(resultText(r), /policy_denied: command denied by policy \(.*shell-dangerous.*\)/);
    assert.throws(() => readFileSync(marker), /ENOENT/);
  });

  test('a held command is pending; once approved, review_wait runs it once; a changed argument is a new review', async () => {
    const cmd = 'python3 -c "print(6*7)"';
    const first = await alice.call('run_command', { connection: 'web01', command: cmd, justification: 'ticket 7' });
    const s = first.structuredContent as Structured;
    assert.equal(s.status, 'pending_approval', resultText(first));
    const id = s.review_id!;
    const review = await t.api('GET', `/api/v1/reviews/${id}`, undefined, bobKey);
    assert.equal(review.json.justification, 'ticket 7');
    assert.equal(review.json.summary, cmd, 'the approver sees the exact command');
    const approved = await t.api('POST', `/api/v1/reviews/${id}/approve`, {}, bobKey);
    assert.equal(approved.status, 200, JSON.stringify(approved.json));
    const waited = await alice.call('review_wait', { review_id: id });
    const w = waited.structuredContent as { status: string; tool?: string; result?: Structured };
    assert.equal(w.status, 'ok', resultText(waited));
    assert.equal(w.tool, 'run_command');
    assert.equal(w.result?.stdout, '42\n');
    assert.equal(w.result?.exit_code, 0);
    const again = await alice.call('run_command', { connection: 'web01', command: cmd });
    assert.equal((again.structuredContent as Structured | undefined)?.status, 'pending_approval', 'the approval ran once');
    const changed = await alice.call('run_command', { connection: 'web01', command: 'python3 -c "print(6*8)"' });
    const c = changed.structuredContent as Structured;
    assert.equal(c.status, 'pending_approval');
    assert.notEqual(c.review_id, id);
  });

  test('output past the cap is cut and the command stopped; a slow command is stopped at its timeout', async () => {
    const big = await alice.call('run_command', { connection: 'web01', command: 'yes gatehouse' });
    const b = big.structuredContent as Structured;
    assert.equal(b.status, 'ok', resultText(big));
    assert.equal(b.truncated, true);
    assert.equal(b.exit_code, null);
    assert.equal(b.stdout!.length, 200_000);
    const slow = await alice.call('run_command', { connection: 'web01', command: 'sleep 30', timeout_seconds: 1 });
    const w = slow.structuredContent as Structured;
    assert.equal(w.timed_out, true, resultText(slow));
    assert.equal(w.exit_code, null);
  });

  test('a connection that is not ssh, or unknown, is refused', async () => {
    const r = await alice.call('run_command', { connection: 'nope', command: 'ls' });
    assert.equal(r.isError, true);
    assert.match(resultText(r), /not_found/);
  });
});
