import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import type { Connection } from '../../../connections/registry.ts';
import { MaskingRules } from '../../../masking/rules.ts';
import { OVERRIDE_HEADERS, reviewedHeaders, upstreamHeaders } from './headers.ts';

const hashKey = randomBytes(32);
const conn: Connection = { name: 'openai', type: 'llm', provider: 'openai', url: 'http://127.0.0.1:1', credentials: {}, tags: [], source: 'config' };
const egress = new MaskingRules([{ connections: ['*'], direction: 'both', strategy: 'redact', entities: ['EMAIL', 'US_SSN', 'PHONE', 'CREDIT_CARD', 'SECRET'] }], hashKey).textMasker('openai', 'request')!;

describe('upstreamHeaders: egress masking with the clean-text cache', () => {
  test('a value is masked as the masker masks it, whether or not the same text was clean before', () => {
    const pieces = fc.constantFrom('bob@example.com', '078-05-1121', '4111 1111 1111 1111', '(415) 555-0134', 'hello', ' ', '-', 'x', '1', 'Ｂob＠example.com');
    fc.assert(fc.property(fc.array(fc.array(pieces, { maxLength: 4 }).map((p) => p.join('')), { minLength: 1, maxLength: 6 }), (values) => {
      for (const v of [...values, ...values]) {
        const out = upstreamHeaders({ 'x-note': v, 'content-type': 'application/json' }, conn, egress);
        assert.equal(out['x-note'], egress.mask(v).text);
        assert.equal(out['content-type'], 'application/json');
      }
    }), { numRuns: 200 });
  });

  test('a header name that carries data is refused every time (a clean name before it changes nothing)', () => {
    for (let i = 0; i < 3; i++) {
      assert.equal(upstreamHeaders({ 'x-clean': 'a' }, conn, egress)['x-clean'], 'a');
      assert.throws(() => upstreamHeaders({ 'x-bob@example.com': 'a' }, conn, egress), /header name carries data/);
    }
  });

  test('a Connection header still drops the headers it lists; without one nothing extra is dropped', () => {
    const out = upstreamHeaders({ connection: 'x-hop, keep-alive', 'x-hop': '1', 'x-kept': '2' }, conn, egress);
    assert.equal(out['x-hop'], undefined);
    assert.equal(out['x-kept'], '2');
    assert.equal(upstreamHeaders({ 'x-hop': '1' }, conn, egress)['x-hop'], '1');
  });
});

describe('method and URL overrides; the headers a review is for', () => {
  test('override headers are never forwarded (policy decides on the method and path it sees)', () => {
    const client = Object.fromEntries([...OVERRIDE_HEADERS].map((n) => [n, 'DELETE']));
    const out = upstreamHeaders({ ...client, 'x-kept': '1' }, conn);
    for (const n of OVERRIDE_HEADERS) assert.equal(out[n], undefined, n);
    assert.equal(out['x-kept'], '1');
  });

  test('reviewedHeaders: what is forwarded, sorted; credentials, gateway-owned, hop-by-hop and trace context left out', () => {
    const bearer = { ...conn, type: 'http' as const, credentials: { header_name: { reveal: () => 'X-Vault' }, header_value: { reveal: () => 'v' } } } as unknown as Connection;
    const got = reviewedHeaders({
      'x-note': 'b', 'content-type': 'application/json', authorization: 'Bearer ghk_x', cookie: 'c', 'gatehouse-session': 's',
      'gatehouse-justification': 'j', connection: 'keep-alive', 'x-vault': 'client', traceparent: '00-1', 'x-http-method-override': 'DELETE', 'accept-encoding': 'gzip',
    }, bearer);
    assert.deepEqual(got, [['content-type', 'application/json'], ['x-note', 'b']]);
  });
});
