import type { Buffer } from 'node:buffer';
import { createHmac } from 'node:crypto';
import { GatehouseError } from '../kernel/errors.ts';
import type { EntityType } from './detectors/types.ts';

/** How a detected value is replaced. */
export type Strategy = 'redact' | 'partial' | 'hash';

/** Every strategy, for config validation. */
export const STRATEGIES: readonly Strategy[] = ['redact', 'partial', 'hash'];

/** Fewer alphanumerics than this and `partial` redacts entirely (keeping 4 would show too much). */
const PARTIAL_MIN_ALNUM = 8;
const HASH_HEX_LENGTH = 12;
/** A shorter HMAC key is a configuration error (it would make the tokens guessable). */
export const MIN_HASH_KEY_BYTES = 16;

/** Entities whose formatting (spaces, dashes, case) is noise: hashed on their alphanumerics. */
const COMPACTED: ReadonlySet<EntityType> = new Set(['CREDIT_CARD', 'IBAN', 'PHONE', 'US_SSN']);

function alphanumerics(value: string): string {
  return value.replace(/[^A-Za-z0-9]/g, '');
}

/** The input to the HMAC: formatting-insensitive for numbers, case-insensitive for emails. */
function canonical(entity: EntityType, value: string): string {
  if (COMPACTED.has(entity)) return alphanumerics(value).toUpperCase();
  if (entity === 'EMAIL') return value.toLowerCase();
  return value;
}

/**
 * The replacement text for one detected value.
 *
 * - `redact` → `[EMAIL]`
 * - `partial` → `[CREDIT_CARD ****1111]`: the last 4 *alphanumeric* characters are kept (separators
 *   dropped) for every entity; values with fewer than 8 alphanumerics, and private keys, are
 *   redacted entirely.
 * - `hash` → `[EMAIL:3f2a9c0b1d4e]`: the first 12 hex digits of HMAC-SHA256(hashKey, entity + NUL +
 *   canonical value), stable for a deployment's key. Cards, IBANs, phones and SSNs are hashed on
 *   their upper-cased alphanumerics and emails lower-cased, so formatting does not change the token.
 *   Throws `config_invalid` when the key is shorter than 16 bytes.
 *
 * @example
 *   applyStrategy('partial', 'CREDIT_CARD', '4111 1111 1111 1111', key) === '[CREDIT_CARD ****1111]'
 */
export function applyStrategy(strategy: Strategy, entity: EntityType, value: string, hashKey: Buffer): string {
  switch (strategy) {
    case 'redact':
      return `[${entity}]`;
    case 'partial': {
      const alnum = alphanumerics(value);
      if (entity === 'PRIVATE_KEY' || alnum.length < PARTIAL_MIN_ALNUM) return `[${entity}]`;
      return `[${entity} ****${alnum.slice(-4)}]`;
    }
    case 'hash': {
      if (hashKey.length < MIN_HASH_KEY_BYTES) {
        throw new GatehouseError('config_invalid', `masking hash key must be at least ${MIN_HASH_KEY_BYTES} bytes`);
      }
      const mac = createHmac('sha256', hashKey).update(`${entity}\u0000${canonical(entity, value)}`).digest('hex');
      return `[${entity}:${mac.slice(0, HASH_HEX_LENGTH)}]`;
    }
    default:
      // Unknown strategy at runtime (bad config slipped through): fail closed.
      return `[${entity as string}]`;
  }
}
