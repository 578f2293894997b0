import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initialSize, playableOutput, terminalFrame } from './terminal.ts';
import { exportSession } from './export.ts';
import type { SessionInfo, StoredEvent } from './types.ts';

test('playableOutput keeps what draws the screen and drops what acts on the terminal', () => {
  assert.equal(playableOutput('a\x1b[31mred\x1b[0m\r\n\tb\x08'), 'a\x1b[31mred\x1b[0m\r\n\tb\x08');
  assert.equal(playableOutput('\x1b]52;c;ZXZpbA==\x07ok'), 'ok', 'OSC 52 clipboard write');
  assert.equal(playableOutput('\x1b]0;title\x1b\\ok'), 'ok', 'OSC title with ST');
  assert.equal(playableOutput('\x1bPq#0;2;0;0;0\x1b\\x'), 'x', 'DCS');
  assert.equal(playableOutput('\x1b[6n\x1b[c\x1b[21tz'), 'z', 'reports and window operations');
  assert.equal(playableOutput('\x07\x00\x9b'), '\\x07\\x00\\x9b');
  assert.equal(playableOutput('\x1b[?2004h$ '), '\x1b[?2004h$ ');
});

test('terminal frames and the initial size', () => {
  assert.deepEqual(terminalFrame({ type: 'terminal', data: { r: '120x40' } }), { code: 'r', text: '120x40' });
  assert.equal(terminalFrame({ type: 'response', data: { o: 'x' } }), undefined);
  assert.deepEqual(initialSize({ type: 'request', data: { kind: 'shell', cols: 100, rows: 30 } }), { cols: 100, rows: 30 });
  assert.deepEqual(initialSize({ type: 'terminal', data: { r: '90x20' } }), { cols: 90, rows: 20 });
});

test('asciicast export plays terminal events with the real size', async () => {
  const at = (ms: number): string => new Date(Date.UTC(2026, 0, 1) + ms).toISOString();
  const ev = (seq: number, ms: number, type: string, data: Record<string, unknown>): StoredEvent => ({ session: 's', seq, at: at(ms), type, data, prevHash: '', hash: '' });
  const info = { id: 's', protocol: 'ssh', openedAt: at(0) } as SessionInfo;
  const events = [
    ev(1, 0, 'session.open', {}), ev(2, 10, 'request', { kind: 'shell', cols: 100, rows: 30 }),
    ev(3, 20, 'terminal', { o: '$ ' }), ev(4, 500, 'terminal', { i: 'ls\r' }), ev(5, 900, 'terminal', { r: '132x40' }),
  ];
  let text = '';
  for await (const c of exportSession('asciicast', info, events)) text += c;
  const lines = text.trim().split('\n').map((l) => JSON.parse(l) as unknown);
  assert.deepEqual((lines[0] as { width: number; height: number }).width, 100);
  assert.deepEqual((lines[0] as { width: number; height: number }).height, 30);
  assert.deepEqual(lines.slice(3), [[0.02, 'o', '$ '], [0.5, 'i', 'ls\r'], [0.9, 'r', '132x40']]);
});
