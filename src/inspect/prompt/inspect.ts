import { summarize, type FindingSummary, type TextMasker } from '../../masking/text-masker.ts';
import { defaultDetectors } from '../../masking/detectors/index.ts';
import { genericSecretDetector } from '../../masking/detectors/secret-generic.ts';
import type { Finding } from '../../masking/detectors/types.ts';
import { walkJson } from './json-walk.ts';

/** What the prompt inspector learned: finding types and counts (never values). */
export interface PromptFindings extends FindingSummary {
  /** Texts inspected (string values, keys, numbers, decoded payloads). */
  readonly strings: number;
  /** Binary payloads (data: URLs, base64 sources): how many, their media types, total decoded bytes. */
  readonly attachments: number;
  readonly attachment_types: string[];
  readonly attachment_bytes: number;
}

const BUILTIN = new Set(defaultDetectors());
const trustCache = new WeakMap<TextMasker, boolean>();

/** Longest string (and label) remembered as clean; most (label?, string) pairs remembered per masker. */
const CLEAN_MAX_CHARS = 64;
const CLEAN_MAX_ENTRIES = 4096;

/**
 * Short strings in which a masker found nothing (model names, tool names, repeated words), per
 * context: unlabeled strings in one set, strings read with a label in one set per label. A label
 * is never joined to its string in a key, so two different (label?, string) pairs can never share
 * an entry (a joined `label\0string` key once let the unlabeled "ssn\0078051120", clean, stand for
 * "078051120" under the label "ssn"). Detectors are pure, so a pair clean once is clean for that
 * masker forever; a pair with a finding is never remembered. Bounded: cleared when full.
 */
class CleanStrings {
  readonly #plain = new Set<string>();
  readonly #byLabel = new Map<string, Set<string>>();
  #size = 0;

  has(s: string, label: string | undefined): boolean {
    const set = label === undefined ? this.#plain : this.#byLabel.get(label);
    return set !== undefined && set.has(s);
  }

  add(s: string, label: string | undefined): void {
    if (this.#size >= CLEAN_MAX_ENTRIES) {
      this.#plain.clear();
      this.#byLabel.clear();
      this.#size = 0;
    }
    let set = this.#plain;
    if (label !== undefined) {
      const own = this.#byLabel.get(label) ?? new Set<string>();
      if (own.size === 0) this.#byLabel.set(label, own);
      set = own;
    }
    if (set.has(s)) return;
    set.add(s);
    this.#size++;
  }
}

const cleanCache = new WeakMap<TextMasker, CleanStrings>();

function cleanSet(masker: TextMasker): CleanStrings {
  let c = cleanCache.get(masker);
  if (c === undefined) {
    c = new CleanStrings();
    cleanCache.set(masker, c);
  }
  return c;
}

/**
 * The findings of `masker` in `s` (read with `label` as context when given), remembering short
 * clean pairs (bounded) so repeats cost a lookup. Longer strings or labels are always scanned
 * (never truncated into a key).
 */
function scanCached(masker: TextMasker, clean: CleanStrings, s: string, label?: string): readonly Finding[] {
  const opts = label === undefined ? undefined : { label };
  if (s.length > CLEAN_MAX_CHARS || (label !== undefined && label.length > CLEAN_MAX_CHARS)) return masker.scan(s, opts);
  if (clean.has(s, label)) return NONE;
  const f = masker.scan(s, opts);
  if (f.length === 0) clean.add(s, label);
  return f;
}

/**
 * Findings of the all-detector `scanner` in loose texts that also leave for an upstream (header
 * names and values), summarized; the same bounded cache of clean strings as the walk.
 */
export function scanTexts(scanner: TextMasker, texts: readonly string[]): FindingSummary {
  const clean = cleanSet(scanner);
  const all: Finding[] = [];
  for (const t of texts) for (const f of scanCached(scanner, clean, t)) all.push(f);
  return summarize(all);
}
const NONE: readonly Finding[] = Object.freeze([]);

/**
 * True when `masker` finds nothing in `s` read with `label` as context, if any (so
 * `masker.mask(s, { label }).text === s`), answered from the same bounded cache of short clean
 * strings as the walk: header names and values repeat on every request of a client.
 */
export function isCleanText(masker: TextMasker, s: string, label?: string): boolean {
  return scanCached(masker, cleanSet(masker), s, label).length === 0;
}

/**
 * Whether the walk may skip the structural literals for `masker`: only when every detector is a
 * built-in one (a user pattern could match anything, even `assistant`).
 */
export function trustsStructural(masker: TextMasker): boolean {
  let t = trustCache.get(masker);
  if (t === undefined) {
    t = masker.detectors.every((d) => BUILTIN.has(d));
    trustCache.set(masker, t);
  }
  return t;
}

/** True when `masker` masks secrets found by key context (it has the generic-secret detector). */
function masksCredentials(masker: TextMasker): boolean {
  return masker.detectors.includes(genericSecretDetector);
}

/**
 * Scans everything a request body carries (see `json-walk.ts`: values, keys, numbers, decoded
 * payloads, key context) with `scanner` and summarizes the findings for policy, with the binary
 * attachments. Pure: `body` is not changed. Errors propagate (callers deny).
 *
 * @example
 *   const f = inspectPrompt(JSON.parse(raw), scanner); // { secret_types: ['SECRET'], pii_types: [], findings: 1, attachments: 0, … }
 */
export function inspectPrompt(body: unknown, scanner: TextMasker): PromptFindings {
  const all: Finding[] = [];
  const types = new Set<string>();
  let strings = 0;
  let attachments = 0;
  let bytes = 0;
  const clean = cleanSet(scanner);
  walkJson(body, {
    text: (s, label) => {
      strings++;
      for (const f of scanCached(scanner, clean, s, label)) all.push(f);
      return s;
    },
    credential: (s) => {
      strings++;
      all.push({ entity: 'SECRET', kind: 'generic', start: 0, end: s.length });
      return s;
    },
    attachment: (mediaType, n) => {
      attachments++;
      bytes += n;
      types.add(mediaType);
    },
  }, { trustStructural: trustsStructural(scanner), response: false });
  return { ...summarize(all), strings, attachments, attachment_types: [...types].sort(), attachment_bytes: bytes };
}

/**
 * Masks a whole document in place with `masker` and returns it (the root may be replaced) with
 * the number of entities replaced. A credential-keyed scalar is replaced whole as `SECRET` when
 * the masker masks secrets, else scanned as text.
 */
function maskDocument(doc: unknown, masker: TextMasker, response: boolean): { doc: unknown; replaced: number } {
  let replaced = 0;
  const creds = masksCredentials(masker);
  const clean = cleanSet(masker);
  const text = (s: string, label?: string): string => {
    const findings = scanCached(masker, clean, s, label);
    if (findings.length === 0) return s;
    replaced += findings.length;
    return masker.render(s, 0, s.length, findings);
  };
  const out = walkJson(doc, {
    text,
    credential: (s) => {
      if (!creds) return text(s);
      replaced++;
      return masker.replacement('SECRET', s);
    },
    attachment: () => undefined,
  }, { trustStructural: trustsStructural(masker), response });
  return { doc: out, replaced };
}

/**
 * Egress redaction: replaces every detected entity anywhere in `body` (values, keys, numbers,
 * decoded payloads, credential-keyed values), in place, with `masker`'s strategy. Returns how
 * many entities were replaced.
 *
 * @example
 *   const n = redactPrompt(body, rules.textMasker('openai', 'request')!); // then JSON.stringify(body)
 */
export function redactPrompt(body: unknown, masker: TextMasker): number {
  return maskDocument(body, masker, false).replaced;
}

/** {@link redactPrompt} returning the document (a scalar root is replaced, not mutated). */
export function redactDocument(body: unknown, masker: TextMasker): unknown {
  return maskDocument(body, masker, false).doc;
}

/**
 * Masks a provider's JSON response (or a whole SSE event) for the client: everything is masked
 * as in {@link redactPrompt}, and `logprobs` / `top_logprobs` are emptied. Returns the document.
 *
 * @example const out = maskResponseJson(JSON.parse(body), masker); res.end(JSON.stringify(out));
 */
export function maskResponseJson(doc: unknown, masker: TextMasker): unknown {
  return maskDocument(doc, masker, true).doc;
}
