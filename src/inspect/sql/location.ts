import type { TextRange } from './types.ts';

/** A statement's position as libpg-query reports it: UTF-8 byte offset and length (0 = to end). */
export interface ByteSpan {
  readonly byteStart: number;
  readonly byteLength: number;
}

/**
 * Converts the parser's UTF-8 byte spans (in text order) to UTF-16 string ranges, in one pass
 * over the text. ASCII-only text is converted without decoding.
 *
 * @example
 *   toTextRanges('SELECT 1; SELECT 2', [{ byteStart: 0, byteLength: 8 }, { byteStart: 10, byteLength: 0 }])
 *   // [{ start: 0, end: 8 }, { start: 10, end: 18 }]
 */
export function toTextRanges(sql: string, spans: readonly ByteSpan[]): TextRange[] {
  const bytes = Buffer.from(sql, 'utf8');
  const total = bytes.length;
  const ascii = total === sql.length;
  let lastByte = 0;
  let lastIndex = 0;
  const toIndex = (byte: number): number => {
    const b = Math.min(Math.max(byte, 0), total);
    if (ascii) return b;
    if (b < lastByte) { lastByte = 0; lastIndex = 0; } // out of order: restart (still correct)
    lastIndex += bytes.subarray(lastByte, b).toString('utf8').length;
    lastByte = b;
    return lastIndex;
  };
  return spans.map((span) => {
    const endByte = span.byteLength > 0 ? span.byteStart + span.byteLength : total;
    const start = toIndex(span.byteStart);
    return { start, end: toIndex(endByte) };
  });
}
