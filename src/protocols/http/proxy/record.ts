import type { ProxyDeps } from './deps.ts';
import type { Principal } from '../../../identity/principal.ts';
import { RecordingTap } from '../../../enforce/tap.ts';
import type { RecordEvent } from '../../../recording/recorder.ts';
import type { TextMasker } from '../../../masking/text-masker.ts';
import { inspectPrompt, redactDocument } from '../../../inspect/prompt/inspect.ts';
import { MAX_WALKED_CHARS, maskedExcerpt as excerpt } from '../../../inspect/prompt/excerpt.ts';

/** Most characters of prompt or response text kept in one recorded event. */
export const RECORD_TEXT_LIMIT = 64 * 1024;

/** Accumulates masked text for the recording, up to {@link RECORD_TEXT_LIMIT}. */
export class TextCapture {
  text = '';
  truncated = false;
  /**
   * The parsed document `text` is the `JSON.stringify` of, when the capture holds exactly one
   * whole document ({@link addDocument}): the recording then checks it for findings instead of
   * parsing the text again ({@link recordedText}).
   */
  doc: object | undefined = undefined;
  /**
   * The whole text of the one JSON document the capture holds when it is longer than the limit
   * (`text` is then its first {@link RECORD_TEXT_LIMIT} characters): the recording walks the whole
   * document and cuts the masked serialization, so that nothing the walk finds is cut in half
   * and kept ({@link recordedText}).
   */
  whole: string | undefined = undefined;
  /**
   * Adds a whole JSON document's text (`JSON.stringify(doc)`, or the text a worker serialized
   * when `doc` is undefined), which the caller no longer changes.
   */
  addDocument(text: string, doc: unknown): void {
    const first = this.text === '' && !this.truncated;
    this.add(text);
    const isDoc = first && doc !== null && typeof doc === 'object';
    this.doc = isDoc && this.text === text ? doc : undefined;
    if (first && this.text !== text) {
      this.whole = text;
      if (isDoc) this.doc = doc;
    }
  }
  add = (s: string): void => {
    this.doc = undefined;
    this.whole = undefined;
    if (this.text.length >= RECORD_TEXT_LIMIT) {
      this.truncated = true;
      return;
    }
    this.text += s.slice(0, RECORD_TEXT_LIMIT - this.text.length);
    if (s.length > RECORD_TEXT_LIMIT) this.truncated = true;
  };
}

/** A capture that keeps nothing, for when recording is off. */
class DiscardingCapture extends TextCapture {
  override add = (): void => undefined;
  override addDocument(): void {
    // nothing kept
  }
}

/** The capture used when recording is off (stateless: shared by every exchange). */
export const NO_CAPTURE: TextCapture = new DiscardingCapture();

/** Fields the caller has already masked with the scanner (`maskedExcerpt`): not scanned twice. */
const PRE_MASKED = new Set(['prompt', 'text']);
/** Nesting bound of recorded data (deeper values are dropped: fail closed). */
const MAX_RECORD_DEPTH = 16;

/**
 * `data` with every string — values and object keys, at any depth — masked with `scanner`
 * (all detectors), except the top-level fields in {@link PRE_MASKED}. Paths, facts, usage,
 * anything a caller records: the recording holds nothing unmasked (issue 16 item 7).
 * Objects are built with their (masked) keys in code-unit order, so that the recorder's
 * canonical JSON is one native `JSON.stringify` (see `canonicalData`).
 */
export function maskRecordData(data: Record<string, unknown>, scanner: TextMasker): Record<string, unknown> {
  const m: Masking = { scanner, clean: cleanSet(scanner) };
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(data).sort()) member(out, k, PRE_MASKED.has(k) ? data[k] : maskValue(data[k], m, 0));
  return out;
}

/** The scanner of recorded data and its set of strings known clean. */
interface Masking {
  readonly scanner: TextMasker;
  readonly clean: Set<string>;
}

/**
 * Sets `out[key]`. A `__proto__` member (say, in an upstream's usage object) is defined, not
 * assigned: it is recorded as a member instead of setting the copy's prototype.
 */
function member(out: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  else out[key] = value;
}

function maskValue(v: unknown, m: Masking, depth: number): unknown {
  if (typeof v === 'string') return maskString(v, m);
  if (v === null || typeof v !== 'object') return v;
  if (depth >= MAX_RECORD_DEPTH) return '[TRUNCATED]';
  if (Array.isArray(v)) return v.map((x) => maskValue(x, m, depth + 1));
  const keys = Object.keys(v);
  const masked = keys.map((k) => maskString(k, m));
  let sorted = true;
  for (let i = 1; i < masked.length && sorted; i++) sorted = masked[i - 1]! < masked[i]!;
  const out: Record<string, unknown> = {};
  const o = v as Record<string, unknown>;
  if (sorted) {
    for (let i = 0; i < keys.length; i++) member(out, masked[i]!, maskValue(o[keys[i]!], m, depth + 1));
    return out;
  }
  // Stable: keys that mask to the same text keep their order (the last one wins, as before).
  const order = keys.map((_, i) => i).sort((a, b) => (masked[a]! < masked[b]! ? -1 : masked[a]! > masked[b]! ? 1 : a - b));
  for (const i of order) member(out, masked[i]!, maskValue(o[keys[i]!], m, depth + 1));
  return out;
}

/** Longest string remembered as clean; most remembered per scanner (the set is cleared when full). */
const CLEAN_MAX_CHARS = 64;
const CLEAN_MAX_ENTRIES = 4096;
const cleanStrings = new WeakMap<TextMasker, Set<string>>();

function cleanSet(scanner: TextMasker): Set<string> {
  let clean = cleanStrings.get(scanner);
  if (clean === undefined) {
    clean = new Set();
    cleanStrings.set(scanner, clean);
  }
  return clean;
}

/**
 * `scanner.mask(s).text`, remembering short strings in which it found nothing (bounded): the keys
 * and most values of recorded data (`facts`, `method`, `usage`, decision reasons, model names)
 * are the same few words on every exchange. Detectors are pure, so a string clean once is clean
 * for that scanner forever; a string with a finding is never remembered.
 */
function maskString(s: string, { scanner, clean }: Masking): string {
  if (s.length > CLEAN_MAX_CHARS) return scanner.mask(s).text;
  if (clean.has(s)) return s;
  const r = scanner.mask(s);
  if (r.findings.length === 0 && r.text === s) {
    if (clean.size >= CLEAN_MAX_ENTRIES) clean.clear();
    clean.add(s);
  }
  return r.text;
}

/**
 * Hands one event of an HTTP exchange to the recorder. Every string of `data` is masked with
 * all detectors ({@link maskRecordData}); `text` and `prompt` must come masked from
 * {@link maskedExcerpt}. Never throws into the data path.
 */
export function recordEvent(
  svc: Pick<ProxyDeps, 'recorder' | 'clock' | 'log' | 'scanner'>, session: string, principal: Principal | undefined, connection: string,
  type: RecordEvent['type'], data: Record<string, unknown>,
): void {
  let masked: Record<string, unknown>;
  try {
    masked = maskRecordData(data, svc.scanner);
  } catch (err) {
    svc.log.error({ err: String(err) }, 'recorder failed');
    return;
  }
  new RecordingTap(svc, session, { protocol: 'http', principal, connection, textLimit: RECORD_TEXT_LIMIT, masker: svc.scanner }).event(type, masked);
}

/**
 * The response text of `capture` as the recording keeps it: exactly `maskedExcerpt(capture.text,
 * scanner)`. When the capture holds one whole JSON document (`addDocument`, within the limit) and
 * the all-detector walk finds nothing in it, that is the text itself, so the document is checked
 * in place (the same walk, reporting instead of rewriting) rather than parsed, rewritten and
 * serialized again; otherwise the text is masked as {@link maskedExcerpt} masks it.
 */
export function recordedText(capture: TextCapture, scanner: TextMasker): string {
  if (capture.whole !== undefined) {
    // One document over the limit: walked whole (parsed again if a worker serialized it), then
    // cut; one too large to walk on the event loop is not kept (see maskedExcerpt).
    if (capture.doc === undefined || capture.whole.length > MAX_WALKED_CHARS) return excerpt(capture.whole, scanner, RECORD_TEXT_LIMIT);
    try {
      return JSON.stringify(redactDocument(capture.doc, scanner)).slice(0, RECORD_TEXT_LIMIT);
    } catch {
      // Nested too deeply, a payload over the walk's limit: not kept as text either (fail closed).
      return excerpt(capture.whole, scanner, RECORD_TEXT_LIMIT);
    }
  }
  if (capture.doc !== undefined && !capture.truncated && capture.text.length <= RECORD_TEXT_LIMIT && isJsonStart(capture.text)) {
    try {
      if (inspectPrompt(capture.doc, scanner).findings === 0) return capture.text;
    } catch {
      // (nesting, an over-limit payload): masked as maskedExcerpt masks it below
    }
  }
  return maskedExcerpt(capture.text, scanner);
}

function isJsonStart(t: string): boolean {
  const c = t.charCodeAt(0);
  return c === 123 || c === 91;
}

/**
 * `text` masked with `scanner` and bounded to {@link RECORD_TEXT_LIMIT} (for recording prompts
 * and responses): a whole JSON document is walked whole and its masked serialization cut; other
 * text is masked with its escapes decoded (`inspect/prompt/excerpt.ts`).
 */
export function maskedExcerpt(text: string, scanner: TextMasker): string {
  return excerpt(text, scanner, RECORD_TEXT_LIMIT);
}
