import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** One request as the fake upstream received it, byte for byte (body as UTF-8 text). */
export interface Received {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
}

/** What the next answers look like. Mutate `fake.behavior` between tests. */
export interface Behavior {
  /** Assistant text. */
  reply: string;
  /** Characters per streamed delta. */
  chunk: number;
  /** Answer with a tool call instead of text when the request offers tools. */
  toolCall?: { name: string; arguments: string };
  /** Streams: destroy the socket after this many delta events. */
  dieAfter?: number;
  /** Never answer (headers timeout). */
  hang?: boolean;
  /** Answer with this error status in the provider's error format. */
  status?: number;
  /** Answer with a raw body and content type (any endpoint); `split`: byte offsets written separately. */
  raw?: { contentType: string; body: string; split?: number[] };
  /** Per-token logprobs (token texts, UTF-8 bytes, top alternatives), as when the client sends `logprobs: true`. */
  logprobs?: boolean;
  /** Members a provider adds (citations, search results …), merged into the response, every chunk/event, and each choice. */
  extra?: Record<string, unknown>;
  /** The tool call's id (default `call_fake1` / `fc_fake1` / `toolu_fake1`). */
  toolCallId?: string;
  /** Anthropic: a thinking block first (`thinking_delta` …, then one `signature_delta`). */
  thinking?: { text: string; signature: string };
  /** Anthropic: citations on the text block (and a `citations_delta` when streaming). */
  citations?: Record<string, unknown>[];
}

/** The fake upstream. */
export interface FakeLlm {
  readonly url: string;
  readonly received: Received[];
  behavior: Behavior;
  /** The last request received. */
  last(): Received;
  close(): Promise<void>;
}

export const FAKE_OPENAI_KEY = 'sk-upstream-openai-0000000000000000';
export const FAKE_ANTHROPIC_KEY = 'sk-ant-upstream-0000000000000000';
const DEFAULTS: Behavior = { reply: 'Hello from the fake model.', chunk: 5 };

type Json = Record<string, unknown>;

function sse(res: ServerResponse, data: Json | string, event?: string): void {
  res.write(`${event === undefined ? '' : `event: ${event}\n`}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
}

function pieces(text: string, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += Math.max(1, n)) out.push(text.slice(i, i + Math.max(1, n)));
  return out;
}

/**
 * Starts a faithful stand-in for hosted LLM APIs on a free loopback port: OpenAI
 * `/v1/chat/completions` and `/v1/responses` and Anthropic `/v1/messages`, JSON and SSE
 * (`data: [DONE]`, Anthropic event names, usage blocks, request-id headers, provider error
 * bodies, 401 on a wrong key), and what real providers add when asked or on their own: logprobs
 * (token texts and bytes), extra members on responses, chunks and choices, Anthropic thinking
 * blocks with `signature_delta`, citations. Any other path echoes the request as JSON (for `http`
 * connections). Every request is recorded, byte for byte, in `received`.
 *
 * @example
 *   const fake = await startFakeLlm();
 *   fake.behavior = { reply: 'mail bob@example.com', chunk: 3 };
 */
export async function startFakeLlm(): Promise<FakeLlm> {
  const received: Received[] = [];
  const sockets = new Set<Socket>();
  const state: { behavior: Behavior } = { behavior: { ...DEFAULTS } };
  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const body = Buffer.concat(parts).toString('utf8');
      const r: Received = { method: req.method ?? 'GET', path: req.url ?? '/', headers: { ...req.headers }, body };
      received.push(r);
      handle(r, req, res, state.behavior);
    });
  });
  server.on('connection', (s: Socket) => { sockets.add(s); s.once('close', () => sockets.delete(s)); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    get behavior() { return state.behavior; },
    set behavior(b: Behavior) { state.behavior = { ...DEFAULTS, ...b }; },
    last() {
      const r = received.at(-1);
      if (!r) throw new Error('the fake upstream received nothing');
      return r;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function handle(r: Received, req: IncomingMessage, res: ServerResponse, b: Behavior): void {
  if (b.hang) return;
  const path = r.path.split('?')[0] ?? '';
  const anthropic = path === '/v1/messages';
  const llm = anthropic || path === '/v1/chat/completions' || path === '/v1/responses';
  const headers = anthropic ? { 'request-id': 'req_fake_1' } : { 'x-request-id': 'req_fake_1', 'openai-processing-ms': '3' };
  if (b.raw) {
    res.writeHead(200, { 'content-type': b.raw.contentType, ...headers });
    writeSplit(res, Buffer.from(b.raw.body), b.raw.split ?? []);
    return;
  }
  if (!llm) {
    res.writeHead(b.status ?? 200, { 'content-type': 'application/json', 'set-cookie': 'upstream=1' });
    res.end(JSON.stringify({ method: r.method, path: r.path, echo: r.body, note: b.reply }));
    return;
  }
  const keyOk = anthropic ? req.headers['x-api-key'] === FAKE_ANTHROPIC_KEY : req.headers.authorization === `Bearer ${FAKE_OPENAI_KEY}`;
  const status = keyOk ? b.status : 401;
  if (status !== undefined && status >= 400) {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(anthropic
      ? { type: 'error', error: { type: status === 401 ? 'authentication_error' : 'api_error', message: `fake error ${status}` } }
      : { error: { message: `fake error ${status}`, type: status === 401 ? 'invalid_request_error' : 'server_error', param: null, code: status === 401 ? 'invalid_api_key' : null } }));
    return;
  }
  let body: Json;
  try {
    body = JSON.parse(r.body) as Json;
  } catch {
    res.writeHead(400, { 'content-type': 'application/json' });
    res.end('{"error":{"message":"bad json","type":"invalid_request_error"}}');
    return;
  }
  const model = typeof body.model === 'string' ? body.model : 'fake-model';
  const tool = Array.isArray(body.tools) && body.tools.length > 0 ? b.toolCall : undefined;
  const stream = body.stream === true;
  if (path === '/v1/chat/completions') chat(res, b, model, tool, stream, headers, (body.stream_options as Json | undefined)?.include_usage === true);
  else if (path === '/v1/responses') responses(res, b, model, tool, stream, headers);
  else messages(res, b, model, tool, stream, headers);
}

/** Writes `body` in pieces at the given byte offsets, one event-loop turn apart, then ends. */
function writeSplit(res: ServerResponse, body: Buffer, split: readonly number[]): void {
  const cuts = [...new Set(split.map((c) => c % (body.length + 1)))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let pos = 0;
  for (const c of cuts) { if (c > pos) pieces.push(body.subarray(pos, c)); pos = Math.max(pos, c); }
  pieces.push(body.subarray(pos));
  const next = (): void => {
    const p = pieces.shift();
    if (p === undefined) { res.end(); return; }
    res.write(p);
    setImmediate(next);
  };
  next();
}

const USAGE = { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 };

/** OpenAI-style per-token logprobs of `text` (one token per 3 characters), with one top alternative each. */
function tokenLogprobs(text: string): Json[] {
  return pieces(text, 3).map((t) => ({
    token: t, logprob: -0.01, bytes: [...Buffer.from(t)],
    top_logprobs: [{ token: t, logprob: -0.01, bytes: [...Buffer.from(t)] }],
  }));
}

function streamHead(res: ServerResponse, headers: Record<string, string>): void {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', ...headers });
}

function die(res: ServerResponse, b: Behavior, n: number): boolean {
  if (b.dieAfter !== undefined && n >= b.dieAfter) {
    // Flush what was written, then close the socket mid-body (no terminating chunk).
    res.socket?.end();
    return true;
  }
  return false;
}

function chat(res: ServerResponse, b: Behavior, model: string, tool: Behavior['toolCall'], stream: boolean, headers: Record<string, string>, usage: boolean): void {
  const base = { id: 'chatcmpl-fake1', object: 'chat.completion', created: 1_700_000_000, model, system_fingerprint: 'fp_fake' };
  const call = tool ? { id: b.toolCallId ?? 'call_fake1', type: 'function', function: { name: tool.name, arguments: tool.arguments } } : undefined;
  if (!stream) {
    res.writeHead(200, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify({
      ...base, ...b.extra,
      choices: [{
        index: 0, message: { role: 'assistant', content: call ? null : b.reply, refusal: null, ...(call ? { tool_calls: [call] } : {}) },
        logprobs: b.logprobs ? { content: tokenLogprobs(b.reply), refusal: null } : null, finish_reason: call ? 'tool_calls' : 'stop', ...b.extra,
      }],
      usage: USAGE,
    }));
    return;
  }
  streamHead(res, headers);
  const chunk = { ...base, object: 'chat.completion.chunk', ...b.extra };
  const lp = (p: string): Json | null => (b.logprobs ? { content: tokenLogprobs(p), refusal: null } : null);
  sse(res, { ...chunk, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }] });
  let n = 0;
  if (call) {
    sse(res, { ...chunk, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: call.id, type: 'function', function: { name: call.function.name, arguments: '' } }] }, logprobs: null, finish_reason: null }] });
    for (const p of pieces(call.function.arguments, b.chunk)) {
      if (die(res, b, n++)) return;
      sse(res, { ...chunk, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: p } }] }, logprobs: null, finish_reason: null }] });
    }
  } else {
    for (const p of pieces(b.reply, b.chunk)) {
      if (die(res, b, n++)) return;
      sse(res, { ...chunk, choices: [{ index: 0, delta: { content: p }, logprobs: lp(p), finish_reason: null, ...b.extra }] });
    }
  }
  sse(res, { ...chunk, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: call ? 'tool_calls' : 'stop' }] });
  if (usage) sse(res, { ...chunk, choices: [], usage: USAGE });
  sse(res, '[DONE]');
  res.end();
}

function responses(res: ServerResponse, b: Behavior, model: string, tool: Behavior['toolCall'], stream: boolean, headers: Record<string, string>): void {
  const lps = b.logprobs ? { logprobs: tokenLogprobs(b.reply) } : {};
  const item = tool
    ? { id: 'fc_fake1', type: 'function_call', status: 'completed', call_id: b.toolCallId ?? 'call_fake1', name: tool.name, arguments: tool.arguments }
    : { id: 'msg_fake1', type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: b.reply, annotations: [], ...lps }] };
  const response = (status: string, output: unknown[]): Json => ({
    ...b.extra, id: 'resp_fake1', object: 'response', created_at: 1_700_000_000, status, model, output, parallel_tool_calls: true,
    tool_choice: 'auto', tools: [], usage: status === 'completed' ? { input_tokens: 11, output_tokens: 7, total_tokens: 18 } : null,
  });
  if (!stream) {
    res.writeHead(200, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(response('completed', [item])));
    return;
  }
  streamHead(res, headers);
  let seq = 0;
  const ev = (type: string, data: Json): void => sse(res, { type, sequence_number: seq++, ...b.extra, ...data }, type);
  ev('response.created', { response: response('in_progress', []) });
  ev('response.in_progress', { response: response('in_progress', []) });
  let n = 0;
  if (tool) {
    ev('response.output_item.added', { output_index: 0, item: { ...item, arguments: '', status: 'in_progress' } });
    for (const p of pieces(tool.arguments, b.chunk)) {
      if (die(res, b, n++)) return;
      ev('response.function_call_arguments.delta', { item_id: 'fc_fake1', output_index: 0, delta: p });
    }
    ev('response.function_call_arguments.done', { item_id: 'fc_fake1', output_index: 0, arguments: tool.arguments });
  } else {
    ev('response.output_item.added', { output_index: 0, item: { ...item, status: 'in_progress', content: [] } });
    ev('response.content_part.added', { item_id: 'msg_fake1', output_index: 0, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } });
    for (const p of pieces(b.reply, b.chunk)) {
      if (die(res, b, n++)) return;
      ev('response.output_text.delta', { item_id: 'msg_fake1', output_index: 0, content_index: 0, delta: p, logprobs: b.logprobs ? tokenLogprobs(p) : [] });
    }
    ev('response.output_text.done', { item_id: 'msg_fake1', output_index: 0, content_index: 0, text: b.reply, logprobs: b.logprobs ? tokenLogprobs(b.reply) : [] });
    ev('response.content_part.done', { item_id: 'msg_fake1', output_index: 0, content_index: 0, part: { type: 'output_text', text: b.reply, annotations: [] } });
  }
  ev('response.output_item.done', { output_index: 0, item });
  ev('response.completed', { response: response('completed', [item]) });
  res.end();
}

function messages(res: ServerResponse, b: Behavior, model: string, tool: Behavior['toolCall'], stream: boolean, headers: Record<string, string>): void {
  const block = tool
    ? { type: 'tool_use', id: b.toolCallId ?? 'toolu_fake1', name: tool.name, input: JSON.parse(tool.arguments) as unknown }
    : { type: 'text', text: b.reply, ...(b.citations ? { citations: b.citations } : {}) };
  const think = b.thinking ? [{ type: 'thinking', thinking: b.thinking.text, signature: b.thinking.signature }] : [];
  const msg = { ...b.extra, id: 'msg_fake1', type: 'message', role: 'assistant', model, stop_sequence: null };
  if (!stream) {
    res.writeHead(200, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify({ ...msg, content: [...think, block], stop_reason: tool ? 'tool_use' : 'end_turn', usage: { input_tokens: 11, output_tokens: 7 } }));
    return;
  }
  streamHead(res, headers);
  const ev = (type: string, data: Json): void => sse(res, { type, ...b.extra, ...data }, type);
  ev('message_start', { message: { ...msg, content: [], stop_reason: null, usage: { input_tokens: 11, output_tokens: 1 } } });
  let index = 0;
  if (b.thinking) {
    ev('content_block_start', { index, content_block: { type: 'thinking', thinking: '', signature: '' } });
    for (const p of pieces(b.thinking.text, b.chunk)) ev('content_block_delta', { index, delta: { type: 'thinking_delta', thinking: p } });
    ev('content_block_delta', { index, delta: { type: 'signature_delta', signature: b.thinking.signature } });
    ev('content_block_stop', { index });
    index++;
  }
  ev('content_block_start', { index, content_block: tool ? { ...block, input: {} } : { type: 'text', text: '' } });
  ev('ping', {});
  let n = 0;
  const text = tool ? tool.arguments : b.reply;
  for (const p of pieces(text, b.chunk)) {
    if (die(res, b, n++)) return;
    ev('content_block_delta', { index, delta: tool ? { type: 'input_json_delta', partial_json: p } : { type: 'text_delta', text: p } });
  }
  for (const c of b.citations ?? []) ev('content_block_delta', { index, delta: { type: 'citations_delta', citation: c } });
  ev('content_block_stop', { index });
  ev('message_delta', { delta: { stop_reason: tool ? 'tool_use' : 'end_turn', stop_sequence: null }, usage: { output_tokens: 7 } });
  ev('message_stop', {});
  res.end();
}
