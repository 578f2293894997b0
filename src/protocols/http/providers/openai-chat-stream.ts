import type { TextMasker } from '../../../masking/text-masker.ts';
import type { SseEvent } from '../sse/parser.ts';
import { errorEvent } from './error-events.ts';
import { StreamSet } from './stream-set.ts';
import { isCredentialKey } from '../../../inspect/prompt/credential-keys.ts';
import { eventJson, isObject, JSON_STRING_BODY as JSTR, type StreamTransform, type TextSink } from './types.ts';

/** Streamed delta members of the known wire formats (their names need no check). */
const PLAIN_DELTA_FIELDS = new Set(['content', 'refusal', 'reasoning_content', 'reasoning']);

const ENVELOPE = ['id', 'object', 'created', 'model', 'system_fingerprint', 'service_tier'] as const;

/** The envelope members of a (masked) chunk, for the extra chunk that flushes held text. */
function envelopeOf(chunk: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(ENVELOPE.filter((k) => k in chunk).map((k) => [k, chunk[k]]));
}

/**
 * The overwhelmingly common chunk, matched on the raw text: envelope fields only, one choice whose
 * delta is exactly `{"content": "…"}`, no finish reason, nothing else (no logprobs, no usage, no
 * extra member). Such a chunk is handled without parsing or re-serializing the whole event.
 * Anything else — including any unexpected member — takes the general (parsing) path.
 */
const FAST_CHUNK = new RegExp(
  String.raw`^(\{"id":"${JSTR}","object":"chat\.completion\.chunk","created":(?:0|[1-9]\d{0,14}),"model":"${JSTR}"` +
  String.raw`(?:,"service_tier":(?:"${JSTR}"|null))?(?:,"system_fingerprint":(?:"${JSTR}"|null))?)` +
  String.raw`,"choices":\[\{"index":(0|[1-9]\d{0,5}),"delta":\{"content":"(${JSTR})"\},"finish_reason":null\}\]\}$`,
);

/**
 * OpenAI chat-completions chunks (`data: {choices:[{index, delta}]}` … `data: [DONE]`).
 * One stream masker per choice and field (`delta.content`, `delta.refusal`, …) and per tool call
 * (`delta.tool_calls[i].function.arguments`), and a legacy completion's `choices[].text`. A
 * streamed member whose name the masker would change, or that names a credential, fails closed.
 * A choice's held remainder is appended to its
 * finishing chunk; anything still held at `[DONE]` goes in one extra chunk before it.
 * `logprobs` are dropped (token texts would bypass masking). Everything else — the envelope, tool
 * call ids and names, finish reasons, members a provider adds to chunks or choices — is masked as
 * whole values (`StreamSet.maskWhole`). Unknown delta objects fail closed.
 *
 * @example
 *   const t = openAiChatStream(masker, () => {});
 *   t.event({ data: '{"choices":[{"index":0,"delta":{"content":"hi"}}]}' });
 */
export function openAiChatStream(masker: TextMasker, sink: TextSink): StreamTransform {
  const set = new StreamSet(masker, sink);
  let envelope: Record<string, unknown> = { object: 'chat.completion.chunk' };
  /** The raw envelope of the last fast-path chunk (`{"id":…,"model":…`), parsed only when needed. */
  let rawEnvelope: string | undefined;
  const currentEnvelope = (): Record<string, unknown> => {
    if (rawEnvelope !== undefined) {
      envelope = eventJson({ data: `${rawEnvelope}}` });
      rawEnvelope = undefined;
    }
    return envelope;
  };

  /** The raw envelope last proven clean (the masker changes none of its values), and the verdict. */
  let checkedEnv: string | undefined;
  let envClean = false;
  const cleanEnvelope = (env: string): boolean => {
    if (env !== checkedEnv) {
      const parsed = eventJson({ data: `${env}}` });
      const before = JSON.stringify(parsed);
      set.maskWhole(parsed);
      checkedEnv = env;
      envClean = JSON.stringify(parsed) === before;
    }
    return envClean;
  };

  /**
   * The fast path: undefined when `ev` is not the plain content chunk, or when its envelope (id,
   * model, fingerprint, tier) holds anything the masker changes (the parsing path masks it).
   */
  const fast = (ev: SseEvent): SseEvent[] | undefined => {
    const m = FAST_CHUNK.exec(ev.data);
    if (m === null) return undefined;
    const [, env, index, raw] = m as unknown as [string, string, string, string];
    if (!cleanEnvelope(env)) return undefined;
    const text = raw.includes('\\') ? JSON.parse(`"${raw}"`) as string : raw;
    rawEnvelope = env;
    const out = set.push(`${index}/f:content`, text);
    if (out === text) return [ev]; // byte-for-byte: nothing held, nothing masked
    return [{ data: `${env},"choices":[{"index":${index},"delta":{"content":${JSON.stringify(out)}},"finish_reason":null}]}` }];
  };

  const remainderDelta = (idx: number): Record<string, unknown> => {
    const delta: Record<string, unknown> = {};
    const calls: Record<string, unknown>[] = [];
    for (const key of set.keys(`${idx}/`)) {
      if (key === `${idx}/text`) continue; // a completion's text (not a delta member)
      const rest = set.flush(key);
      if (!rest) continue;
      const sub = key.slice(String(idx).length + 1);
      if (sub.startsWith('tc/')) calls.push({ index: Number(sub.slice(3)), function: { arguments: rest } });
      else if (sub === 'fc') delta.function_call = { arguments: rest };
      else delta[sub.slice(2)] = rest;
    }
    if (calls.length > 0) delta.tool_calls = calls;
    return delta;
  };

  const flushAll = (): SseEvent[] => {
    const idxs = [...new Set(set.keys().map((k) => Number(k.split('/')[0])))];
    const choices = idxs.map((i) => {
      const text = set.flush(`${i}/text`);
      const delta = remainderDelta(i);
      return { index: i, ...(Object.keys(delta).length > 0 ? { delta } : {}), ...(text ? { text } : {}), finish_reason: null };
    }).filter((c) => 'delta' in c || 'text' in c);
    return choices.length > 0 ? [{ data: JSON.stringify({ ...currentEnvelope(), choices }) }] : [];
  };

  return {
    event(ev) {
      if (ev.event !== undefined && ev.event !== 'message') throw new Error(`unknown event type "${ev.event.slice(0, 40)}"`);
      if (ev.data.trim() === '[DONE]') return [...flushAll(), { data: '[DONE]' }];
      const quick = fast(ev);
      if (quick !== undefined) return quick;
      const chunk = eventJson(ev);
      rawEnvelope = undefined;
      const choices = chunk.choices;
      if (choices === undefined || (Array.isArray(choices) && choices.length === 0)) {
        set.maskWhole(chunk); // usage-only chunk or an upstream error object
        envelope = envelopeOf(chunk);
        return [{ data: JSON.stringify(chunk) }];
      }
      if (!Array.isArray(choices)) throw new Error('choices is not an array');
      // Everything but the choices' streamed texts is masked whole: the envelope and any member a
      // provider adds (citations, search results, filter results …).
      chunk.choices = [];
      set.maskWhole(chunk);
      chunk.choices = choices;
      envelope = envelopeOf(chunk);
      for (const choice of choices as unknown[]) {
        if (!isObject(choice) || typeof choice.index !== 'number') throw new Error('malformed choice');
        const idx = choice.index;
        const hasDelta = choice.delta !== undefined;
        const delta = choice.delta ?? {};
        if (!isObject(delta)) throw new Error('malformed delta');
        // Legacy completions stream `choices[].text`, which clients join like a delta's content.
        const text = typeof choice.text === 'string' ? choice.text : undefined;
        if (text !== undefined) choice.text = '';
        choice.delta = {};
        set.maskWhole(choice); // finish_reason, logprobs (dropped), extra members
        if (hasDelta) choice.delta = delta;
        else delete choice.delta;
        if (text !== undefined) choice.text = set.push(`${idx}/text`, text);
        for (const [key, v] of Object.entries(delta)) {
          if (v === null) continue;
          if (key === 'role' && typeof v === 'string') { delta.role = set.maskText(v); continue; }
          // A streamed member's name is emitted as is: it must be one the masker leaves alone and not name a credential.
          if (typeof v === 'string' && !PLAIN_DELTA_FIELDS.has(key) && (isCredentialKey(key) || set.maskText(key) !== key)) throw new Error('a delta member name cannot be masked');
          if (typeof v === 'string') delta[key] = set.push(`${idx}/f:${key}`, v);
          else if (key === 'tool_calls' && Array.isArray(v)) {
            for (const tc of v as unknown[]) {
              if (!isObject(tc) || typeof tc.index !== 'number') throw new Error('malformed tool call delta');
              const fn = tc.function;
              const args = isObject(fn) && typeof fn.arguments === 'string' ? fn.arguments : undefined;
              if (isObject(fn) && args !== undefined) fn.arguments = '';
              set.maskWhole(tc); // id, type, function.name, anything else: whole values
              if (isObject(fn) && args !== undefined) fn.arguments = set.push(`${idx}/tc/${tc.index}`, args);
            }
          } else if (key === 'function_call' && isObject(v)) {
            const args = typeof v.arguments === 'string' ? v.arguments : undefined;
            if (args !== undefined) v.arguments = '';
            set.maskWhole(v);
            if (args !== undefined) v.arguments = set.push(`${idx}/fc`, args);
          } else {
            throw new Error(`unknown delta field "${key.slice(0, 40)}"`);
          }
        }
        if (choice.finish_reason !== null && choice.finish_reason !== undefined) {
          const rest = remainderDelta(idx);
          for (const [k, r] of Object.entries(rest)) {
            if (k === 'tool_calls') {
              const calls = Array.isArray(delta.tool_calls) ? delta.tool_calls as unknown[] : [];
              delta.tool_calls = [...calls, ...(r as unknown[])];
            } else if (k === 'function_call') {
              const fc = isObject(delta.function_call) ? delta.function_call : {};
              const prev = typeof fc.arguments === 'string' ? fc.arguments : '';
              delta.function_call = { ...fc, arguments: prev + ((r as { arguments: string }).arguments) };
            } else {
              delta[k] = (typeof delta[k] === 'string' ? delta[k] : '') + (r as string);
            }
          }
          if (hasDelta || Object.keys(delta).length > 0) choice.delta = delta;
          const restText = set.flush(`${idx}/text`);
          if (restText) choice.text = (typeof choice.text === 'string' ? choice.text : '') + restText;
        }
      }
      return [{ data: JSON.stringify(chunk) }];
    },
    end() {
      return flushAll();
    },
    error: (code, message) => errorEvent('openai-chat', code, message),
  };
}
