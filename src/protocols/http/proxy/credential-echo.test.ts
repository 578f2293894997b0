import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Connection } from '../../../connections/registry.ts';
import { MaskingRules } from '../../../masking/rules.ts';
import { responseMasker, scrubHeaders } from './credential-echo.ts';

const hashKey = randomBytes(32);
const conn: Connection = { name: 'api', type: 'http', url: 'http://127.0.0.1:1', credentials: {}, tags: [], source: 'config' };
const rules = new MaskingRules([{ connections: ['*'], direction: 'both', strategy: 'redact', entities: ['EMAIL', 'US_SSN', 'PHONE'] }], hashKey).textMasker('api', 'response')!;
const masker = responseMasker(conn, rules, hashKey);
const secrets = responseMasker(conn, undefined, hashKey);

describe('scrubHeaders: framing exempt only when it validates', () => {
  test('valid framing values pass as they are (a rate limit is not a phone number)', () => {
    const h = {
      'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', vary: 'Accept-Encoding', date: 'Wed, 21 Oct 2015 07:28:00 GMT',
      'x-ratelimit-reset': '4155550134', 'anthropic-ratelimit-requests-reset': '2026-12-07T11:00:00Z', 'retry-after': '30', etag: 'W/"abc-123"',
    };
    assert.equal(scrubHeaders(h, masker, secrets), h);
  });

  test('a media type keeps charset and boundary only; invalid framing is masked as content, escapes decoded', () => {
    const out = scrubHeaders({
      'content-type': 'multipart/form-data; boundary=xyz; owner="bob@example.com"', etag: '"bob@example.com"', 'x-took-ms': '078-05-1121',
      'retry-after': 'bob@example.com', location: '/u/bob%40example.com', 'x-n': 'bob\\u0040example.com', 'set-cookie': ['a=bob@example.com', 'b=1'],
    }, masker, secrets);
    assert.equal(out['content-type'], 'multipart/form-data; boundary=xyz');
    assert.ok(!JSON.stringify(out).includes('example.com'), JSON.stringify(out));
    assert.ok(!JSON.stringify(out).includes('078-05-1121'));
    assert.deepEqual(out['set-cookie'], ['a=[EMAIL]', 'b=1']);
  });
});
