import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { describe, test } from 'node:test';
import { TextMasker } from '../../masking/text-masker.ts';
import { detectorsFor } from '../../masking/detectors/index.ts';
import { parseDataRow, type FieldDescription } from './backend-messages.ts';
import { RowMasker, planColumns } from './row-masker.ts';
import { MessageWriter } from './writer.ts';

describe('RowMasker: the column name is context for content detectors', () => {
  const field = (name: string): FieldDescription => ({ name, tableOid: 0, attnum: 0, typeOid: 25, typeSize: -1, typeMod: -1, format: 0 });
  const row = (...vals: string[]): Buffer => {
    const m = new MessageWriter().int16(vals.length);
    for (const v of vals) m.int32(Buffer.byteLength(v)).bytes(Buffer.from(v));
    return m.frame(0x44).subarray(5);
  };
  const masker = new TextMasker({ detectors: detectorsFor(['US_SSN', 'CREDIT_CARD']), strategy: 'redact', hashKey: Buffer.alloc(32, 1) });

  test('a bare 9-digit value in an ssn column is masked; the same value elsewhere is not', () => {
    const plans = planColumns([field('ssn'), field('order_no'), field('social_security_number'), field('card')], [], [], true);
    const m = new RowMasker(plans, masker, Buffer.alloc(32, 1));
    const out = m.mask(row('123456789', '123456789', '２１９０９９９９９', '4111.1111.1111.1111'));
    assert.ok(out);
    assert.deepEqual(parseDataRow(out.subarray(5)).map((v) => v?.toString()), ['[US_SSN]', '123456789', '[US_SSN]', '[CREDIT_CARD]']);
  });
});
