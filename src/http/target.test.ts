import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isGatehouseError } from '../kernel/errors.ts';
import { parseProxyTarget } from './target.ts';
import { isWellFormedUtf8, normalizePath } from './path-normalize.ts';

const endpoint = (t: string): string => parseProxyTarget(`/proxy/api${t}`).endpoint;
const refused = (t: string): boolean => {
  try {
    parseProxyTarget(`/proxy/api${t}`);
    return false;
  } catch (err) {
    return isGatehouseError(err, 'bad_request');
  }
};

test('percent-encoded unreserved characters are decoded, other escapes upper-cased, case kept', () => {
  assert.equal(endpoint('/%61dmin/secret'), '/admin/secret');
  assert.equal(endpoint('/%41DMIN/%7euser/a%2Db%5fc%2ed'), '/ADMIN/~user/a-b_c.d');
  assert.equal(endpoint('/x%3ay/%40me/caf%c3%a9'), '/x%3Ay/%40me/caf%C3%A9');
  assert.equal(endpoint('/v1/items/'), '/v1/items/');
  assert.equal(endpoint('/100%25'), '/100%25');
  assert.equal(parseProxyTarget('/proxy/api/%61?q=%61').query, '?q=%61');
});

test('ambiguous encodings are refused', () => {
  for (const t of [
    '/a%2Fb', '/a%2fb', '/a%5Cb', '/a%00', '/a%0a', '/a%7F', '/%2e%2e/x', '/%2E/x', '/a/%2e%2E', '/a/..', '/./a', '//evil',
    '/a%2561', '/a%', '/a%4', '/a%zz', '/a%c0%af', '/a%e0%80%af', '/a%ed%a0%80', '/a%f4%90%80%80', '/a%c3', '/a%80', '/a%ff',
    '/a;b', '/;x/admin', '/a\\b', '/a b', '/a\u00e9', '/a\u0000',
  ]) assert.ok(refused(t), `${t} should be refused`);
});

test('isWellFormedUtf8 agrees with the platform decoder on random byte strings', () => {
  const dec = new TextDecoder('utf-8', { fatal: true });
  fc.assert(fc.property(fc.array(fc.integer({ min: 0x80, max: 0xff }), { maxLength: 8 }), fc.array(fc.integer({ min: 0, max: 0xff }), { maxLength: 8 }), (hi, mixed) => {
    for (const bytes of [hi, mixed]) {
      let ok = true;
      try { dec.decode(Uint8Array.from(bytes)); } catch { ok = false; }
      assert.equal(isWellFormedUtf8(bytes), ok, JSON.stringify(bytes));
    }
  }), { numRuns: 2000 });
});

/** A random spelling of `s`: each character kept or percent-encoded, upper- or lower-case hex. */
const spelling = (s: string): fc.Arbitrary<string> => fc.array(fc.tuple(fc.boolean(), fc.boolean()), { minLength: s.length, maxLength: s.length })
  .map((flags) => s.split('').map((ch, i) => {
    const [enc, upper] = flags[i]!;
    if (!enc || ch === '/') return ch;
    const h = ch.charCodeAt(0).toString(16).padStart(2, '0');
    return `%${upper ? h.toUpperCase() : h}`;
  }).join(''));

test('property: every percent-encoded spelling of a path normalizes to that path (what policy sees) or is refused', () => {
  fc.assert(fc.property(
    fc.constantFrom('/admin/secret', '/admin', '/v1/admin-panel/x', '/internal/keys.json', '/a_b~c/d-e.f'),
    fc.context(),
    (path, ctx) => {
      fc.assert(fc.property(spelling(path), (spelled) => {
        ctx.log(spelled);
        assert.equal(endpoint(spelled), path);
      }), { numRuns: 50 });
    },
  ), { numRuns: 20 });
});

test('property: normalization is idempotent and its output has only upper-case escapes of non-unreserved bytes', () => {
  const seg = fc.array(fc.oneof(
    fc.constantFrom('a', 'Z', '0', '-', '.', '_', '~', ':', '@', '!', '$', '&', "'", '(', ')', '*', '+', ',', '='),
    fc.integer({ min: 0x21, max: 0x7e }).map((b) => `%${b.toString(16)}`),
  ), { minLength: 1, maxLength: 8 }).map((a) => a.join(''));
  fc.assert(fc.property(fc.array(seg, { minLength: 1, maxLength: 4 }), (segs) => {
    const raw = segs.join('/');
    let once: string;
    try { once = normalizePath(raw); } catch { return; }
    assert.equal(normalizePath(once), once);
    for (const m of once.matchAll(/%([0-9A-Fa-f]{2})/g)) {
      assert.equal(m[1], m[1]!.toUpperCase());
      assert.ok(!/[A-Za-z0-9\-._~]/.test(String.fromCharCode(parseInt(m[1], 16))), `unreserved left encoded in ${once}`);
    }
  }), { numRuns: 2000 });
});
