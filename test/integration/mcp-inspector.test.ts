import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';
import { TOOL_NAMES } from '../../src/protocols/mcp/tools/index.ts';

const CLI = fileURLToPath(new URL('../../node_modules/.bin/mcp-inspector-cli', import.meta.url));
// inspector-cli 1.0.3 checks for `../package.json` relative to the working directory but imports
// it relative to its own module: run it from its build directory, where both agree.
const CLI_CWD = fileURLToPath(new URL('../../node_modules/@modelcontextprotocol/inspector-cli/build', import.meta.url));

/** Runs the MCP Inspector CLI as a user would; resolves with its exit code and output. */
function inspector(args: readonly string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(CLI, [...args], { cwd: CLI_CWD, env: { ...process.env, NO_COLOR: '1' } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const timer = setTimeout(() => { child.kill('SIGKILL'); }, 90_000);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ code: code ?? -1, out, err }); });
  });
}

describe('the MCP Inspector CLI against a running gateway', () => {
  let t: TestGateway;
  let key: string;

  before(async () => {
    t = await startTestGateway({ policies: '@id("mcp-tools")\npermit (principal, action == Action::"mcp.call", resource);\n' });
    const r = await t.api('POST', '/api/v1/api-keys', { user: 'inspector', groups: ['developers'] });
    assert.equal(r.status, 201);
    key = r.json.key as string;
  });
  after(async () => { await t.close(); });

  test('tools/list over streamable HTTP with a bearer header lists every tool', async () => {
    const r = await inspector(['--cli', `${t.url}/mcp`, '--transport', 'http', '--method', 'tools/list', '--header', `Authorization: Bearer ${key}`]);
    assert.equal(r.code, 0, r.err);
    const listed = (JSON.parse(r.out) as { tools: { name: string }[] }).tools.map((x) => x.name);
    assert.deepEqual(listed.sort(), [...TOOL_NAMES].sort());
  });

  test('tools/call whoami', async () => {
    const r = await inspector(['--cli', `${t.url}/mcp`, '--transport', 'http', '--method', 'tools/call', '--tool-name', 'whoami', '--header', `Authorization: Bearer ${key}`]);
    assert.equal(r.code, 0, r.err);
    assert.equal((JSON.parse(r.out) as { structuredContent: { user: string } }).structuredContent.user, 'inspector');
  });

  test('without the bearer header the CLI fails (401)', async () => {
    const r = await inspector(['--cli', `${t.url}/mcp`, '--transport', 'http', '--method', 'tools/list']);
    assert.notEqual(r.code, 0);
    assert.doesNotMatch(r.out, /"tools"/);
  });
});
