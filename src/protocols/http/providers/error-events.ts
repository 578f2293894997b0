import type { SseEvent } from '../sse/parser.ts';

/**
 * The error event each wire format's SDKs raise as an error: OpenAI chat `data: {"error":…}`,
 * Responses `event: error` (with `error` too, which the openai SDK checks), Anthropic `event: error`.
 *
 * @example errorEvent('anthropic', 'upstream_unreachable', 'upstream closed the stream')
 */
export function errorEvent(format: 'openai-chat' | 'openai-responses' | 'anthropic', code: string, message: string, seq = 0): SseEvent {
  if (format === 'anthropic') return { event: 'error', data: JSON.stringify({ type: 'error', error: { type: 'api_error', message } }) };
  const error = { message, type: 'gatehouse_error', code, param: null };
  if (format === 'openai-responses') return { event: 'error', data: JSON.stringify({ type: 'error', code, message, param: null, sequence_number: seq, error }) };
  return { data: JSON.stringify({ error }) };
}
