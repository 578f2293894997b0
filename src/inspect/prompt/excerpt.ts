import type { TextMasker } from '../../masking/text-masker.ts';
import { redactDocument } from './inspect.ts';
import { unescapeText } from './payload.ts';

/**
 * `text` masked with `scanner` and bounded to `limit` characters, as the recording keeps a
 * prompt, a response or an MCP tool's arguments and result (the recording holds nothing unmasked,
 * whatever the connection's rules). A whole JSON document is walked whole with the fail-closed
 * walk (keys, numbers, encoded payloads, credential-keyed values) and its masked serialization
 * cut afterwards, so that a payload past the limit is not cut in half and kept. Other text (plain
 * text, a piece of a document that does not parse) is masked as it is, and, when it has escapes a
 * reader undoes (`\u0040`, `%40`, `&#64;`), with them decoded: the decoded text is kept when the
 * scanner finds something in it. Throws what the scanner throws.
 *
 * @example maskedExcerpt('{"k":"Ym9iQGV4YW1wbGUuY29t"}', scanner, 1024) // '{"k":"[EMAIL]…"}' (the payload masked)
 */
export function maskedExcerpt(text: string, scanner: TextMasker, limit: number): string {
  const c = text.charCodeAt(0);
  if (c === 123 || c === 91) {
    // The walk runs on the event loop: a larger document is not walked (one client must not
    // stall everyone) and its text is not kept either (a payload past the cut would be kept
    // unmasked): the recording says what it left out (fail closed).
    if (text.length > MAX_WALKED_CHARS) return `[not recorded: a JSON document of ${text.length} characters, more than the ${MAX_WALKED_CHARS} the recording walks]`;
    let doc: unknown = NOT_JSON;
    try {
      doc = JSON.parse(text);
    } catch {
      // a piece of a document, or not JSON: masked as text below
    }
    if (doc !== NOT_JSON) {
      // A document the walk refuses (nested too deeply, a payload over its limit) is not kept as
      // text either: the walk is what finds its encoded payloads (fail closed).
      try {
        const out = JSON.stringify(redactDocument(doc, scanner));
        return out.length > limit ? out.slice(0, limit) : out;
      } catch {
        return `[not recorded: a JSON document of ${text.length} characters that the recording's walk cannot inspect]`;
      }
    }
  }
  return maskDecoded(text.length > limit ? text.slice(0, limit) : text, scanner);
}

/** The parse of a text that is not one JSON document. */
const NOT_JSON = Symbol('not JSON');

/** Most characters of a JSON document the recording parses and walks whole (on the event loop: a few milliseconds). */
export const MAX_WALKED_CHARS = 1024 * 1024;

/**
 * `t` masked with `masker`, escapes a reader undoes (`\u0040`, `%40`, `&#64;`) decoded first when
 * that shows the masker something: the decoded text masked if the masker finds something in it,
 * else `t` masked as it is (so that text without a hidden entity keeps its escapes).
 *
 * @example maskDecoded('/users/bob%40example.com', masker) === '/users/[EMAIL]'
 */
export function maskDecoded(t: string, masker: TextMasker): string {
  const raw = masker.mask(t).text;
  if (!MAY_ESCAPE.test(t)) return raw;
  const decoded = unescapeText(t);
  if (decoded === t) return raw;
  const masked = masker.mask(decoded).text;
  return masked === decoded ? raw : masked;
}

/** Characters that start an escape {@link unescapeText} decodes. */
const MAY_ESCAPE = /[\\%&]/;
