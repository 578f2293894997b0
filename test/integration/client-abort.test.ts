import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../../src/kernel/log.ts';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';

/**
 * A client that closes its connection in the middle of a request body is logged at info, without
 * a stack trace (issue 17 §4): an authenticated client must not be able to flood the error log.
 */
describe('a client aborting mid-body', () => {
  let t: TestGateway;
  const lines: { level: number; msg: string; err?: unknown }[] = [];
  before(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString('utf8').split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as { level: number; msg: string });
        done();
      },
    });
    t = await startTestGateway({ log: createLogger({ level: 'debug', destination: sink }) });
  });
  after(async () => { await t.close(); });

  test('is an info line, never an error with a stack', async () => {
    const port = t.gw.http.port;
    for (let i = 0; i < 3; i++) {
      const s = connect(port, '127.0.0.1');
      await new Promise<void>((r) => s.once('connect', () => { r(); }));
      s.write(`POST /api/v1/connections HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${t.adminKey}\r\n`
        + 'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"name":"x"');
      await new Promise((r) => setTimeout(r, 100));
      s.destroy();
    }
    const deadline = Date.now() + 5_000;
    while (lines.filter((l) => l.msg === 'client aborted the request').length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(lines.filter((l) => l.msg === 'client aborted the request' && l.level === 30).length, 3, JSON.stringify(lines.slice(-5)));
    assert.deepEqual(lines.filter((l) => l.level >= 50).map((l) => l.msg), [], 'nothing at error level');
    assert.ok(!JSON.stringify(lines).includes('    at '), 'no stack trace');
  });
});
