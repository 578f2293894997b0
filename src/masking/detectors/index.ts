import { creditCardDetector } from './credit-card.ts';
import { emailDetector } from './email.ts';
import { ibanDetector } from './iban.ts';
import { ipAddressDetector } from './ip-address.ts';
import { jwtDetector } from './jwt.ts';
import { phoneDetector } from './phone.ts';
import { privateKeyDetector } from './private-key.ts';
import { genericSecretDetector } from './secret-generic.ts';
import { secretTokenDetector } from './secret-token.ts';
import type { Detector, EntityType } from './types.ts';
import { usSsnDetector } from './us-ssn.ts';

/**
 * Every built-in detector, in tie-break order (when two findings cover exactly the same range,
 * the earlier detector wins: a specific token kind before the generic secret).
 *
 * @example
 *   new TextMasker({ detectors: defaultDetectors(), strategy: 'redact', hashKey })
 */
export function defaultDetectors(): readonly Detector[] {
  return [
    privateKeyDetector,
    jwtDetector,
    secretTokenDetector,
    genericSecretDetector,
    creditCardDetector,
    ibanDetector,
    usSsnDetector,
    emailDetector,
    phoneDetector,
    ipAddressDetector,
  ];
}

/** The built-in detectors for the given entity types (all of them when `entities` is omitted). */
export function detectorsFor(entities?: readonly EntityType[]): readonly Detector[] {
  const all = defaultDetectors();
  return entities === undefined ? all : all.filter((d) => entities.includes(d.entity));
}
