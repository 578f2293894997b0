import type { Connection } from '../../../connections/registry.ts';
import { isUtf8 } from 'node:buffer';
import { GatehouseError } from '../../../kernel/errors.ts';
import { assertUnambiguousMembers } from '../../../inspect/prompt/json-members.ts';
import { assertNoBodyOverride, assertNoJsonOverride } from './method-override.ts';
import type { TextMasker } from '../../../masking/text-masker.ts';
import type { Facts } from '../../../policy/request.ts';
import { inspectPrompt, redactDocument, scanTexts } from '../../../inspect/prompt/inspect.ts';
import { redactHttpBody } from './http-request.ts';
import { requestShape, type WireFormat } from '../providers/index.ts';
import { RECORD_TEXT_LIMIT } from './record.ts';

/** Input of {@link prepareRequest}. */
export interface PrepareInput {
  readonly conn: Pick<Connection, 'name' | 'type' | 'provider' | 'pass_media_types'>;
  readonly method: string;
  readonly endpoint: string;
  readonly raw: Buffer;
  readonly contentType: string;
  /** The client's `content-encoding` (http bodies are decoded before egress redaction). */
  readonly contentEncoding?: string | string[] | undefined;
  /** Largest decoded request body (`server.body_limit`). */
  readonly bodyLimit?: number;
  readonly format: WireFormat | undefined;
  /** All-detector masker for policy facts. */
  readonly scanner: TextMasker;
  /** The request-direction masker of the connection, if a rule applies (egress redaction). */
  readonly egress: TextMasker | undefined;
}

/** The facts for policy and the body to send upstream (redacted when a request rule applies). */
export interface Prepared {
  readonly facts: Facts;
  readonly body: Buffer | undefined;
  /** The (redacted) prompt document as JSON text, for the recording. */
  readonly prompt?: string;
  /**
   * `maskedExcerpt(prompt, scanner)` — the prompt as the recording keeps it — when the inspection
   * already shows what it is without a second walk: the all-detector walk found nothing in the
   * document, so that walk would leave it as it is (`prepare.test.ts` checks the two agree).
   * Undefined otherwise: the caller masks `prompt` with `maskedExcerpt`.
   */
  readonly recordedPrompt?: string | undefined;
  /** http: the `content-type` to forward instead of the client's (the body was re-encoded as UTF-8). */
  readonly contentType?: string;
  /** http: the client's content coding was undone; its `content-encoding` must not be forwarded. */
  readonly decoded?: boolean;
}

/**
 * The LLM request document. Refused unless the upstream can only read it as the gateway does:
 * valid UTF-8 (a decoder's replacement characters are not what the upstream decodes), and no
 * member name repeated or differing only by case from one the facts come from (`json-members.ts`).
 */
function parseJson(raw: Buffer): { doc: unknown; text: string } {
  if (!isUtf8(raw)) throw new GatehouseError('invalid_json', 'request body is not valid UTF-8');
  const text = raw.toString('utf8');
  let doc: unknown;
  try {
    doc = JSON.parse(text) as unknown;
  } catch {
    throw new GatehouseError('invalid_json', 'request body is not valid JSON');
  }
  assertUnambiguousMembers(text, doc);
  return { doc, text };
}

/**
 * The prepared LLM request; its `prompt` (for the recording and review summaries) is the document
 * with everything the all-detector walk finds masked — payloads, keys and credential-keyed values
 * included, which a text mask of the JSON would miss. Computed on first read, and only re-walked
 * when the inspection found something (else the walk would change nothing).
 */
function withPrompt(facts: Facts, body: Buffer, text: string, found: boolean, scanner: TextMasker, doc: unknown, textIsDoc: boolean): Prepared {
  return new PreparedLlm(facts, body, text, found, scanner, doc, textIsDoc);
}

/**
 * {@link withPrompt}'s result: a class with its getters on the prototype (an object literal with
 * accessors costs as much to build as serializing the 1 KB document; this is on every request,
 * and with recording off neither getter is read).
 */
class PreparedLlm implements Prepared {
  readonly facts: Facts;
  readonly body: Buffer;
  readonly #text: string;
  readonly #found: boolean;
  readonly #scanner: TextMasker;
  readonly #doc: unknown;
  readonly #textIsDoc: boolean;
  #prompt: string | undefined;

  constructor(facts: Facts, body: Buffer, text: string, found: boolean, scanner: TextMasker, doc: unknown, textIsDoc: boolean) {
    this.facts = facts;
    this.body = body;
    this.#text = text;
    this.#found = found;
    this.#scanner = scanner;
    this.#doc = doc;
    this.#textIsDoc = textIsDoc;
    this.#prompt = found ? undefined : text;
  }

  get prompt(): string {
    this.#prompt ??= JSON.stringify(guarded(() => redactDocument(JSON.parse(this.#text), this.#scanner)));
    return this.#prompt;
  }

  get recordedPrompt(): string | undefined {
    // maskedExcerpt(text) parses `text` (≤ the limit, a JSON object or array: else it masks it
    // as plain text), walks the copy with `scanner` and serializes it. The inspection walked
    // `doc` (the same document, unchanged: inspection is pure) with `scanner` and found
    // nothing, so that walk changes nothing: the result is `JSON.stringify(doc)`.
    const text = this.#text;
    const doc = this.#doc;
    if (this.#found || text.length > RECORD_TEXT_LIMIT || doc === null || typeof doc !== 'object') return undefined;
    const c = text.charCodeAt(0);
    if (c !== 123 && c !== 91) return undefined;
    return this.#textIsDoc ? text : JSON.stringify(doc);
  }
}

/**
 * `facts` with the findings of what else leaves for the upstream added (`context.llm` only: what
 * leaves for a model through the URL or a header is part of the request too): the query string,
 * scanned raw and form-decoded (names and values), and the forwarded header names and values
 * (`forwardedHeaderTexts`), with the all-detector scanner.
 *
 * @example facts = withQueryFindings(prepared.facts, '?user=bob%40example.com', scanner, ['x-note', 'hi']);
 */
export function withQueryFindings(facts: Facts, query: string, scanner: TextMasker, headerTexts: readonly string[] = []): Facts {
  if (facts.llm === undefined || (query.length <= 1 && headerTexts.length === 0)) return facts;
  const texts = [...headerTexts];
  if (query.length > 1) {
    texts.push(query.slice(1));
    for (const part of query.slice(1).split('&')) {
      try {
        texts.push(...part.split('=').map((x) => decodeURIComponent(x.replace(/\+/g, ' '))));
      } catch {
        // malformed escape: the raw text is scanned
      }
    }
  }
  const found = scanTexts(scanner, texts);
  if (found.findings === 0) return facts;
  const l = facts.llm;
  return {
    ...facts,
    llm: {
      ...l, findings: l.findings + found.findings,
      secret_types: [...new Set([...l.secret_types, ...found.secret_types])].sort(),
      pii_types: [...new Set([...l.pii_types, ...found.pii_types])].sort(),
    },
  };
}

function guarded<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof RangeError) throw new GatehouseError('bad_request', `request body cannot be inspected: ${err.message}`);
    throw err;
  }
}

/**
 * Reads the facts of a whole request and applies egress redaction.
 * LLM: the body must be JSON; every content string is scanned (`inspectPrompt`). HTTP: method
 * and path; when a request rule applies, the body is redacted by media type and what cannot be
 * read is refused (`redactHttpBody`).
 *
 * @example const { facts, body } = prepareRequest({ conn, method: 'POST', endpoint: '/v1/chat/completions', raw, … });
 */
export function prepareRequest(p: PrepareInput): Prepared {
  const hasBody = p.raw.length > 0;
  // A `_method` parameter in the body would have the upstream run another method (method-override.ts).
  // An LLM request's body is a JSON document or refused (parseJson), and that document is what
  // its upstream reads: only its top-level members are looked at, not the text of its prompts.
  const format = p.conn.type === 'llm' ? p.format : undefined;
  if (hasBody && format === undefined) assertNoBodyOverride(p.raw, p.contentType, p.contentEncoding, p.bodyLimit ?? DEFAULT_BODY_LIMIT);
  if (format !== undefined) {
    const { doc, text: rawText } = hasBody ? parseJson(p.raw) : { doc: {}, text: '' };
    assertNoJsonOverride(doc);
    const f = guarded(() => inspectPrompt(doc, p.scanner));
    const shape = requestShape(format, doc);
    const facts: Facts = {
      llm: {
        provider: p.conn.provider ?? 'openai', method: p.method, endpoint: p.endpoint, model: shape.model, stream: shape.stream,
        tools: shape.tools, secret_types: f.secret_types, pii_types: f.pii_types, findings: f.findings,
        attachments: f.attachments, attachment_types: f.attachment_types, attachment_bytes: f.attachment_bytes,
      },
    };
    if (!hasBody) return { facts, body: undefined };
    if (p.egress === undefined) return withPrompt(facts, p.raw, rawText, f.findings > 0, p.scanner, doc, false);
    const egress = p.egress;
    // Where the all-detector scan found nothing, a masker with a subset of its detectors changes
    // nothing either: the second pass is skipped (the document is still sent as serialized here).
    // Key context (a credential-named member) counts as a finding, so it never skips the pass.
    const walk = f.findings > 0 || !egress.coveredBy(p.scanner);
    const out = walk ? guarded(() => redactDocument(doc, egress)) : doc;
    const text = JSON.stringify(out);
    // `text` is the inspected document itself only when the egress pass was skipped (a walk
    // rewrites the document in place, so the root being the same object proves nothing).
    return withPrompt(facts, Buffer.from(text), text, f.findings > 0, p.scanner, walk ? undefined : doc, true);
  }
  const facts: Facts = { http: { method: p.method, path: p.endpoint, path_lower: p.endpoint.toLowerCase() } };
  if (!hasBody) return { facts, body: undefined };
  if (p.egress === undefined) return { facts, body: p.raw };
  const egress = p.egress;
  const out = guarded(() => redactHttpBody(p.raw, p.contentType, p.contentEncoding, egress, p.conn.pass_media_types, p.bodyLimit ?? DEFAULT_BODY_LIMIT));
  return { facts, body: out.body, ...(out.contentType === undefined ? {} : { contentType: out.contentType }), decoded: out.decoded };
}

/** Decoded-size bound when the caller gives none (the schema default of `server.body_limit`). */
const DEFAULT_BODY_LIMIT = 10 * 1024 * 1024;
