/**
 * The /proxy path's own recording work per exchange, in one process, on the documents of
 * bench/http-proxy-wrk.ts (~1 KB chat completion request, ~0.6 KB answer, masking rules EMAIL,
 * CREDIT_CARD, US_SSN, PHONE, SECRET both ways): masking what the events carry, before the
 * recording reused the data path's masking (each text walked again with all detectors, every
 * string of the data masked) and now (`Prepared.recordedPrompt`, `recordedText`, the clean-string
 * cache of `maskRecordData`). Rounds interleaved, best of 7; µs per exchange. The recorder's own
 * work (canonical JSON, hash, journal, store) is not included.
 *
 *   npx node bench/http-record-reuse.ts [iterations=5000]
 */
import { loadavg } from 'node:os';
import { TextMasker, defaultDetectors } from '../src/masking/text-masker.ts';
import { detectorsFor } from '../src/masking/detectors/index.ts';
import { prepareRequest, type Prepared } from '../src/protocols/http/proxy/prepare.ts';
import { maskResponseJson } from '../src/inspect/prompt/inspect.ts';
import { maskedExcerpt, maskRecordData, recordedText, TextCapture } from '../src/protocols/http/proxy/record.ts';
import { responseMasker } from '../src/protocols/http/proxy/credential-echo.ts';
import type { Connection } from '../src/connections/registry.ts';
import { chatCompletion, chatRequest } from './lib/llm-upstream.ts';

const N = Number(process.argv[2] ?? 5000);
const hashKey = Buffer.alloc(32, 1);
const scanner = new TextMasker({ detectors: defaultDetectors(), strategy: 'redact', hashKey });
const rule = new TextMasker({ detectors: detectorsFor(['EMAIL', 'CREDIT_CARD', 'US_SSN', 'PHONE', 'SECRET']), strategy: 'redact', hashKey });
const conn = { name: 'openai', type: 'llm', provider: 'openai', url: 'http://x', credentials: { api_key: { reveal: () => 'sk-bench-upstream' } } } as unknown as Connection;
const masker = responseMasker(conn, rule, hashKey)!;
// Distinct texts per exchange (as JSON.parse gives them), so that nothing rides on a string seen before.
const requests = Array.from({ length: N }, (_, i) => Buffer.from(chatRequest(1000).replace('terse', `terse${i % 97}`)));
const answers = Array.from({ length: N }, (_, i) => chatCompletion(600).replace('42', String(i % 1000)));

function prep(i: number): Prepared {
  return prepareRequest({ conn, method: 'POST', endpoint: '/v1/chat/completions', raw: requests[i]!, contentType: 'application/json', format: 'openai-chat', scanner, egress: rule });
}
const prepared = requests.map((_, i) => prep(i));
const responses = answers.map((a) => {
  const doc = maskResponseJson(JSON.parse(a), masker);
  return { doc, text: JSON.stringify(doc) };
});

/** Every string masked, keys included (maskRecordData before its cache). */
function maskAll(v: unknown): unknown {
  if (typeof v === 'string') return scanner.mask(v).text;
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(maskAll);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[scanner.mask(k).text] = maskAll(x);
  return out;
}
const events = (p: Prepared): Record<string, unknown>[] => [
  { transport: 'http', connection: 'openai' },
  { method: 'POST', endpoint: '/v1/chat/completions', facts: p.facts },
  { action: 'llm.invoke', effect: 'allow', reasons: ['agents-may-chat'] },
  { status: 200, truncated: false, masked: true, usage: { prompt_tokens: 12, completion_tokens: 9, total_tokens: 21 }, timings: { gateway_ms: 0.4, upstream_headers_ms: 0.3, total_ms: 1.1 } },
];

const variants: Record<string, (i: number) => unknown> = {
  before: (i) => {
    const p = prepared[i]!;
    const r = responses[i]!;
    const c = new TextCapture();
    c.add(r.text);
    const data = events(p).map((d) => Object.fromEntries(Object.entries(d).map(([k, v]) => [k, maskAll(v)])));
    return [maskedExcerpt(p.prompt!, scanner), maskedExcerpt(c.text, scanner), data];
  },
  now: (i) => {
    const p = prepared[i]!;
    const r = responses[i]!;
    const c = new TextCapture();
    c.addDocument(r.text, r.doc);
    const data = events(p).map((d) => maskRecordData(d, scanner));
    return [p.recordedPrompt ?? maskedExcerpt(p.prompt!, scanner), recordedText(c, scanner), data];
  },
};
for (let i = 0; i < 50; i++) for (const f of Object.values(variants)) f(i); // warm-up
const best = new Map<string, number>();
for (let round = 0; round < 7; round++) {
  for (const [name, f] of Object.entries(variants)) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < N; i++) f(i);
    const us = Number(process.hrtime.bigint() - t) / 1e3 / N;
    best.set(name, Math.min(best.get(name) ?? Infinity, us));
  }
}
console.log(`HTTP side of recording, per exchange (4 events; ${N} exchanges, best of 7 interleaved rounds; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}):`);
for (const [name, us] of best) console.log(`  ${name.padEnd(8)} ${us.toFixed(1).padStart(7)} µs`);
