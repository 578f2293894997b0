/**
 * Literal templates: the key under which texts that differ only in their numeric literals share
 * one inspection (`SELECT … WHERE aid = 1` and `… = 2`, as the simple query protocol sends them).
 *
 * Why sharing is exact. No fact of an inspection depends on the value of a numeric literal: kinds,
 * tables, functions, WHERE presence, CTEs, DO, COPY PROGRAM and prepared-statement names come from
 * the tree's shape, identifiers and keywords; the one value-dependent fact (`SET client_encoding`)
 * reads a string literal, and string literals are kept verbatim in the key. Two texts with the same
 * key have the same tokens apart from the digits of numeric constants, so PostgreSQL's grammar
 * builds the same tree shape for both (or rejects the other one, which runs nothing).
 *
 * Why the scan is safe. It replaces digits only where it is certain they start a numeric literal,
 * so it accepts only texts whose lexing is trivial: printable ASCII (plus tab, CR, LF); no
 * backslash (escape strings, `standard_conforming_strings`); no comment (`--`, `/*`); no dollar
 * quote (a `$` not followed by a digit); no prefixed string (`E'…'`, `B'…'`, `U&'…'`: a quote right
 * after a letter, digit, `_`, `$` or `&`). In what remains, `'…'` (with `''`) is a string and
 * `"…"` (with `""`) an identifier, both kept verbatim, and a digit run that does not continue a
 * word (`t1`, `$1`, `x2y`) is a numeric literal's, unless it runs into a name (`0x1F`, `1_000`),
 * which gets no template. Anything else gets no template (exact-text caching only), which is
 * always safe.
 */

/** A text's template. */
export interface LiteralTemplate {
  /** The text with every numeric literal's digits replaced by one NUL (never in an eligible text). */
  readonly key: string;
}

const PLACEHOLDER = '\0';

const DIGIT_0 = 48;
const DIGIT_9 = 57;

function isDigit(c: number): boolean {
  return c >= DIGIT_0 && c <= DIGIT_9;
}

/** Characters that continue a word: a digit after one of these is part of a name or `$n`. */
function isWordChar(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || isDigit(c) || c === 95 /* _ */ || c === 36 /* $ */;
}

/**
 * The template of `sql`, or undefined when the text is not one the scan can lex with certainty
 * (see the module comment) or has no numeric literal (the exact text is then the best key).
 *
 * @example
 *   literalTemplate("SELECT * FROM t1 WHERE id = 42 AND name = 'a1'")?.key
 *   // "SELECT * FROM t1 WHERE id = \u0000 AND name = 'a1'"
 */
export function literalTemplate(sql: string): LiteralTemplate | undefined {
  const n = sql.length;
  let out = '';
  let from = 0; // sql[from, i) is copied to out when a literal is replaced
  let literals = 0;
  let prev = 32; // the character before i in the normal state
  for (let i = 0; i < n;) {
    const c = sql.charCodeAt(i);
    if (c > 126 || (c < 32 && c !== 9 && c !== 10 && c !== 13) || c === 92 /* \ */) return undefined;
    if (c === 39 /* ' */ || c === 34 /* " */) {
      if (c === 39 && (isWordChar(prev) || prev === 38 /* & */)) return undefined;
      if (c === 34 && prev === 38) return undefined;
      // Verbatim to the closing quote; a doubled quote stays inside.
      let j = i + 1;
      for (;;) {
        if (j >= n) return undefined; // unterminated: let the parser say so
        const d = sql.charCodeAt(j);
        if (d > 126 || (d < 32 && d !== 9 && d !== 10 && d !== 13) || d === 92) return undefined;
        if (d === c) {
          if (sql.charCodeAt(j + 1) === c) { j += 2; continue; }
          break;
        }
        j++;
      }
      i = j + 1;
      prev = c;
      continue;
    }
    if (c === 45 /* - */ && sql.charCodeAt(i + 1) === 45) return undefined;
    if (c === 47 /* / */ && sql.charCodeAt(i + 1) === 42 /* * */) return undefined;
    if (c === 36 /* $ */ && !isDigit(sql.charCodeAt(i + 1))) return undefined;
    if (isDigit(c) && !isWordChar(prev)) {
      let j = i + 1;
      while (j < n && isDigit(sql.charCodeAt(j))) j++;
      // A literal running into a name (`0x1F`, `0o17`, `1_000`, `123abc`) lexes differently across
      // server versions (hex and underscores since 16, trailing junk an error since 15): no template.
      // An exponent (`1e5`) is the one letter allowed.
      const next = sql.charCodeAt(j);
      if (j < n && isWordChar(next) && !isDigit(next) && next !== 101 /* e */ && next !== 69 /* E */) return undefined;
      out += sql.slice(from, i) + PLACEHOLDER;
      from = j;
      literals++;
      i = j;
      prev = DIGIT_0;
      continue;
    }
    prev = c;
    i++;
  }
  if (literals === 0) return undefined;
  return { key: out + sql.slice(from) };
}
