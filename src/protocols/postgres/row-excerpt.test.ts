import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RowExcerpt } from './row-excerpt.ts';
import type { FieldDescription } from './backend-messages.ts';

/** A DataRow body: column count, then each value (length -1 for NULL). */
function row(...values: (string | Buffer | null)[]): Buffer {
  const parts: Buffer[] = [Buffer.from([0, values.length])];
  for (const v of values) {
    const len = Buffer.alloc(4);
    if (v === null) { len.writeInt32BE(-1); parts.push(len); continue; }
    const b = typeof v === 'string' ? Buffer.from(v) : v;
    len.writeInt32BE(b.length);
    parts.push(len, b);
  }
  return Buffer.concat(parts);
}

const field = (name: string): FieldDescription => ({ name, tableOid: 0, attnum: 0, typeOid: 25, typeSize: -1, typeMod: -1, format: 0 });

test('keeps the first rows with their column names; NULL stays null, binary becomes a byte count', () => {
  const x = new RowExcerpt((s) => s);
  x.columns([field('id'), field('note'), field('blob')]);
  x.add(row('1', null, Buffer.from([0, 1, 2, 0xff])));
  assert.deepEqual(x.take(), { columns: ['id', 'note', 'blob'], sample: [['1', null, '[4 bytes]']], sample_truncated: false });
  assert.equal(x.take(), undefined, 'take starts over');
});

test('bounded by rows, characters and value length; marked truncated', () => {
  const x = new RowExcerpt((s) => s, { rows: 2, chars: 1000, valueChars: 5 });
  for (let i = 0; i < 5; i++) x.add(row(`value-${i}`));
  assert.deepEqual(x.take(), { sample: [['value…'], ['value…']], sample_truncated: true });
  const y = new RowExcerpt((s) => s, { rows: 100, chars: 10, valueChars: 100 });
  for (let i = 0; i < 5; i++) y.add(row('abcdefgh'));
  const e = y.take();
  assert.equal(e?.sample.length, 2);
  assert.equal(e.sample_truncated, true);
});

test('masks each whole value before cutting it, so a long value never leaks a split entity', () => {
  const x = new RowExcerpt((s) => s.replace(/[a-z.]+@example\.com/g, '[EMAIL]'), { valueChars: 12 });
  x.add(row('contact: ada.lovelace@example.com please'));
  assert.deepEqual(x.take()?.sample, [['contact: [EM…']]);
});
