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

/** Entities that a rule listing `SECRET` masks too: they are credentials, whatever their own name. */
export const SECRET_FAMILY: readonly EntityType[] = ['SECRET', 'JWT', 'PRIVATE_KEY'];

/**
 * The entity types a list of entities stands for: `SECRET` includes `JWT` and `PRIVATE_KEY`
 * (a user who asks to mask secrets gets tokens and private keys masked); each can also be listed
 * on its own.
 *
 * @example
 *   expandEntities(['EMAIL', 'SECRET']) // ['EMAIL', 'SECRET', 'JWT', 'PRIVATE_KEY']
 */
export function expandEntities(entities: readonly EntityType[]): EntityType[] {
  const out = [...entities];
  if (entities.includes('SECRET')) for (const e of SECRET_FAMILY) if (!out.includes(e)) out.push(e);
  return out;
}

/** The built-in detectors for the given entity types (all of them when `entities` is omitted); see {@link expandEntities}. */
export function detectorsFor(entities?: readonly EntityType[]): readonly Detector[] {
  const all = defaultDetectors();
  if (entities === undefined) return all;
  const wanted = expandEntities(entities);
  return all.filter((d) => wanted.includes(d.entity));
}
