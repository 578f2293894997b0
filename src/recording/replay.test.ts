import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { replay } from './replay.ts';
import { renderEvent, safeText, summarize } from './render.ts';
import type { StoredEvent } from './types.ts';

import { SAMPLE, T0, ev } from './sample-events.case.ts';

describe('replay', () => {
  test('plays in order with gaps divided by speed and capped; injected sleep, no real waiting', async () => {
    const out: string[] = [];
    const sleeps: number[] = [];
    const r = await replay(SAMPLE, { speed: 2, write: (t) => out.push(t), sleep: (ms) => { sleeps.push(ms); out.push(`<sleep ${ms}>`); return Promise.resolve(); } });
    assert.deepEqual(sleeps, [500, 5, 245, 2000, 250]);
    assert.deepEqual(r, { events: 7, pausedMs: 3000 });
    assert.equal(out[0], '[+0.000s] #1 session.open alice/bot');
    assert.equal(out[1], '<sleep 500>');
    assert.equal(out[2], '[+1.000s] #2 request alice/bot\n  SELECT name, email FROM customers');
    assert.equal(out[4], '[+1.010s] #3 decision alice/bot\n  allow: developers-read');
    assert.equal(out[6], '[+1.500s] #4 response alice/bot\n  ada, a***@example.com\n  bob, b***@example.com');
    const seqs = out.filter((l) => l.startsWith('[')).map((l) => Number(/#(\d+)/.exec(l)?.[1]));
    assert.deepEqual(seqs, [1, 2, 3, 4, 5, 6, 7]);
  });

  test('speed 1 keeps real gaps below the cap; async sources work', async () => {
    const sleeps: number[] = [];
    async function* gen(): AsyncGenerator<StoredEvent> { for (const e of SAMPLE.slice(0, 4)) yield await Promise.resolve(e); }
    await replay(gen(), { write: () => undefined, sleep: (ms) => { sleeps.push(ms); return Promise.resolve(); } });
    assert.deepEqual(sleeps, [1000, 10, 490]);
  });

  test('terminal control sequences in recorded data are shown, never executed', () => {
    const e = ev(1, 0, 'response', { text: 'ok\u001b[2J\u001b]0;pwned\u0007\rX' });
    const r = renderEvent(e, T0);
    assert.ok(!/[\u0000-\u0008\u000b-\u001f\u007f]/.test(r)); // eslint-disable-line no-control-regex
    assert.match(r, /ok\\x1b\[2J\\x1b\]0;pwned\\x07\\x0dX/);
    assert.equal(safeText('tab\tok\nline'), 'tab\tok\nline');
  });

  test('long bodies are bounded; summaries are one line', () => {
    const r = renderEvent(ev(1, 0, 'response', { text: 'x'.repeat(10_000) }), T0);
    assert.ok(r.length < 4200);
    assert.match(r, /6000 more characters/);
    assert.equal(summarize(ev(1, 0, 'request', { prompt: 'a\nb   c' })), 'a b c');
    assert.equal(summarize(ev(1, 0, 'request', { method: 'POST', path: '/v1/x' })), 'POST /v1/x');
    assert.equal(summarize(ev(1, 0, 'truncated', { reason: 'max_session_bytes', dropped: 3 })), 'truncated (max_session_bytes, 3 dropped)');
    assert.equal(summarize(ev(1, 0, 'response', { rows: 3 })), '3 rows');
    assert.equal(summarize(ev(1, 0, 'x', { a: 1 })), '{"a":1}');
  });

  test('an HTTP exchange record (request, decision, review, response or error in one event) shows each part', () => {
    const done = ev(3, 0, 'exchange', {
      action: 'llm.invoke', effect: 'allow', endpoint: '/v1/chat/completions', exchange: 2, facts: { llm: { model: 'gpt-4o' } }, masked: 1, method: 'POST',
      prompt: '{"messages":[{"content":"hi [EMAIL]","role":"user"}]}', reasons: ['developers'], review_id: 'rv-1', status: 200, text: 'hello\u001b[2J', truncated: false,
    });
    assert.equal(renderEvent(done, T0), [
      '[+0.000s] #3 exchange (exchange 2) alice/bot', '  POST /v1/chat/completions', '  {"messages":[{"content":"hi [EMAIL]","role":"user"}]}',
      '  decision: allow: developers', '  review: rv-1', '  200', '  hello\\x1b[2J',
    ].join('\n'));
    assert.equal(summarize(done, 1000), 'POST /v1/chat/completions → {"messages":[{"content":"hi [EMAIL]","role":"user"}]} → allow: developers → 200 → hello\\x1b[2J');
    const denied = ev(4, 0, 'exchange', { action: 'http.request', code: 'policy_denied', effect: 'deny', endpoint: '/admin', exchange: 3, method: 'DELETE', reasons: [] });
    assert.equal(summarize(denied), 'DELETE /admin → deny → error policy_denied');
    assert.equal(summarize(ev(5, 0, 'exchange', { code: 'payload_too_large', endpoint: '/x', exchange: 4, method: 'POST' })), 'POST /x → error payload_too_large');
    assert.equal(summarize(ev(6, 0, 'exchange', { endpoint: '/x', method: 'GET', status: 200, text: 'x', truncated: true })), 'GET /x → 200 (text truncated) → x');
  });

  test('a PostgreSQL statement record (request, decision and result in one event) shows all three', () => {
    const parsed = ev(2, 0, 'statement', {
      actions: ['sql.read'], columns: ['name', 'email'], effect: 'allow', message: 'parse', ms: 3, name: '', params: ['[EMAIL]', null], portal: '',
      rows: 2, sample: [['ada', '[EMAIL]'], ['bob', null]], sample_truncated: false, statement: 'SELECT name, email FROM customers WHERE email = $1 OR $2', tag: 'SELECT 2',
    });
    assert.equal(renderEvent(parsed, T0), [
      '[+0.000s] #2 statement alice/bot', '  SELECT name, email FROM customers WHERE email = $1 OR $2', '  params: ["[EMAIL]",null]',
      '  decision: allow', '  SELECT 2 (2 rows, 3 ms)', '  name | email', '  ada | [EMAIL]', '  bob | NULL',
    ].join('\n'));
    assert.equal(summarize(parsed), 'SELECT name, email FROM customers WHERE email = $1 OR $2 → allow → SELECT 2 (2 rows, 3 ms)');
    const denied = ev(3, 0, 'statement', { actions: ['sql.write'], effect: 'deny', message: 'query', reasons: ['agents-no-writes'], statement: 'DELETE FROM t' });
    assert.equal(renderEvent(denied, T0), '[+0.000s] #3 statement alice/bot\n  DELETE FROM t\n  decision: deny: agents-no-writes');
    assert.equal(summarize(denied), 'DELETE FROM t → deny: agents-no-writes');
    const failed = ev(4, 0, 'statement', { actions: ['sql.read'], effect: 'allow', error: '22012', message: 'query', statement: 'SELECT 1/0' });
    assert.equal(summarize(failed), 'SELECT 1/0 → allow → error 22012');
    const rebound = ev(5, 0, 'statement', { message: 'bind', ms: 1, name: 'q1', params: ['7'], portal: '', rows: 0, tag: 'UPDATE 0' });
    assert.equal(renderEvent(rebound, T0), '[+0.000s] #5 statement alice/bot\n  bind "q1"\n  params: ["7"]\n  UPDATE 0 (0 rows, 1 ms)');
    assert.equal(summarize(rebound), 'bind "q1" → UPDATE 0 (0 rows, 1 ms)');
  });
});
