/**
 * CPU per request of what issue 16 items 3, 4, 5 and 7 added to the /proxy hot path, measured
 * in-process on the request `bench/http-proxy-wrk.ts` sends (an OpenAI chat completion, masking
 * rules on both directions): path normalization, egress masking of the forwarded headers, the
 * response walk with the connection's secrets added to the masker (vs without), response header
 * scrubbing, and the recorded events' masking. Prints µs per request for each.
 *
 *   npx node bench/http-media.ts [iterations=20000]
 */
import { randomBytes } from 'node:crypto';
import type { Connection } from '../src/connections/registry.ts';
import { maskResponseJson } from '../src/inspect/prompt/inspect.ts';
import { Secret } from '../src/kernel/secret.ts';
import { MaskingRules } from '../src/masking/rules.ts';
import { TextMasker, defaultDetectors } from '../src/masking/text-masker.ts';
import { responseMasker, scrubHeaders } from '../src/protocols/http/proxy/credential-echo.ts';
import { upstreamHeaders } from '../src/protocols/http/proxy/headers.ts';
import { maskRecordData } from '../src/protocols/http/proxy/record.ts';
import { parseProxyTarget } from '../src/http/target.ts';

const N = Number(process.argv[2] ?? 20_000);
const key = randomBytes(32);
const rules = new MaskingRules([{ connections: ['*'], direction: 'both', entities: ['EMAIL', 'CREDIT_CARD', 'US_SSN', 'PHONE', 'SECRET'], strategy: 'redact' }], key);
const conn: Connection = { name: 'openai', type: 'llm', provider: 'openai', url: 'http://127.0.0.1:1', credentials: { api_key: new Secret('sk-bench-upstream') }, tags: [], source: 'config' };
const ruleMasker = rules.textMasker('openai', 'response')!;
const egress = rules.textMasker('openai', 'request')!;
const withSecrets = responseMasker(conn, ruleMasker, key)!;
const secretsOnly = responseMasker(conn, undefined, key);
const scanner = new TextMasker({ detectors: defaultDetectors(), strategy: 'redact', hashKey: key });
const answer = JSON.stringify({
  id: 'chatcmpl-bench', object: 'chat.completion', created: 1_700_000_000, model: 'gpt-4o-mini',
  choices: [{ index: 0, message: { role: 'assistant', content: 'The answer is 42. Nothing sensitive here.' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 12, completion_tokens: 9, total_tokens: 21 },
});
const clientHeaders = { host: '127.0.0.1:8080', authorization: 'Bearer ghk_x', 'content-type': 'application/json', 'content-length': '120', 'user-agent': 'wrk', accept: '*/*' };
const responseHeaders = { 'content-type': 'application/json', date: 'Sun, 06 Dec 2026 09:00:00 GMT', 'keep-alive': 'timeout=5' };

function time(label: string, fn: () => unknown): number {
  for (let i = 0; i < 2000; i++) fn();
  const t0 = process.cpuUsage();
  for (let i = 0; i < N; i++) fn();
  const d = process.cpuUsage(t0);
  const us = (d.user + d.system) / N;
  console.log(`${label.padEnd(58)} ${us.toFixed(2)} µs`);
  return us;
}

console.log(`${N} iterations, CPU time per request`);
time('path normalization (parseProxyTarget)', () => parseProxyTarget('/proxy/openai/v1/chat/completions'));
time('forwarded headers, egress-masked', () => upstreamHeaders(clientHeaders, conn, egress));
time('forwarded headers, not masked (before)', () => upstreamHeaders(clientHeaders, conn));
const before = time('response walk, rule masker (before)', () => maskResponseJson(JSON.parse(answer), ruleMasker));
const after = time('response walk, rule masker + connection secrets', () => maskResponseJson(JSON.parse(answer), withSecrets));
console.log(`${'  → the secrets add'.padEnd(58)} ${(after - before).toFixed(2)} µs`);
time('response headers scrubbed (rules + secrets)', () => scrubHeaders(responseHeaders, withSecrets, secretsOnly));
time('recorded request + response events masked', () => {
  maskRecordData({ method: 'POST', endpoint: '/v1/chat/completions', facts: { llm: { model: 'gpt-4o-mini', provider: 'openai' } } }, scanner);
  maskRecordData({ status: 200, text: answer, truncated: false, masked: true, usage: { prompt_tokens: 12 }, timings: { gateway_ms: 0.1 } }, scanner);
});
