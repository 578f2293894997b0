import { GatehouseError } from '../../../kernel/errors.ts';
import { charsetDecoder, decodeSync, decodeText } from './decode.ts';
import { bodyKind, contentCodings, parseMediaType } from './media.ts';

/**
 * Method override **parameters**: frameworks upstream run another method than the request line's
 * when a request carries one — Rails (`Rack::MethodOverride`: `_method` in a POST's form or
 * multipart body), Laravel/Symfony (`_method` in the body or the query string, JSON included),
 * Express `method-override` (a getter the application chooses, `_method` by convention). Policy
 * decides on the method the gateway sees (`context.http.method`), so a request that carries one is
 * refused (400) rather than decided as a POST the upstream runs as a DELETE. The override headers
 * (`X-HTTP-Method-Override` …) are never forwarded instead (`headers.ts`).
 *
 * Matched by construction on every spelling a server reads as `_method`: any case, percent- or
 * `+`-encoded, with PHP's name mangling (leading spaces dropped; `.`, ` ` and an opening `[`
 * read as `_`; `_method[x]` is an array named `_method`), in the query string (pairs split on `&`
 * and `;`), and in the body whatever its declared type (servers sniff, or parse by their own
 * configuration): form pairs, the top-level members of a JSON object, multipart part names. The
 * body is read with its content codings undone and its charset decoded when the gateway can;
 * otherwise as bytes.
 */

/** Whether a (decoded) parameter name is read as `_method` by some upstream framework. */
export function isOverrideName(name: string): boolean {
  let n = name.replace(/^\s+/, '');
  const open = n.indexOf('[', 1);
  if (open > 0) n = n.slice(0, open);
  n = n.replace(/^\[/, '_').replace(/[.\s]/g, '_');
  return n.toLowerCase() === '_method';
}

function formDecode(s: string): string {
  const plus = s.replaceAll('+', ' ');
  try {
    return decodeURIComponent(plus);
  } catch {
    // A malformed escape elsewhere (`_m%65thod[%]`): servers decode the valid ones and keep the
    // rest (PHP reads that name as the array `_method`), so each valid escape is decoded here too.
    return plus.replace(/%[0-9a-f]{2}/gi, (e) => String.fromCharCode(parseInt(e.slice(1), 16)));
  }
}

/** Whether form-encoded text (a query without `?`, or a body) has a pair named as an override. */
function formHasOverride(text: string): boolean {
  for (const pair of text.split(/[&;]/)) {
    const eq = pair.indexOf('=');
    if (isOverrideName(formDecode(eq < 0 ? pair : pair.slice(0, eq)))) return true;
  }
  return false;
}

/** The JSON document `text` is, or undefined when it is not one. */
function jsonDocument(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Whether the text is a JSON object with an override among its top-level members. */
function jsonHasOverride(text: string): boolean {
  const t = text.trimStart();
  return t.startsWith('{') && hasOverrideMember(jsonDocument(t));
}

/** Whether `doc` is an object with an override among its top-level members. */
function hasOverrideMember(doc: unknown): boolean {
  return doc !== null && typeof doc === 'object' && !Array.isArray(doc) && Object.keys(doc).some(isOverrideName);
}

const PART_NAME = /\bname\*?\s*=\s*(?:"([^"]*)"|'([^']*)'|([^;\s]+))/gi;

/** Whether multipart text has a part named as an override. */
function multipartHasOverride(text: string): boolean {
  for (const m of text.matchAll(PART_NAME)) {
    const v = m[1] ?? m[2] ?? m[3] ?? '';
    if (isOverrideName(v) || isOverrideName(formDecode(v.replace(/^utf-8''/i, '')))) return true;
  }
  return false;
}

/** Boundary characters every parser reads alike (RFC 2046 §5.1.1 without space, `,` and `=`). */
const BOUNDARY = /^[0-9A-Za-z'()+_\-./:?]{1,70}$/;

/**
 * The `boundary` of a `multipart/*` type, or undefined: none, unusual characters, or the word
 * "boundary" more than once in the header (PHP finds the first "boundary" anywhere in it, so
 * `xboundary=a; boundary=b` would split on another boundary there than here).
 */
function multipartBoundary(contentType: string): string | undefined {
  if (!parseMediaType(contentType).type.startsWith('multipart/')) return undefined;
  if ((contentType.match(/boundary/gi) ?? []).length !== 1) return undefined;
  const m = /;\s*boundary\s*=\s*(?:"([^"]*)"|([^;\s]*))\s*(?:;|$)/i.exec(contentType);
  const v = m?.[1] ?? m?.[2];
  return v !== undefined && BOUNDARY.test(v) ? v : undefined;
}

/**
 * Whether a declared multipart body has a part named as an override, reading only part headers
 * (a server parses the parts by their delimiters; the content of an uploaded file is not a part
 * name), and reading them wider than any parser: a part starts at every `--boundary` (anywhere:
 * PHP finds the first one mid-line) and at every line starting with `--` (whatever boundary a
 * parser settled on), and its headers run to the first CRLF CRLF before the next start (else to
 * that start: LF-only headers are read whole). Undefined when the boundary does not occur (the
 * body is then read as a whole).
 */
function partsHaveOverride(text: string, boundary: string): boolean | undefined {
  const delim = `--${boundary}`;
  if (!text.includes(delim)) return undefined;
  // The next start of each kind and the next blank line are kept while they lie ahead (each
  // search resumes past the last one: linear in the text, however many starts it has).
  const lineStart = (from: number): number => {
    if (from === 0 && text.startsWith('--')) return 0;
    const at = text.indexOf('\n--', Math.max(0, from - 1));
    return at < 0 ? Infinity : at + 1;
  };
  const n = text.length;
  let d = text.indexOf(delim);
  let l = lineStart(0);
  let blank = -1;
  let start = Math.min(d, l);
  while (start < n) {
    if (d <= start) { const at = text.indexOf(delim, start + 1); d = at < 0 ? Infinity : at; }
    if (l <= start) l = lineStart(start + 1);
    const end = Math.min(d, l, n);
    if (blank !== Infinity && blank < start) { const at = text.indexOf('\r\n\r\n', start); blank = at < 0 ? Infinity : at; }
    if (multipartHasOverride(text.slice(start, Math.min(blank, end)))) return true;
    start = end;
  }
  return false;
}

/**
 * Cheap tests first: no override name can be spelled without "method", each of its letters in
 * any case, percent-encoded (a form or query name, a multipart name) or \u-escaped (a JSON
 * member name). Only a text that spells it somewhere is parsed (an ordinary body, even one full
 * of `%` and `&`, is not: parsing a large one cost ~1 s).
 */
const letter = (c: string): string => {
  const lo = c.charCodeAt(0).toString(16);
  const up = (c.charCodeAt(0) - 32).toString(16);
  return `(?:${c}|%(?:${lo}|${up})|\\u00(?:${lo}|${up}))`;
};
const SPELLS_METHOD = new RegExp(Array.from('method', letter).join(''), 'i');

/** The body as text: codings undone and charset decoded when possible, else its bytes as Latin-1. */
function bodyText(raw: Buffer, contentType: string, contentEncoding: string | string[] | undefined, limit: number): string {
  let bytes: Buffer = raw;
  const codings = contentCodings(contentEncoding);
  if (codings !== undefined && codings.length > 0) {
    try {
      bytes = decodeSync(raw, codings, limit);
    } catch {
      bytes = raw;
    }
  }
  const decoder = charsetDecoder(parseMediaType(contentType).charset);
  if (decoder !== undefined) {
    try {
      return decodeText(bytes, decoder);
    } catch {
      // not text in its declared charset: read as bytes below
    }
  }
  return bytes.toString('latin1');
}

/**
 * Refuses (400 `bad_request`) a request whose query string carries a method override parameter
 * ({@link isOverrideName}). The value is not echoed.
 *
 * @example assertNoQueryOverride('?_method=DELETE') // throws
 */
export function assertNoQueryOverride(query: string): void {
  if (query.length > 1 && SPELLS_METHOD.test(query) && formHasOverride(query.slice(1))) throw refused('the query string');
}

/**
 * Refuses (400 `bad_request`) a request whose body carries a method override parameter. Run
 * where the request is prepared (`prepare.ts`): on an inspection worker for a large body.
 *
 * @example assertNoBodyOverride(Buffer.from('_method=DELETE'), 'application/x-www-form-urlencoded', undefined, limit) // throws
 */
export function assertNoBodyOverride(raw: Buffer, contentType: string, contentEncoding: string | string[] | undefined, limit: number): void {
  if (raw.length === 0) return;
  const text = bodyText(raw, contentType, contentEncoding, limit);
  if (!SPELLS_METHOD.test(text)) return;
  // A body declared as JSON that is a JSON document, or as multipart with its parts delimited, is
  // read by its declared type (Rack, PHP, Django, Laravel parse form data only from a form or
  // multipart type): the text of a JSON string or of an uploaded file is content, not a pair.
  const boundary = multipartBoundary(contentType);
  const parts = boundary === undefined ? undefined : partsHaveOverride(text, boundary);
  if (parts !== undefined) {
    if (parts) throw refused('the body');
    return;
  }
  if (bodyKind(parseMediaType(contentType).type) === 'json') {
    const doc = jsonDocument(text);
    if (doc !== undefined) {
      assertNoJsonOverride(doc);
      return;
    }
  }
  if (formHasOverride(text) || multipartHasOverride(text) || jsonHasOverride(text)) throw refused('the body');
}

/**
 * Refuses (400 `bad_request`) a parsed JSON document with an override among its top-level
 * members. For an LLM request (`prepare.ts`): its body is refused unless it is a JSON document,
 * and that document is what the upstream reads, so the text inside its strings is not read as
 * form or multipart data (a prompt quoting `curl -d "a=1&_method=PUT"` is ordinary content).
 *
 * @example assertNoJsonOverride({ _method: 'DELETE' }) // throws
 */
export function assertNoJsonOverride(doc: unknown): void {
  if (hasOverrideMember(doc)) throw refused('the body');
}

function refused(where: string): GatehouseError {
  return new GatehouseError('bad_request', `${where} carries a method override parameter (_method), which the upstream may run instead of the request's method that policy decides on; refused (send the request with the method itself)`);
}
