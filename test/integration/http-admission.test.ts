import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { MemoryRecorder } from '../../src/recording/recorder.ts';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';
import { startHttpUpstream, type HttpUpstream } from '../harness/http-upstream.ts';

const POLICIES = `
@id("developers-use-apis")
permit (principal in Group::"developers", action == Action::"http.request", resource);
`;

/**
 * A recorder whose store is behind: every exchange waits in admit() until the test lets the store
 * catch up (as a StoreRecorder past half its queue bound does).
 */
class BehindRecorder extends MemoryRecorder {
  readonly waiting: { signal: AbortSignal | undefined; resolve: () => void }[] = [];
  admit(signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => { this.waiting.push({ signal, resolve }); });
  }
}

describe('/proxy admission back-pressure', () => {
  let t: TestGateway;
  let up: HttpUpstream;
  let key: string;
  const recorder = new BehindRecorder();
  before(async () => {
    up = await startHttpUpstream();
    t = await startTestGateway({ policies: POLICIES, recorder, yaml: `connections:\n  - { name: api, type: http, url: "${up.url}" }\n` });
    key = (await t.api('POST', '/api/v1/api-keys', { user: 'dev', groups: ['developers'] })).json.key as string;
  });
  after(async () => { await t.close(); await up.close(); });

  test('a client that hangs up while its exchange waits for admission: the wait is aborted, and the upstream is never called for it', async () => {
    const before = up.received.length;
    const client = request(`${t.url}/proxy/api/waiting`, { headers: { authorization: `Bearer ${key}` } });
    client.on('error', () => undefined);
    client.end();
    const deadline = Date.now() + 10_000;
    while (recorder.waiting.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const w = recorder.waiting[0];
    assert.ok(w, 'the exchange waits for admission');
    client.destroy();
    const gone = Date.now() + 1_000;
    while (w.signal?.aborted !== true && Date.now() < gone) await new Promise((r) => setTimeout(r, 10));
    w.resolve(); // the store catches up after the client left
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(up.received.length, before, 'nothing went upstream for a gone client');
    assert.equal(w.signal?.aborted, true, 'the client hanging up aborted the wait');
  });
});
