import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { request } from 'undici';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';
import { startHttpUpstream, type HttpUpstream } from '../harness/http-upstream.ts';

const run = promisify(execFile);

const POLICIES = `
@id("developers-use-apis")
permit (principal in Group::"developers", action == Action::"http.request", resource);
`;

const EMAIL = 'olivia.bennett@example.com';
const CARD = '4111111111111111';
const SSN = '078-05-1120';

/** What a client could read out of `text`: character references, percent and JSON escapes undone. */
function reveal(text: string): string {
  let s = text.replace(/&#x([0-9a-f]+);?/gi, (_m, h: string) => String.fromCodePoint(parseInt(h, 16))).replace(/&#([0-9]+);?/g, (_m, d: string) => String.fromCodePoint(Number(d))).replaceAll('&commat;', '@');
  s = s.replace(/\\u([0-9a-f]{4})/gi, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
  try { s += `\n${decodeURIComponent(s.replaceAll('+', ' '))}`; } catch { /* not percent-encoded */ }
  return s.replace(/[\s-]/g, '');
}

function assertNoEntity(text: string, what: string): void {
  const r = reveal(text);
  for (const e of [EMAIL, CARD, SSN.replaceAll('-', '')]) assert.ok(!r.includes(e), `${what}: ${e} reached the client\n${text.slice(0, 300)}`);
}

describe('http connections: only what can be inspected passes', () => {
  let t: TestGateway;
  let up: HttpUpstream;
  let key: string;
  const get = async (conn: string, headers: Record<string, string> = {}): Promise<{ status: number; type: string; text: string; code?: string }> => {
    const r = await request(`${t.url}/proxy/${conn}/x`, { headers: { authorization: `Bearer ${key}`, ...headers } });
    const buf = Buffer.from(await r.body.arrayBuffer());
    const type = String(r.headers['content-type'] ?? '');
    const text = /utf-16/i.test(type) ? buf.toString('utf16le') : buf.toString('utf8');
    const code = r.statusCode >= 400 ? (JSON.parse(text) as { code?: string }).code : undefined;
    return { status: r.statusCode, type, text, ...(code === undefined ? {} : { code }) };
  };
  const answer = (type: string | undefined, body: Buffer | string, extra: Record<string, string> = {}): void => {
    up.answer = () => ({ headers: { ...(type === undefined ? {} : { 'content-type': type }), ...extra }, chunks: [Buffer.from(body)] });
  };
  before(async () => {
    up = await startHttpUpstream();
    t = await startTestGateway({
      policies: POLICIES,
      yaml: `connections:
  - { name: api, type: http, url: "${up.url}" }
  - { name: docs, type: http, url: "${up.url}", pass_media_types: ["application/pdf", "image/*"] }
  - { name: open, type: http, url: "${up.url}" }
masking:
  rules:
    - { connections: [api, docs], direction: both, entities: [EMAIL, CREDIT_CARD, US_SSN], strategy: redact }
`,
    });
    key = (await t.api('POST', '/api/v1/api-keys', { user: 'dev', groups: ['developers'] })).json.key as string;
  });
  after(async () => { await t.close(); await up.close(); });

  test('readable formats are masked: XML (references too), NDJSON, form data, JSON keys and numbers, HTML, CSV, SSE', async () => {
    const cases: [string, string][] = [
      ['application/xml', `<?xml version="1.0"?><u mail="${EMAIL}"><c>${CARD}</c><m>olivia.bennett&#64;example.com</m><n>olivia.bennett&#x40;example&period;com</n></u>`],
      ['text/html; charset=utf-8', `<p>${SSN}</p><a href="mailto:olivia.bennett&commat;example.com">x</a>`],
      ['application/x-ndjson', `{"a":"${EMAIL}"}\n{"b":"olivia.bennett\\u0040example.com"}\n\n{"${EMAIL}":${CARD}}\n`],
      ['application/jsonl', `{"a":"${SSN}"}\n`],
      ['application/x-www-form-urlencoded', `to=olivia.bennett%40example.com&card=${CARD}&n=1`],
      ['application/json', `{"${EMAIL}": ${CARD}, "s": "olivia.bennett\\u0040example.com", "nested": [[{"x": "${SSN}"}]]}`],
      ['application/vnd.api+json', `{"data":"${EMAIL}"}`],
      ['text/csv', `name,mail\nolivia,${EMAIL}\n`],
      ['text/event-stream', `data: {"m":"olivia.bennett\\u0040example.com"}\n\ndata: plain ${CARD}\n\n`],
    ];
    for (const [type, body] of cases) {
      answer(type, body);
      const r = await get('api', { accept: type });
      assert.equal(r.status, 200, `${type}: ${r.text}`);
      assertNoEntity(r.text, type);
      assert.match(r.text, /\[(EMAIL|CREDIT_CARD|US_SSN)\]|%5B(EMAIL|CREDIT_CARD)%5D/, type);
    }
    answer('application/json', '{"id": 1700000000, "ok": true, "f": 1.5}');
    assert.equal((await get('api')).text, '{"id":1700000000,"ok":true,"f":1.5}', 'numbers without entities stay numbers');
  });

  test('charsets: declared UTF-16 and Latin-1 are decoded, a BOM wins over the declaration, the answer is UTF-8', async () => {
    for (const [type, bytes] of [
      ['text/plain; charset=utf-16le', Buffer.from(`mail ${EMAIL}`, 'utf16le')],
      ['text/plain; charset=UTF-16', Buffer.from(`\ufeffmail ${EMAIL}`, 'utf16le')],
      ['text/plain; charset=utf-8', Buffer.from(`\ufeffmail ${EMAIL}`, 'utf16le')],
      ['text/plain', Buffer.from(`\ufeffmail ${EMAIL}`, 'utf16le')],
      ['application/json; charset=utf-16be', Buffer.from(`{"m":"${EMAIL}"}`, 'utf16le').swap16()],
      ['text/plain; charset=iso-8859-1', Buffer.from(`caf\u00e9 ${EMAIL}`, 'latin1')],
    ] as const) {
      answer(type, bytes);
      const r = await get('api');
      assert.equal(r.status, 200, `${type}: ${r.text}`);
      assert.match(r.type, /charset=utf-8/);
      assertNoEntity(r.text, type);
      assert.match(r.text, /\[EMAIL\]/, type);
    }
    assert.match((await get('api')).text, /café/);
    answer('text/plain; charset=x-klingon', `mail ${EMAIL}`);
    const bad = await get('api');
    assert.equal(bad.status, 502);
    assert.equal(bad.code, 'uninspectable_media');
  });

  test('everything else is refused with uninspectable_media (curl), unless the connection passes that type', async () => {
    for (const type of ['application/octet-stream', 'application/javascript', 'text/javascript', 'application/pdf', 'image/png', 'text/css', undefined]) {
      answer(type, `x ${EMAIL} y`);
      const { stdout } = await run('curl', ['-sS', '-H', `authorization: Bearer ${key}`, '-H', 'accept: */*', '-w', '\n%{http_code}', `${t.url}/proxy/api/x`]);
      assert.ok(stdout.endsWith('\n502'), `${String(type)}: ${stdout}`);
      assert.equal((JSON.parse(stdout.slice(0, stdout.lastIndexOf('\n'))) as { code: string }).code, 'uninspectable_media');
      assert.ok(!stdout.includes(EMAIL));
    }
    // Nothing to inspect: an empty body passes whatever its type (a 201, a DELETE's answer).
    for (const type of [undefined, 'application/octet-stream', 'application/json']) {
      answer(type, '');
      const empty = await get('api');
      assert.equal(empty.status, 200, String(type));
      assert.equal(empty.text, '');
    }
    answer('application/pdf', '%PDF-1.7 binary');
    assert.equal((await get('docs')).status, 200);
    answer('image/png', 'PNG');
    assert.equal((await get('docs')).status, 200);
    answer('application/zip', 'PK');
    assert.equal((await get('docs')).status, 502);
    answer('application/octet-stream', `x ${EMAIL}`);
    const open = await get('open');
    assert.equal(open.status, 200, 'no masking rule on the connection: nothing to refuse');
  });

  test('content codings: gzip, deflate, br decoded and masked; unknown or corrupt ones refused', async () => {
    const body = JSON.stringify({ m: EMAIL });
    for (const [coding, bytes] of [['gzip', gzipSync(body)], ['deflate', deflateSync(body)], ['br', brotliCompressSync(body)], ['gzip, br', brotliCompressSync(gzipSync(body))]] as const) {
      answer('application/json', bytes, { 'content-encoding': coding });
      const r = await get('api');
      assert.equal(r.status, 200, coding);
      assert.equal(r.text, '{"m":"[EMAIL]"}');
    }
    answer('application/json', body, { 'content-encoding': 'compress' });
    assert.equal((await get('api')).code, 'uninspectable_media');
    answer('application/json', Buffer.from('not gzip at all'), { 'content-encoding': 'gzip' });
    assert.equal((await get('api')).code, 'uninspectable_media');
    answer('text/plain', gzipSync(`x ${EMAIL}`), { 'content-encoding': 'gzip' });
    const streamed = await get('api');
    assert.equal(streamed.text, 'x [EMAIL]');
  });

  test('streamed formats stay streamed: the first NDJSON line reaches the client before the upstream sends the rest', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => { release = r; });
    up.answer = () => ({ headers: { 'content-type': 'application/x-ndjson' }, chunks: [Buffer.from(`{"a":"${EMAIL}"}\n{"b":`), () => gate, Buffer.from('"done"}\n')] });
    const r = await request(`${t.url}/proxy/api/x`, { headers: { authorization: `Bearer ${key}` } });
    const it = r.body[Symbol.asyncIterator]();
    const first = await it.next();
    assert.equal(Buffer.from(first.value as Uint8Array).toString(), '{"a":"[EMAIL]"}\n');
    release();
    let rest = '';
    for (let n = await it.next(); n.done !== true; n = await it.next()) rest += Buffer.from(n.value as Uint8Array).toString();
    assert.equal(rest, '{"b":"done"}\n');
  });

  test('egress: request bodies by media type, query strings and custom headers are redacted before they leave (fetch)', async () => {
    const send = async (conn: string, type: string | undefined, body: Buffer | string, extra: Record<string, string> = {}, path = '/in'): Promise<number> => {
      const r = await request(`${t.url}/proxy/${conn}${path}`, { method: 'POST', headers: { authorization: `Bearer ${key}`, ...(type === undefined ? {} : { 'content-type': type }), ...extra }, body });
      await r.body.arrayBuffer();
      return r.statusCode;
    };
    const cases: [string, Buffer | string, Record<string, string>][] = [
      ['application/json', `{"${EMAIL}": ${CARD}, "s": "olivia.bennett\\u0040example.com"}`, {}],
      ['application/x-www-form-urlencoded', `to=olivia.bennett%40example.com&card=${CARD}`, {}],
      ['application/xml', `<m to="olivia.bennett&#64;example.com">${SSN}</m>`, {}],
      ['application/x-ndjson', `{"a":"${EMAIL}"}\n{"b":${CARD}}\n`, {}],
      ['text/plain; charset=utf-16le', Buffer.from(`mail ${EMAIL}`, 'utf16le'), {}],
      ['application/json', gzipSync(`{"m":"${EMAIL}"}`), { 'content-encoding': 'gzip' }],
    ];
    for (const [type, body, extra] of cases) {
      up.answer = () => ({ headers: { 'content-type': 'application/json' }, chunks: [Buffer.from('{}')] });
      assert.equal(await send('api', type, body, extra), 200, type);
      const got = up.last();
      assertNoEntity(got.body.toString('utf8'), `request ${type}`);
      assert.match(got.body.toString('utf8'), /\[(EMAIL|CREDIT_CARD|US_SSN)\]|%5B(EMAIL|CREDIT_CARD)%5D/, type);
      assert.equal(got.headers['content-encoding'], undefined);
      assert.match(String(got.headers['content-type']), /charset=utf-8/);
    }
    await send('api', 'text/plain', 'hi', { 'x-user-email': EMAIL, 'x-note': `card ${CARD}` }, `/q?to=olivia.bennett%40example.com&card=${CARD}&plain=1`);
    const got = up.last();
    assertNoEntity(`${got.path} ${String(got.headers['x-user-email'])} ${String(got.headers['x-note'])}`, 'query and headers');
    assert.match(got.path, /^\/q\?to=%5BEMAIL%5D&card=%5BCREDIT_CARD%5D&plain=1$/);
    const before = up.received.length;
    for (const type of ['application/octet-stream', 'multipart/form-data; boundary=x', 'application/pdf', undefined]) {
      assert.equal(await send('api', type, `x ${EMAIL}`), 415, String(type));
    }
    assert.equal(await send('api', 'application/json', `{"m":"${EMAIL}"}`, { 'content-encoding': 'compress' }), 415);
    assert.equal(up.received.length, before, 'nothing uninspectable left');
    // Bodies over the inline threshold (64 KiB) are redacted on an inspection worker, the same way.
    const big = `${'x'.repeat(100_000)} ${EMAIL}`;
    assert.equal(await send('api', 'text/plain; charset=utf-16le', Buffer.from(big, 'utf16le')), 200);
    assert.ok(up.last().body.toString().endsWith(' [EMAIL]'));
    assert.match(String(up.last().headers['content-type']), /charset=utf-8/);
    assert.equal(await send('api', 'application/octet-stream', Buffer.alloc(100_000)), 415);
    assert.equal(await send('docs', 'application/pdf', '%PDF-1.7'), 200);
    assert.equal(up.last().body.toString(), '%PDF-1.7');
  });

  test('property: random request media type × charset × entity placement → nothing unredacted reaches the upstream', async () => {
    const placements: Record<string, (e: string) => string> = {
      'application/json': (e) => JSON.stringify({ [e]: [e, { k: e }] }),
      'application/x-ndjson': (e) => `${JSON.stringify({ v: e })}\n`,
      'application/xml': (e) => `<a b="${e}">${e.replace('@', '&#x40;')}</a>`,
      'application/x-www-form-urlencoded': (e) => `q=${encodeURIComponent(e)}&${encodeURIComponent(e)}=1`,
      'text/plain': (e) => `x ${e} y`,
      'application/octet-stream': (e) => e,
    };
    await fc.assert(fc.asyncProperty(
      fc.constantFrom(...Object.keys(placements)), fc.constantFrom('', '; charset=utf-8', '; charset=utf-16le', 'bom16', '; charset=iso-8859-1'), fc.constantFrom(EMAIL, CARD, SSN), fc.boolean(),
      async (type, cs, entity, gzip) => {
        const text = placements[type]!(entity);
        let bytes = cs === 'bom16' ? Buffer.from(`\ufeff${text}`, 'utf16le') : Buffer.from(text, cs.includes('utf-16') ? 'utf16le' : cs.includes('8859') ? 'latin1' : 'utf8');
        if (gzip) bytes = gzipSync(bytes);
        const before = up.received.length;
        const r = await request(`${t.url}/proxy/api/p`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': `${type}${cs === 'bom16' ? '' : cs}`, ...(gzip ? { 'content-encoding': 'gzip' } : {}) }, body: bytes });
        await r.body.arrayBuffer();
        assert.ok([200, 400, 415].includes(r.statusCode), `${type}${cs}: ${r.statusCode}`);
        if (up.received.length > before) assertNoEntity(up.last().body.toString('utf8'), `${type}${cs}`);
      },
    ), { numRuns: 100 });
  });

  test('property: random media type × charset × entity placement → nothing unmasked reaches the client', async () => {
    const placements: Record<string, (e: string) => string> = {
      'application/json': (e) => JSON.stringify({ [e]: [e, { k: e }] }),
      'application/x-ndjson': (e) => `${JSON.stringify({ v: e })}\n${JSON.stringify([e])}\n`,
      'application/xml': (e) => `<a b="${e}">${e.replace('@', '&#64;')} ${e}</a>`,
      'text/html': (e) => `<p>${e.replace('@', '&commat;')}</p>${e}`,
      'application/x-www-form-urlencoded': (e) => `q=${encodeURIComponent(e)}&${encodeURIComponent(e)}=1`,
      'text/plain': (e) => `x ${e} y ${JSON.stringify({ k: e.replace('@', '\\u0040') })} ${encodeURIComponent(e)}`,
      'text/csv': (e) => `a,${e}\n`,
      'application/octet-stream': (e) => e,
      'application/javascript': (e) => `var a = "${e}";`,
    };
    const charsets = ['', '; charset=utf-8', '; charset=utf-16le', '; charset=utf-16be', '; charset=windows-1252', 'bom16'];
    await fc.assert(fc.asyncProperty(
      fc.constantFrom(...Object.keys(placements)), fc.constantFrom(...charsets), fc.constantFrom(EMAIL, CARD, SSN, `4111 1111 1111 1111`), fc.nat(5),
      async (type, cs, entity, split) => {
        const text = placements[type]!(entity);
        let bytes: Buffer;
        if (cs === 'bom16') bytes = Buffer.from(`\ufeff${text}`, 'utf16le');
        else if (cs.includes('utf-16le')) bytes = Buffer.from(text, 'utf16le');
        else if (cs.includes('utf-16be')) bytes = Buffer.from(text, 'utf16le').swap16();
        else bytes = Buffer.from(text, cs.includes('1252') ? 'latin1' : 'utf8');
        const cut = Math.floor((bytes.length * split) / 5);
        up.answer = () => ({ headers: { 'content-type': `${type}${cs === 'bom16' ? '' : cs}` }, chunks: [bytes.subarray(0, cut), bytes.subarray(cut)].filter((b) => b.length > 0) });
        const r = await get('api');
        assert.ok(r.status === 200 || (r.status === 502 && r.code === 'uninspectable_media'), `${type}${cs}: ${r.status} ${r.text}`);
        assertNoEntity(r.text, `${type}${cs}`);
      },
    ), { numRuns: 150 });
  });
});
