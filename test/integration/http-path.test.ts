import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';
import { startHttpUpstream, type HttpUpstream } from '../harness/http-upstream.ts';

const run = promisify(execFile);

const POLICIES = `
@id("developers-use-apis")
permit (principal in Group::"developers", action == Action::"http.request", resource);

@id("no-admin")
forbid (principal, action == Action::"http.request", resource)
when { context has http && context.http.path like "/admin*" };

@id("no-private-any-case")
forbid (principal, action == Action::"http.request", resource)
when { context has http && context.http.path_lower like "/private*" };
`;

/** curl with `--path-as-is` (no client-side normalization): status and body. */
async function curl(url: string, key: string): Promise<{ status: number; body: string }> {
  const { stdout } = await run('curl', ['-sS', '--path-as-is', '-H', `authorization: Bearer ${key}`, '-w', '\n%{http_code}', url]);
  const cut = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(cut + 1)), body: stdout.slice(0, cut) };
}

describe('http connections: policy decides on the path the upstream routes', () => {
  let t: TestGateway;
  let up: HttpUpstream;
  let key: string;
  before(async () => {
    up = await startHttpUpstream();
    t = await startTestGateway({ policies: POLICIES, yaml: `connections:\n  - { name: api, type: http, url: "${up.url}/base", credentials: { bearer: "upstream-path-token" } }\n` });
    const created = await t.api('POST', '/api/v1/api-keys', { user: 'dev', groups: ['developers'] });
    key = created.json.key as string;
  });
  after(async () => { await t.close(); await up.close(); });

  test('encoded spellings of a forbidden path are denied (curl), and never reach the upstream', async () => {
    const before = up.received.length;
    for (const p of ['/admin/secret', '/%61dmin/secret', '/%61%64%6D%69%6E/secret', '/adm%69n', '/PRIVATE/x', '/Private/%79', '/%70rivate']) {
      const r = await curl(`${t.url}/proxy/api${p}`, key);
      assert.equal(r.status, 403, `${p}: ${r.status} ${r.body}`);
      assert.equal((JSON.parse(r.body) as { code: string }).code, 'policy_denied');
    }
    for (const p of ['/%2561dmin/secret', '/x/..%2fadmin', '/a%2Fadmin', '/;x/admin', '/x/%2e%2e/admin', '/%c0%afadmin', '/admin%00']) {
      const r = await curl(`${t.url}/proxy/api${p}`, key);
      assert.equal(r.status, 400, `${p}: ${r.status} ${r.body}`);
    }
    assert.equal(up.received.length, before, 'nothing was forwarded');
  });

  test('what was decided on is what is forwarded (fetch)', async () => {
    const r = await fetch(`${t.url}/proxy/api/v1/%69tems/caf%c3%a9%3a1?q=%61`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(r.status, 200);
    await r.arrayBuffer();
    assert.equal(up.last().path, '/base/v1/items/caf%C3%A9%3A1?q=%61');
    const admin = await fetch(`${t.url}/proxy/api/ADMIN/x`, { headers: { authorization: `Bearer ${key}` } });
    await admin.arrayBuffer();
    assert.equal(admin.status, 200, 'case is kept: /ADMIN is not /admin for a case-sensitive rule (documented)');
    assert.equal(up.last().path, '/base/ADMIN/x');
  });

  test('property: a random percent-encoding of a forbidden path is denied or refused, never forwarded', async () => {
    const before = up.received.length;
    const spelled = fc.tuple(fc.constantFrom('/admin/secret', '/admin', '/private/keys', '/PRIVATE'), fc.array(fc.tuple(fc.boolean(), fc.boolean()), { minLength: 16, maxLength: 16 }))
      .map(([path, flags]) => path.split('').map((ch, i) => {
        const [enc, upper] = flags[i % flags.length]!;
        if (!enc || ch === '/') return ch;
        const h = ch.charCodeAt(0).toString(16);
        return `%${upper ? h.toUpperCase() : h}`;
      }).join(''));
    await fc.assert(fc.asyncProperty(spelled, async (p) => {
      const r = await fetch(`${t.url}/proxy/api${p}`, { headers: { authorization: `Bearer ${key}` } });
      await r.arrayBuffer();
      assert.ok(r.status === 403 || r.status === 400, `${p} → ${r.status}`);
    }), { numRuns: 60 });
    assert.equal(up.received.length, before);
  });
});
