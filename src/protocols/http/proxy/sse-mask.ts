import { GatehouseError } from '../../../kernel/errors.ts';
import { StreamMasker } from '../../../masking/stream-masker.ts';
import type { TextMasker } from '../../../masking/text-masker.ts';
import type { SseEvent } from '../sse/parser.ts';
import { formatSse } from '../sse/serializer.ts';
import { EscapeNormalizer, JSON_MAX_DEPTH, maskJsonDocument, parseJsonNumbersMasked } from './body-mask.ts';
import { DecodeError } from './decode.ts';

/** Most string values (paths) carried at once; beyond it the stream fails closed. */
export const MAX_SSE_PATHS = 4096;
/** Most events held back at once (waiting for their text to settle); beyond it the stream fails closed. */
export const MAX_HELD_EVENTS = 1024;
/** Most data held back at once (UTF-16 code units); beyond it the stream fails closed. */
export const MAX_HELD_DATA = 16 * 1024 * 1024;

/** Data a client may parse as JSON: it must parse here, or the stream is refused. */
const JSON_LIKE = /^\s*[[{]/;
/** The sentinel of OpenAI-style streams: text, not a JSON array. */
const DONE = /^\s*\[DONE\]\s*$/;
/** The key of non-JSON data (never a JSON path: those start with `/`). */
const TEXT = 'text';

/** One event waiting for the text of its values to settle. */
interface Held {
  readonly event: string | undefined;
  /** The parsed JSON document (numbers masked), or undefined for text data (its one value is `values[0]`). */
  readonly doc: unknown;
  /** Masked values by leaf (same order as the leaves), complete once `pending` is 0. */
  readonly values: string[];
  /** Leaves not final yet. */
  pending: number;
  /** The length of the event's data, counted in {@link MAX_HELD_DATA}. */
  readonly size: number;
  /** Setters of the document's string leaves. */
  readonly set: ((v: string) => void)[];
}

/** A part of a value: a slice `[start, end)` of its path's joined text. */
interface Segment { readonly held: Held; readonly leaf: number; readonly start: number; readonly end: number; readonly raw: string }

/** The text of one path (a JSON leaf, or the data of text events) carried across consecutive events. */
interface PathStream { readonly sm: StreamMasker; pushed: number; emitted: number; segments: Segment[] }

/**
 * Masks a `text/event-stream` of an `http` connection so that no client reading of it is
 * unmasked. By construction:
 * - JSON data (starting with `{` or `[`) is walked as a JSON body is (`maskJsonText`); data that
 *   looks like JSON but does not parse (`NaN`, single quotes — parsers like Python's accept
 *   them) is refused (`masking_failed`: the stream ends with an error), never masked as text.
 *   `[DONE]` is text.
 * - Other data is masked as `text/plain` is: escapes a reader could undo (`%40`, `\u0040`) decoded.
 * - A value split across consecutive events (tokens a client joins): each string value is also
 *   fed to one {@link StreamMasker} per JSON path (one for text data) while consecutive events
 *   carry that path, so detectors see the joined text. Events are held back until the text of
 *   their values is settled (usually until the next event, or the end), then sent whole, in
 *   order, with their values in place: where a masked piece spans two events, the first gets the
 *   piece and the second's part is emptied. The concatenation of a path's values is thus
 *   `mask(joined text)`.
 * - `id:` is dropped (its value is repeated on every later event and in `Last-Event-ID`); the
 *   `event:` name is masked as text (escapes decoded); `retry:` and comments are dropped by
 *   the parser.
 */
export class SseMasker {
  readonly #masker: TextMasker;
  readonly #paths = new Map<string, PathStream>();
  readonly #queue: Held[] = [];
  #heldData = 0;

  constructor(masker: TextMasker) {
    this.#masker = masker;
  }

  /** Masks events; returns the wire text of those now complete. */
  push(events: readonly SseEvent[]): string {
    for (const e of events) this.#event(e);
    return this.#release();
  }

  /** Whether events are held back (their text not settled yet). */
  get holding(): boolean {
    return this.#queue.length > 0;
  }

  /** Ends the stream — or settles it after a silence (the masker goes on with the next events): every held event, masked. */
  end(): string {
    for (const key of [...this.#paths.keys()]) this.#close(key);
    return this.#release();
  }

  #event(e: SseEvent): void {
    const event = e.event === undefined ? undefined : this.#masker.mask(decodeWhole(e.event)).text;
    let doc: unknown;
    const leaves: { path: string; value: string; set: (v: string) => void }[] = [];
    if (JSON_LIKE.test(e.data) && !DONE.test(e.data)) {
      try {
        doc = parseJsonNumbersMasked(e.data, this.#masker);
      } catch (err) {
        if (err instanceof SyntaxError) throw new GatehouseError('masking_failed', 'an event\'s data looks like JSON but cannot be parsed; refused (it cannot be masked)');
        throw err;
      }
      collect(doc, '', 0, leaves, () => undefined); // the root is an object or an array
    } else {
      leaves.push({ path: TEXT, value: decodeWhole(e.data), set: () => undefined });
    }
    const held: Held = { event, doc, values: leaves.map(() => ''), pending: leaves.length, size: e.data.length, set: leaves.map((l) => l.set) };
    this.#heldData += held.size;
    if (this.#queue.length >= MAX_HELD_EVENTS || this.#heldData > MAX_HELD_DATA) throw new GatehouseError('masking_failed', 'too many events held back for masking');
    this.#queue.push(held);
    // A path the event does not carry ends: its held text is settled in the events before.
    const here = new Set(leaves.map((l) => l.path));
    for (const key of [...this.#paths.keys()]) if (!here.has(key)) this.#close(key);
    leaves.forEach((l, i) => {
      let ps = this.#paths.get(l.path);
      if (ps === undefined) {
        if (this.#paths.size >= MAX_SSE_PATHS) throw new GatehouseError('masking_failed', 'too many values in one event to mask');
        ps = { sm: new StreamMasker(this.#masker), pushed: 0, emitted: 0, segments: [] };
        this.#paths.set(l.path, ps);
      }
      ps.segments.push({ held, leaf: i, start: ps.pushed, end: ps.pushed + l.value.length, raw: l.value });
      ps.pushed += l.value.length;
      this.#emit(ps, ps.sm.push(l.value), ps.pushed - ps.sm.heldLength);
    });
  }

  #close(key: string): void {
    const ps = this.#paths.get(key)!;
    this.#paths.delete(key);
    this.#emit(ps, ps.sm.end(), ps.pushed);
  }

  /**
   * Places masked text covering `[ps.emitted, upTo)` of the path's joined text in the values of
   * its segments: unchanged text is split at the segments' bounds; changed text goes whole to the
   * first segment it covers (the others' parts are emptied). Segments entirely emitted are final.
   */
  #emit(ps: PathStream, out: string, upTo: number): void {
    const from = ps.emitted;
    ps.emitted = upTo;
    if (upTo > from) {
      const covered = ps.segments.filter((s) => s.end > from && s.start < upTo);
      const part = (s: Segment): string => s.raw.slice(Math.max(0, from - s.start), Math.min(s.raw.length, upTo - s.start));
      const first = covered[0];
      if (first === undefined) throw new GatehouseError('masking_failed', 'masked text outside any event');
      if (out === covered.map(part).join('')) for (const s of covered) append(s, part(s));
      else append(first, out);
    }
    while (ps.segments.length > 0 && ps.segments[0]!.end <= upTo) {
      const s = ps.segments.shift()!;
      s.held.pending--;
    }
    // An empty value (start === end) is final as soon as the text before it is.
  }

  #release(): string {
    let out = '';
    while (this.#queue.length > 0 && this.#queue[0]!.pending === 0) {
      const h = this.#queue.shift()!;
      this.#heldData -= h.size;
      let data: string;
      if (h.doc === undefined) data = h.values[0] ?? '';
      else {
        // The values, joined-masked, go back in place; then the whole walk of a JSON body (keys,
        // numbers, decoded payloads, credential-keyed values) masks the event as a document.
        h.set.forEach((set, i) => set(h.values[i]!));
        data = maskJsonDocument(h.doc, this.#masker);
      }
      out += formatSse({ data, ...(h.event === undefined ? {} : { event: h.event }) });
    }
    return out;
  }
}

function append(s: Segment, text: string): void {
  s.held.values[s.leaf] = `${s.held.values[s.leaf] ?? ''}${text}`;
}

/** Text with the escapes a reader could undo decoded (as `text/plain` bodies are). */
function decodeWhole(s: string): string {
  const e = new EscapeNormalizer();
  return e.push(s) + e.end();
}

/** The string leaves of a JSON document, with a setter each; `/`-separated paths. */
function collect(v: unknown, path: string, depth: number, out: { path: string; value: string; set: (v: string) => void }[], set: (v: string) => void): void {
  if (depth > JSON_MAX_DEPTH) throw new DecodeError('the JSON document is nested too deeply to inspect');
  if (typeof v === 'string') out.push({ path: `/${path}`, value: v, set });
  else if (Array.isArray(v)) v.forEach((x, i) => collect(x, `${path}/${i}`, depth + 1, out, (n) => { v[i] = n; }));
  else if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) collect(o[k], `${path}/${k.replaceAll('~', '~0').replaceAll('/', '~1')}`, depth + 1, out, (n) => { o[k] = n; });
  }
}
