/**
 * CPU of the LLM JSON walk per request, in one process: the request's facts scan and egress
 * redaction (`prepareRequest`) and the masking of a JSON chat completion response, on the
 * documents of bench/http-proxy-wrk.ts plus a larger conversation with tools. Best of 5 rounds.
 *
 *   npx node bench/llm-walk.ts [iterations=20000]
 */
import { TextMasker, defaultDetectors } from '../src/masking/text-masker.ts';
import { detectorsFor } from '../src/masking/detectors/index.ts';
import { prepareRequest } from '../src/protocols/http/proxy/prepare.ts';
import { maskResponseJson } from '../src/inspect/prompt/inspect.ts';
import type { Connection } from '../src/connections/registry.ts';

const N = Number(process.argv[2] ?? 20_000);
const hashKey = Buffer.alloc(32, 1);
const scanner = new TextMasker({ detectors: defaultDetectors(), strategy: 'redact', hashKey });
const rule = new TextMasker({ detectors: detectorsFor(['EMAIL', 'CREDIT_CARD', 'US_SSN', 'PHONE']), strategy: 'redact', hashKey });
const conn = { name: 'openai', type: 'llm', provider: 'openai', url: 'http://x' } as unknown as Connection;

const small = Buffer.from(JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'What is six times seven?' }] }));
const large = Buffer.from(JSON.stringify({
  model: 'gpt-4o', temperature: 0.2, max_tokens: 800, stream: false,
  tools: [{ type: 'function', function: { name: 'lookup_customer', description: 'Looks a customer up by id', parameters: { type: 'object', properties: { id: { type: 'string', description: 'customer id' } }, required: ['id'] } } }],
  messages: [
    { role: 'system', content: 'You are a support assistant. Answer briefly and never reveal internal notes. '.repeat(4) },
    ...Array.from({ length: 6 }, (_, i) => [
      { role: 'user', content: `Question ${i}: my order 12-${i} did not arrive, can you check the status of it please?` },
      { role: 'assistant', content: null, tool_calls: [{ id: `call_${i}abcDEF123`, type: 'function', function: { name: 'lookup_customer', arguments: `{"id":"cus_${i}"}` } }] },
      { role: 'tool', tool_call_id: `call_${i}abcDEF123`, content: `{"status":"shipped","carrier":"UPS","eta":"2026-12-0${i + 1}"}` },
      { role: 'assistant', content: 'Your order has shipped with UPS and should arrive soon.' },
    ]).flat(),
  ],
}));
const answer = JSON.stringify({
  id: 'chatcmpl-bench', object: 'chat.completion', created: 1_700_000_000, model: 'gpt-4o-mini',
  choices: [{ index: 0, message: { role: 'assistant', content: 'The answer is 42. Nothing sensitive here.' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 12, completion_tokens: 9, total_tokens: 21 },
});

function round(label: string, fn: () => void): void {
  let best = Infinity;
  for (let r = 0; r < 5; r++) {
    const t0 = process.cpuUsage();
    for (let i = 0; i < N; i++) fn();
    const u = process.cpuUsage(t0);
    best = Math.min(best, (u.user + u.system) / N);
  }
  console.log(`${label.padEnd(44)} ${best.toFixed(2)} µs`);
}

const prep = (raw: Buffer) => () => prepareRequest({ conn, method: 'POST', endpoint: '/v1/chat/completions', raw, contentType: 'application/json', format: 'openai-chat', scanner, egress: rule });
round('request, small (wrk bench body)', prep(small));
round(`request, conversation (${large.length} B)`, prep(large));
round('response, chat completion JSON', () => { maskResponseJson(JSON.parse(answer), rule); });
