import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { TextMasker } from '../../masking/text-masker.ts';

/** Most characters of text in one tool result (structured content is bounded by each tool). */
export const TEXT_LIMIT = 256 * 1024;

/**
 * The output schema of every tool: `status` (`ok`, or `pending_approval` with `review_id` and
 * `message` when the call waits for a human), and the tool's own fields, present when `ok`.
 * Denials and failures are `isError` results with the reason as text (no structured content).
 *
 * @example const output = envelope({ user: z.string() });
 */
export function envelope<S extends z.ZodRawShape>(shape: S) {
  return z.object(shape).partial().extend({
    status: z.enum(['ok', 'pending_approval']).describe('"ok", or "pending_approval": held for a human; see review_id'),
    review_id: z.string().optional().describe('With pending_approval: the review to wait for (review_wait)'),
    message: z.string().optional().describe('With pending_approval: what to do next'),
  });
}

/** A successful result: structured content plus the same as text. */
export function okResult(data: Record<string, unknown>, text: string): CallToolResult {
  return { content: [{ type: 'text', text: clip(text) }], structuredContent: { status: 'ok', ...data } };
}

/** A call held for review: not an error; the review id and what to do next. */
export function pendingResult(reviewId: string, message: string): CallToolResult {
  return {
    content: [{ type: 'text', text: message }],
    structuredContent: { status: 'pending_approval', review_id: reviewId, message },
  };
}

/** A denial, an upstream error or a timeout: `isError` with a text naming the reason. */
export function errorResult(code: string, reason: string): CallToolResult {
  return { content: [{ type: 'text', text: clip(`${code}: ${reason}`) }], isError: true };
}

/** Every string in `value` (keys too) passed through `masker`. Throws when the masker does. */
export function deepMask(value: unknown, masker: TextMasker): unknown {
  if (typeof value === 'string') return masker.mask(value).text;
  if (Array.isArray(value)) return value.map((v) => deepMask(v, masker));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[masker.mask(k).text] = deepMask(v, masker);
    return out;
  }
  return value;
}

/** `text` cut to {@link TEXT_LIMIT} characters, saying so. */
export function clip(text: string, limit = TEXT_LIMIT): string {
  return text.length <= limit ? text : `${text.slice(0, limit)}\n… (truncated)`;
}
