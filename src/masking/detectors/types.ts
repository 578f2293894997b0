/**
 * The detector contract shared by every masking detector (built-in or custom).
 *
 * Detectors are pure functions of the text. To let {@link StreamMasker} reproduce whole-text
 * masking exactly whatever the chunk boundaries, every detector must be *local*:
 *
 * - **Bounded**: no finding is longer than `maxLength` characters.
 * - **Look-behind**: for any text `T` and offset `w`, the findings of `T.slice(w)` whose start is
 *   at least `lookbehind` equal (shifted by `w`) the findings of `T` whose start is at least
 *   `w + lookbehind`. A detector reads at most `lookbehind` characters before a finding's start.
 * - **Pending**: `pendingFrom(T)` returns an index `p ≤ T.length` such that, for every text `X`,
 *   the findings of `T + X` with start `< p` are exactly the findings of `T` with start `< p`.
 *   It is the earliest place where more input could still create or change a finding; the stream
 *   masker holds back everything from there. Returning a smaller value is always safe.
 * - **Windowed**: the stream masker calls `find` and `pendingFrom` on the text from `lookbehind`
 *   characters before the detector's previous pending point (never on less), so a pending point
 *   must be decided by that window: compute it from what can still become a finding at the end of
 *   the text (a trailing run, an open value after its keyword), as every built-in detector does.
 * - Detectors see normalized text (`../normalize.ts`): ASCII digits, `-`, `.`, ` ` stand for every
 *   Unicode form of them, and invisible characters are gone.
 *
 * The shared conformance test (`conformance.test.ts`) checks both properties for each detector.
 */

/** Entity types the maskers know. */
export type EntityType =
  | 'EMAIL'
  | 'PHONE'
  | 'CREDIT_CARD'
  | 'IBAN'
  | 'US_SSN'
  | 'IP_ADDRESS'
  | 'JWT'
  | 'PRIVATE_KEY'
  | 'SECRET';

/** Every entity type, in a stable order. */
export const ENTITY_TYPES: readonly EntityType[] = [
  'EMAIL', 'PHONE', 'CREDIT_CARD', 'IBAN', 'US_SSN', 'IP_ADDRESS', 'JWT', 'PRIVATE_KEY', 'SECRET',
];

/** Which kind of secret a `SECRET` finding is (a type for policy facts, never a value). */
export type SecretKind =
  | 'aws_access_key'
  | 'aws_secret_key'
  | 'github_token'
  | 'slack_token'
  | 'openai_key'
  | 'anthropic_key'
  | 'stripe_key'
  | 'google_api_key'
  | 'gatehouse_key'
  | 'generic'
  | 'custom';

/** One detected entity: a half-open range `[start, end)` in UTF-16 code units. */
export interface Finding {
  readonly entity: EntityType;
  readonly start: number;
  readonly end: number;
  /** Only on `SECRET` findings. */
  readonly kind?: SecretKind;
}

/**
 * A masking detector. See the module comment for the locality contract every detector keeps.
 *
 * @example
 *   const findings = emailDetector.find('mail bob@example.com'); // [{ entity: 'EMAIL', start: 5, end: 20 }]
 */
export interface Detector {
  readonly entity: EntityType;
  /** Upper bound on the length of a match, used by the stream masker to know how much to hold back. */
  readonly maxLength: number;
  /** How many characters before a finding's start the detector may read (see the contract). */
  readonly lookbehind: number;
  /** Every finding in `text` (they may overlap; the masker resolves overlaps). */
  find(text: string): Finding[];
  /** Earliest index where appending text could still create or change a finding. */
  pendingFrom(text: string): number;
}
