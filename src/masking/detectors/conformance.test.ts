import { describe, test } from 'node:test';
import { assertLocal, checkLocality } from './conformance.case.ts';
import { defaultDetectors } from './index.ts';

describe('detector locality contract (look-behind, pending, bounded length)', () => {
  for (const detector of defaultDetectors()) {
    test(`${detector.entity} (${detector.lookbehind} look-behind, max ${detector.maxLength})`, () => {
      assertLocal(detector, 200);
      // Every offset of one dense sample.
      const sample = 'x bob@ex.com 4111-1111-1111-1111 SSN 123456789 DE89370400440532013000 10.0.0.1 '
        + 'AKIAIOSFODNN7EXAMPLE password=Xy7#pQ2vLm9z +1 (415) 555-2671 eyJhbGciOiJub25lIn0.e30. -----BEGIN EC PRIVATE KEY-----\nAAA\n-----END EC PRIVATE KEY----- fe80::1:2.';
      checkLocality(detector, sample);
    });
  }
});
