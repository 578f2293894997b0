import { createHash } from 'node:crypto';
import { z } from 'zod';
import { after } from '../../../kernel/clock.ts';
import { actorOf, requesterKey } from '../../../reviews/actors.ts';
import { requestFingerprint } from '../../../reviews/fingerprint.ts';
import { upstreamPath } from '../../../http/target.ts';
import type { Connection } from '../../../connections/registry.ts';
import { isGatehouseError } from '../../../kernel/errors.ts';
import type { ExchangeAnswer, ExchangeRequest } from '../../../http/exchange.ts';
import type { ToolEnv, ToolExtra, ToolOutcome } from '../env.ts';
import { withProgress } from '../progress.ts';
import { envelope } from '../results.ts';
import { defineTool, pendingMessage } from '../tool-runner.ts';
import { uses } from './access.ts';

const ENDPOINT = /^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*(\?[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?$/;
const justification = z.string().max(1000).optional().describe('Why you need this; shown to the human approver when the call needs approval');

const llmInput = z.object({
  connection: z.string().min(1).max(63).describe('Name of an LLM connection (see list_connections)'),
  request: z.record(z.string(), z.unknown()).describe(
    'The provider request body, non-streaming. openai / openai-compatible connections: an OpenAI chat completion request '
    + '({"model": "...", "messages": [{"role": "user", "content": "..."}], ...}). anthropic connections: an Anthropic messages request '
    + '({"model": "...", "max_tokens": 1024, "messages": [...]}).'),
  endpoint: z.string().max(512).regex(ENDPOINT).optional().describe('Path below the connection; default /v1/chat/completions (OpenAI) or /v1/messages (Anthropic)'),
  justification,
});

/** `call_llm`: one non-streaming model call through the very same `/proxy` path. */
export const callLlmTool = defineTool({
  name: 'call_llm',
  title: 'Call an LLM through the gateway',
  description: [
    'Sends one chat request to an LLM connection of the gateway (OpenAI-style chat completion, or Anthropic messages for anthropic connections) and returns the model\'s answer.',
    'The prompt is scanned first: policy may deny it (e.g. when it contains a secret), and personal data is redacted before it leaves; sensitive values in the answer come back masked.',
    'Returns the provider response as JSON plus the answer text. A denial is an error naming the policy; a call that needs human approval returns status "pending_approval" with a review_id (then call review_wait).',
  ].join(' '),
  input: llmInput,
  output: envelope({
    connection: z.string(), http_status: z.number(), response: z.unknown().describe('The provider response body (masked)'),
    text: z.string().describe('The answer text extracted from the response'),
  }),
  annotations: { openWorldHint: true },
  connectionOf: (a) => a.connection,
  run: async (env, args, extra, conn) => {
    if (!conn || !uses('call_llm', conn)) return { kind: 'error', code: 'not_found', reason: `"${args.connection}" is not an LLM connection` };
    if (args.request.stream === true) return { kind: 'error', code: 'validation_failed', reason: 'streaming is not available through MCP; leave "stream" out' };
    const anthropic = conn.provider === 'anthropic';
    const endpoint = args.endpoint ?? (anthropic ? '/v1/messages' : '/v1/chat/completions');
    const answer = await viaProxy(env, extra, conn, 'POST', endpoint, Buffer.from(JSON.stringify(args.request)), 'application/json', args.justification);
    if ('kind' in answer) return answer;
    if (answer.status >= 400) {
      return { kind: 'error', code: 'upstream_error', reason: `the model API answered HTTP ${answer.status}: ${answer.body.toString('utf8').slice(0, 2000)}` };
    }
    const json = parseJson(answer.body);
    if (json === undefined) return { kind: 'error', code: 'upstream_error', reason: 'the model answered with something that is not JSON' };
    const text = answerText(json);
    return { kind: 'ok', data: { connection: conn.name, http_status: answer.status, response: json, text }, text };
  },
});

const httpInput = z.object({
  connection: z.string().min(1).max(63).describe('Name of an HTTP connection (see list_connections)'),
  method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']).default('GET'),
  path: z.string().max(2048).regex(ENDPOINT).describe('Path (and query) below the connection, starting with "/", e.g. /v1/items?limit=10'),
  body: z.string().max(1024 * 1024).optional().describe('Request body as text (with content_type)'),
  json: z.unknown().optional().describe('Request body as JSON (instead of body)'),
  content_type: z.string().max(200).optional().describe('Content type of body; default application/json'),
  justification,
});

/** `http_request`: one request to an HTTP connection through the very same `/proxy` path. */
export const httpRequestTool = defineTool({
  name: 'http_request',
  title: 'Call an HTTP API through the gateway',
  description: [
    'Sends one HTTP request to an HTTP API connection of the gateway (the gateway adds the API credential; you never see it) and returns the response.',
    'Policy decides per method and path; sensitive values in JSON responses come back masked. Upstream errors (status 400 and above) are returned as errors with the status.',
    'A denial is an error naming the policy; a request that needs human approval returns status "pending_approval" with a review_id (then call review_wait).',
  ].join(' '),
  input: httpInput,
  output: envelope({
    connection: z.string(), http_status: z.number(), content_type: z.string(),
    body: z.string().describe('Response body as text (masked)'), json: z.unknown().optional().describe('The body parsed, when it is JSON'),
  }),
  annotations: { destructiveHint: true, openWorldHint: true },
  connectionOf: (a) => a.connection,
  run: async (env, args, extra, conn) => {
    if (!conn || !uses('http_request', conn)) return { kind: 'error', code: 'not_found', reason: `"${args.connection}" is not an HTTP connection` };
    const body = args.json !== undefined ? Buffer.from(JSON.stringify(args.json)) : args.body === undefined ? undefined : Buffer.from(args.body, 'utf8');
    const answer = await viaProxy(env, extra, conn, args.method, args.path, body, args.json !== undefined ? 'application/json' : args.content_type, args.justification);
    if ('kind' in answer) return answer;
    const text = answer.body.toString('utf8');
    if (answer.status >= 400) return { kind: 'error', code: 'upstream_error', reason: `the API answered HTTP ${answer.status}: ${text.slice(0, 2000)}` };
    const json = /json/i.test(answer.contentType) ? parseJson(answer.body) : undefined;
    return {
      kind: 'ok', text: `HTTP ${answer.status}\n${text}`,
      data: { connection: conn.name, http_status: answer.status, content_type: answer.contentType, body: text, ...(json === undefined ? {} : { json }) },
    };
  },
});

/**
 * One `/proxy` exchange in process (`svc.proxyExchange`), for the caller's principal and in its
 * MCP recording session: authentication is the MCP session's, and the facts, the decision,
 * egress redaction, response masking, the review hold and the recording are exactly those of
 * `/proxy` (there is no second code path, no second authentication, no socket hop). A refusal
 * of the gateway is thrown as the GatehouseError `/proxy` would answer.
 */
function proxyCall(env: ToolEnv, call: Omit<ExchangeRequest, 'session' | 'userAgent'>): Promise<ExchangeAnswer> {
  const held = env.session.held();
  return env.svc.proxyExchange.exchange(env.caller.principal, { ...call, session: env.session.id, userAgent: 'gatehouse-mcp', ...(held === undefined ? {} : { held }) });
}

/**
 * The in-process `/proxy` exchange with progress notifications while it may be held for review;
 * a refusal of the gateway becomes the tool's error (or `pending` for a pending review).
 */
async function viaProxy(
  env: ToolEnv, extra: ToolExtra, conn: Connection, method: string, endpoint: string, body: Buffer | undefined,
  contentType: string | undefined, justification: string | undefined,
): Promise<ExchangeAnswer | ToolOutcome> {
  const stop = new AbortController();
  const signal = AbortSignal.any([env.signal, extra.signal, stop.signal]);
  const call = proxyCall(env, {
    connection: conn.name, method, endpoint, signal,
    ...(body === undefined ? {} : { body }), ...(contentType === undefined ? {} : { contentType }), ...(justification === undefined ? {} : { justification }),
  });
  // /proxy holds a request under review for reviews.hold_timeout; MCP answers pending_approval
  // after the short hold instead (the review stays pending when the held request is let go).
  const held = await withProgress(extra, env.svc.clock, env.limits.progressEveryMs, undefined, `calling ${conn.name} through the gateway`, heldReview(env, conn, method, endpoint, body, call));
  if (held !== undefined) {
    stop.abort();
    await call.catch(() => undefined);
    return { kind: 'pending', reviewId: held, message: pendingMessage(held) };
  }
  let answer: ExchangeAnswer;
  try {
    answer = await call;
  } catch (err) {
    if (!isGatehouseError(err)) throw err;
    const reviewId = err.extra.review_id;
    if (err.code === 'review_required' && typeof reviewId === 'string') {
      const review = await env.svc.reviews.get(reviewId);
      if (review?.status === 'pending') return { kind: 'pending', reviewId: review.id, message: pendingMessage(review.id) };
    }
    return { kind: 'error', code: err.code, reason: err.detail };
  }
  return answer;
}

/**
 * Resolves undefined once `call` answers; or, when it has not answered after the short hold and a
 * pending review of this caller exists for exactly this request, that review's id. The request is
 * found by the fingerprint `/proxy` gives it (`proxy/review-hold.ts`: protocol, connection, method,
 * upstream path with query, sha256 of the body), so a slow upstream is never mistaken for a hold.
 */
async function heldReview(
  env: ToolEnv, conn: Connection, method: string, endpoint: string, body: Buffer | undefined, call: Promise<ExchangeAnswer>,
): Promise<string | undefined> {
  const answered = call.then(() => true, () => true);
  let cancel: (() => void) | undefined;
  const waited = new Promise<false>((resolve) => { cancel = after(env.svc.clock, env.limits.holdMs, () => { resolve(false); }, { keepAlive: true }); });
  try {
    if (await Promise.race([answered, waited])) return undefined;
  } finally {
    cancel?.();
  }
  const q = endpoint.indexOf('?');
  const path = upstreamPath(conn.url, q < 0 ? endpoint : endpoint.slice(0, q), q < 0 ? '' : endpoint.slice(q));
  const fingerprint = requestFingerprint(['http', conn.name, method, path, createHash('sha256').update(body ?? Buffer.alloc(0)).digest('hex')]);
  const principal = env.caller.principal;
  const mine = requesterKey(actorOf(principal));
  const pending = await env.svc.reviews.list({ requester: principal.id, status: 'pending', limit: 1000 });
  const review = pending.find((r) => r.fingerprint === fingerprint && requesterKey(r.requester) === mine);
  if (review) return review.id;
  await answered;
  return undefined;
}

function parseJson(b: Buffer): unknown {
  try {
    return JSON.parse(b.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/** The assistant text of an OpenAI chat completion or an Anthropic message. */
function answerText(json: unknown): string {
  if (json === null || typeof json !== 'object') return '';
  const o = json as Record<string, unknown>;
  const parts: string[] = [];
  if (Array.isArray(o.choices)) {
    for (const c of o.choices as unknown[]) {
      const m = c !== null && typeof c === 'object' ? (c as Record<string, unknown>).message : undefined;
      const content = m !== null && typeof m === 'object' ? (m as Record<string, unknown>).content : undefined;
      if (typeof content === 'string') parts.push(content);
    }
  }
  if (Array.isArray(o.content)) {
    for (const b of o.content as unknown[]) {
      const t = b !== null && typeof b === 'object' ? (b as Record<string, unknown>).text : undefined;
      if (typeof t === 'string') parts.push(t);
    }
  }
  return parts.join('\n');
}
