import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { normalizeForDetection, originalRange } from './normalize.ts';

describe('normalizeForDetection', () => {
  test('plain ASCII is returned as is, without a map', () => {
    const s = 'card 4111-1111-1111-1111\r\nok';
    const d = normalizeForDetection(s);
    assert.equal(d.text, s);
    assert.equal(d.starts, undefined);
  });

  test('maps every disguise a reader looks through', () => {
    const cases: [string, string][] = [
      ['４１１１ １１１１', '4111 1111'], // full-width digits, ideographic space
      ['4\u200b1\u200c1\u200d1\u2060\ufeff1\u00ad1', '411111'], // format characters removed
      ['123\u201345\u20146789', '123-45-6789'], // en and em dash
      ['1\u22122\u20113\u2010', '1-2-3-'], // minus sign, non-breaking hyphen, hyphen
      ['4111\u00a01111\u20091111\u202f1111', '4111 1111 1111 1111'], // NBSP, thin, narrow NBSP
      ['٤١١١ ४१११ ৪১১১', '4111 4111 4111'], // Arabic-Indic, Devanagari, Bengali digits
      ['𝟒𝟏𝟏𝟏 ①②', '4111 12'], // mathematical digits, circled digits
      ['❹➃⓿', '440'], // dingbat numbers
      ['4\ufe0f\u20e31\u0332', '41'], // keycap and combining marks
      ['\u202ebob\u202c＠ｅｘａｍｐｌｅ．ｃｏｍ', 'bob@example.com'], // bidi controls, full-width letters
      ['例子。广告', '例子.广告'], // ideographic full stop
      ['a\tb\u2028c', 'a b\nc'],
      ['x\u0000y\u007fz', 'xyz'], // control characters
      ['ＡＫＩＡ', 'AKIA'],
    ];
    for (const [input, expected] of cases) assert.equal(normalizeForDetection(input).text, expected, JSON.stringify(input));
  });

  test('ordinary text keeps its letters, emoji and accents', () => {
    for (const s of ['héllo naïve café', '漢字とかな', 'Привет, мир', '😀👍🏽 done', 'مرحبا']) assert.equal(normalizeForDetection(s).text, s);
  });

  test('ranges map back to whole original code points, removed characters inside included', () => {
    const s = 'x ４\u200b1\u200b1\u200b1 ㎒ y';
    const d = normalizeForDetection(s);
    assert.equal(d.text, 'x 4111 MHz y');
    const i = d.text.indexOf('4111');
    const [a, b] = originalRange(d, i, i + 4);
    assert.equal(s.slice(a, b), '４\u200b1\u200b1\u200b1');
    const m = d.text.indexOf('H');
    assert.equal(s.slice(...originalRange(d, m, m + 1)), '㎒');
  });

  test('normalizing chunk by chunk equals normalizing the whole (cut between code points)', () => {
    const unit = fc.constantFrom('a', '4', ' ', '-', '\u200b', '４', '\u2013', '\u00a0', '㎒', '😀', 'é', '\u0301', '٤', '\t', '@', '.');
    fc.assert(fc.property(fc.array(unit, { maxLength: 40 }), fc.array(fc.nat(40)), (units, cuts) => {
      const text = units.join('');
      const whole = normalizeForDetection(text).text;
      const points = [...new Set(cuts.map((c) => c % (units.length + 1)))].sort((x, y) => x - y);
      let out = '';
      let prev = 0;
      for (const c of [...points, units.length]) { out += normalizeForDetection(units.slice(prev, c).join('')).text; prev = c; }
      assert.equal(out, whole);
    }));
  });

  test('every original range is well-formed and covers what it maps', () => {
    const unit = fc.constantFrom('a', '4', '\u200b', '４', '㎒', '😀', '\u0301', 'ﷺ', '\ud800', 'x');
    fc.assert(fc.property(fc.array(unit, { maxLength: 30 }), (units) => {
      const text = units.join('');
      const d = normalizeForDetection(text);
      for (let s = 0; s < d.text.length; s++) {
        const [a, b] = originalRange(d, s, s + 1);
        assert.ok(a >= 0 && a < b && b <= text.length);
        if (s > 0) assert.ok(originalRange(d, s - 1, s)[0] <= a);
      }
    }));
  });
});
