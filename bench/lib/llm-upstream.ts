/**
 * A fake OpenAI upstream for the HTTP benchmarks, run as a child process of its own: answers every
 * POST with the same chat completion (after `BENCH_UPSTREAM_MS` ms when set). Prints its port on
 * the first line of stdout.
 *
 *   node bench/lib/llm-upstream.ts [answer-bytes=600]
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { spawn, type ChildProcess } from 'node:child_process';
import { firstLine } from './proc.ts';

/** A chat completion of about `bytes` bytes (plain prose: nothing for a masker to find). */
export function chatCompletion(bytes: number): string {
  const base = { id: 'chatcmpl-bench', object: 'chat.completion', created: 1_700_000_000, model: 'gpt-4o-mini', choices: [{ index: 0, message: { role: 'assistant', content: '' }, finish_reason: 'stop' }], usage: { prompt_tokens: 12, completion_tokens: 9, total_tokens: 21 } };
  const filler = 'The answer is 42, and nothing sensitive is in this reply. ';
  const room = Math.max(0, bytes - JSON.stringify(base).length);
  base.choices[0]!.message.content = filler.repeat(Math.ceil(room / filler.length)).slice(0, room);
  return JSON.stringify(base);
}

/** A chat completion request of about `bytes` bytes (a system prompt and a user question). */
export function chatRequest(bytes: number): string {
  const base = { model: 'gpt-4o-mini', messages: [{ role: 'system', content: '' }, { role: 'user', content: 'What is six times seven?' }] };
  const filler = 'You are a terse assistant for the accounting team; answer in one sentence. ';
  const room = Math.max(0, bytes - JSON.stringify(base).length);
  base.messages[0]!.content = filler.repeat(Math.ceil(room / filler.length)).slice(0, room);
  return JSON.stringify(base);
}

/** Starts the upstream in a child process; resolves with it and its port. */
export async function startUpstream(answerBytes = 600): Promise<{ proc: ChildProcess; port: number }> {
  const proc = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', fileURLToPath(import.meta.url), String(answerBytes)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const port = Number((await firstLine(proc, /^(\d+)\n/))[1]);
  return { proc, port };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const delay = Number(process.env.BENCH_UPSTREAM_MS ?? 0);
  const answer = chatCompletion(Number(process.argv[2] ?? 600));
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const send = (): void => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(answer); };
      if (delay > 0) setTimeout(send, delay);
      else send();
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => { process.stdout.write(`${(server.address() as AddressInfo).port}\n`); });
}
