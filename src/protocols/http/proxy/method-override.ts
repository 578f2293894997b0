import { GatehouseError } from '../../../kernel/errors.ts';
import { charsetDecoder, decodeSync, decodeText } from './decode.ts';
import { contentCodings, parseMediaType } from './media.ts';

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
  try {
    return decodeURIComponent(s.replaceAll('+', ' '));
  } catch {
    return s;
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

/** Whether the text is a JSON object with an override among its top-level members. */
function jsonHasOverride(text: string): boolean {
  const t = text.trimStart();
  if (!t.startsWith('{')) return false;
  let doc: unknown;
  try {
    doc = JSON.parse(t);
  } catch {
    return false;
  }
  return doc !== null && typeof doc === 'object' && Object.keys(doc).some(isOverrideName);
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
  if (doc !== null && typeof doc === 'object' && !Array.isArray(doc) && Object.keys(doc).some(isOverrideName)) throw refused('the body');
}

function refused(where: string): GatehouseError {
  return new GatehouseError('bad_request', `${where} carries a method override parameter (_method), which the upstream may run instead of the request's method that policy decides on; refused (send the request with the method itself)`);
}
