import { renderEvent, summarize } from './render.ts';
import { DEFAULT_TERM, initialSize, terminalFrame } from './terminal.ts';
import type { SessionInfo, StoredEvent } from './types.ts';

export type ExportFormat = 'json' | 'csv' | 'asciicast';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['json', 'csv', 'asciicast'];

/** The media type of each format. */
export function exportContentType(f: ExportFormat): string {
  if (f === 'json') return 'application/json';
  if (f === 'csv') return 'text/csv; charset=utf-8';
  return 'application/x-asciicast';
}

/** Terminal size written in asciicast headers. */
const WIDTH = 120;
const HEIGHT = 40;

/**
 * Streams a session export as text chunks, reading events as they come (bounded memory):
 * - `json`: `{"session": {...}, "events": [...]}`;
 * - `csv` (RFC 4180, CRLF): `seq,at,type,exchange,user,agent,summary` (`exchange`: the
 *   event's exchange number in its session, when it has one); cells that a spreadsheet would run
 *   as a formula are prefixed with `'`;
 * - `asciicast` v2: a header line, then `[seconds, "o", text]` per event (CRLF line endings,
 *   times non-decreasing, idle time capped at 2 s for players). An interactive session's
 *   `terminal` events are played as they were recorded: output as `"o"`, keystrokes as `"i"`,
 *   resizes as `"r"`, with the real terminal size in the header (the first `request` with
 *   `cols`/`rows`, looked for among the first 64 events); other events are rendered as text lines.
 *
 * @example for await (const chunk of exportSession('csv', info, store.allEvents(info.id))) res.write(chunk);
 */
export async function* exportSession(format: ExportFormat, session: SessionInfo, events: Iterable<StoredEvent> | AsyncIterable<StoredEvent>): AsyncGenerator<string> {
  if (format === 'json') {
    yield `{"session":${JSON.stringify(session)},"events":[`;
    let first = true;
    for await (const e of events) {
      yield `${first ? '' : ','}${JSON.stringify(e)}`;
      first = false;
    }
    yield ']}\n';
    return;
  }
  if (format === 'csv') {
    yield 'seq,at,type,exchange,user,agent,summary\r\n';
    for await (const e of events) {
      const x = e.data.exchange;
      const exchange = typeof x === 'number' && Number.isSafeInteger(x) ? String(x) : '';
      yield `${[String(e.seq), e.at, e.type, exchange, e.user ?? '', e.agent ?? '', summarize(e, 1000)].map(csvCell).join(',')}\r\n`;
    }
    return;
  }
  const start = Date.parse(session.openedAt);
  // The header needs the terminal size: read ahead a bounded number of events to find it.
  const iter = inOrder(events);
  const ahead: StoredEvent[] = [];
  let size: { cols: number; rows: number } | undefined;
  let terminal = false;
  for (let n = 0; n < 64 && size === undefined; n++) {
    const r = await iter.next();
    if (r.done === true) break;
    ahead.push(r.value);
    size = initialSize(r.value);
    terminal ||= terminalFrame(r.value) !== undefined;
  }
  if (size !== undefined) terminal = true;
  const width = size?.cols ?? (terminal ? DEFAULT_TERM.cols : WIDTH);
  const height = size?.rows ?? (terminal ? DEFAULT_TERM.rows : HEIGHT);
  yield `${JSON.stringify({
    version: 2, width, height, timestamp: Math.floor(start / 1000), idle_time_limit: 2,
    title: `gatehouse session ${session.id}`, env: { TERM: 'xterm-256color', SHELL: '/bin/sh' },
  })}\n`;
  let t = 0;
  const line = (e: StoredEvent): string => {
    t = Math.max(t, Math.round(Date.parse(e.at) - start) / 1000);
    const frame = terminalFrame(e);
    if (frame) return `${JSON.stringify([t, frame.code, frame.text])}\n`;
    return `${JSON.stringify([t, 'o', `${renderEvent(e, start).replace(/\n/g, '\r\n')}\r\n`])}\n`;
  };
  for (const e of ahead) yield line(e);
  for (;;) {
    const r = await iter.next();
    if (r.done === true) break;
    yield line(r.value);
  }
}

/** One CSV cell: quoted when needed; formula-looking text defused with a leading `'`. */
function csvCell(v: string): string {
  const safe = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** Events as one async iterator, whichever kind of iterable they come in. */
async function* inOrder(events: Iterable<StoredEvent> | AsyncIterable<StoredEvent>): AsyncGenerator<StoredEvent> {
  for await (const e of events) yield e;
}
