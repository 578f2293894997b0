import type { TextMasker } from '../../../masking/text-masker.ts';
import { DecodeError } from './decode.ts';
import { redactDocument } from '../../../inspect/prompt/inspect.ts';
import { MAX_DEPTH } from '../../../inspect/prompt/json-walk.ts';

/** Nesting bound of an inspected JSON document; deeper ones are refused (fail closed). */
export const JSON_MAX_DEPTH = MAX_DEPTH;

/**
 * Parses JSON text and masks it with the fail-closed walk of the LLM path
 * (`inspect/prompt/json-walk.ts`): **every** string value and object key, every number whose
 * source text a detector matches (the number becomes the masked string: JSON numbers carry card
 * numbers and phone numbers as well as strings do), what encoded payloads decode to (base64, hex,
 * `data:` URLs, percent-encoding and the escapes `\u0040`, `&#64;` …), a member's key as context
 * (`{"ssn": "078051121"}`), and key context for credentials (`{"password": "hunter2"}` is a
 * `SECRET` when the masker masks secrets). Throws `SyntaxError` on malformed JSON and
 * `DecodeError` past {@link JSON_MAX_DEPTH} or for a payload too large to inspect.
 *
 * @example maskJsonText('{"bob@example.com": 4111111111111111}', masker) === '{"[EMAIL]":"[CREDIT_CARD]"}'
 */
export function maskJsonText(text: string, masker: TextMasker): string {
  return maskJsonDocument(parseJsonNumbersMasked(text, masker), masker);
}

/**
 * The first half of {@link maskJsonText}: parses JSON text, every number whose source text a
 * detector matches becoming the masked string. Throws `SyntaxError` on malformed JSON.
 */
export function parseJsonNumbersMasked(text: string, masker: TextMasker): unknown {
  return JSON.parse(text, (_key, value: unknown, ctx?: { source?: string }) => {
    if (typeof value !== 'number' || ctx?.source === undefined) return value;
    const masked = masker.mask(ctx.source).text;
    return masked === ctx.source ? value : masked;
  });
}

/** The second half of {@link maskJsonText}: the fail-closed walk of a parsed document, serialized. */
export function maskJsonDocument(doc: unknown, masker: TextMasker): string {
  try {
    return JSON.stringify(redactDocument(doc, masker));
  } catch (err) {
    if (err instanceof RangeError) throw new DecodeError(`the JSON document cannot be inspected: ${err.message}`);
    throw err;
  }
}

/** `application/x-www-form-urlencoded` decoding of one name or value (`+` is a space). */
function formDecode(s: string): string {
  try {
    return decodeURIComponent(s.replaceAll('+', ' '));
  } catch {
    throw new DecodeError('the form data has a malformed percent-encoding');
  }
}

function formEncode(s: string): string {
  return encodeURIComponent(s).replaceAll('%20', '+');
}

/**
 * A decoded string masked as the JSON walk masks one (`redactDocument`): what its payloads and
 * escapes decode to too (`bob%40example.com`, a second percent-encoding, base64, `&#64;`), not
 * only its text as written. With `key`, the pair is walked as a one-member object, so the name
 * is masked and gives the value its context (`ssn=078051121`). Returns the masked name and value.
 * A value too large to inspect throws `DecodeError`.
 */
export function maskPair(key: string, value: string | undefined, masker: TextMasker): [string, string | undefined] {
  try {
    if (value === undefined) {
      const out = redactDocument(key, masker);
      return [typeof out === 'string' ? out : masker.mask(key).text, undefined];
    }
    const doc: Record<string, unknown> = {};
    Object.defineProperty(doc, key, { value, enumerable: true, writable: true, configurable: true });
    const entries = Object.entries(redactDocument(doc, masker) as Record<string, unknown>);
    const [mk, mv] = entries.length === 1 ? entries[0]! : [masker.mask(key).text, undefined];
    return [mk, typeof mv === 'string' ? mv : mv === undefined ? masker.mask(value).text : JSON.stringify(mv)];
  } catch (err) {
    if (err instanceof RangeError) throw new DecodeError(`the form data cannot be inspected: ${err.message}`);
    throw err;
  }
}

/**
 * A decoded string masked as the JSON walk masks a string ({@link maskPair} without a name).
 * Header names and values repeat on every request of a client: short ones the walk left as they
 * were are remembered per masker (bounded; only clean strings, so no protected value is kept).
 */
export function maskScalar(s: string, masker: TextMasker): string {
  const short = s.length <= CLEAN_SCALAR_CHARS;
  let clean = short ? cleanScalars.get(masker) : undefined;
  if (clean?.has(s) === true) return s;
  const out = maskPair(s, undefined, masker)[0];
  if (short && out === s) {
    if (clean === undefined) {
      clean = new Set();
      cleanScalars.set(masker, clean);
    } else if (clean.size >= CLEAN_SCALAR_ENTRIES) clean.clear();
    clean.add(s);
  }
  return out;
}

/** Longest string, and most strings per masker, {@link maskScalar} remembers as clean. */
const CLEAN_SCALAR_CHARS = 256;
const CLEAN_SCALAR_ENTRIES = 4096;
const cleanScalars = new WeakMap<TextMasker, Set<string>>();

/**
 * Masks form-encoded data (a body or a query string without its `?`): every name and value is
 * decoded and masked as the JSON walk masks a member ({@link maskPair}: payloads and escapes
 * decoded, the name as context); a pair that changed is re-encoded, the others are kept byte
 * for byte. A malformed escape throws `DecodeError` (clients would decode it differently).
 *
 * @example maskForm('to=bob%40example.com&n=1', masker) === 'to=%5BEMAIL%5D&n=1'
 */
export function maskForm(text: string, masker: TextMasker): string {
  let changed = false;
  const parts = text.split('&').map((pair) => {
    const eq = pair.indexOf('=');
    const k = eq < 0 ? pair : pair.slice(0, eq);
    const v = eq < 0 ? undefined : pair.slice(eq + 1);
    const dk = formDecode(k);
    const dv = v === undefined ? undefined : formDecode(v);
    const [mk, mv] = maskPair(dk, dv, masker);
    let out = mk === dk ? k : formEncode(mk);
    if (v !== undefined) out += `=${mv === dv ? v : formEncode(mv ?? '')}`;
    if (out !== pair) changed = true;
    return out;
  });
  return changed ? parts.join('&') : text;
}

/** Named character references that spell printable ASCII (the ones that could hide an entity). */
const NAMED: Readonly<Record<string, string>> = {
  commat: '@', period: '.', excl: '!', num: '#', dollar: '$', percnt: '%', lpar: '(', rpar: ')', ast: '*', midast: '*',
  plus: '+', comma: ',', sol: '/', colon: ':', semi: ';', equals: '=', quest: '?', lsqb: '[', lbrack: '[', bsol: '\\',
  rsqb: ']', rbrack: ']', Hat: '^', lowbar: '_', UnderBar: '_', grave: '`', lcub: '{', lbrace: '{', verbar: '|',
  vert: '|', VerticalLine: '|', rcub: '}', rbrace: '}', hyphen: '\u2010', dash: '\u2010', minus: '\u2212',
};
/** Characters that stay references: decoding them would change the markup's structure. */
const SIGNIFICANT = new Set(['<', '>', '&', '"', "'"]);
const REF = /&(?:#([0-9]{1,8});?|#[xX]([0-9a-fA-F]{1,7});?|([A-Za-z][A-Za-z0-9]{1,31});)/g;
/** A tail that may be the start of a reference continued by the next chunk. */
const PARTIAL_REF = /&(?:#[xX]?[0-9a-fA-F]*|[A-Za-z][A-Za-z0-9]{0,31})?$/;
const ENTITY_DECL = /<!ENTITY/i;

function decodeRef(m: string, dec: string | undefined, hex: string | undefined, name: string | undefined): string {
  let ch: string | undefined;
  if (name !== undefined) ch = NAMED[name];
  else {
    const cp = dec !== undefined ? Number.parseInt(dec, 10) : Number.parseInt(hex ?? '', 16);
    if (cp > 0x20 && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff) && cp !== 0x7f) ch = String.fromCodePoint(cp);
  }
  return ch === undefined || SIGNIFICANT.has(ch) ? m : ch;
}

const COMMENT_OPEN = '<!--';
const CDATA_OPEN = '<![CDATA[';

/** Escapes CDATA content as character data (`<`, `>` and `&` become references). */
function escapeText(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** The length of the longest suffix of `s` that is a proper prefix of `token`. */
function partialSuffix(s: string, token: string): number {
  for (let n = Math.min(token.length - 1, s.length); n > 0; n--) if (token.startsWith(s.slice(-n))) return n;
  return 0;
}

/**
 * Streams markup with its comments removed and its CDATA sections written as character data
 * (`<![CDATA[a<b]]>` → `a&lt;b`). Parsers join the text around both (`bob<![CDATA[@]]>example.com`
 * and `4111<!---->1111` read as one value): by construction, the output has neither, so the text a
 * parser reads is contiguous in what the masker sees (a value split by elements, `a<b></b>b`, is
 * not joined). A marker split across chunks is held (at most 8 characters); an unterminated
 * comment drops the rest of the body, an unterminated CDATA section is text to the end.
 */
export class MarkupSections {
  #state: 'text' | 'comment' | 'cdata' = 'text';
  #held = '';

  push(chunk: string): string {
    let text = this.#held + chunk;
    this.#held = '';
    let out = '';
    while (text.length > 0) {
      if (this.#state === 'text') {
        const c = text.indexOf(COMMENT_OPEN);
        const d = text.indexOf(CDATA_OPEN);
        const at = c < 0 ? d : d < 0 ? c : Math.min(c, d);
        if (at < 0) {
          const hold = Math.max(partialSuffix(text, COMMENT_OPEN), partialSuffix(text, CDATA_OPEN));
          this.#held = text.slice(text.length - hold);
          return out + text.slice(0, text.length - hold);
        }
        out += text.slice(0, at);
        this.#state = at === c ? 'comment' : 'cdata';
        text = text.slice(at + (at === c ? COMMENT_OPEN.length : CDATA_OPEN.length));
      } else {
        const close = this.#state === 'comment' ? '-->' : ']]>';
        const at = text.indexOf(close);
        if (at < 0) {
          const hold = partialSuffix(text, close);
          if (this.#state === 'cdata') out += escapeText(text.slice(0, text.length - hold));
          this.#held = text.slice(text.length - hold);
          return out;
        }
        if (this.#state === 'cdata') out += escapeText(text.slice(0, at));
        this.#state = 'text';
        text = text.slice(at + close.length);
      }
    }
    return out;
  }

  end(): string {
    const rest = this.#state === 'comment' ? '' : this.#state === 'cdata' ? escapeText(this.#held) : this.#held;
    this.#held = '';
    return rest;
  }
}

/**
 * Streams XML or HTML text with its character references decoded (`&#64;`, `&#x40;`,
 * `&commat;` → `@`), except those of markup-significant characters (`< > & " '`) and controls,
 * so that the masker sees the text a client's parser will show. Entity declarations
 * (`<!ENTITY`, which can define text elsewhere in the document) throw `DecodeError`.
 * A reference split across chunks is held until complete (at most 40 characters).
 */
export class MarkupNormalizer {
  #held = '';
  /** The last characters already emitted, to find a declaration split across chunks. */
  #context = '';

  push(chunk: string): string {
    const text = this.#held + chunk;
    this.#check(text);
    const amp = text.lastIndexOf('&');
    let cut = text.length;
    if (amp >= 0 && text.length - amp <= 40 && PARTIAL_REF.test(text.slice(amp))) cut = amp;
    this.#held = text.slice(cut);
    return this.#decode(text.slice(0, cut));
  }

  end(): string {
    const out = this.#decode(this.#held);
    this.#held = '';
    return out;
  }

  #check(text: string): void {
    if (ENTITY_DECL.test(this.#context + text)) throw new DecodeError('entity declarations are not allowed in inspected markup');
    this.#context = text.slice(-8);
  }

  #decode(s: string): string {
    return s.includes('&') ? s.replace(REF, decodeRef) : s;
  }
}

/**
 * Splits a text stream into lines (`\n`, with an optional `\r`), each at most `maxLine`
 * characters (else `DecodeError`).
 */
export class LineSplitter {
  #buf = '';
  readonly #max: number;

  constructor(maxLine: number) {
    this.#max = maxLine;
  }

  /** The complete lines so far, with their terminators. */
  push(chunk: string): string[] {
    this.#buf += chunk;
    const out: string[] = [];
    let from = 0;
    for (let nl = this.#buf.indexOf('\n'); nl >= 0; nl = this.#buf.indexOf('\n', from)) {
      out.push(this.#buf.slice(from, nl + 1));
      from = nl + 1;
    }
    this.#buf = this.#buf.slice(from);
    if (this.#buf.length > this.#max) throw new DecodeError('a line of the body exceeds the size limit');
    return out;
  }

  /** The last line, if it had no terminator. */
  end(): string {
    const rest = this.#buf;
    this.#buf = '';
    return rest;
  }
}

/**
 * Masks one NDJSON / JSON Lines / JSON-seq line (terminator and a leading RS kept); blank lines
 * pass. A line that is not JSON throws `SyntaxError`.
 */
export function maskJsonLine(line: string, masker: TextMasker): string {
  const rs = line.startsWith('\u001e') ? '\u001e' : '';
  const end = line.endsWith('\r\n') ? '\r\n' : line.endsWith('\n') ? '\n' : '';
  const body = line.slice(rs.length, line.length - end.length);
  if (body.trim() === '') return line;
  return `${rs}${maskJsonText(body, masker)}${end}`;
}

/**
 * Characters an escape may spell in text and still be decoded: unreserved (RFC 3986), `@` and
 * the space (separators of cards and numbers: `4111%201111…`).
 */
const SAFE_DECODE = /^[A-Za-z0-9@._~ -]$/;
const ESCAPE = /\\u([0-9A-Fa-f]{4})|\\x([0-9A-Fa-f]{2})|%([0-9A-Fa-f]{2})/g;
/** A tail that may be the start of an escape continued by the next chunk. */
const PARTIAL_ESCAPE = /(?:\\(?:u[0-9A-Fa-f]{0,3}|x[0-9A-Fa-f]?)?|%[0-9A-Fa-f]?)$/;

/**
 * Streams text with the escapes a reader could undo decoded when they spell an unreserved
 * character, `@` or a space: JSON/JS `\u0040`, `\x40`, and percent-encoding `%40` — so that
 * `bob\u0040example.com` in a `text/plain` body (JSON mislabelled as text) or
 * `mailto:bob%40example.com` is masked as the email it is. Other escapes are left alone (`%2F`,
 * `\u003c`, `%3A` keep their meaning); a URL written in the text may thus show a space where
 * it had `%20` (masking first, fidelity second). An escape split across chunks is held (≤ 5 characters).
 */
export class EscapeNormalizer {
  #held = '';

  push(chunk: string): string {
    const text = this.#held + chunk;
    const m = PARTIAL_ESCAPE.exec(text.slice(-6));
    const cut = m ? text.length - m[0].length : text.length;
    this.#held = text.slice(cut);
    return decodeEscapes(text.slice(0, cut));
  }

  end(): string {
    const out = decodeEscapes(this.#held);
    this.#held = '';
    return out;
  }
}

function decodeEscapes(s: string): string {
  if (!s.includes('\\') && !s.includes('%')) return s;
  return s.replace(ESCAPE, (m, u: string | undefined, x: string | undefined, p: string | undefined) => {
    const ch = String.fromCharCode(Number.parseInt(u ?? x ?? p ?? '', 16));
    return SAFE_DECODE.test(ch) ? ch : m;
  });
}
