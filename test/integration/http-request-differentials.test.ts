import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';
import { startHttpUpstream, type HttpUpstream } from '../harness/http-upstream.ts';
import { OVERRIDE_HEADERS } from '../../src/protocols/http/proxy/headers.ts';

/**
 * The gateway decides (and masks) on one view of a `/proxy` request; the upstream must not act on
 * another: a method override it would honour, a path it would route differently, a header value
 * that leaves unmasked. Raw requests on a socket (nothing normalizes them on the way).
 */
const POLICIES = `
@id("developers-use-apis")
permit (principal in Group::"developers", action in [Action::"http.request", Action::"llm.invoke"], resource);

@id("llm-no-delete")
forbid (principal, action == Action::"llm.invoke", resource)
when { context has llm && context.llm.method == "DELETE" };

@id("http-no-delete")
forbid (principal, action == Action::"http.request", resource)
when { context has http && context.http.method == "DELETE" };

@id("no-admin-exactly")
forbid (principal, action == Action::"http.request", resource)
when { context has http && context.http.path == "/admin" };
`;

interface Answer { readonly status: number; readonly body: string }

/** Sends one raw HTTP/1.1 request (bytes as given) and reads the answer to the end. */
function raw(url: string, head: string, body: Buffer = Buffer.alloc(0)): Promise<Answer> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(u.port), u.hostname, () => s.write(Buffer.concat([Buffer.from(head, 'latin1'), body])));
    const parts: Buffer[] = [];
    s.on('data', (d: Buffer) => parts.push(d));
    s.on('error', reject);
    s.on('end', () => {
      const text = Buffer.concat(parts).toString('utf8');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, body: text.slice(text.indexOf('\r\n\r\n') + 4) });
    });
  });
}

describe('/proxy: what the upstream acts on is what was decided on and masked', () => {
  let t: TestGateway;
  let up: HttpUpstream;
  let key: string;
  let host: string;
  before(async () => {
    up = await startHttpUpstream();
    t = await startTestGateway({
      policies: POLICIES,
      yaml: [
        'connections:',
        `  - { name: api, type: http, url: "${up.url}/base", credentials: { bearer: "upstream-differential-token" } }`,
        `  - { name: plain, type: http, url: "${up.url}/base", credentials: { bearer: "upstream-differential-token" } }`,
        `  - { name: models, type: llm, provider: openai, url: "${up.url}", credentials: { api_key: "sk-upstream-differential-0000" } }`,
        'masking:',
        '  rules:',
        '    - { connections: ["api"], direction: request, entities: [EMAIL, CREDIT_CARD, US_SSN], strategy: redact }',
        '',
      ].join('\n'),
    });
    const created = await t.api('POST', '/api/v1/api-keys', { user: 'dev', groups: ['developers'] });
    key = created.json.key as string;
    host = new URL(t.url).host;
  });
  after(async () => { await t.close(); await up.close(); });

  /** A raw request to the `api` connection: request line, the given header lines, the body. */
  function send(method: string, target: string, headers: readonly string[] = [], body?: Buffer, connection = 'api'): Promise<Answer> {
    const lines = [`${method} /proxy/${connection}${target} HTTP/1.1`, `host: ${host}`, `authorization: Bearer ${key}`, 'connection: close', ...headers];
    if (body !== undefined) lines.push(`content-length: ${body.length}`);
    return raw(t.url, `${lines.join('\r\n')}\r\n\r\n`, body);
  }

  test('sanity: DELETE is denied, POST passes', async () => {
    assert.equal((await send('DELETE', '/items/1')).status, 403);
    const ok = await send('POST', '/items/1', ['content-type: application/x-www-form-urlencoded'], Buffer.from('payment_method=card&method=x'));
    assert.equal(ok.status, 200, ok.body);
    assert.equal(up.last().method, 'POST');
    assert.equal(up.last().body.toString(), 'payment_method=card&method=x', 'a parameter merely ending in "method" is no override');
  });

  test('property: an override header in any spelling (case, `_` for `-`, repeated) never reaches the upstream', async () => {
    const spelled = fc.tuple(fc.constantFrom(...OVERRIDE_HEADERS), fc.array(fc.boolean(), { minLength: 24, maxLength: 24 }), fc.array(fc.boolean(), { minLength: 24, maxLength: 24 }), fc.boolean())
      .map(([name, under, upper, twice]) => {
        const n = name.split('').map((ch, i) => (ch === '-' && under[i % 24]! ? '_' : upper[i % 24]! ? ch.toUpperCase() : ch)).join('');
        return { n, twice };
      });
    await fc.assert(fc.asyncProperty(spelled, async ({ n, twice }) => {
      const before = up.received.length;
      const r = await send('POST', '/items/1', twice ? [`${n}: DELETE`, `${n}: DELETE`] : [`${n}: DELETE`]);
      assert.equal(r.status, 200, `${n}: ${r.body}`);
      assert.equal(up.received.length, before + 1);
      const leaked = Object.keys(up.last().headers).filter((h) => OVERRIDE_HEADERS.has(h.replaceAll('_', '-')));
      assert.deepEqual(leaked, [], `${n} was forwarded`);
    }), { numRuns: 40 });
  });

  /** Spellings a framework reads as `_method`: case, percent-encoding, PHP's name mangling, arrays. */
  const overrideName = fc.tuple(
    fc.constantFrom('_method', '.method', '[method', ' _method', '_method[]', '_method[x]', '_METHOD', '_Method'),
    fc.array(fc.boolean(), { minLength: 10, maxLength: 10 }),
  ).map(([name, enc]) => name.split('').map((ch, i) => (enc[i]! ? `%${ch.charCodeAt(0).toString(16).padStart(2, '0')}` : ch === ' ' ? '+' : ch)).join(''));

  test('property: a `_method` override in the query string or the body (form, JSON, multipart, gzip) is refused, never forwarded', async () => {
    const where = fc.constantFrom('query', 'form', 'json', 'multipart', 'gzip-form', 'text');
    await fc.assert(fc.asyncProperty(overrideName, where, fc.constantFrom('DELETE', 'delete', 'PUT'), async (name, at, value) => {
      const before = up.received.length;
      const decoded = decodeURIComponent(name.replaceAll('+', ' '));
      let r: Answer;
      if (at === 'query') r = await send('POST', `/items/1?a=1&${name}=${value}`);
      else if (at === 'form') r = await send('POST', '/items/1', ['content-type: application/x-www-form-urlencoded'], Buffer.from(`a=1&${name}=${value}`));
      else if (at === 'gzip-form') r = await send('POST', '/items/1', ['content-type: application/x-www-form-urlencoded', 'content-encoding: gzip'], gzipSync(`a=1&${name}=${value}`));
      else if (at === 'text') r = await send('POST', '/items/1', ['content-type: text/plain'], Buffer.from(`${name}=${value}`));
      else if (at === 'json') r = await send('POST', '/items/1', ['content-type: application/json'], Buffer.from(JSON.stringify({ a: 1, [decoded]: value })));
      else {
        const b = 'XyZ123';
        r = await send('POST', '/items/1', [`content-type: multipart/form-data; boundary=${b}`],
          Buffer.from(`--${b}\r\ncontent-disposition: form-data; name="${decoded}"\r\n\r\n${value}\r\n--${b}--\r\n`));
      }
      // (JSON member names and multipart part names carry the decoded spelling: servers do not percent-decode them.)
      assert.equal(r.status, 400, `${at} ${name}: ${r.status} ${r.body}`);
      assert.match(r.body, /method override/);
      assert.ok(!r.body.includes(value), 'the value is not echoed');
      assert.equal(up.received.length, before, 'nothing was forwarded');
    }), { numRuns: 80 });
  });

  test('ordinary uploads quoting `_method` in their content pass (fetch FormData, JSON); a part or member named so is still refused', async () => {
    // A file's content and a JSON string are content, not form pairs: servers parse a body by its declared type.
    const source = `<form method="post">\n<input type='hidden' name='_method' value='DELETE'>\n</form>\ncurl -d "a=1&_method=PUT" x\n_method=PATCH\n`;
    const form = new FormData();
    form.append('title', 'forms.php');
    form.append('file', new Blob([source], { type: 'text/plain' }), 'forms.php');
    for (const [body, type] of [[form, undefined], [JSON.stringify({ body: source }), 'application/json']] as const) {
      const r = await fetch(`${t.url}/proxy/plain/v1/upload`, { method: 'POST', headers: { authorization: `Bearer ${key}`, ...(type === undefined ? {} : { 'content-type': type }) }, body });
      assert.equal(r.status, 200, await r.text());
      assert.equal(up.last().method, 'POST');
      assert.ok(up.last().body.toString().includes("name='_method'"), 'forwarded as sent');
    }
    const b = 'XyZ123';
    const crlf = (s: string): Buffer => Buffer.from(s.replaceAll('\n', '\r\n'));
    const before = up.received.length;
    for (const [type, body] of [
      [`multipart/form-data; boundary=${b}`, crlf(`--${b}\ncontent-disposition: form-data; name="file"; filename="a"\n\nx\n--${b}\ncontent-disposition: form-data; name="_method"\n\nDELETE\n--${b}--\n`)],
      // PHP takes the first "boundary" anywhere in the header: `zz` here, not `${b}`.
      [`multipart/form-data; xboundary=zz; boundary=${b}`, crlf(`--${b}\n\nx\n--zz\ncontent-disposition: form-data; name="_method"\n\nDELETE\n--zz--\n`)],
      // PHP finds the first delimiter mid-line.
      [`multipart/form-data; boundary=${b}`, crlf(`preamble--${b}\ncontent-disposition: form-data; name="_method"\n\nDELETE\n--${b}--\n`)],
      // LF-only headers (PHP reads them) followed later by a CRLF CRLF.
      [`multipart/form-data; boundary=${b}`, Buffer.from(`--${b}\ncontent-disposition: form-data; name="_method"\n\nDELETE\r\n\r\n--${b}--\r\n`)],
      ['application/json', Buffer.from('{"a":1,"_method":"DELETE"}')],
      ['application/json', Buffer.from('a=1&_method=DELETE')], // declared JSON, is none: read as a whole
    ] as const) {
      const r = await send('POST', '/items/1', [`content-type: ${type}`], body, 'plain');
      assert.equal(r.status, 400, `${type} ${body.toString()}: ${r.status} ${r.body}`);
      assert.match(r.body, /method override/);
    }
    assert.equal(up.received.length, before, 'nothing was forwarded');
  });

  test('a raw `#` in the path is refused: an upstream reading it as a fragment would route `/admin`', async () => {
    assert.equal((await send('GET', '/admin')).status, 403);
    const before = up.received.length;
    for (const p of ['/admin#', '/admin#x', '/admin#/../ok', '/x#y?z=1']) {
      const r = await send('GET', p);
      assert.equal(r.status, 400, `${p}: ${r.status} ${r.body}`);
    }
    assert.equal(up.received.length, before, 'nothing was forwarded');
    const enc = await send('GET', '/admin%23x');
    assert.equal(enc.status, 200, 'an encoded # is a character of the segment, forwarded as it is');
    assert.equal(up.last().path, '/base/admin%23x');
  });

  test('a media-type or preference header carrying protected data is refused, not forwarded unmasked', async () => {
    const before = up.received.length;
    const cases: [string, string[], Buffer | undefined][] = [
      ['GET', ['accept: application/json; who=bob@example.com'], undefined],
      ['GET', ['accept-language: en, 078-05-1120'], undefined],
      ['GET', ['content-type: text/plain; n=4111111111111111'], undefined],
      ['POST', ['content-type: application/json; note=bob@example.com'], Buffer.from('{"a":1}')],
      ['POST', ['content-type: text/plain; charset=utf-8; ssn="078-05-1120"'], Buffer.from('hello')],
    ];
    for (const [m, h, b] of cases) {
      const r = await send(m, '/v1/x', h, b);
      assert.equal(r.status, 400, `${h.join()}: ${r.status} ${r.body}`);
      assert.ok(!r.body.includes('bob@example.com') && !r.body.includes('078-05-1120') && !r.body.includes('4111111111111111'), 'nothing echoed');
    }
    assert.equal(up.received.length, before, 'nothing was forwarded');
    const ok = await send('POST', '/v1/x', ['content-type: application/json; charset=utf-8', 'accept: application/json, text/plain;q=0.9', 'accept-language: en-US,en;q=0.8'], Buffer.from('{"to":"bob@example.com"}'));
    assert.equal(ok.status, 200, ok.body);
    assert.equal(up.last().body.toString(), '{"to":"[EMAIL]"}');
  });

  test('property: a protected value encoded as a server decodes it (percent once or twice, base64, references) leaves neither in a header, the query nor a form', async () => {
    const pct = (s: string, all: boolean): string => s.split('').map((c) => (all || !/[A-Za-z0-9]/.test(c) ? `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}` : c)).join('');
    const encode: Record<string, (s: string) => string> = {
      pctSome: (s) => pct(s, false), pctAll: (s) => pct(s, true), pctTwice: (s) => pct(pct(s, false), false),
      base64: (s) => Buffer.from(s).toString('base64'), ref: (s) => s.replaceAll('@', '&#64;').replaceAll('-', '&#45;'),
    };
    const arb = fc.tuple(fc.constantFrom('bob@example.com', 'alice.smith@corp.example.org', '078-05-1120', '4111-1111-1111-1111'), fc.constantFrom(...Object.keys(encode)), fc.constantFrom('header', 'query', 'form'));
    await fc.assert(fc.asyncProperty(arb, async ([value, how, at]) => {
      const token = encode[how]!(value);
      const before = up.received.length;
      const r = at === 'header' ? await send('GET', '/v1/x', [`x-note: ${token}`])
        : at === 'query' ? await send('GET', `/v1/x?q=${encodeURIComponent(token)}`)
          : await send('POST', '/v1/x', ['content-type: application/x-www-form-urlencoded'], Buffer.from(`q=${encodeURIComponent(token)}`));
      assert.ok(r.status === 200 || r.status === 400, `${at} ${how}: ${r.status} ${r.body}`);
      if (r.status === 400) return;
      assert.equal(up.received.length, before + 1);
      const got = up.last();
      const sent = at === 'header' ? String(got.headers['x-note']) : at === 'query' ? decodeURIComponent(got.path.slice(got.path.indexOf('?') + 3)) : decodeURIComponent(got.body.toString().slice(2));
      assert.notEqual(sent, token, `${at} ${how}: ${token} left unmasked`);
      assert.ok(!sent.includes(value), `${at} ${how}: ${value} left`);
    }), { numRuns: 60 });
  });

  test('llm connections: policy sees the method (context.llm.method): a DELETE of /v1/files/<id> is not the read', async () => {
    const before = up.received.length;
    const del = await send('DELETE', '/v1/files/file-1', [], undefined, 'models');
    assert.equal(del.status, 403, del.body);
    assert.match(del.body, /llm-no-delete/);
    assert.equal(up.received.length, before, 'nothing was forwarded');
    const get = await send('GET', '/v1/files/file-1', [], undefined, 'models');
    assert.equal(get.status, 200, get.body);
    assert.equal(up.last().method, 'GET');
    const post = await send('POST', '/v1/chat/completions', ['content-type: application/json'], Buffer.from('{"model":"m","messages":[{"role":"user","content":"hi"}]}'), 'models');
    assert.equal(post.status, 200, post.body);
  });
});
