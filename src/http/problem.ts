import type { ServerResponse } from 'node:http';
import { isGatehouseError, ERROR_CODES } from '../kernel/errors.ts';

/** RFC 9457 problem details, with Gatehouse's stable `code`. */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  readonly review_id?: string;
  readonly [extra: string]: unknown;
}

const TYPE_BASE = 'https://gatehouse.dev/errors/';

/** Converts any thrown value into a problem. Unknown errors become `internal` with no detail leak. */
export function toProblem(err: unknown): Problem {
  if (isGatehouseError(err)) {
    return { ...err.extra, type: TYPE_BASE + err.code, title: ERROR_CODES[err.code].title, status: err.status, code: err.code, detail: err.detail };
  }
  const e = ERROR_CODES.internal;
  return { type: TYPE_BASE + 'internal', title: e.title, status: e.status, code: 'internal', detail: 'internal error; see the gateway log' };
}

/** Writes a problem+json response (unless headers were already sent). */
export function sendProblem(res: ServerResponse, err: unknown, headers: Record<string, string> = {}): Problem {
  const problem = toProblem(err);
  if (!res.headersSent) {
    const retry = typeof problem.retry_after === 'number' ? { 'retry-after': String(problem.retry_after) } : {};
    res.writeHead(problem.status, { ...retry, ...headers, 'content-type': 'application/problem+json', 'cache-control': 'no-store' });
  }
  res.end(JSON.stringify(problem));
  return problem;
}

/** Writes a JSON response. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(text);
}
