import { RE2 } from 're2-wasm';
import { GatehouseError, errorMessage } from '../../kernel/errors.ts';
import type { Detector, EntityType, Finding, SecretKind } from './types.ts';

/** Characters handed to RE2 per call beyond `maxLength` (RE2 copies its input on every call). */
const BLOCK = 1_024;
const MAX_PATTERN_LENGTH = 16_384;

/** Options of {@link customDetector}. */
export interface CustomDetectorOptions {
  /** RE2 syntax (no look-around, no back-references); compiled with flags `gu`. */
  readonly pattern: string;
  /** Entity reported for matches; `SECRET` matches get kind `custom`. */
  readonly entity: EntityType;
  /** Longest match; longer matches are masked up to this length. 1–16384. */
  readonly maxLength: number;
}

function isHigh(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

function isLow(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/**
 * Code-point offset of each UTF-16 offset of `s`, as re2-wasm counts them (it reports code
 * points; a pair is one, a lone surrogate is dropped in its UTF-8 conversion: zero). Undefined
 * when `s` has no surrogates (then both offsets agree).
 */
function codePoints(s: string): { toUtf16: Int32Array; toCp: Int32Array } | undefined {
  if (!/[\uD800-\uDFFF]/.test(s)) return undefined;
  const toUtf16 = new Int32Array(s.length + 1);
  const toCp = new Int32Array(s.length + 1);
  let cp = 0;
  for (let i = 0; i < s.length; i++) {
    toCp[i] = cp;
    toUtf16[cp] = i;
    const c = s.charCodeAt(i);
    if (isHigh(c) && i + 1 < s.length && isLow(s.charCodeAt(i + 1))) {
      toCp[i + 1] = cp + 1;
      i++;
      cp++;
    } else if (!isHigh(c) && !isLow(c)) {
      cp++;
    }
  }
  toCp[s.length] = cp;
  toUtf16[cp] = s.length;
  return { toUtf16, toCp };
}

/**
 * Builds a detector from an operator-supplied pattern, run on RE2 (linear time, no catastrophic
 * backtracking). Every position where a match starts yields a finding (the pattern's preferred
 * match from there, capped at `maxLength`), so results do not depend on where scanning began and
 * streamed masking equals whole-text masking. Patterns should be bounded (`\d{6}`, not `.*`) and
 * avoid `^`/`$`: anchors see block and stream-window edges. Look-behind is one character (`\b`).
 * Throws `config_invalid` on a bad pattern or limit.
 *
 * @example
 *   const emp = customDetector({ pattern: '\\bEMP-\\d{6}\\b', entity: 'SECRET', maxLength: 10 });
 */
export function customDetector(opts: CustomDetectorOptions): Detector {
  if (!Number.isInteger(opts.maxLength) || opts.maxLength < 1 || opts.maxLength > 16_384) {
    throw new GatehouseError('config_invalid', 'masking pattern maxLength must be an integer from 1 to 16384');
  }
  if (opts.pattern.length === 0 || opts.pattern.length > MAX_PATTERN_LENGTH) {
    throw new GatehouseError('config_invalid', 'masking pattern must be 1 to 16384 characters');
  }
  let re: RE2;
  try {
    re = new RE2(opts.pattern, 'gu');
  } catch (err) {
    throw new GatehouseError('config_invalid', `invalid masking pattern: ${errorMessage(err)}`, {}, { cause: err });
  }
  const { entity, maxLength } = opts;
  const kind: SecretKind | undefined = entity === 'SECRET' ? 'custom' : undefined;
  const finding = (start: number, end: number): Finding => (kind === undefined ? { entity, start, end } : { entity, kind, start, end });

  return {
    entity,
    maxLength,
    lookbehind: 1,
    find(text: string): Finding[] {
      const out: Finding[] = [];
      for (let p = 0; p < text.length; p += BLOCK) {
        // The slice starts one character early so `\b` sees what precedes `p`, and never cuts a
        // surrogate pair.
        let from = Math.max(0, p - 1);
        if (from > 0 && isLow(text.charCodeAt(from)) && isHigh(text.charCodeAt(from - 1))) from--;
        let to = Math.min(text.length, p + BLOCK + maxLength + 1);
        if (to < text.length && isHigh(text.charCodeAt(to - 1))) to++;
        const slice = text.slice(from, to);
        const cps = codePoints(slice);
        const cpOf = (i: number): number => (cps === undefined ? i : cps.toCp[i]!);
        const blockEnd = p + BLOCK;
        re.lastIndex = cpOf(p - from);
        for (let m = re.exec(slice); m !== null; m = re.exec(slice)) {
          const start = from + (cps === undefined ? m.index : cps.toUtf16[m.index]!);
          if (start >= blockEnd) break;
          const len = m[0]!.length;
          if (len > 0 && start >= p) out.push(finding(start, start + Math.min(len, maxLength)));
          // Next search from the following start position (matches may overlap; the masker resolves them).
          re.lastIndex = cpOf(start - from + 1);
        }
      }
      return out;
    },
    pendingFrom(text: string): number {
      return Math.max(0, text.length - maxLength - 2);
    },
  };
}
