import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { planNext, textOf, type Plan, type WireMessage } from './script.ts';

export { planNext, type Plan, type WireMessage } from './script.ts';

/** Name the demo model answers as (any requested model name is echoed back instead). */
export const DEMO_MODEL_NAME = 'gatehouse-demo-model';
/** Largest request body the demo model reads (a bigger one gets 413). */
export const MAX_BODY_BYTES = 1024 * 1024;
/** Requests remembered for inspection (oldest dropped first). */
const MAX_RECEIVED = 200;

/** One chat-completions request as the demo model received it. Headers are not kept. */
export interface ReceivedRequest {
  readonly path: string;
  /** The `Authorization` header carried the model's own key (the one only Gatehouse holds). */
  readonly authorized: boolean;
  /** The raw body, exactly as it arrived. */
  readonly body: string;
  /** The messages of the body, content flattened to text. */
  readonly messages: readonly WireMessage[];
}

/** A running demo model. */
export interface DemoModel {
  /** `http://127.0.0.1:<port>` (clients use `<url>/v1`). */
  readonly url: string;
  /** What it received, oldest first (at most the last 200 requests). */
  readonly received: readonly ReceivedRequest[];
  close(): Promise<void>;
}

/**
 * Starts a small OpenAI-compatible model server on a loopback port (`opts.port`, default a free one). It speaks the real
 * chat-completions wire format (JSON and `stream: true` SSE, tool calls included, OpenAI error
 * bodies, 401 for a wrong key) but thinks by script: {@link planNext} picks the next step from the
 * conversation and the tools offered, so the demo agent's steps are the same on every run.
 * Everything it receives is kept in `received`, so the demo can show what left the gateway.
 *
 * @example
 *   const model = await startDemoModel({ apiKey: 'demo-upstream-key' });
 *   // connection: { name: demo-llm, type: llm, provider: openai-compatible, url: model.url, credentials: { api_key: … } }
 *   model.received.at(-1)?.messages; // what the model saw, after Gatehouse redacted it
 */
export async function startDemoModel(opts: { apiKey: string; port?: number }): Promise<DemoModel> {
  const received: ReceivedRequest[] = [];
  const sockets = new Set<Socket>();
  let calls = 0;
  const server: Server = createServer((req, res) => {
    readBody(req).then((body) => {
      if (body === undefined) return fail(res, 413, 'request body too large', 'invalid_request_error');
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const authorized = req.headers.authorization === `Bearer ${opts.apiKey}`;
      if (req.method === 'GET' && path === '/v1/models') {
        if (!authorized) return fail(res, 401, 'Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key');
        return json(res, 200, { object: 'list', data: [{ id: DEMO_MODEL_NAME, object: 'model', created: 0, owned_by: 'gatehouse-demo' }] });
      }
      if (req.method !== 'POST' || path !== '/v1/chat/completions') return fail(res, 404, `Unknown request URL: ${req.method ?? ''} ${path}`, 'invalid_request_error', 'unknown_url');
      let doc: Record<string, unknown>;
      try {
        const parsed: unknown = JSON.parse(body);
        if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
        doc = parsed as Record<string, unknown>;
      } catch {
        return fail(res, 400, 'We could not parse the JSON body of your request.', 'invalid_request_error');
      }
      const messages = wireMessages(doc.messages);
      received.push({ path, authorized, body, messages });
      if (received.length > MAX_RECEIVED) received.shift();
      if (!authorized) return fail(res, 401, 'Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key');
      calls++;
      const plan = planNext(messages, toolNames(doc.tools), doc.tool_choice);
      const model = typeof doc.model === 'string' ? doc.model : DEMO_MODEL_NAME;
      const id = `chatcmpl-demo-${calls}`;
      if (doc.stream === true) stream(res, { id, model, plan, callId: `call_demo_${calls}`, prompt: messages, withUsage: includeUsage(doc) });
      else json(res, 200, completion(id, model, plan, `call_demo_${calls}`, messages));
    }, () => { res.destroy(); });
  });
  server.on('connection', (s: Socket) => { sockets.add(s); s.once('close', () => sockets.delete(s)); });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => { server.off('error', reject); resolve(); });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => { resolve(); }));
    },
  };
}

/** Reads the body, at most MAX_BODY_BYTES; undefined when it is larger. */
function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) tooBig = true;
      else parts.push(c);
    });
    req.on('end', () => { resolve(tooBig ? undefined : Buffer.concat(parts).toString('utf8')); });
    req.on('error', reject);
  });
}

/** The messages of a request, each with its content flattened to text (parts joined). */
function wireMessages(v: unknown): WireMessage[] {
  if (!Array.isArray(v)) return [];
  return v.map((m: unknown): WireMessage => {
    const o = (m !== null && typeof m === 'object' ? m : {}) as Record<string, unknown>;
    const role = typeof o.role === 'string' ? o.role : 'user';
    return { role, content: textOf(o.content) };
  });
}

function toolNames(v: unknown): string[] {
  if (!Array.isArray(v)) return [];
  return v.flatMap((t: unknown) => {
    const name = (t as { function?: { name?: unknown } } | null)?.function?.name;
    return typeof name === 'string' ? [name] : [];
  });
}

function includeUsage(doc: Record<string, unknown>): boolean {
  const o = doc.stream_options;
  return o !== null && typeof o === 'object' && (o as { include_usage?: unknown }).include_usage === true;
}

/** Roughly a token per four characters: the demo's usage figures, stable across runs. */
function usage(prompt: readonly WireMessage[], out: string): { prompt_tokens: number; completion_tokens: number; total_tokens: number } {
  const p = Math.ceil(prompt.reduce((n, m) => n + m.content.length, 0) / 4);
  const c = Math.ceil(out.length / 4);
  return { prompt_tokens: p, completion_tokens: c, total_tokens: p + c };
}

function completion(id: string, model: string, plan: Plan, callId: string, prompt: readonly WireMessage[]): Record<string, unknown> {
  const message = plan.kind === 'tool'
    ? { role: 'assistant', content: null, refusal: null, tool_calls: [{ id: callId, type: 'function', function: { name: plan.name, arguments: JSON.stringify(plan.args) } }] }
    : { role: 'assistant', content: plan.text, refusal: null };
  const out = plan.kind === 'tool' ? JSON.stringify(plan.args) : plan.text;
  return {
    id, object: 'chat.completion', created: Math.floor(Date.now() / 1000), model, system_fingerprint: null,
    choices: [{ index: 0, message, logprobs: null, finish_reason: plan.kind === 'tool' ? 'tool_calls' : 'stop' }],
    usage: usage(prompt, out),
  };
}

/** The same answer as `chat.completion.chunk` events, text in small deltas, then `[DONE]`. */
function stream(res: ServerResponse, o: { id: string; model: string; plan: Plan; callId: string; prompt: readonly WireMessage[]; withUsage: boolean }): void {
  const { id, model, plan, callId } = o;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-request-id': id });
  const created = Math.floor(Date.now() / 1000);
  const chunk = (delta: Record<string, unknown>, finish: string | null): void => {
    res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, system_fingerprint: null, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })}\n\n`);
  };
  chunk({ role: 'assistant', content: plan.kind === 'tool' ? null : '', refusal: null }, null);
  let out: string;
  if (plan.kind === 'tool') {
    out = JSON.stringify(plan.args);
    chunk({ tool_calls: [{ index: 0, id: callId, type: 'function', function: { name: plan.name, arguments: '' } }] }, null);
    for (const piece of pieces(out, 16)) chunk({ tool_calls: [{ index: 0, function: { arguments: piece } }] }, null);
  } else {
    out = plan.text;
    for (const piece of pieces(out, 24)) chunk({ content: piece }, null);
  }
  chunk({}, plan.kind === 'tool' ? 'tool_calls' : 'stop');
  if (o.withUsage) res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [], usage: usage(o.prompt, out) })}\n\n`);
  res.end('data: [DONE]\n\n');
}

function pieces(text: string, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += n) out.push(text.slice(i, i + n));
  return out;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': 'req_demo' });
  res.end(JSON.stringify(body));
}

function fail(res: ServerResponse, status: number, message: string, type: string, code: string | null = null): void {
  json(res, status, { error: { message, type, param: null, code } });
}
