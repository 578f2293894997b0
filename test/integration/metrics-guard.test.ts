import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';

/**
 * `/metrics` is behind the Host guard (a DNS-rebinding page cannot read connection names and
 * decision counts), with an optional bearer token and an optional separate listener (issue 17 §2).
 */

interface Got { readonly status: number; readonly body: string }

/** GET with an explicit Host header (fetch does not let a caller set one). */
function get(port: number, path: string, headers: Record<string, string>): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }); });
    });
    req.on('error', reject);
    req.end();
  });
}

const TOKEN = 'metrics-scrape-token-0123456789';

describe('/metrics on the HTTP listener', () => {
  let t: TestGateway;
  let port: number;
  before(async () => { t = await startTestGateway(); port = t.gw.http.port; });
  after(async () => { await t.close(); });

  test('answers a scrape that names this gateway; refuses a rebinding Host and a foreign Origin', async () => {
    const ok = await get(port, '/metrics', { host: `127.0.0.1:${port}` });
    assert.equal(ok.status, 200);
    assert.match(ok.body, /gatehouse_http_requests_total/);
    const rebound = await get(port, '/metrics', { host: `attacker.example:${port}` });
    assert.equal(rebound.status, 421);
    assert.doesNotMatch(rebound.body, /gatehouse_/);
    assert.equal((await get(port, '/metrics', { host: `localhost:${port}`, origin: 'http://attacker.example' })).status, 403);
  });
});

describe('/metrics with server.metrics.token', () => {
  let t: TestGateway;
  let port: number;
  before(async () => {
    t = await startTestGateway({ serverYaml: '  metrics: { token: "${METRICS_TOKEN}" }', env: { METRICS_TOKEN: TOKEN } });
    port = t.gw.http.port;
  });
  after(async () => { await t.close(); });

  test('needs the bearer token, and the Host check still applies', async () => {
    const host = `127.0.0.1:${port}`;
    assert.equal((await get(port, '/metrics', { host })).status, 401);
    assert.equal((await get(port, '/metrics', { host, authorization: 'Bearer wrong-token-wrong-token-wrong' })).status, 401);
    assert.equal((await get(port, '/metrics', { host, authorization: `Bearer ${t.adminKey}` })).status, 401, 'an admin key is not the scrape token');
    const ok = await get(port, '/metrics', { host, authorization: `Bearer ${TOKEN}` });
    assert.equal(ok.status, 200);
    assert.match(ok.body, /gatehouse_/);
    assert.equal((await get(port, '/metrics', { host: `evil.example:${port}`, authorization: `Bearer ${TOKEN}` })).status, 421);
  });
});

describe('/metrics on its own listener (server.metrics.listen)', () => {
  let t: TestGateway;
  before(async () => { t = await startTestGateway({ serverYaml: '  metrics: { listen: "127.0.0.1:0" }' }); });
  after(async () => { await t.close(); });

  test('is served only there, with the Host check', async () => {
    const m = t.gw.metrics;
    assert.ok(m, 'the metrics listener started');
    const main = t.gw.http.port;
    assert.equal((await get(main, '/metrics', { host: `127.0.0.1:${main}` })).status, 404, 'not on the HTTP listener');
    const ok = await get(m.port, '/metrics', { host: `127.0.0.1:${m.port}` });
    assert.equal(ok.status, 200);
    assert.match(ok.body, /gatehouse_/);
    assert.equal((await get(m.port, '/api/v1/api-keys', { host: `127.0.0.1:${m.port}`, authorization: `Bearer ${t.adminKey}` })).status, 404, 'nothing else there');
    assert.equal((await get(m.port, '/metrics', { host: `attacker.example:${m.port}` })).status, 421);
  });
});
