import type { TextMasker } from '../../../masking/text-masker.ts';
import type { SseEvent } from '../sse/parser.ts';
import { errorEvent } from './error-events.ts';
import { StreamSet } from './stream-set.ts';
import { eventJson, isObject, JSON_STRING_BODY as JSTR, type StreamTransform, type TextSink } from './types.ts';

/** Delta types with their streamed text field. */
const DELTA_FIELDS: Readonly<Record<string, string>> = {
  text_delta: 'text', input_json_delta: 'partial_json', thinking_delta: 'thinking',
};
/**
 * Delta types that carry whole values, masked whole: a signature (sent once per block) and a
 * citation. Any other delta type fails closed: a client may join its pieces, which masking
 * them one by one would not see.
 */
const WHOLE_DELTAS = new Set(['signature_delta', 'citations_delta']);
/** Content block types whose start event may carry the beginning of the streamed text. */
const START_FIELDS: Readonly<Record<string, 'text' | 'thinking'>> = { text: 'text', thinking: 'thinking' };
const WHOLE = new Set(['message_start', 'content_block_start', 'message_delta', 'ping', 'error']);
/** The common text delta, matched on the raw text (anything else takes the parsing path). */
const FAST_DELTA = new RegExp(
  String.raw`^\{"type":"content_block_delta","index":(0|[1-9]\d{0,5}),"delta":\{"type":"text_delta","text":"(${JSTR})"\}\}$`,
);

/**
 * Anthropic Messages events. `content_block_delta` text (`text_delta`, `input_json_delta`,
 * `thinking_delta`) is stream-masked per block (`signature_delta` and `citations_delta` whole, any
 * other delta type fails closed); before `content_block_stop` (and
 * `message_stop`) a held remainder is emitted as one more `content_block_delta`. Other known
 * events are masked whole; an unknown event fails closed.
 *
 * @example
 *   const t = anthropicStream(masker, () => {});
 *   t.event({ event: 'ping', data: '{"type":"ping"}' });
 */
export function anthropicStream(masker: TextMasker, sink: TextSink): StreamTransform {
  const set = new StreamSet(masker, sink);

  const flush = (prefix: string): SseEvent[] => set.keys(prefix).flatMap((key) => {
    const rest = set.flush(key);
    if (!rest) return [];
    const [index, dtype] = key.split('|') as [string, string];
    const data = { type: 'content_block_delta', index: Number(index), delta: { type: dtype, [DELTA_FIELDS[dtype] ?? 'text']: rest } };
    return [{ event: 'content_block_delta', data: JSON.stringify(data) }];
  });

  return {
    event(ev) {
      const m = ev.event === 'content_block_delta' || ev.event === undefined ? FAST_DELTA.exec(ev.data) : null;
      if (m !== null) {
        const [, index, raw] = m as unknown as [string, string, string];
        const text = raw.includes('\\') ? JSON.parse(`"${raw}"`) as string : raw;
        const out = set.push(`${index}|text_delta`, text);
        if (out === text) return [ev]; // byte-for-byte: nothing held, nothing masked
        return [{ event: 'content_block_delta', data: `{"type":"content_block_delta","index":${index},"delta":{"type":"text_delta","text":${JSON.stringify(out)}}}` }];
      }
      const d = eventJson(ev);
      const type = typeof d.type === 'string' ? d.type : '';
      if (ev.event !== undefined && ev.event !== type) throw new Error('event name and type disagree');
      if (type === 'content_block_delta') {
        const delta = d.delta;
        if (!isObject(delta) || typeof delta.type !== 'string' || typeof d.index !== 'number') throw new Error('malformed content_block_delta');
        const field = DELTA_FIELDS[delta.type];
        if (field === undefined && !WHOLE_DELTAS.has(delta.type)) throw new Error(`unknown delta type "${delta.type.slice(0, 40)}"`);
        const v = field === undefined ? undefined : delta[field];
        if (field !== undefined && typeof v !== 'string') throw new Error('delta text is not a string');
        // Everything but the streamed text is masked whole: a signature_delta, citations, extra members.
        if (field !== undefined) delta[field] = '';
        set.maskWhole(d);
        if (field !== undefined && typeof v === 'string') delta[field] = set.push(`${String(d.index)}|${delta.type}`, v);
        return [{ event: type, data: JSON.stringify(d) }];
      }
      if (type === 'content_block_stop' || type === 'message_stop') {
        const held = flush(type === 'message_stop' ? '' : `${String(d.index)}|`);
        set.maskWhole(d);
        return [...held, { event: type, data: JSON.stringify(d) }];
      }
      if (!WHOLE.has(type)) throw new Error(`unknown event type "${type.slice(0, 60)}"`);
      const cb = type === 'content_block_start' ? d.content_block : undefined;
      const startField = isObject(cb) ? START_FIELDS[String(cb.type)] : undefined;
      const startText = isObject(cb) && startField !== undefined ? cb[startField] : undefined;
      if (isObject(cb) && startField !== undefined && typeof startText === 'string' && startText !== '') {
        // Text in the block's start event continues in its deltas: it opens the block's stream
        // (an entity split between the start and the first delta is still one entity).
        cb[startField] = '';
        set.maskWhole(d);
        cb[startField] = set.push(`${String(d.index)}|${startField}_delta`, startText);
        return [{ event: type, data: JSON.stringify(d) }];
      }
      set.maskWhole(d);
      return [{ event: type, data: JSON.stringify(d) }];
    },
    end() {
      return flush('');
    },
    error: (code, message) => errorEvent('anthropic', code, message),
  };
}
