import type { TextMasker } from '../../../masking/text-masker.ts';
import { errorEvent } from './error-events.ts';
import { anthropicStream } from './anthropic-stream.ts';
import { openAiChatStream } from './openai-chat-stream.ts';
import { openAiResponsesStream } from './openai-responses-stream.ts';
import { isObject, type StreamTransform, type TextSink } from './types.ts';
import type { SseEvent } from '../sse/parser.ts';

export type { StreamTransform, TextSink } from './types.ts';

/** The wire format of an LLM endpoint. */
export type WireFormat = 'openai-chat' | 'openai-responses' | 'anthropic';

/** Which wire format a provider speaks on an endpoint (`/v1/responses…` is the Responses API). */
export function wireFormat(provider: string, endpoint: string): WireFormat {
  if (provider === 'anthropic') return 'anthropic';
  return /\/responses(\/|$)/.test(endpoint) ? 'openai-responses' : 'openai-chat';
}

/**
 * The stream transform for a wire format. With no masker, events pass unchanged (only re-framed),
 * so that an upstream failure can still end the stream with a well-formed error event.
 *
 * @example const t = streamTransform('anthropic', masker, (s) => recorded.push(s));
 */
export function streamTransform(format: WireFormat, masker: TextMasker | undefined, sink: TextSink): StreamTransform {
  const masking = masker === undefined ? undefined
    : format === 'anthropic' ? anthropicStream(masker, sink)
      : format === 'openai-responses' ? openAiResponsesStream(masker, sink) : openAiChatStream(masker, sink);
  if (masking) {
    // The SSE `id:` field is not read by the providers' SDKs and is not masked: it is dropped, so
    // that no path (the raw-text fast paths return the event as received) can carry it through.
    return { ...masking, event: (ev) => masking.event(ev.id === undefined ? ev : withoutId(ev)) };
  }
  return { event: (ev) => [ev], end: () => [], error: (c, m) => errorEvent(format, c, m) };
}

function withoutId(ev: SseEvent): SseEvent {
  return ev.event === undefined ? { data: ev.data } : { event: ev.event, data: ev.data };
}

/** Facts about an LLM request body (model, stream, tools offered), per wire format. */
export function requestShape(format: WireFormat, body: unknown): { model: string; stream: boolean; tools: string[] } {
  const b = isObject(body) ? body : {};
  const tools: string[] = [];
  if (Array.isArray(b.tools)) {
    for (const t of b.tools as unknown[]) {
      if (!isObject(t)) continue;
      const fn = t.function;
      const name = isObject(fn) && typeof fn.name === 'string' ? fn.name : typeof t.name === 'string' ? t.name : typeof t.type === 'string' ? t.type : undefined;
      if (name !== undefined) tools.push(name);
    }
  }
  if (format === 'openai-chat' && Array.isArray(b.functions)) {
    for (const f of b.functions as unknown[]) if (isObject(f) && typeof f.name === 'string') tools.push(f.name);
  }
  return { model: typeof b.model === 'string' ? b.model : '', stream: b.stream === true, tools: [...new Set(tools)].sort() };
}

