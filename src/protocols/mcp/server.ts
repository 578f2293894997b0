import type { IncomingMessage, ServerResponse } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { HostGuard } from '../../http/host-guard.ts';
import type { McpDeps } from './deps.ts';
import { GatehouseError, isGatehouseError, JSONRPC, jsonRpcCodeOf } from '../../kernel/errors.ts';
import { newId } from '../../kernel/ids.ts';
import { readBody } from '../../http/body.ts';
import { sessionOwner, validSessionHeader } from '../../enforce/sessions.ts';
import { authenticateMcp, challenge } from './auth.ts';
import type { McpLimits, ToolEnv } from './env.ts';
import { MCP_PATH, METADATA_PATH, protectedResourceMetadata } from './metadata.ts';
import { PendingCalls } from './pending.ts';
import { McpSession } from './record.ts';
import { TOOLS } from './tools/index.ts';

/** Server identity in `initialize`. */
export const SERVER_INFO = { name: 'gatehouse', version: '0.1.0' } as const;

/** The limits of the MCP server (see docs/design/mcp.md). */
export function mcpLimits(svc: Pick<McpDeps, 'reviewHoldMs'>): McpLimits {
  return { holdMs: Math.min(svc.reviewHoldMs, 10_000), maxWaitMs: 60_000, progressEveryMs: 5_000 };
}

/**
 * The `/mcp` endpoint and its RFC 9728 metadata, for the HTTP listener's dispatch. Returns the
 * route label for metrics, or undefined when `path` is not an MCP path.
 *
 * `/mcp` (POST only; streamable HTTP, stateless: a new SDK server and transport per request, so
 * any replica serves any request): Host/Origin check (DNS rebinding), bearer authentication (401 +
 * `WWW-Authenticate` naming the resource metadata), a body capped at `server.body_limit` before the
 * SDK parses it, then the SDK. The recording session travels in `Mcp-Session-Id` (set by the
 * gateway on every answer, echoed by clients) or `Gatehouse-Session`. GET and DELETE: 405.
 *
 * @example
 *   const mcp = mcpHandler(svc, guard);
 *   const label = await mcp(req, res, url.pathname); // undefined: not an MCP path
 */
export function mcpHandler(svc: McpDeps, guard: HostGuard) {
  const limits = mcpLimits(svc);
  // Calls pending review, per caller: built once, when the composition root mounts /mcp.
  const pending = new PendingCalls();
  return async (req: IncomingMessage, res: ServerResponse, path: string): Promise<string | undefined> => {
    if (path === METADATA_PATH || path === `${METADATA_PATH}${MCP_PATH}`) {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new GatehouseError('method_not_allowed', 'allowed: GET', { allow: ['GET'] });
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=300', 'access-control-allow-origin': '*' });
      res.end(req.method === 'HEAD' ? undefined : JSON.stringify(protectedResourceMetadata(svc)));
      return METADATA_PATH;
    }
    if (path !== MCP_PATH) return undefined;
    try {
      await serve(svc, req, res, guard, limits, pending);
    } catch (err) {
      answerError(svc, res, err);
    }
    return MCP_PATH;
  };
}

async function serve(
  svc: McpDeps, req: IncomingMessage, res: ServerResponse, guard: HostGuard, limits: McpLimits, pending: PendingCalls,
): Promise<void> {
  guard.check(req.headers);
  if (req.method !== 'POST') {
    throw new GatehouseError('method_not_allowed', 'this MCP server is stateless: POST JSON-RPC messages to /mcp (no GET stream, no DELETE)', { allow: ['POST'] });
  }
  const caller = await authenticateMcp(svc, req);
  svc.limits.admitHttp(svc, 'mcp', caller.principal, res);
  const raw = await readBody(req, svc.config.server.body_limit_bytes);
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8')) as unknown;
  } catch {
    sendRpcError(res, 400, JSONRPC.parseError, 'Parse error: the body is not JSON');
    return;
  }
  // A JSON-RPC batch is one request for the per-principal limits: bounded, so that one POST can
  // neither run an unbounded number of tool calls at once (past the concurrency limit) nor open
  // thousands of recording sessions.
  if (Array.isArray(body) && body.length > MAX_BATCH_MESSAGES) {
    sendRpcError(res, 400, JSONRPC.invalidRequest, `Invalid Request: a batch holds at most ${MAX_BATCH_MESSAGES} messages`);
    return;
  }
  if (toolCalls(body) > MAX_BATCH_TOOL_CALLS) {
    sendRpcError(res, 400, JSONRPC.invalidRequest, `Invalid Request: a batch holds at most ${MAX_BATCH_TOOL_CALLS} tools/call messages (send more requests)`);
    return;
  }
  // Each tool call of a batch holds a unit of the principal's concurrency limit (the request took
  // one): a batch is refused with 429 unless all its calls fit, so a batch cannot run more tool
  // calls at once than separate requests could. Units are given back when the response closes.
  for (let i = 1; i < toolCalls(body); i++) svc.limits.admitHttp(svc, 'mcp', caller.principal, res);
  const header = req.headers['mcp-session-id'] ?? req.headers['gatehouse-session'];
  // A session is resolved (and recorded) only by tool calls; other messages just carry its id.
  // Each tool call of a JSON-RPC batch is an exchange of its own (its own number in the session).
  const calls = toolCalls(body);
  const sessions = Array.from({ length: calls }, () => McpSession.resolve(svc, caller.principal, header));
  const session = sessions[0];
  // Other messages get the live session the header names (never claimed here), else the header
  // itself or a new id: a label the next tool call resolves like any other.
  const sessionId = session?.id ?? svc.httpSessions.peek(header, sessionOwner(caller.principal)) ?? (validSessionHeader(header) ? header : newId());
  res.setHeader('mcp-session-id', sessionId);
  res.setHeader('gatehouse-session', sessionId);

  const ac = new AbortController();
  res.once('close', () => { if (!res.writableFinished) ac.abort(); });
  // The exchange ends with its answer (a rotated or evicted session is closed after it).
  if (calls > 0) res.once('close', () => { for (const s of sessions) s.release(); });
  const unclaimed = [...sessions];
  const env: ToolEnv = {
    svc, caller, limits, pending, signal: ac.signal,
    session: session ?? McpSession.passive(svc, caller.principal, sessionId),
    claim: () => unclaimed.shift(),
  };
  const server = new McpServer(SERVER_INFO, {
    capabilities: { tools: {} },
    instructions: 'Gatehouse: reach databases, LLMs and HTTP APIs through a zero-trust gateway. Start with whoami and list_connections. '
      + 'Every call is authorized by policy, results are masked, and some calls wait for a human approval (status pending_approval: then call review_wait).',
  });
  for (const register of TOOLS) register(server, env);
  // No sessionIdGenerator: stateless (the gateway sets Mcp-Session-Id itself, for recording).
  const transport = new StreamableHTTPServerTransport({});
  res.once('close', () => { void transport.close().catch(() => undefined); void server.close().catch(() => undefined); });
  await server.connect(transport);
  await transport.handleRequest(req, res, body);
}

/** The number of `tools/call` requests in the JSON-RPC message (or batch). */
/** Most messages in one JSON-RPC batch, and most `tools/call` among them. */
export const MAX_BATCH_MESSAGES = 64;
export const MAX_BATCH_TOOL_CALLS = 16;

function toolCalls(body: unknown): number {
  const messages = Array.isArray(body) ? body as unknown[] : [body];
  return messages.filter((m) => m !== null && typeof m === 'object' && (m as Record<string, unknown>).method === 'tools/call').length;
}

/** An HTTP-level fault on `/mcp` as a JSON-RPC error, its code from the error registry (with the `WWW-Authenticate` challenge on 401). */
function answerError(svc: McpDeps, res: ServerResponse, err: unknown): void {
  const e = isGatehouseError(err) ? err : new GatehouseError('internal');
  if (!isGatehouseError(err)) svc.log.error({ err: err instanceof Error ? err.stack : String(err) }, 'mcp request failed');
  const headers: Record<string, string> = {};
  if (e.status === 401) headers['www-authenticate'] = challenge(svc, e);
  if (typeof e.extra.retry_after === 'number') headers['retry-after'] = String(e.extra.retry_after);
  if (e.code === 'method_not_allowed' && e.extra.allow !== undefined) headers.allow = e.extra.allow.join(', ');
  sendRpcError(res, e.status, jsonRpcCodeOf(e.code), e.detail, { code: e.code }, headers);
}

function sendRpcError(res: ServerResponse, status: number, code: number, message: string, data?: Record<string, unknown>, headers: Record<string, string> = {}): void {
  if (res.headersSent) { res.end(); return; }
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message, ...(data ? { data } : {}) }, id: null }));
}
