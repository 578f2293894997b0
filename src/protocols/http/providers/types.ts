import type { SseEvent } from '../sse/parser.ts';

/**
 * Masks one provider's event stream. Events go in as the upstream sent them and come out masked,
 * in order, with valid framing. Any throw means "end the stream with `error()`" — the caller never
 * forwards the event that failed.
 */
export interface StreamTransform {
  /** The masked events to emit for one upstream event (possibly none, possibly several). */
  event(ev: SseEvent): SseEvent[];
  /** The upstream ended cleanly: events carrying any text still held back. */
  end(): SseEvent[];
  /** A well-formed error event of this wire format (SDKs raise it as an error). */
  error(code: string, message: string): SseEvent;
}

/** Receives every piece of masked content text a transform emits (for the recording). */
export type TextSink = (text: string) => void;

/**
 * Regular-expression source for the body of a JSON string (between the quotes): no quote,
 * backslash or control character unescaped, only valid escapes (written as an unrolled loop, which
 * V8 matches without backtracking). Used by the fast paths that recognise the common event shapes
 * on the raw text.
 */
export const JSON_STRING_BODY = String.raw`[^"\\\u0000-\u001f]*(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})[^"\\\u0000-\u001f]*)*`;

/** Parses an event's JSON data; throws a plain Error (→ stream error) when it is not an object. */
export function eventJson(ev: SseEvent): Record<string, unknown> {
  const v: unknown = JSON.parse(ev.data);
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('event data is not a JSON object');
  return v as Record<string, unknown>;
}

/** Narrows to a plain object. */
export function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
