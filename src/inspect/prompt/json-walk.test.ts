import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TextMasker, defaultDetectors } from '../../masking/text-masker.ts';
import { detectorsFor } from '../../masking/detectors/index.ts';
import { customDetector } from '../../masking/detectors/custom.ts';
import { inspectPrompt, maskResponseJson, redactDocument } from './inspect.ts';
import { isCredentialKey } from './credential-keys.ts';
import { gzipSync } from 'node:zlib';
import { decodePayload, MAX_INFLATED_PER_DOCUMENT, MAX_PAYLOAD_CHARS } from './payload.ts';

const hashKey = Buffer.alloc(32, 3);
const scanner = new TextMasker({ detectors: defaultDetectors(), strategy: 'redact', hashKey });
const pii = new TextMasker({ detectors: detectorsFor(['EMAIL', 'CREDIT_CARD', 'US_SSN', 'PHONE']), strategy: 'redact', hashKey });
const all = scanner;
const b64 = (s: string): string => Buffer.from(s).toString('base64');
/** Base64 of `A\0` repeated, then `x <e>` (even length): BOM-less UTF-16 to a byte count, an email to a reader dropping NULs. */
const nulPadded = (e: string): string => { const t = `x ${e}`; return b64(`${'A\0'.repeat(t.length + 4)}${t.length % 2 === 1 ? ' ' : ''}${t}`); };

describe('egress: everything that leaves is scanned (issue 16, item 2)', () => {
  const cases: [string, unknown][] = [
    ['a data: URL with text after the prefix', { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${b64('mail bob@example.com')}` } }] }] }],
    ['a string that merely starts like a data: URL', { messages: [{ role: 'user', content: 'data:text/plain;base64, bob@example.com' }] }],
    ['a percent-encoded data: URL', { input: 'data:text/plain,mail%20bob%40example.com' }],
    ['an anthropic base64 document with plaintext', { messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: b64('card 4111 1111 1111 1111') } }] }] }],
    ['UTF-16 text in base64', { messages: [{ role: 'user', content: [{ type: 'input_file', file_data: Buffer.from('\ufeffbob@example.com', 'utf16le').toString('base64') }] }] }],
    ['"A\\0" repeated then plaintext (read as BOM-less UTF-16, an email with the NULs dropped)', { input: nulPadded('bob@example.com') }],
    ['"A\\0" repeated, a byte that is not UTF-8, then plaintext (UTF-16 and Latin-1 readings)', { input: Buffer.concat([Buffer.from('A\0'.repeat(40)), Buffer.from([0xff, 0x41]), Buffer.from('mail bob@example.com')]).toString('base64') }],
    ['base64 of base64 of text', { input: b64(b64('call 4111111111111111 now')) }],
    ['base64url without padding', { input: Buffer.from('to bob@example.com!').toString('base64url') }],
    ['MIME base64 with line breaks', { input: b64(`a long letter to bob@example.com, ${'x'.repeat(60)}`).replace(/.{76}/g, '$&\r\n') }],
    ['hex-encoded text', { input: Buffer.from('mail bob@example.com').toString('hex') }],
    ['percent-escaped text outside a data: URL', { input: 'bob%40example.com' }],
    ['metadata under a structural key', { model: 'm', metadata: { status: 'card 4111 1111 1111 1111' } }],
    ['tool_call_id', { messages: [{ role: 'tool', tool_call_id: 'call bob@example.com', content: 'ok' }] }],
    ['an object key', { messages: [{ role: 'user', content: 'x' }], metadata: { 'bob@example.com': 1 } }],
    ['a JSON number', { messages: [], metadata: { card: 4111111111111111 } }],
    ['a nested array', { a: [[[['ssn 078-05-1121']]]] }],
    ['the model name', { model: 'gpt bob@example.com' }],
  ];
  for (const [name, doc] of cases) {
    test(name, () => {
      const f = inspectPrompt(structuredClone(doc), scanner);
      assert.ok(f.findings > 0, `no finding for ${name}`);
      const out = JSON.stringify(redactDocument(structuredClone(doc), pii));
      for (const v of ['bob@example.com', 'bob%40example.com', '4111 1111 1111 1111', '4111111111111111', '078-05-1121']) assert.ok(!out.includes(v), `${v} left in ${out}`);
      assert.ok(!/Ym9iQGV4YW1wbGUuY29t|NDExMSAxMTExIDExMTEgMTExMQ/.test(out), 'the base64 of an entity is gone too');
    });
  }

  test('key context: a credential-named member is a SECRET whatever its entropy, in values and tool arguments', () => {
    for (const doc of [
      { api_key: 'Xy7#pQ2vLm9zR' }, { metadata: { Password: 'hunter2' } }, { 'X-Api-Key': 'abc' }, { clientSecret: 12345 },
      { tools: [{ type: 'mcp', authorization: 'short' }] }, { tokens: { access_token: 'aaaa' } }, { creds: { private_key: ['k1'] } },
      { 'ｐａｓｓｗｏｒｄ': 'hunter2' }, { 'pass\u200bword': 'hunter2' }, { secret: { value: 'short' } }, { credentials: [{ user: 'u', pass: 'pw1' }] },
      { messages: [{ role: 'tool', content: '{"auth":{"value":"k1"}}' }] },
      { messages: [{ role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'login', arguments: '{"user":"a","password":"pw1"}' } }] }] },
    ]) {
      const f = inspectPrompt(structuredClone(doc), scanner);
      assert.deepEqual(f.secret_types, ['SECRET'], JSON.stringify(doc));
      const out = JSON.stringify(redactDocument(structuredClone(doc), all));
      for (const v of ['Xy7#pQ2vLm9zR', 'hunter2', '"abc"', '12345', 'short', 'aaaa', 'k1', 'pw1']) assert.ok(!out.includes(v), `${v} left in ${out}`);
    }
  });

  test('a __proto__ key stays an own member when its object is rebuilt', () => {
    const doc = JSON.parse('{"bob@example.com": 1, "__proto__": {"x": "4111 1111 1111 1111"}}') as Record<string, unknown>;
    const out = JSON.stringify(redactDocument(doc, pii));
    assert.equal(out, '{"[EMAIL]":1,"__proto__":{"x":"[CREDIT_CARD]"}}');
  });

  test('structure that is not a credential is not a finding', () => {
    const f = inspectPrompt({
      model: 'gpt-4o-mini', max_tokens: 100, temperature: 0.2, stream: true, messages: [{ role: 'user', content: 'What is six times seven?' }],
      tools: [{ type: 'function', function: { name: 'login', parameters: { type: 'object', properties: { password: { type: 'string', description: 'the password' } } } } }],
      usage: { prompt_tokens: 1, total_tokens: 2 }, created: 1_700_000_000,
    }, scanner);
    assert.equal(f.findings, 0);
    for (const k of ['max_tokens', 'input_tokens', 'tokenizer', 'token_type', 'keys', 'passage']) assert.equal(isCredentialKey(k), false, k);
  });

  test('a clean document is unchanged by redaction, and a custom pattern scans the structural words too', () => {
    const doc = { model: 'gpt-4o', messages: [{ role: 'assistant', content: 'Hello there.' }] };
    assert.deepEqual(redactDocument(structuredClone(doc), pii), doc);
    const custom = new TextMasker({ detectors: [customDetector({ pattern: 'assistant', entity: 'SECRET', maxLength: 20 })], strategy: 'redact', hashKey });
    assert.ok(!JSON.stringify(redactDocument(structuredClone(doc), custom)).includes('assistant'));
  });

  test('a binary attachment is left intact and counted; an oversized payload fails closed', () => {
    const bin = Buffer.from([0, 1, 2, 255, 254, 0x89, 0x50, 0x4e, 0x47, 9, 9, 9, 200, 201, 202, 203]).toString('base64');
    const doc = { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${bin}` } }] }] };
    const f = inspectPrompt(doc, scanner);
    assert.deepEqual([f.attachments, f.attachment_types, f.attachment_bytes], [1, ['image/png'], 16]);
    assert.deepEqual(redactDocument(structuredClone(doc), pii), doc);
    const huge = { input: `data:text/plain;base64,${'A'.repeat(MAX_PAYLOAD_CHARS + 4)}` };
    assert.throws(() => inspectPrompt(huge, scanner), RangeError);
  });

  test('gzip payloads are bounded per document: bombs each under the per-payload limit are refused together', () => {
    // The budget is shared and decremented across a document's strings.
    const small = gzipSync(Buffer.alloc(4000, 0x61)).toString('base64');
    const budget = { left: 10_000 };
    assert.equal(decodePayload(small, { budget })?.kind, 'text');
    assert.equal(decodePayload(small, { budget })?.kind, 'text');
    assert.equal(budget.left, 2000);
    assert.throws(() => decodePayload(small, { budget }), (err: unknown) => err instanceof RangeError && /in one document/.test(err.message));
    // A walk: three bombs, each under the per-payload limit and all three in well under 64 KB, exceed the document's budget.
    const third = Math.ceil(MAX_INFLATED_PER_DOCUMENT / 3) + 1024;
    assert.ok(third < MAX_PAYLOAD_CHARS);
    const bomb = gzipSync(Buffer.alloc(third, 0x61)).toString('base64');
    assert.ok(bomb.length * 3 < 64 * 1024, `${bomb.length} characters`);
    const three = { messages: [{ role: 'user', content: [bomb, bomb, bomb].map((file_data) => ({ type: 'input_file', file_data })) }] };
    assert.throws(() => inspectPrompt(three, scanner), (err: unknown) => err instanceof RangeError && /compressed payloads in one document/.test(err.message));
  });
});

describe('responses: every value the client receives is masked (issue 16, item 1)', () => {
  test('logprobs are emptied, extra fields, ids, names and numbers are masked', () => {
    const doc = {
      id: 'chatcmpl-4111111111111111', object: 'chat.completion', model: 'm', citations: ['https://x.test/?u=bob@example.com'],
      choices: [{
        index: 0, finish_reason: 'stop bob@example.com', search_results: [{ snippet: 'ssn 078-05-1121' }],
        logprobs: { content: [{ token: 'bob', bytes: [98, 111, 98], top_logprobs: [{ token: '@', bytes: [64] }] }] },
        message: { role: 'assistant', content: 'ok', tool_calls: [{ id: 'call bob@example.com', type: 'function', function: { name: 'bob@example.com', arguments: '{}' } }] },
      }],
      usage: { total_tokens: 4111111111111111 },
    };
    const out = JSON.stringify(maskResponseJson(doc, pii));
    for (const v of ['bob@example.com', '4111111111111111', '078-05-1121', '"bob"', '[98,111,98]']) assert.ok(!out.includes(v), `${v} in ${out}`);
    assert.match(out, /"logprobs":null/);
    const resp = maskResponseJson({ output: [{ type: 'message', content: [{ type: 'output_text', text: 'hi', logprobs: [{ token: 'x', bytes: [1] }] }] }] }, pii);
    assert.match(JSON.stringify(resp), /"logprobs":\[\]/);
  });

  test('key context in a JSON response', () => {
    const out = JSON.stringify(maskResponseJson({ content: [{ type: 'tool_use', input: { api_key: 'Xy7#pQ2vLm9zR' } }] }, all));
    assert.ok(!out.includes('Xy7#pQ2vLm9zR'), out);
  });
});

/** Random documents with entities placed anywhere: values, keys, numbers, nested arrays, base64 text, data URLs. */
const ENTITIES = ['bob@example.com', '4111 1111 1111 1111', '078-05-1121', 'first.last+x@mail.example.net'];
const NUMERIC = [4111111111111111, 5555555555554444];
const entity = fc.constantFrom(...ENTITIES);
const filler = fc.string({ unit: fc.constantFrom(...'ab yz.,:;-"\\é'.split('')), maxLength: 8 });
const carrier = fc.oneof(
  fc.tuple(filler, entity).map(([f, e]) => `${f} ${e} `),
  entity.map((e) => `data:image/png;base64,${b64(`x ${e}`)}`),
  entity.map((e) => b64(`see ${e} now`)),
  entity.map(nulPadded),
  entity.map((e) => `data:text/plain,${encodeURIComponent(`x ${e}`)}`),
  entity.map((e) => Buffer.from(`x ${e}`).toString('hex')),
  entity.map((e) => encodeURIComponent(`x ${e}`)),
);
const leaf: fc.Arbitrary<unknown> = fc.oneof(carrier, fc.constantFrom(...NUMERIC), filler, fc.integer(), fc.constant(null));
const docArb = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('arr'), tie('obj')),
  arr: fc.array(tie('node'), { maxLength: 4 }),
  obj: fc.array(fc.tuple(fc.oneof(fc.constantFrom('content', 'id', 'type', 'metadata', 'status', 'tool_call_id', 'model', 'data', 'x'), carrier), tie('node')), { maxLength: 4 })
    .map((es) => Object.fromEntries(es)),
})).obj;

function leaks(text: string): string[] {
  const found = [...ENTITIES, ...NUMERIC.map(String)].filter((e) => text.includes(e) || text.includes(JSON.stringify(e).slice(1, -1)));
  for (const e of ENTITIES) {
    for (const enc of [encodeURIComponent(`x ${e}`), b64(`x ${e}`), b64(`see ${e} now`), nulPadded(e), Buffer.from(`x ${e}`).toString('hex')]) if (text.includes(enc)) found.push(`encoded ${e}`);
  }
  return found;
}

test('property: random request documents → nothing unredacted leaves, and the facts saw every entity', () => {
  fc.assert(fc.property(docArb, (doc) => {
    const before = JSON.stringify(doc);
    const planted = leaks(before).length;
    const f = inspectPrompt(JSON.parse(before), scanner);
    if (planted > 0) assert.ok(f.findings > 0 && f.pii_types.length > 0, `facts missed an entity in ${before}`);
    const out = JSON.stringify(redactDocument(JSON.parse(before), pii));
    assert.deepEqual(leaks(out), [], `leaked from ${before}: ${out}`);
    const resp = JSON.stringify(maskResponseJson(JSON.parse(before), pii));
    assert.deepEqual(leaks(resp), [], `response leaked from ${before}: ${resp}`);
  }), { numRuns: 400 });
});
