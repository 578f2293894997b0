/**
 * fast-check generators that disguise entities with Unicode a reader looks through: format and
 * zero-width characters inserted anywhere, full-width and other-script digits, full-width and
 * mathematical letters, other dashes, spaces and dots, combining marks. Shared by the text and
 * stream masker property tests. Not a test file itself.
 */
import fc from 'fast-check';
import { entityArb, fillerArb, type Entity } from './arbitraries.case.ts';

/** Invisible characters inserted between the characters of a value. */
export const INVISIBLE = ['\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u00ad', '\u200e', '\u200f', '\u202a', '\u202c', '\u202e', '\u2066', '\u2069', '\u034f', '\ufe0f', '\u180e', '\u0301', '\u0332', '\u20e3', '\u{e0041}'];
const DASHES = ['\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2015', '\u2212', '\ufe63', '\uff0d', '\u2043'];
const SPACES = ['\u00a0', '\u2002', '\u2003', '\u2007', '\u2009', '\u200a', '\u202f', '\u205f', '\u3000'];
const DOTS = ['\uff0e', '\u2024', '\ufe52', '\u3002'];
/** Digit zeros of other scripts and compatibility forms (each followed by 1–9). */
const DIGIT_ZEROS = [0xff10, 0x0660, 0x06f0, 0x0966, 0x09e6, 0x0e50, 0x1d7ce, 0x1d7d8, 0x1d7f6];

/** One way to write character `c` that normalizes back to it (or `c` itself). */
function variants(c: string): string[] {
  const code = c.charCodeAt(0);
  const out = [c];
  if (code >= 48 && code <= 57) for (const z of DIGIT_ZEROS) out.push(String.fromCodePoint(z + code - 48));
  if ((code >= 65 && code <= 90) || (code >= 97 && code <= 122)) {
    out.push(String.fromCodePoint(code + 0xfee0)); // full-width
    out.push(String.fromCodePoint(code >= 97 ? 0x1d41a + code - 97 : 0x1d400 + code - 65)); // mathematical bold
  }
  if (c === '-') out.push(...DASHES);
  if (c === ' ') out.push(...SPACES);
  if (c === '.') out.push(...DOTS);
  if (c === '@') out.push('\uff20', '\ufe6b');
  if (c === '=' || c === ':' || c === '+' || c === '/' || c === '_' || c === '#') out.push(String.fromCodePoint(code + 0xfee0));
  return out;
}

/** Per character: which variant (0 = as is) and which invisible character follows (or none). */
const choiceArb = fc.tuple(fc.oneof({ weight: 2, arbitrary: fc.constant(0) }, { weight: 3, arbitrary: fc.nat(20) }), fc.oneof({ weight: 3, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: fc.nat(INVISIBLE.length - 1) }));

/** `value` disguised: a variant for each character and invisible characters in between. */
export function disguiseArb(value: string): fc.Arbitrary<string> {
  const chars = Array.from(value);
  return fc.array(choiceArb, { minLength: chars.length, maxLength: chars.length }).map((choices) => chars.map((c, i) => {
    const [v, inv] = choices[i]!;
    const vs = variants(c);
    const last = i === chars.length - 1;
    return vs[v % vs.length]! + (inv >= 0 && !last ? INVISIBLE[inv]! : '');
  }).join(''));
}

/** An entity written in disguise (its `secret` is still the plain value). */
export const disguisedEntityArb: fc.Arbitrary<Entity> = entityArb.chain((e) => disguiseArb(e.value).map((value): Entity => ({ ...e, value })));

/** Filler with disguised entities at random places (each surrounded by spaces), and the entities. */
export const textWithDisguisedEntitiesArb: fc.Arbitrary<{ text: string; entities: Entity[] }> = fc
  .array(fc.tuple(fillerArb, fc.option(disguisedEntityArb, { nil: undefined, freq: 2 })), { minLength: 1, maxLength: 6 })
  .map((parts) => {
    let text = '';
    const entities: Entity[] = [];
    for (const [filler, ent] of parts) {
      text += filler;
      if (ent !== undefined) { text += ` ${ent.value} `; entities.push(ent); }
    }
    return { text, entities };
  });
