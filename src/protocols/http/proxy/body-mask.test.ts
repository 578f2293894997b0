import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { TextMasker, defaultDetectors } from '../../../masking/text-masker.ts';
import { EscapeNormalizer, LineSplitter, MarkupNormalizer, MarkupSections, maskForm, maskJsonLine, maskJsonText, maskScalar } from './body-mask.ts';
import { charsetDecoder, DecodeError, TextDecoding } from './decode.ts';
import { bodyKind, contentCodings, mediaAllowed, parseMediaType } from './media.ts';

const masker = new TextMasker({ detectors: defaultDetectors(), strategy: 'redact', hashKey: randomBytes(32) });

/** Feeds `parts` through push/end and returns the concatenation. */
function stream<T extends string | Uint8Array>(s: { push(c: T): string; end(): string }, parts: readonly T[]): string {
  return parts.map((p) => s.push(p)).join('') + s.end();
}

function splits(n: number): fc.Arbitrary<number[]> {
  return fc.array(fc.nat(n), { maxLength: 6 }).map((a) => [...new Set(a)].sort((x, y) => x - y));
}

function cut<T extends string | Uint8Array>(whole: T, at: readonly number[]): T[] {
  const out: T[] = [];
  let prev = 0;
  for (const c of [...at.filter((x) => x <= whole.length), whole.length]) { out.push(whole.slice(prev, c) as T); prev = c; }
  return out;
}

test('media types: parsing, kinds, allow lists, content codings', () => {
  assert.deepEqual(parseMediaType('Text/Plain; charset="UTF-16"; format=flowed'), { type: 'text/plain', charset: 'utf-16', rest: '; format=flowed' });
  assert.equal(parseMediaType('text/plain, application/json').type, '');
  assert.equal(parseMediaType(undefined).type, '');
  assert.equal(bodyKind('application/problem+json'), 'json');
  assert.equal(bodyKind('application/x-ndjson'), 'ndjson');
  assert.equal(bodyKind('application/atom+xml'), 'markup');
  for (const t of ['application/javascript', 'text/javascript', 'text/css', 'application/pdf', 'application/octet-stream', '', 'multipart/form-data']) assert.equal(bodyKind(t), 'opaque', t);
  assert.ok(mediaAllowed('image/png', ['image/*']));
  assert.ok(!mediaAllowed('image/png', ['image/jpeg', 'application/*']));
  assert.ok(!mediaAllowed('', ['application/*']));
  assert.ok(mediaAllowed('', ['*/*']));
  assert.deepEqual(contentCodings('gzip, br'), ['gzip', 'br']);
  assert.deepEqual(contentCodings('identity'), []);
  assert.equal(contentCodings('compress'), undefined);
  assert.equal(contentCodings('gzip, gzip, gzip'), undefined);
});

test('JSON: keys, strings and numbers a detector matches are masked; other numbers stay numbers', () => {
  assert.equal(maskJsonText('{"bob@example.com": 4111111111111111, "n": 42, "s": "bob\\u0040example.com"}', masker), '{"[EMAIL]":"[CREDIT_CARD]","n":42,"s":"[EMAIL]"}');
  assert.equal(maskJsonLine('\u001e{"a":"bob@example.com"}\r\n', masker), '\u001e{"a":"[EMAIL]"}\r\n');
  assert.equal(maskJsonLine('\n', masker), '\n');
  assert.throws(() => maskJsonText('[' .repeat(100) + ']'.repeat(100), masker), DecodeError);
});

test('form data: decoded names and values masked, clean pairs kept byte for byte, malformed escapes refused', () => {
  assert.equal(maskForm('to=bob%40example.com&n=1&x=a%2Bb', masker), 'to=%5BEMAIL%5D&n=1&x=a%2Bb');
  assert.equal(maskForm('bob%40example.com', masker), '%5BEMAIL%5D');
  assert.equal(maskForm('a=1&b=%7E', masker), 'a=1&b=%7E');
  assert.throws(() => maskForm('a=%E0%A4%A', masker), DecodeError);
});

test('property: markup references are decoded the same whatever the chunking; significant characters stay references', () => {
  const piece = fc.constantFrom('bob', '&#64;', '&#x40;', '&commat;', '&lt;', '&amp;', '&#60;', '&#x3C;', '&#', '&', 'example', '.com', ' ', '&period;', '&nbsp;', '&#0;');
  fc.assert(fc.property(fc.array(piece, { maxLength: 12 }), splits(60), (parts, at) => {
    const text = parts.join('');
    const whole = stream(new MarkupNormalizer(), [text]);
    assert.equal(stream(new MarkupNormalizer(), cut(text, at)), whole);
    if (!/[<>]/.test(text)) assert.ok(!/[<>]/.test(whole), whole);
  }), { numRuns: 2000 });
  assert.equal(stream(new MarkupNormalizer(), ['bob&#64;ex&#x61;mple.com &lt;&#60;&#x26;']), 'bob@example.com &lt;&#60;&#x26;');
  assert.throws(() => stream(new MarkupNormalizer(), ['<!DOCTYPE a [<!EN', 'TITY e "x">]>']), DecodeError);
});

test('property: lines and text decoding do not depend on the chunking', () => {
  fc.assert(fc.property(fc.array(fc.constantFrom('a', '\n', '\r\n', '{"x":1}', 'é', '😀'), { maxLength: 12 }), splits(40), (parts, at) => {
    const text = parts.join('');
    const ls = new LineSplitter(1000);
    const lines = cut(text, at).flatMap((c) => ls.push(c));
    assert.equal(lines.join('') + ls.end(), text);
    for (const enc of ['utf-8', 'utf-16le', 'utf-16be'] as const) {
      const bytes = enc === 'utf-16be' ? Buffer.from(text, 'utf16le').swap16() : Buffer.from(text, enc === 'utf-8' ? 'utf8' : 'utf16le');
      assert.equal(stream(new TextDecoding(charsetDecoder(enc)!), cut(new Uint8Array(bytes), at)), text);
    }
  }), { numRuns: 1000 });
  // A BOM wins over the declared charset; NULs and invalid bytes throw.
  assert.equal(stream(new TextDecoding(charsetDecoder('utf-8')!), [new Uint8Array(Buffer.from('\ufeffhi', 'utf16le'))]), 'hi');
  assert.throws(() => stream(new TextDecoding(charsetDecoder(undefined)!), [new Uint8Array([0x68, 0x00, 0x69, 0x00])]), DecodeError);
  assert.throws(() => stream(new TextDecoding(charsetDecoder('utf-8')!), [new Uint8Array([0xc3])]), DecodeError);
  assert.equal(charsetDecoder('x-klingon'), undefined);
  assert.equal(charsetDecoder('iso-2022-kr'), undefined);
});

test('property: escapes a reader could undo are decoded the same whatever the chunking (unreserved and @ only)', () => {
  const piece = fc.constantFrom('bob', '\\u0040', '\\x40', '%40', '%2F', '\\u003c', '%20', '%', '\\', '\\u00', 'example', '.com', '%2e', ' ');
  fc.assert(fc.property(fc.array(piece, { maxLength: 12 }), splits(60), (parts, at) => {
    const text = parts.join('');
    const whole = stream(new EscapeNormalizer(), [text]);
    assert.equal(stream(new EscapeNormalizer(), cut(text, at)), whole);
  }), { numRuns: 2000 });
  assert.equal(stream(new EscapeNormalizer(), ['bob\\u0040ex', 'ample%2ecom %2F \\u003c %3A %20']), 'bob@example.com %2F \\u003c %3A  ');
  assert.equal(masker.mask(stream(new EscapeNormalizer(), ['mailto:bob%40example.com'])).text, 'mailto:[EMAIL]');
});

test('property: markup comments are dropped and CDATA becomes character data, whatever the chunking', () => {
  const doc = '<r><e>bob<![CDATA[@]]>example.com</e><c>4111<!-- x -- y -->1111</c><![CDATA[a<b&c]]]><!--x</r>';
  const want = '<r><e>bob@example.com</e><c>41111111</c>a&lt;b&amp;c]';
  fc.assert(fc.property(splits(doc.length), (at) => {
    assert.equal(stream(new MarkupSections(), cut(doc, at)), want);
  }), { numRuns: 300 });
  assert.equal(stream(new MarkupSections(), ['<p>a<', '!', '[CDATA', '[x]', ']', '>b</p>']), '<p>axb</p>');
  assert.equal(stream(new MarkupSections(), ['a<![CDATA[x<']), 'ax&lt;', 'an unterminated CDATA section is text');
});

test('property: maskScalar answers the same on every call (the memo of clean strings never hands back a value it masked)', () => {
  const value = fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.constantFrom('bob@example.com', 'bob%40example.com', 'bob%2540example.com', Buffer.from('mail bob@example.com').toString('base64'), 'bob&#64;example.com', 'application/json', 'gzip, br'),
  );
  fc.assert(fc.property(fc.array(value, { minLength: 1, maxLength: 12 }), (values) => {
    const first = values.map((v) => maskScalar(v, masker));
    for (const [i, v] of values.entries()) assert.equal(maskScalar(v, masker), first[i]);
    for (const [i, v] of values.entries()) if (v.includes('bob')) assert.ok(!first[i]!.includes('bob@') && !first[i]!.includes('bob%'), String(first[i]));
  }), { numRuns: 200 });
});
