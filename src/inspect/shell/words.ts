/**
 * Word values: what a bash word becomes after quote removal, escapes, brace expansion and
 * (known) variable expansion. A word has up to `MAX_ALTS` alternatives (brace expansion,
 * variables assigned several literal values); each alternative is a string of characters with
 * a parallel string of kinds: `q` quoted literal, `u` unquoted literal (brace and glob active),
 * `e` literal from a variable (glob active), `d` dynamic (unknown at inspection time).
 */
import { ANY, ONE, STAR } from './paths.ts';

/** Most alternatives a word may have; beyond it the word is dynamic. */
export const MAX_ALTS = 8;

/** One alternative: characters and their kinds (same length). */
export interface Alt {
  readonly s: string;
  readonly k: string;
}

/** A word after evaluation. */
export interface Word {
  /** Source text, used to show dynamic words as written. */
  readonly text: string;
  /** Patterns (see paths.ts): literal characters, `ANY` for dynamic parts, `STAR`/`ONE` for globs. */
  readonly alts: readonly string[];
  /** The characters of each alternative without glob conversion (meaningful when not dynamic). */
  readonly raws: readonly string[];
  /** Contains a part whose value is unknown (variable, substitution, arithmetic). */
  readonly dynamic: boolean;
  /** Contains `$(…)`, backticks or `<(…)`/`>(…)`. */
  readonly subst: boolean;
  /** Is exactly one process substitution `<(…)`. */
  readonly procSubst: boolean;
  /** Contains an unquoted glob or expands to several words by braces. */
  readonly glob: boolean;
}

/** Whether `w` is one literal word (no dynamic part, no glob, one alternative). */
export function isLiteral(w: Word): boolean {
  return !w.dynamic && !w.glob && w.alts.length === 1;
}

/** The literal value of `w`, or undefined when it is not literal. */
export function literalValue(w: Word): string | undefined {
  return isLiteral(w) ? w.raws[0] : undefined;
}

/** A literal word (synthesized by unwrapping, e.g. split `-S` strings). */
export function literalWord(s: string): Word {
  return { text: s, alts: [s], raws: [s], dynamic: false, subst: false, procSubst: false, glob: false };
}

/** A word standing for unknown input (xargs' stdin, find's `{}`), with optional patterns. */
export function dynamicWord(text: string, alts: readonly string[] = [ANY]): Word {
  return { text, alts, raws: alts, dynamic: true, subst: false, procSubst: false, glob: false };
}

/** Concatenation of alternative lists (cartesian product), bounded. */
export function concatAlts(parts: readonly (readonly Alt[])[]): Alt[] {
  let acc: Alt[] = [{ s: '', k: '' }];
  for (const p of parts) {
    const next: Alt[] = [];
    for (const a of acc) for (const b of p) next.push({ s: a.s + b.s, k: a.k + b.k });
    acc = next.length > MAX_ALTS ? [dynamicAlt()] : next;
  }
  return acc;
}

export function dynamicAlt(): Alt {
  return { s: ANY, k: 'd' };
}

export function kinded(s: string, kind: string): Alt {
  return { s, k: kind.repeat(s.length) };
}

/** Brace expansion (`{a,b}`, `x{1,2}y`, nested) of unquoted braces; `{1..3}` ranges become dynamic. */
export function expandBraces(a: Alt, budget: { n: number }): Alt[] {
  const open = findBrace(a);
  if (!open) return [a];
  const { start, end, commas, range } = open;
  if (range) {
    const alt = { s: a.s.slice(0, start) + ANY + a.s.slice(end + 1), k: a.k.slice(0, start) + 'd' + a.k.slice(end + 1) };
    return expandBraces(alt, budget);
  }
  const out: Alt[] = [];
  let from = start + 1;
  for (const c of [...commas, end]) {
    const mid = { s: a.s.slice(from, c), k: a.k.slice(from, c) };
    from = c + 1;
    const joined = { s: a.s.slice(0, start) + mid.s + a.s.slice(end + 1), k: a.k.slice(0, start) + mid.k + a.k.slice(end + 1) };
    for (const e of expandBraces(joined, budget)) {
      if (--budget.n < 0) return [dynamicAlt()];
      out.push(e);
    }
  }
  return out;
}

/** The first unquoted `{…}` with a top-level comma or `..`, with its comma positions. */
function findBrace(a: Alt): { start: number; end: number; commas: number[]; range: boolean } | undefined {
  for (let i = 0; i < a.s.length; i++) {
    if (a.s[i] !== '{' || a.k[i] !== 'u') continue;
    let depth = 0;
    const commas: number[] = [];
    let range = false;
    for (let j = i + 1; j < a.s.length; j++) {
      if (a.k[j] !== 'u') continue;
      const c = a.s[j];
      if (c === '{') depth++;
      else if (c === '}' && depth > 0) depth--;
      else if (c === '}') {
        if (commas.length > 0 || range) return { start: i, end: j, commas, range: range && commas.length === 0 };
        break;
      } else if (c === ',' && depth === 0) commas.push(j);
      else if (c === '.' && a.s[j + 1] === '.' && a.k[j + 1] === 'u' && depth === 0) range = true;
    }
  }
  return undefined;
}

/** Converts an alternative to a pattern; reports whether it held an unquoted glob. */
export function toPattern(a: Alt): { p: string; glob: boolean } {
  let p = '';
  let glob = false;
  for (let i = 0; i < a.s.length; i++) {
    const c = a.s[i] ?? '';
    const k = a.k[i];
    if (k === 'd') { p += ANY; continue; }
    if (k === 'q') { p += c; continue; }
    if (c === '*') { p += STAR; glob = true; continue; }
    if (c === '?') { p += ONE; glob = true; continue; }
    if (c === '[') {
      const close = a.s.indexOf(']', i + 2);
      if (close > 0 && !a.s.slice(i + 1, close).includes('/')) { p += ONE; glob = true; i = close; continue; }
    }
    p += c;
  }
  return { p, glob };
}

/** Unescapes an unquoted word: `\x` → `x` (quoted), `\<newline>` removed. */
export function unquotedAlt(text: string): Alt {
  let s = '';
  let k = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i] ?? '';
    if (c === '\\' && i + 1 < text.length) {
      const n = text[++i] ?? '';
      if (n !== '\n') { s += n; k += 'q'; }
      continue;
    }
    s += c;
    k += 'u';
  }
  return { s, k };
}

/** Unescapes the content of a double-quoted string: only `\$ \` \" \\ \<newline>` are escapes. */
export function doubleQuotedText(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i] ?? '';
    const n = text[i + 1];
    if (c === '\\' && n !== undefined && (n === '$' || n === '`' || n === '"' || n === '\\' || n === '\n')) {
      if (n !== '\n') out += n;
      i++;
      continue;
    }
    out += c;
  }
  return out;
}

/** Decodes the body of `$'…'` (ANSI-C quoting). */
export function ansiC(body: string): string {
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i] ?? '';
    if (c !== '\\' || i + 1 >= body.length) { out += c; continue; }
    const n = body[++i] ?? '';
    const simple: Record<string, string> = { a: '\x07', b: '\b', e: '\x1b', E: '\x1b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', "'": "'", '"': '"', '?': '?' };
    const mapped = simple[n];
    if (mapped !== undefined) { out += mapped; continue; }
    const radix = (max: number, base: number, start: number): number => {
      let j = start;
      while (j < body.length && j - start < max && Number.isInteger(Number.parseInt(body[j] ?? '', base)) && !Number.isNaN(Number.parseInt(body[j] ?? '', base))) j++;
      return j;
    };
    if (n >= '0' && n <= '7') {
      const end = radix(3, 8, i);
      out += String.fromCodePoint(Number.parseInt(body.slice(i, end), 8) & 0xff);
      i = end - 1;
    } else if (n === 'x' || n === 'u' || n === 'U') {
      const end = radix(n === 'x' ? 2 : n === 'u' ? 4 : 8, 16, i + 1);
      if (end === i + 1) { out += `\\${n}`; continue; }
      const cp = Number.parseInt(body.slice(i + 1, end), 16);
      out += cp <= 0x10ffff ? String.fromCodePoint(cp) : '\ufffd';
      i = end - 1;
    } else if (n === 'c' && i + 1 < body.length) {
      out += String.fromCharCode((body.charCodeAt(++i)) & 0x1f);
    } else {
      out += `\\${n}`;
    }
  }
  return out;
}
