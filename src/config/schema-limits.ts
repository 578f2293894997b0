import { REGISTRY } from '../protocols/registry.ts';
import { duration, obj, size, type JsonSchema } from './schema-helpers.ts';

/** A bounded integer property with its default. */
function int(description: string, def: number, minimum: number, maximum: number): JsonSchema {
  return { type: 'integer', description, minimum, maximum, default: def };
}

/** `server.http` read timeouts (slow-header and slow-body defence). */
export const HTTP_TIMEOUTS: Record<string, JsonSchema> = {
  headers_timeout: duration('Longest time a client may take to send a request\'s headers; then the connection is closed (408).', '15s'),
  request_timeout: duration('Longest time a client may take to send a whole request, headers and body; then 408 and the connection is closed (slow-body defence). Responses (streams, long polls) are not limited by it. At least headers_timeout.', '60s'),
  keep_alive_timeout: duration('How long an idle keep-alive connection is kept open between requests.', '5s'),
};

/**
 * `limits`: what one principal may hold at once, and how inspection is kept off the event loop.
 * With several replicas each limit applies per replica.
 */
export const LIMITS_SCHEMA: JsonSchema = obj('Availability limits: per-principal concurrency and the inspection worker pool. With several replicas, each limit applies per replica.', {
  per_principal: obj('Concurrency one principal (a user, an agent, or a user with its acting agent) may hold at once; beyond it HTTP answers 429 too_many_requests (Retry-After) and PostgreSQL FATAL 53300.', {
    http_requests: int('Concurrent /proxy requests, and separately concurrent /mcp requests (an MCP tool may itself call /proxy; each tools/call of a JSON-RPC batch counts as a request), each including its body upload and response.', 64, 1, 100_000),
    // Each registered protocol's own (postgres_sessions).
    ...Object.fromEntries(REGISTRY.principalLimits().map(([key, l]) => [key, int(l.description, l.default, 1, 100_000)])),
  }, { default: {} }),
  inspection: obj('Heavy SQL parsing and prompt scanning run on worker threads so that no request holds the event loop; small inputs (the common case) are inspected inline.', {
    workers: int('Worker threads for inspection (0: everything inline, bounded only by the size limits).', 2, 0, 64),
    queue: int('Inspections that may wait for a worker; beyond it the request is refused (busy).', 256, 1, 100_000),
    timeout: duration('Longest inspection on a worker; then the worker is replaced and the request denied.', '30s'),
    inline_sql: size('SQL texts up to this size are parsed inline; larger ones on a worker.', '4kb'),
    inline_prompt: size('LLM/HTTP request bodies (and buffered response bodies masked whole) up to this size are scanned inline; larger ones on a worker.', '64kb'),
    max_sql: size('Largest SQL text inspected (a Query or Parse); larger ones are denied.', '1mb'),
    max_statements: int('Most statements in one SQL text (a simple Query may carry many); more are denied. Bounds the work one text causes on the event loop (its verdict carries one entry per statement).', 1_000, 1, 100_000),
  }, { default: {} }),
}, { default: {} });
