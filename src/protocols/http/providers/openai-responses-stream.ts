import type { TextMasker } from '../../../masking/text-masker.ts';
import type { SseEvent } from '../sse/parser.ts';
import { errorEvent } from './error-events.ts';
import { StreamSet } from './stream-set.ts';
import { eventJson, isObject, type StreamTransform, type TextSink } from './types.ts';

/** Text carried in `.delta` events, one stream masker per (kind, item, content part). */
const DELTA_KINDS = new Set([
  'response.output_text', 'response.refusal', 'response.function_call_arguments',
  'response.reasoning_summary_text', 'response.reasoning_text', 'response.custom_tool_call_input',
  'response.mcp_call_arguments', 'response.audio.transcript', 'response.code_interpreter_call_code',
]);

/** Events carrying whole values: every content string is masked as a whole. */
const WHOLE = /^(error|response\.(created|in_progress|queued|completed|failed|incomplete|output_item\.(added|done)|content_part\.(added|done)|reasoning_summary_part\.(added|done)|output_text\.annotation\.added|(web_search_call|file_search_call|code_interpreter_call|image_generation_call|mcp_call|mcp_list_tools)\.[a-z_]+))$/;

const TERMINAL = new Set(['response.completed', 'response.failed', 'response.incomplete']);

/**
 * The stream a delta continues: its kind and position (`output_index`, `content_index`,
 * `summary_index`), which is what the SDKs join deltas by. A delta carrying only an item id is
 * keyed by the index that id was paired with ({@link ItemPairs.item}), so one item is one stream
 * whichever of the two a delta carries.
 */
function streamKey(kind: string, d: Record<string, unknown>, items: ItemPairs): string {
  const num = (v: unknown): string => (typeof v === 'number' ? String(v) : '');
  return `${kind}|${items.item(d)}|${num(d.content_index)}|${num(d.summary_index)}`;
}

/**
 * Item ids and output indexes must pair one to one through a stream: a client joining deltas by
 * item id and one joining them by index must read the same text, or an entity split between two
 * "streams" of one would pass unseen. A mismatch fails closed.
 */
class ItemPairs {
  readonly #byId = new Map<string, number>();
  readonly #byIndex = new Map<number, string>();
  /** Ids whose deltas were keyed by the id alone (no index was known for them). */
  readonly #idOnly = new Set<string>();

  check(d: Record<string, unknown>): void {
    const id = typeof d.item_id === 'string' ? d.item_id : isObject(d.item) ? d.item.id : undefined;
    const index = d.output_index;
    if (typeof id !== 'string' || typeof index !== 'number') return;
    // Deltas of this id were already keyed by the id alone: keyed by index now, the item would be two streams.
    if (this.#idOnly.has(id)) throw new Error('an item id streamed without its output index arrives with one');
    const i = this.#byId.get(id);
    const known = this.#byIndex.get(index);
    if ((i !== undefined && i !== index) || (known !== undefined && known !== id)) throw new Error('item id and output index disagree between events');
    if (this.#byId.size >= MAX_ITEMS) throw new Error('too many output items in one response');
    this.#byId.set(id, index);
    this.#byIndex.set(index, id);
  }

  /** The item part of a delta's stream key: its output index, or the index its item id was paired with, else the id. */
  item(d: Record<string, unknown>): string {
    if (typeof d.output_index === 'number') return String(d.output_index);
    if (typeof d.item_id !== 'string') return '';
    const index = this.#byId.get(d.item_id);
    if (index !== undefined) return String(index);
    if (!this.#idOnly.has(d.item_id)) {
      if (this.#idOnly.size >= MAX_ITEMS) throw new Error('too many output items in one response');
      this.#idOnly.add(d.item_id);
    }
    return `id:${d.item_id}`;
  }
}
const MAX_ITEMS = 4096;

/**
 * OpenAI Responses API events (`event: response.output_text.delta` …). Deltas are stream-masked;
 * before the matching `.done` (and before `response.completed`) a held remainder is emitted as
 * one more `.delta` event of the same kind; `.done`, `response.completed` and the other whole
 * events are masked in full, and a delta event's other members too (`logprobs` are emptied). An
 * unknown event type fails closed.
 *
 * @example
 *   const t = openAiResponsesStream(masker, () => {});
 *   t.event({ event: 'response.output_text.delta', data: '{"type":"response.output_text.delta","delta":"hi","item_id":"m","output_index":0,"content_index":0}' });
 */
export function openAiResponsesStream(masker: TextMasker, sink: TextSink): StreamTransform {
  const set = new StreamSet(masker, sink);
  const templates = new Map<string, Record<string, unknown>>();
  const items = new ItemPairs();
  let seq = 0;

  const flushKey = (key: string): SseEvent[] => {
    const tpl = templates.get(key);
    const rest = set.flush(key);
    templates.delete(key);
    if (!rest || !tpl) return [];
    const type = `${String(key.split('|')[0])}.delta`;
    return [{ event: type, data: JSON.stringify({ ...tpl, type, delta: rest, sequence_number: seq }) }];
  };

  return {
    event(ev) {
      const d = eventJson(ev);
      const type = typeof d.type === 'string' ? d.type : ev.event ?? '';
      if (ev.event !== undefined && ev.event !== type) throw new Error('event name and type disagree');
      if (typeof d.sequence_number === 'number') seq = d.sequence_number;
      items.check(d);
      const dot = type.lastIndexOf('.');
      const kind = type.slice(0, dot);
      const suffix = type.slice(dot + 1);
      const out: SseEvent[] = [];
      if (DELTA_KINDS.has(kind) && suffix === 'delta') {
        const text = d.delta;
        if (typeof text !== 'string') throw new Error('delta is not a string');
        const key = streamKey(kind, d, items);
        // Everything but the streamed text (ids, logprobs — dropped —, obfuscation, extra members) is masked whole.
        d.delta = '';
        set.maskWhole(d);
        if (!templates.has(key)) {
          const { delta: _d, sequence_number: _s, ...tpl } = d;
          templates.set(key, tpl);
        }
        d.delta = set.push(key, text);
        return [{ event: type, data: JSON.stringify(d) }];
      }
      const part = type === 'response.content_part.added' ? d.part : undefined;
      if (isObject(part) && part.type === 'output_text' && typeof part.text === 'string' && part.text !== '') {
        // Text in the part's added event continues in its deltas: it opens the part's stream.
        const text = part.text;
        const key = streamKey('response.output_text', d, items);
        part.text = '';
        set.maskWhole(d);
        if (!templates.has(key)) {
          const { part: _p, sequence_number: _s, ...tpl } = d;
          templates.set(key, tpl);
        }
        part.text = set.push(key, text);
        return [{ event: type, data: JSON.stringify(d) }];
      }
      if (DELTA_KINDS.has(kind) && suffix === 'done') {
        out.push(...flushKey(streamKey(kind, d, items)));
      } else if (TERMINAL.has(type)) {
        for (const k of set.keys()) out.push(...flushKey(k));
      } else if (!WHOLE.test(type)) {
        throw new Error(`unknown event type "${type.slice(0, 60)}"`);
      }
      set.maskWhole(d);
      out.push({ event: type, data: JSON.stringify(d) });
      return out;
    },
    end() {
      return set.keys().flatMap((k) => flushKey(k));
    },
    error: (code, message) => errorEvent('openai-responses', code, message, seq + 1),
  };
}
