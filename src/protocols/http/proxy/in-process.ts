import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { OutgoingHttpHeaders } from 'node:http';
import type { ExchangeAnswer, ExchangeRequest, ProxyExchange } from '../../../http/exchange.ts';
import type { Principal } from '../../../identity/principal.ts';
import { GatehouseError, isGatehouseError } from '../../../kernel/errors.ts';
import type { ProxyDeps } from './deps.ts';
import { proxyExchange } from './route.ts';

/** Largest answer an in-process caller reads (the rest is refused, not truncated: JSON must parse). */
export const MAX_EXCHANGE_ANSWER = 4 * 1024 * 1024;

/**
 * A response kept in memory, bounded: what the data path writes for an in-process caller. It is
 * a Writable (backpressure, `close` when done or destroyed) with the response-head methods the
 * data path uses; more than `limit` bytes fail it with `payload_too_large`.
 */
export class AnswerSink extends Writable {
  statusCode = 200;
  headersSent = false;
  readonly #headers = new Map<string, number | string | readonly string[]>();
  readonly #parts: Buffer[] = [];
  readonly #limit: number;
  #size = 0;

  constructor(limit: number) {
    super();
    this.#limit = limit;
  }

  setHeader(name: string, value: number | string | readonly string[]): this {
    if (this.headersSent) throw new Error('headers already sent');
    this.#headers.set(name.toLowerCase(), value);
    return this;
  }

  writeHead(statusCode: number, headers?: OutgoingHttpHeaders): this {
    this.statusCode = statusCode;
    for (const [k, v] of Object.entries(headers ?? {})) if (v !== undefined) this.#headers.set(k.toLowerCase(), v);
    this.headersSent = true;
    return this;
  }

  flushHeaders(): void {
    this.headersSent = true;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    this.headersSent = true;
    this.#size += chunk.length;
    if (this.#size > this.#limit) {
      done(new GatehouseError('payload_too_large', `the answer exceeds ${this.#limit} bytes; ask for less (e.g. max_tokens)`));
      return;
    }
    this.#parts.push(chunk);
    done();
  }

  override _final(done: (err?: Error | null) => void): void {
    this.headersSent = true;
    done();
  }

  /** The answer as written. */
  answer(): ExchangeAnswer {
    const ct = this.#headers.get('content-type');
    return { status: this.statusCode, contentType: ct === undefined ? '' : String(ct), body: Buffer.concat(this.#parts, this.#size) };
  }
}

/**
 * The `/proxy` exchange in process ({@link ProxyExchange}): `proxyExchange` with the caller's
 * principal (no second authentication), the request's headers as a client would send them, and
 * the answer written to an {@link AnswerSink}. Built once by the composition root.
 *
 * @example const answer = await new InProcessProxy(svc).exchange(principal, { connection: 'api', method: 'GET', endpoint: '/v1/items', session, userAgent: 'gatehouse-mcp', signal });
 */
export class InProcessProxy implements ProxyExchange {
  readonly #svc: ProxyDeps;

  constructor(svc: ProxyDeps) {
    this.#svc = svc;
  }

  async exchange(principal: Principal, call: ExchangeRequest): Promise<ExchangeAnswer> {
    if (call.signal.aborted) throw new GatehouseError('bad_request', 'the call was cancelled');
    const headers: Record<string, string> = { 'gatehouse-session': call.session, accept: 'application/json', 'user-agent': call.userAgent };
    const body = call.body;
    if (body !== undefined) {
      headers['content-type'] = call.contentType ?? 'application/json';
      headers['content-length'] = String(body.length);
    }
    // A header value is Latin-1 without controls: anything else becomes "?" (as on the wire).
    if (call.justification !== undefined) headers['gatehouse-justification'] = call.justification.replace(/[^\x20-\x7e\xa0-\xff]/g, '?');
    const sink = new AnswerSink(MAX_EXCHANGE_ANSWER);
    let failure: unknown;
    sink.on('error', (err) => { failure = err; });
    const onAbort = (): void => { sink.destroy(); };
    call.signal.addEventListener('abort', onAbort, { once: true });
    try {
      await proxyExchange(this.#svc, {
        target: `/proxy/${encodeURIComponent(call.connection)}${call.endpoint}`, method: call.method, headers,
        body: (limit) => body !== undefined && body.length > limit
          ? Promise.reject(new GatehouseError('payload_too_large', `body exceeds ${limit} bytes`))
          : Promise.resolve(body ?? Buffer.alloc(0)),
        authenticate: () => Promise.resolve(principal),
        ...(call.held === undefined ? {} : { held: call.held }),
      }, sink);
      if (!sink.writableEnded && !sink.destroyed) sink.end();
      await finished(sink).catch(() => undefined);
    } catch (err) {
      if (isGatehouseError(err)) throw err;
      this.#svc.log.error({ err: err instanceof Error ? err.stack : String(err) }, 'unhandled error');
      throw new GatehouseError('internal', 'internal error; see the gateway log');
    } finally {
      call.signal.removeEventListener('abort', onAbort);
    }
    if (isGatehouseError(failure)) throw failure;
    if (call.signal.aborted) throw new GatehouseError('bad_request', 'the call was cancelled');
    if (!sink.writableFinished) throw new GatehouseError('upstream_unreachable', 'the answer was cut off by the gateway');
    return sink.answer();
  }
}
