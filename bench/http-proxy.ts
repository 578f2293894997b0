/**
 * Data-path benchmark. Same run, same fake upstream (test/harness/fake-llm.ts):
 *  1. a small non-streamed chat completion at fixed concurrency, direct vs through the gateway
 *     (API key auth, prompt inspection, Cedar decision + audit, egress redaction, JSON masking):
 *     added latency p50/p99 and the throughput ratio;
 *  2. stream-masking throughput (SSE parse → per-choice stream masker with all detectors →
 *     serialize) in MB/s of SSE text, on one core, in process;
 *  3. memory (RSS, heap) before and after a long masked stream.
 *
 *   npx node bench/http-proxy.ts [requests=3000] [concurrency=16] [streamMB=64]
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Pool } from 'undici';
import { startLlmGateway } from '../test/harness/llm-gateway.ts';
import { FAKE_OPENAI_KEY } from '../test/harness/fake-llm.ts';
import { TextMasker, defaultDetectors } from '../src/masking/text-masker.ts';
import { SseParser } from '../src/protocols/http/sse/parser.ts';
import { formatSse } from '../src/protocols/http/sse/serializer.ts';
import { streamTransform } from '../src/protocols/http/providers/index.ts';

const N = Number(process.argv[2] ?? 3000);
const C = Number(process.argv[3] ?? 16);
const STREAM_MB = Number(process.argv[4] ?? 64);

const g = await startLlmGateway();
g.fake.behavior = { reply: 'The answer is 42. Nothing sensitive here.', chunk: 8 };
const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'What is six times seven?' }] });

async function run(origin: string, path: string, auth: string, c = C, n = N): Promise<{ lat: number[]; secs: number; cpuUs: number }> {
  const pool = new Pool(origin, { connections: c, pipelining: 1 });
  const lat: number[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      next++;
      const t = process.hrtime.bigint();
      const r = await pool.request({ method: 'POST', path, headers: { authorization: auth, 'content-type': 'application/json' }, body });
      await r.body.text();
      if (r.statusCode !== 200) throw new Error(`status ${r.statusCode}`);
      lat.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
  };
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  await Promise.all(Array.from({ length: c }, worker));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  await pool.close();
  return { lat: lat.sort((a, b) => a - b), secs, cpuUs: (cpu.user + cpu.system) / n };
}
const pct = (a: number[], p: number): number => a[Math.min(a.length - 1, Math.floor(a.length * p))] ?? NaN;

const gwOrigin = new URL(g.t.url).origin;
// Warm up both paths (JIT, pools, policy caches).
const saveN = N;
await run(g.fake.url, '/v1/chat/completions', `Bearer ${FAKE_OPENAI_KEY}`);
await run(gwOrigin, '/proxy/openai/v1/chat/completions', `Bearer ${g.key}`);
const direct = await run(g.fake.url, '/v1/chat/completions', `Bearer ${FAKE_OPENAI_KEY}`);
const via = await run(gwOrigin, '/proxy/openai/v1/chat/completions', `Bearer ${g.key}`);
console.log(`non-streamed chat completion, ${saveN} requests at concurrency ${C}`);
console.log(`  direct   p50 ${pct(direct.lat, 0.5).toFixed(3)} ms  p99 ${pct(direct.lat, 0.99).toFixed(3)} ms  ${(N / direct.secs).toFixed(0)} req/s  ${direct.cpuUs.toFixed(0)} µs CPU/req (client + upstream, one process)`);
console.log(`  gateway  p50 ${pct(via.lat, 0.5).toFixed(3)} ms  p99 ${pct(via.lat, 0.99).toFixed(3)} ms  ${(N / via.secs).toFixed(0)} req/s  ${via.cpuUs.toFixed(0)} µs CPU/req (client + gateway + upstream)`);
console.log(`  added    p50 ${(pct(via.lat, 0.5) - pct(direct.lat, 0.5)).toFixed(3)} ms  p99 ${(pct(via.lat, 0.99) - pct(direct.lat, 0.99)).toFixed(3)} ms`);
console.log(`  throughput ratio (gateway/direct) ${((direct.secs / via.secs) * 100).toFixed(1)} %`);
// At concurrency 16 the p50 above is mostly queueing (latency ≈ concurrency / throughput);
// one request at a time shows the latency the gateway itself adds.
const n1 = Math.max(100, Math.round(N / 6));
const direct1 = await run(g.fake.url, '/v1/chat/completions', `Bearer ${FAKE_OPENAI_KEY}`, 1, n1);
const via1 = await run(gwOrigin, '/proxy/openai/v1/chat/completions', `Bearer ${g.key}`, 1, n1);
console.log(`  one at a time (${n1} requests): direct p50 ${pct(direct1.lat, 0.5).toFixed(3)} ms, gateway p50 ${pct(via1.lat, 0.5).toFixed(3)} ms, added p50 ${(pct(via1.lat, 0.5) - pct(direct1.lat, 0.5)).toFixed(3)} ms, ${(n1 / via1.secs).toFixed(0)} req/s`);
await g.close();

// Stream masking, in process, all detectors on.
const masker = new TextMasker({ detectors: defaultDetectors(), strategy: 'redact', hashKey: Buffer.alloc(32, 1) });
const words = 'the quick brown fox jumps over the lazy dog while reporting to ops@example.com about order 4111 1111 1111 1111 and '.split(' ');
const env = { id: 'chatcmpl-x', object: 'chat.completion.chunk', created: 1, model: 'm' };
let piece = '';
for (let i = 0; i < 2000; i++) piece += `data: ${JSON.stringify({ ...env, choices: [{ index: 0, delta: { content: `${words[i % words.length] ?? ''} ` }, finish_reason: null }] })}\n\n`;
const block = Buffer.from(piece);
const rounds = Math.max(1, Math.round((STREAM_MB * 1024 * 1024) / block.length));
// Memory is read after a full GC, so garbage not yet collected does not look like growth.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const mem = (): string => { gc(); const m = process.memoryUsage(); return `rss ${(m.rss / 1048576).toFixed(1)} MB, heap ${(m.heapUsed / 1048576).toFixed(1)} MB`; };
const before = mem();
let middle = '';
const parser = new SseParser();
const t = streamTransform('openai-chat', masker, () => undefined);
let outBytes = 0;
const t0 = process.hrtime.bigint();
for (let r = 0; r < rounds; r++) {
  if (r === Math.floor(rounds / 2)) middle = mem();
  for (let off = 0; off < block.length; off += 16384) {
    for (const ev of parser.push(block.subarray(off, off + 16384))) for (const e of t.event(ev)) outBytes += formatSse(e).length;
  }
}
const secs = Number(process.hrtime.bigint() - t0) / 1e9; // includes the half-way GC (a few ms)
const mb = (block.length * rounds) / 1048576;
console.log(`stream masking (openai chat SSE, all detectors): ${mb.toFixed(0)} MB in ${secs.toFixed(2)} s = ${(mb / secs).toFixed(1)} MB/s (out ${(outBytes / 1048576).toFixed(0)} MB)`);
console.log(`memory (after GC) before the long stream: ${before}; half-way: ${middle}; after: ${mem()}`);
