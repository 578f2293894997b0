import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { exportSession, type ExportFormat } from './export.ts';
import { SAMPLE } from './sample-events.case.ts';
import type { SessionInfo, StoredEvent } from './types.ts';

const INFO: SessionInfo = {
  id: 's', protocol: 'postgres', user: 'alice', agent: 'bot', openedAt: SAMPLE[0]!.at, lastAt: SAMPLE[6]!.at,
  closedAt: SAMPLE[6]!.at, bytes: 100, events: 7, headHash: 'h', truncated: false, dropped: 0, decisions: ['allow'],
};

async function text(format: ExportFormat, events: StoredEvent[] = SAMPLE): Promise<string> {
  let out = '';
  for await (const chunk of exportSession(format, INFO, events)) out += chunk;
  return out;
}

describe('export', () => {
  test('json: the session and its events', async () => {
    const parsed = JSON.parse(await text('json')) as { session: SessionInfo; events: StoredEvent[] };
    assert.deepEqual(parsed.session, INFO);
    assert.deepEqual(parsed.events, SAMPLE);
    assert.deepEqual(JSON.parse(await text('json', [])), { session: INFO, events: [] });
  });

  test('csv: one row per event, quoted per RFC 4180, formulas defused', async () => {
    const extra: StoredEvent = { ...SAMPLE[1]!, seq: 8, data: { exchange: 7, prompt: '=HYPERLINK("http://x","y"), ok' } };
    const out = await text('csv', [...SAMPLE, extra]);
    const lines = out.split('\r\n');
    assert.equal(lines[0], 'seq,at,type,exchange,user,agent,summary');
    assert.equal(lines[2], `2,${SAMPLE[1]!.at},request,,alice,bot,"SELECT name, email FROM customers"`);
    assert.equal(lines[3], `3,${SAMPLE[2]!.at},decision,,alice,bot,allow: developers-read`);
    assert.equal(lines[8], `8,${SAMPLE[1]!.at},request,7,alice,bot,"'=HYPERLINK(""http://x"",""y""), ok"`);
    assert.equal(lines.length, 10);
    assert.equal(lines[9], '');
  });

  test('asciicast v2: header, then [time, "o", text] lines with CRLF, times non-decreasing', async () => {
    const out = await text('asciicast');
    assert.ok(out.endsWith('\n'));
    const lines = out.trimEnd().split('\n');
    const header = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(header.version, 2);
    assert.equal(typeof header.width, 'number');
    assert.equal(typeof header.height, 'number');
    assert.equal(header.timestamp, Math.floor(Date.parse(INFO.openedAt) / 1000));
    assert.equal(header.title, 'gatehouse session s');
    const frames = lines.slice(1).map((l) => JSON.parse(l) as unknown);
    assert.equal(frames.length, SAMPLE.length);
    let prev = 0;
    for (const f of frames) {
      assert.ok(Array.isArray(f) && f.length === 3);
      const [t, kind, data] = f as [unknown, unknown, unknown];
      assert.equal(typeof t, 'number');
      assert.ok((t as number) >= prev, 'times are non-decreasing');
      prev = t as number;
      assert.equal(kind, 'o');
      assert.equal(typeof data, 'string');
      assert.ok((data as string).endsWith('\r\n'));
      assert.ok(!/[^\r]\n/.test(data as string), 'every newline is CRLF');
    }
    assert.deepEqual(frames.map((f) => (f as number[])[0]), [0, 1, 1.01, 1.5, 61.5, 61.5, 62]);
    assert.match((frames[3] as string[])[2]!, /ada, a\*\*\*@example\.com\r\n {2}bob/);
  });
});
