import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { assertNoBodyOverride, assertNoQueryOverride } from './method-override.ts';

const refused = (body: string, type: string): boolean => {
  try {
    assertNoBodyOverride(Buffer.from(body, 'latin1'), type, undefined, 1 << 24);
    return false;
  } catch {
    return true;
  }
};

// Content made of the pieces that could confuse a part reader: delimiters, line ends, names.
const content = fc.array(fc.constantFrom('-', '--', '\r\n', '\n', '\r\n\r\n', '_method', 'name=', 'name="_method"', "name='_method'", '&_method=PUT', 'x', ' ', '"', ';'), { maxLength: 12 }).map((a) => a.join(''));
const partName = fc.constantFrom('a', 'file', 'title', '_method', '_METHOD', '_method[]');

describe('method override in a declared multipart body', () => {
  it('property: a part named as an override is refused, whatever the other parts hold', () => {
    fc.assert(fc.property(fc.array(fc.tuple(partName, content), { minLength: 1, maxLength: 5 }), fc.constantFrom('\r\n', '\n'), (parts, eol) => {
      const b = 'XyZ123';
      const body = parts.map(([n, c]) => `--${b}${eol}Content-Disposition: form-data; name="${n}"${eol}${eol}${c}${eol}`).join('') + `--${b}--${eol}`;
      const named = parts.some(([n]) => n.toLowerCase().startsWith('_method'));
      if (named) assert.ok(refused(body, `multipart/form-data; boundary=${b}`), body);
    }), { numRuns: 400 });
  });

  it('a file quoting `_method` in its content is not refused; JSON strings quoting it neither', () => {
    const b = 'XyZ123';
    const file = "<input type='hidden' name='_method' value='DELETE'>\r\na=1&_method=PUT\r\n_method=PATCH";
    assert.equal(refused(`--${b}\r\nContent-Disposition: form-data; name="file"; filename="f.php"\r\n\r\n${file}\r\n--${b}--\r\n`, `multipart/form-data; boundary=${b}`), false);
    assert.equal(refused(JSON.stringify({ text: file }), 'application/json'), false);
    assert.equal(refused(JSON.stringify({ _method: 'DELETE' }), 'application/json'), true);
    assert.equal(refused(`a=1&_method=DELETE`, 'application/json'), true, 'declared JSON that is none is read as a whole');
  });

  it('stays linear on a body of many tiny parts', () => {
    const b = 'XyZ123';
    const body = `--${b}\r\n` + '\n--x'.repeat(500_000) + 'method';
    const t0 = performance.now();
    refused(body, `multipart/form-data; boundary=${b}`);
    assert.ok(performance.now() - t0 < 2000);
  });
});

describe('method override names with a malformed escape beside valid ones', () => {
  it('the valid escapes are decoded as servers decode them (`_m%65thod[%]` is the array `_method` to PHP)', () => {
    for (const name of ['_m%65thod[%]', '_m%65thod[%5', '%5Fmethod[%zz]', '_METH%4fD[%]']) {
      assert.equal(refused(`${name}=DELETE`, 'application/x-www-form-urlencoded'), true, name);
      assert.throws(() => { assertNoQueryOverride(`?a=1&${name}=DELETE`); }, name);
    }
    assert.equal(refused('payment_m%65thod%=card', 'application/x-www-form-urlencoded'), false);
  });
});
