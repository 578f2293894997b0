import type { Services } from '../../../app/services.ts';
import { TextMasker, defaultDetectors } from '../../../masking/text-masker.ts';

const cache = new WeakMap<object, TextMasker>();

/**
 * The inspection masker: every built-in detector, `redact`. Used for policy facts (whatever the
 * masking rules say) and to mask what is recorded.
 */
export function scannerFor(svc: Pick<Services, 'masking'>): TextMasker {
  let m = cache.get(svc);
  if (!m) {
    m = new TextMasker({ detectors: defaultDetectors(), strategy: 'redact', hashKey: svc.masking.hashKey });
    cache.set(svc, m);
  }
  return m;
}
