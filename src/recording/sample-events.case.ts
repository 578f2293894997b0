import type { StoredEvent } from './types.ts';

/** A short recorded database session for replay and export tests. */
export const T0 = Date.parse('2025-07-01T12:00:00.000Z');
export const ev = (seq: number, ms: number, type: string, data: Record<string, unknown>): StoredEvent => ({
  session: 's', seq, at: new Date(T0 + ms).toISOString(), type, user: 'alice', agent: 'bot', data, prevHash: '', hash: '',
});

export const SAMPLE: StoredEvent[] = [
  ev(1, 0, 'session.open', {}),
  ev(2, 1000, 'request', { statement: 'SELECT name, email FROM customers' }),
  ev(3, 1010, 'decision', { effect: 'allow', reasons: ['developers-read'] }),
  ev(4, 1500, 'response', { text: 'ada, a***@example.com\nbob, b***@example.com', rows: 2 }),
  ev(5, 61_500, 'request', { prompt: 'summarize' }),
  ev(6, 61_400, 'response', { completion: 'done' }), // clock went back: no pause
  ev(7, 62_000, 'session.close', {}),
];

