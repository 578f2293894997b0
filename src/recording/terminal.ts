import type { StoredEvent } from './types.ts';

/** Default terminal size when a recording does not say (asciicast needs one). */
export const DEFAULT_TERM = { cols: 80, rows: 24 } as const;

/** One asciicast v2 event of an interactive session: output, input (keystrokes) or a resize. */
export interface TerminalFrame {
  readonly code: 'o' | 'i' | 'r';
  readonly text: string;
}

/**
 * The asciicast frame a recorded `terminal` event holds (`data.o`, `data.i` or `data.r`), or
 * undefined for any other event.
 *
 * @example terminalFrame({ type: 'terminal', data: { r: '120x40' } }) // { code: 'r', text: '120x40' }
 */
export function terminalFrame(e: Pick<StoredEvent, 'type' | 'data'>): TerminalFrame | undefined {
  if (e.type !== 'terminal') return undefined;
  for (const code of ['o', 'i', 'r'] as const) {
    const v = e.data[code];
    if (typeof v === 'string') return { code, text: v };
  }
  return undefined;
}

/**
 * The terminal size a session started with: the `cols`/`rows` of its first request that has them
 * (an SSH `shell` with a PTY records them), else the first resize.
 */
export function initialSize(e: Pick<StoredEvent, 'type' | 'data'>): { cols: number; rows: number } | undefined {
  const { cols, rows } = e.data;
  if (e.type === 'request' && typeof cols === 'number' && typeof rows === 'number' && cols > 0 && rows > 0) return { cols, rows };
  const f = terminalFrame(e);
  const m = f?.code === 'r' ? /^(\d{1,5})x(\d{1,5})$/.exec(f.text) : null;
  return m ? { cols: Number(m[1]), rows: Number(m[2]) } : undefined;
}

/**
 * Terminal output made safe to play in an investigator's terminal while keeping what draws the
 * screen: text, newlines, tabs, backspace, carriage return and CSI sequences (cursor motion,
 * colours, erase) pass; OSC (window title, clipboard writes, hyperlinks), DCS/APC/PM strings,
 * other escapes, and CSI sequences that make the terminal answer or act on its window
 * (`n`, `c`, `t`) are dropped; other control characters become visible `\xNN`.
 *
 * @example playableOutput('\x1b]52;c;ZXZpbA==\x07ok\x1b[31mred') === 'ok\x1b[31mred'
 */
export function playableOutput(s: string): string {
  let out = '';
  let i = 0;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c === 0x1b) {
      const next = s[i + 1];
      if (next === '[') {
        let j = i + 2;
        while (j < s.length && j - i < 64 && /[0-9;?<=>!"' $]/.test(s[j]!)) j++;
        const final = s[j];
        if (final !== undefined && /[@-~]/.test(final)) {
          if (!'nct'.includes(final)) out += s.slice(i, j + 1);
          i = j + 1;
          continue;
        }
        i = j;
        continue;
      }
      if (next === ']' || next === 'P' || next === '_' || next === '^' || next === 'X') {
        // A string sequence: skip to its terminator (BEL or ESC \).
        let j = i + 2;
        while (j < s.length && s.charCodeAt(j) !== 0x07 && !(s.charCodeAt(j) === 0x1b && s[j + 1] === '\\')) j++;
        i = j < s.length ? (s.charCodeAt(j) === 0x07 ? j + 1 : j + 2) : j;
        continue;
      }
      i += next === undefined ? 1 : 2;
      continue;
    }
    if ((c < 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09 && c !== 0x08) || c === 0x7f || (c >= 0x80 && c <= 0x9f)) {
      out += `\\x${c.toString(16).padStart(2, '0')}`;
    } else {
      out += s.charAt(i);
    }
    i++;
  }
  return out;
}
