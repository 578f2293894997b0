import type { SseEvent } from './parser.ts';

/**
 * One event in SSE wire format, ending with the blank line. Multi-line data becomes several
 * `data:` lines, so the framing stays valid whatever the payload.
 *
 * @example formatSse({ event: 'ping', data: '{}' }) === 'event: ping\ndata: {}\n\n'
 */
export function formatSse(ev: SseEvent): string {
  let out = '';
  if (ev.event !== undefined) out += `event: ${ev.event.replace(/[\r\n]/g, '')}\n`;
  if (ev.id !== undefined) out += `id: ${ev.id.replace(/[\r\n]/g, '')}\n`;
  for (const line of ev.data.split(/\r\n|\r|\n/)) out += `data: ${line}\n`;
  return out + '\n';
}
