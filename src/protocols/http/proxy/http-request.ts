import { GatehouseError } from '../../../kernel/errors.ts';
import type { TextMasker } from '../../../masking/text-masker.ts';
import { EscapeNormalizer, MarkupNormalizer, maskForm, maskJsonLine, maskJsonText } from './body-mask.ts';
import { charsetDecoder, DecodeError, decodeSync, decodeText } from './decode.ts';
import { bodyKind, contentCodings, mediaAllowed, parseMediaType, utf8ContentType } from './media.ts';

/** The request body to forward, and the headers that change with it. */
export interface EgressBody {
  readonly body: Buffer;
  /** `content-type` to send instead of the client's (re-encoded as UTF-8); absent: unchanged. */
  readonly contentType?: string;
  /** True when the client's `content-encoding` was undone (the header must not be forwarded). */
  readonly decoded: boolean;
}

/**
 * Egress redaction of an `http` request body under a request masking rule, by media type as for
 * responses (`http-response.ts`): content coding undone (bounded by `limit`), charset decoded
 * (BOM wins), then JSON (strings, keys, numbers), NDJSON, form data, XML/HTML (references
 * decoded), plain text masked and re-encoded as UTF-8. A body the gateway cannot read is refused
 * with 415 `unsupported_media_type` unless `passMediaTypes` lists its type (then it is sent as is).
 *
 * @example redactHttpBody(raw, 'application/x-www-form-urlencoded', undefined, egress, undefined, limit).body
 */
export function redactHttpBody(raw: Buffer, contentType: string, contentEncoding: string | string[] | undefined, egress: TextMasker, passMediaTypes: readonly string[] | undefined, limit: number): EgressBody {
  const media = parseMediaType(contentType);
  const kind = bodyKind(media.type);
  const allowed = mediaAllowed(media.type, passMediaTypes);
  const codings = contentCodings(contentEncoding);
  const decoder = kind === 'opaque' ? undefined : charsetDecoder(media.charset);
  if (kind === 'opaque' || decoder === undefined || codings === undefined) {
    if (allowed) return { body: raw, decoded: false };
    const what = codings === undefined ? `content coding "${String(contentEncoding)}"` : kind === 'opaque' ? `a ${media.type || 'untyped'} body` : `charset "${media.charset ?? ''}"`;
    throw new GatehouseError('unsupported_media_type', `the request has ${what}, which the gateway cannot inspect for the connection's masking rules; refused (a connection may list media types to pass in pass_media_types)`);
  }
  try {
    const text = decodeText(decodeSync(raw, codings, limit), decoder);
    const out = maskAs(kind, text, egress);
    return { body: Buffer.from(out), contentType: utf8ContentType(media), decoded: codings.length > 0 };
  } catch (err) {
    if (err instanceof SyntaxError) throw new GatehouseError('invalid_json', 'request body is not valid JSON');
    if (err instanceof DecodeError) throw new GatehouseError('bad_request', `request body cannot be inspected: ${err.message}`);
    throw err;
  }
}

function maskAs(kind: ReturnType<typeof bodyKind>, text: string, egress: TextMasker): string {
  switch (kind) {
    case 'json': return maskJsonText(text, egress);
    case 'ndjson': return text.split(/(?<=\n)/).map((l) => maskJsonLine(l, egress)).join('');
    case 'form': return maskForm(text, egress);
    case 'markup': {
      const n = new MarkupNormalizer();
      const e = new EscapeNormalizer();
      return egress.mask(e.push(n.push(text) + n.end()) + e.end()).text;
    }
    default: {
      const e = new EscapeNormalizer();
      return egress.mask(e.push(text) + e.end()).text;
    }
  }
}

/**
 * The query string (with its `?`, or '') with every name and value redacted (form decoding);
 * unchanged pairs are kept byte for byte. A malformed escape is refused (400).
 *
 * @example redactQuery('?to=bob%40example.com&n=1', egress) === '?to=%5BEMAIL%5D&n=1'
 */
export function redactQuery(query: string, egress: TextMasker): string {
  if (query.length <= 1) return query;
  try {
    return `?${maskForm(query.slice(1), egress)}`;
  } catch (err) {
    if (err instanceof DecodeError) throw new GatehouseError('bad_request', 'the query string has a malformed percent-encoding');
    throw err;
  }
}
