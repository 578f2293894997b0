import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';

/**
 * Rules may name connections created through the admin API when they are declared in
 * `api_connections`; /readyz says "not ready" while one is missing (issue 17 §3). The `mcp`
 * connection type is refused by the API as by the config until a data path serves it.
 */
describe('api_connections and /readyz', () => {
  let t: TestGateway;
  before(async () => {
    t = await startTestGateway({
      yaml: [
        'api_connections: [analytics]',
        'masking:',
        '  rules:',
        '    - { connections: [analytics], direction: response, entities: [EMAIL] }',
      ].join('\n'),
    });
  });
  after(async () => { await t.close(); });

  test('not ready while a declared API connection is missing; ready once it is created', async () => {
    const before = await fetch(`${t.url}/readyz`);
    assert.equal(before.status, 503);
    const body = await before.json() as { checks: Record<string, string> };
    assert.equal(body.checks.api_connections, 'missing: analytics');
    const created = await t.api('POST', '/api/v1/connections', { name: 'analytics', type: 'postgres', url: 'postgres://reader@127.0.0.1:5432/analytics' });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const ready = await fetch(`${t.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.equal((await ready.json() as { checks: Record<string, string> }).checks.api_connections, 'ok');
  });

  test('the API refuses an mcp connection with a reason', async () => {
    const out = await t.api('POST', '/api/v1/connections', { name: 'tools', type: 'mcp', url: 'http://127.0.0.1:9000' });
    assert.equal(out.status, 400);
    assert.equal(out.json.code, 'validation_failed');
    assert.match(String(out.json.detail), /type "mcp" .* is not served yet/);
  });
});
