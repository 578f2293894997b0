import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** One request as the upstream received it, byte for byte. */
export interface UpstreamReceived {
  readonly method: string;
  /** The raw request target as received (path and query). */
  readonly path: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
}

/**
 * A canned answer: status, headers, and the body as byte chunks written one by one (with a flush
 * in between); a function in the list is awaited before the next chunk (a pause the test controls).
 */
export interface Canned {
  readonly status?: number;
  readonly headers?: Record<string, string>;
  readonly chunks: readonly (Uint8Array | (() => Promise<unknown>))[];
}

/** A real HTTP upstream for `http` connections: answers what `answer` returns, records every request. */
export interface HttpUpstream {
  readonly url: string;
  readonly received: UpstreamReceived[];
  /** Decides the next answers; the default echoes the request (httpbin-style `/headers` as JSON). */
  answer: (r: UpstreamReceived) => Canned;
  last(): UpstreamReceived;
  close(): Promise<void>;
}

/** The httpbin-style echo: `{"method", "path", "headers", "body"}` as JSON. */
export function echoAnswer(r: UpstreamReceived): Canned {
  return {
    headers: { 'content-type': 'application/json' },
    chunks: [Buffer.from(JSON.stringify({ method: r.method, path: r.path, headers: r.headers, body: r.body.toString('utf8') }))],
  };
}

/**
 * Starts a plain node:http upstream on a free loopback port. Chunks of a canned answer are
 * written separately (each awaited), so that a client sees them split where the test says.
 *
 * @example
 *   const up = await startHttpUpstream();
 *   up.answer = () => ({ headers: { 'content-type': 'text/xml' }, chunks: [Buffer.from('<a>bob@example.com</a>')] });
 */
export async function startHttpUpstream(): Promise<HttpUpstream> {
  const received: UpstreamReceived[] = [];
  const sockets = new Set<Socket>();
  const state: { answer: (r: UpstreamReceived) => Canned } = { answer: echoAnswer };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const r: UpstreamReceived = { method: req.method ?? 'GET', path: req.url ?? '/', headers: { ...req.headers }, body: Buffer.concat(parts) };
      received.push(r);
      void write(res, state.answer(r));
    });
  });
  server.on('connection', (s: Socket) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    get answer() { return state.answer; },
    set answer(f) { state.answer = f; },
    last() {
      const r = received.at(-1);
      if (!r) throw new Error('nothing received');
      return r;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function write(res: ServerResponse, c: Canned): Promise<void> {
  res.writeHead(c.status ?? 200, c.headers ?? {});
  for (const chunk of c.chunks) {
    if (typeof chunk === 'function') {
      await chunk();
      continue;
    }
    if (!res.write(chunk)) await new Promise((r) => res.once('drain', r));
    await new Promise((r) => setImmediate(r));
  }
  res.end();
}
