import { isCredentialKey, isPlaceholder } from './credential-keys.ts';
import { decodePayload, MAX_INFLATED_PER_DOCUMENT, type InflateBudget } from './payload.ts';
import { TRUSTED_KEYS, TRUSTED_VALUES } from './structural.ts';

/**
 * The fail-closed walk over a JSON document going to or coming from a model. Everything a
 * receiver could read is handed to the visitor: every string value (whatever its key), every
 * object key, every number a numeric detector could match, and what encoded payloads
 * decode to (`payload.ts`). Nothing is skipped because of where it sits; the only values not
 * scanned are the closed lists of `structural.ts` (fixed words no built-in detector matches).
 * On top of the detectors, key context: a scalar whose key names a credential
 * (`credential-keys.ts`) goes to `visitor.credential` whole — also inside arrays and objects under
 * such a key (`{"secret": {"value": "…"}}`), unless the object is a JSON schema (a tool parameter
 * named `password` is described by `{"type": "string", …}`, which holds no secret).
 */

/** Nesting bound; deeper documents are refused (fail closed). */
export const MAX_DEPTH = 64;
/** How many encodings deep a payload is decoded (base64 of base64 of text …). */
const MAX_PAYLOAD_DEPTH = 3;
/** Longest string parsed as embedded JSON (tool arguments, tool results) for key context. */
const MAX_EMBEDDED_JSON = 1024 * 1024;
/** Numbers with this many characters or more are scanned when the masker has a user pattern. */
const NUMBER_SCAN_CHARS = 7;
/**
 * With built-in detectors only, a number is scanned when its text has a run of 12 or more digits:
 * the only built-in detector that matches a JSON number's text (digits, `-`, `.`, `e`, `+`) is
 * the card detector, and a card has 12 to 19 digits (bare 9–11-digit runs are not SSNs or phone
 * numbers to the detectors: they need separators, `+` or context; `structural.test.ts` checks).
 * This keeps an embedding (1 536 floats of ≤ 10 significant digits) from costing a scan per float.
 */
const DIGIT_RUN = /\d{12}/;
/** Smallest binary payload outside a `data:` URL or a media-typed object counted as an attachment. */
const MIN_BARE_ATTACHMENT = 1024;

/** What the walk reports to; every callback returns the value to put in the document. */
export interface JsonVisitor {
  /**
   * A text: a string value, an object key, a number's JSON text, a decoded payload. `label`: the
   * key of the member the value belongs to when that key is not a wire-format key (`ssn`,
   * `phone`), read by the detectors as context (`MaskOptions.label`).
   */
  text(s: string, label?: string): string;
  /** The whole scalar (string, or a number's text) under a credential-named key. */
  credential(s: string): string;
  /** A binary payload (decoded size in bytes, declared media type if any). */
  attachment(mediaType: string, bytes: number): void;
}

/** Options of {@link walkJson}. */
export interface WalkOptions {
  /** Skip the literals of `structural.ts` (only for maskers made of built-in detectors). */
  readonly trustStructural: boolean;
  /**
   * A response to a client: `logprobs` and `top_logprobs` arrays or objects are emptied (`[]`
   * / `null`). Per-token texts and byte arrays cannot be masked consistently with the content (an
   * entity spans several tokens, each harmless alone), so they are dropped.
   */
  readonly response: boolean;
}

/**
 * Walks `doc` (a parsed JSON value) depth first in document order, replacing in place what the
 * visitor returns. Objects whose keys change are rebuilt in place (same object, order kept; a key
 * that masks to an existing one gets a `#n` suffix). Returns the (possibly replaced) root.
 * Throws `RangeError` past {@link MAX_DEPTH}, for a payload too long to inspect, or when the
 * document's compressed payloads inflate beyond {@link MAX_INFLATED_PER_DOCUMENT} in all.
 *
 * @example
 *   doc = walkJson(doc, { text: (s) => masker.mask(s).text, credential: (s) => '[SECRET]', attachment: () => {} },
 *     { trustStructural: true, response: true });
 */
export function walkJson(doc: unknown, visitor: JsonVisitor, opts: WalkOptions): unknown {
  return new Walker(visitor, opts).value(doc, false, 0, undefined);
}

class Walker {
  readonly #v: JsonVisitor;
  readonly #trust: boolean;
  readonly #response: boolean;
  /** Inflated bytes left for this document (gzip/zlib payloads in all its strings). */
  readonly #budget: InflateBudget = { left: MAX_INFLATED_PER_DOCUMENT };

  constructor(v: JsonVisitor, opts: WalkOptions) {
    this.#v = v;
    this.#trust = opts.trustStructural;
    this.#response = opts.response;
  }

  /** `label`: the member's key when it is not a wire-format key (context for the detectors). */
  value(node: unknown, credential: boolean, depth: number, parent: Record<string, unknown> | undefined, label?: string): unknown {
    if (typeof node === 'string') {
      if (credential && node.trim() !== '' && !isPlaceholder(node)) return this.#v.credential(node);
      return this.string(node, 0, parent, label);
    }
    if (typeof node === 'number') {
      const t = String(node); // finite (from JSON.parse): the same text as JSON.stringify, ~10× faster
      if (credential) {
        const out = this.#v.credential(t);
        return out === t ? node : out;
      }
      // Under a key that gives context (`"ssn": 78051121`), a whole number of 8+ digits is read with it.
      const keyed = label !== undefined && Number.isInteger(node) && Math.abs(node) >= 1e7;
      if (!keyed && (this.#trust ? !DIGIT_RUN.test(t) : t.length < NUMBER_SCAN_CHARS)) return node;
      const out = this.#v.text(t, label);
      return out === t ? node : out;
    }
    if (node === null || typeof node !== 'object') return node;
    if (depth >= MAX_DEPTH) throw new RangeError('JSON nesting too deep to inspect');
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        const v: unknown = node[i];
        const out = this.value(v, credential, depth + 1, parent, label);
        if (out !== v) node[i] = out;
      }
      return node;
    }
    const obj = node as Record<string, unknown>;
    this.object(obj, depth, credential && !isSchema(obj));
    return node;
  }

  /** `credential`: the object sits under a credential-named key (and is not a JSON schema): its scalars are secrets. */
  object(obj: Record<string, unknown>, depth: number, credential: boolean): void {
    let renamed: [string, unknown][] | undefined;
    const keys = Object.keys(obj);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      let v: unknown = obj[key];
      if (this.#response && (key === 'logprobs' || key === 'top_logprobs') && v !== null && typeof v === 'object') {
        v = Array.isArray(v) ? [] : null;
        obj[key] = v;
        continue;
      }
      const out = this.value(v, credential || isCredentialKey(key), depth + 1, obj, TRUSTED_KEYS.has(key) ? undefined : key);
      if (out !== v) obj[key] = out;
      const k = this.#trust && TRUSTED_KEYS.has(key) ? key : this.string(key, 0, undefined);
      if (k !== key && renamed === undefined) renamed = keys.slice(0, i).map((p) => [p, obj[p]]);
      if (renamed !== undefined) renamed.push([k, obj[key]]);
    }
    if (renamed === undefined) return;
    for (const key of keys) Reflect.deleteProperty(obj, key);
    for (const [k, v] of renamed) {
      let name = k;
      for (let n = 2; Object.hasOwn(obj, name); n++) name = `${k}#${n}`;
      // defineProperty: a key named `__proto__` (JSON.parse makes it an own property) stays one.
      Object.defineProperty(obj, name, { value: v, writable: true, enumerable: true, configurable: true });
    }
  }

  /** A string value (or a decoded payload at `level`) in `parent`: scanned, its payload decoded and scanned. */
  string(s: string, level: number, parent: Record<string, unknown> | undefined, label?: string): string {
    if (this.#trust && TRUSTED_VALUES.has(s)) return s;
    let out = this.#v.text(s, label);
    const p = level < MAX_PAYLOAD_DEPTH ? decodePayload(s, { budget: this.#budget }) : undefined;
    if (p?.kind === 'text') {
      const masked = this.string(p.text, level + 1, undefined, label);
      if (masked !== p.text) out = p.encode(masked, out);
      if (p.otherReading === true) out = this.otherReading(masked === p.text ? s : out, level, label);
    }
    const binary = p?.kind === 'binary' ? p : p?.attachment;
    if (binary !== undefined) {
      const hint = parent === undefined ? undefined : mediaHint(parent);
      // A bare binary string counts from 1 KiB (shorter ones are ids and hashes that look like base64).
      if (binary.dataUrl || hint !== undefined || binary.bytes >= MIN_BARE_ATTACHMENT) {
        this.#v.attachment(binary.mediaType ?? hint ?? 'application/octet-stream', binary.bytes);
      }
    }
    return level === 0 ? this.embedded(out) : out;
  }

  /**
   * The bytes of a payload read as BOM-less UTF-16 (a guess), read the other way too: as UTF-8,
   * else Latin-1 (`A\0A\0…bob@example.com` is CJK to UTF-16 and an email to a reader dropping
   * NULs). `enc` is the encoded string as the UTF-16 reading left it; what this reading masks is
   * written back, and the UTF-16 reading of the result is checked once more (fail closed).
   */
  otherReading(enc: string, level: number, label: string | undefined): string {
    const q = decodePayload(enc, { utf16: false, budget: this.#budget });
    if (q?.kind !== 'text') return enc;
    const masked = this.string(q.text, level + 1, undefined, label);
    if (masked === q.text) return enc;
    const out = q.encode(masked, enc);
    const r = decodePayload(out, { budget: this.#budget });
    if (r?.kind === 'text' && this.#v.text(r.text, label) !== r.text) throw new RangeError('an encoded payload cannot be masked in all of its readings');
    return out;
  }

  /** Key context inside a string that is itself a JSON object or array (tool arguments, tool results). */
  embedded(s: string): string {
    const c = s.charCodeAt(0);
    if ((c !== 123 && c !== 91) || s.length > MAX_EMBEDDED_JSON || !s.includes('"')) return s;
    let doc: unknown;
    try {
      doc = JSON.parse(s);
    } catch {
      return s;
    }
    return this.credentials(doc, false, 0) ? JSON.stringify(doc) : s;
  }

  /** Applies key context only (the text was scanned as a whole); true when something changed. */
  credentials(node: unknown, credential: boolean, depth: number): boolean {
    if (depth >= MAX_DEPTH || node === null || typeof node !== 'object') return false;
    let changed = false;
    const entries: [string | number, unknown][] = Array.isArray(node) ? node.map((v, i) => [i, v]) : Object.entries(node);
    const target = node as Record<string | number, unknown>;
    for (const [k, v] of entries) {
      const cred = credential || (typeof k === 'string' && isCredentialKey(k));
      if (cred && (typeof v === 'string' || typeof v === 'number')) {
        const t = typeof v === 'string' ? v : String(v);
        if (t.trim() === '' || isPlaceholder(t)) continue;
        const out = this.#v.credential(t);
        if (out !== t) { target[k] = out; changed = true; }
      } else if (typeof v === 'object' && v !== null) {
        if (this.credentials(v, cred && (Array.isArray(v) || !isSchema(v as Record<string, unknown>)), depth + 1)) changed = true;
      }
    }
    return changed;
  }
}

/** Keys of a JSON schema: a tool's `password` parameter is described, not given, by an object with these. */
const SCHEMA_KEYS = ['type', 'properties', 'description', '$ref', 'enum', 'items', 'anyOf', 'oneOf', 'allOf', 'format', 'title'];

/** Whether an object under a credential-named key is a JSON schema (then its strings are not secrets). */
function isSchema(obj: Record<string, unknown>): boolean {
  for (const k of SCHEMA_KEYS) if (Object.hasOwn(obj, k)) return true;
  return false;
}

/** The media type an object declares for its payload (`media_type`, `mime_type`, audio `format`). */
function mediaHint(obj: Record<string, unknown>): string | undefined {
  const m = obj.media_type ?? obj.mime_type ?? obj.mimeType;
  if (typeof m === 'string') return m.slice(0, 100).toLowerCase();
  if (obj.type === 'base64') return 'application/octet-stream';
  if (typeof obj.format === 'string' && typeof obj.data === 'string') return `audio/${obj.format.slice(0, 20).toLowerCase()}`;
  return undefined;
}
