/**
 * Recording cost through the HTTP/LLM data path: the same non-streamed chat completion through
 * two gateways (embedded PGlite store), recording off (`recording.enabled: false`) and on (the
 * default: StoreRecorder, flush before the last byte), against one fake upstream with an optional
 * delay. Prints throughput of both and the on/off ratio.
 *
 *   npx node bench/recording-data-path.ts [requests=3000] [concurrency=16] [upstreamMs=0]
 */
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { startTestGateway, type TestGateway } from '../test/harness/gateway.ts';
import { startFakeLlm, FAKE_OPENAI_KEY } from '../test/harness/fake-llm.ts';

const N = Number(process.argv[2] ?? 3000);
const C = Number(process.argv[3] ?? 16);
const DELAY = Number(process.argv[4] ?? 0);
const POLICY = `permit (principal in Group::"developers", action == Action::"llm.invoke", resource);`;

const fake = await startFakeLlm();
fake.behavior = { reply: 'The answer is 42. Nothing sensitive here.', chunk: 8 };
// A delaying front for the fake upstream (LLM latency).
const front = createServer((req, res) => {
  setTimeout(() => {
    const u = new URL(fake.url);
    const up = httpRequest({ host: u.hostname, port: u.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    req.pipe(up);
  }, DELAY);
});
await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
const upstream = `http://127.0.0.1:${(front.address() as AddressInfo).port}`;
const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'What is six times seven?' }] });

async function gateway(recording: boolean): Promise<{ t: TestGateway; key: string }> {
  const t = await startTestGateway({
    policies: POLICY,
    yaml: [
      'connections:',
      `  - { name: openai, type: llm, provider: openai, url: "${upstream}", credentials: { api_key: "${FAKE_OPENAI_KEY}" } }`,
      `recording: { enabled: ${recording} }`,
    ].join('\n'),
  });
  const created = await t.api('POST', '/api/v1/api-keys', { user: 'alice', groups: ['developers'] });
  return { t, key: created.json.key as string };
}

async function run(g: { t: TestGateway; key: string }, n: number): Promise<number> {
  const pool = new Pool(new URL(g.t.url).origin, { connections: C, pipelining: 1 });
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      next++;
      // No Gatehouse-Session header: each exchange is its own session (open, request, decision, response).
      const r = await pool.request({ method: 'POST', path: '/proxy/openai/v1/chat/completions', headers: { authorization: `Bearer ${g.key}`, 'content-type': 'application/json' }, body });
      await r.body.text();
      if (r.statusCode !== 200) throw new Error(`status ${r.statusCode}`);
    }
  };
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: C }, worker));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  await pool.close();
  return n / secs;
}

const off = await gateway(false);
const on = await gateway(true);
await run(off, Math.min(300, N));
await run(on, Math.min(300, N));
const offRate = await run(off, N);
const onRate = await run(on, N);
console.log(`non-streamed chat completion, ${N} exchanges at concurrency ${C}, upstream delay ${DELAY} ms, embedded store`);
console.log(`  recording off ${offRate.toFixed(0)} ex/s, on ${onRate.toFixed(0)} ex/s, on/off ${((onRate / offRate) * 100).toFixed(1)} %`);
await on.t.close();
await off.t.close();
await new Promise<void>((r) => front.close(() => r()));
await fake.close();
