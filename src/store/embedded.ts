import { Worker } from 'node:worker_threads';
import type { FromWorker, ToWorker } from './embedded-protocol.ts';
import type { SqlDriver, SqlExecutor } from './sql.ts';

/** Distributes `Omit` over a union (each request shape without its id). */
type Request = ToWorker extends infer T ? T extends ToWorker ? Omit<T, 'id'> : never : never;

/** An error from the store thread: PostgreSQL's message and SQLSTATE, when there is one. */
export class EmbeddedStoreError extends Error {
  readonly code: string | undefined;
  constructor(message: string, code: string | undefined) {
    super(message);
    this.name = 'EmbeddedStoreError';
    this.code = code;
  }
}

/**
 * Embedded store: PGlite (PostgreSQL compiled to WASM) in `dir`, or in memory when `dir` is
 * undefined, running on its own thread (embedded-worker.ts) so that the store's CPU work (every
 * audit and recording batch) never blocks the event loop that serves the data paths. Requests
 * cross the thread by message (structured clone); PGlite is single-connection and serializes
 * them itself; a transaction holds it until its commit or rollback.
 *
 * The thread keeps the process alive only while a request is pending.
 */
export async function openEmbedded(dir: string | undefined): Promise<SqlDriver> {
  const worker = new Worker(new URL('./embedded-worker.ts', import.meta.url), {
    workerData: { dir }, execArgv: ['--disable-warning=ExperimentalWarning'],
  });
  const pending = new Map<number, { resolve: (m: FromWorker & { ok: true }) => void; reject: (e: Error) => void }>();
  const subscribers = new Map<number, (payload: string) => void>();
  let nextId = 1;
  let dead: Error | undefined;

  const settle = (m: FromWorker): void => {
    if (m.id === -1 && m.ok && m.notify) {
      subscribers.get(m.notify.sub)?.(m.notify.payload);
      return;
    }
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (pending.size === 0) worker.unref();
    if (m.ok) p.resolve(m);
    else p.reject(new EmbeddedStoreError(m.message, m.code));
  };
  const die = (err: Error): void => {
    dead ??= err;
    for (const p of pending.values()) p.reject(dead);
    pending.clear();
  };
  worker.on('message', settle);
  worker.on('error', die);
  worker.on('exit', (code) => { die(new Error(`embedded store thread exited (${code})`)); });

  const call = (req: Request): Promise<FromWorker & { ok: true }> => {
    if (dead) return Promise.reject(dead);
    const id = nextId++;
    return new Promise((resolve, reject) => {
      if (pending.size === 0) worker.ref();
      pending.set(id, { resolve, reject });
      worker.postMessage({ ...req, id });
    });
  };

  // The thread answers id 0 once PGlite is open.
  await new Promise<void>((resolve, reject) => {
    pending.set(0, { resolve: () => { resolve(); }, reject });
  });

  const exec = (tx: number | undefined): SqlExecutor => ({
    async query<R extends object>(text: string, params: readonly unknown[] = []) {
      const m = await call({ op: 'query', text, params: params.map(cloneable), ...(tx === undefined ? {} : { tx }) });
      return (m.rows ?? []) as R[];
    },
  });
  const base = exec(undefined);
  let closed: Promise<void> | undefined;
  return {
    kind: 'embedded',
    ...base,
    async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
      const begin = await call({ op: 'begin' });
      const tx = begin.id;
      let out: T;
      try {
        out = await fn(exec(tx));
      } catch (err) {
        await call({ op: 'rollback', tx }).catch(() => undefined);
        throw err;
      }
      await call({ op: 'commit', tx });
      return out;
    },
    exec: async (text) => { await call({ op: 'exec', text }); },
    listen: async (channel, onPayload) => {
      const m = await call({ op: 'listen', channel });
      subscribers.set(m.id, onPayload);
      return async () => {
        subscribers.delete(m.id);
        if (!dead) await call({ op: 'unlisten', sub: m.id });
      };
    },
    notify: async (channel, payload) => { await base.query('SELECT pg_notify($1, $2)', [channel, payload]); },
    close: () => {
      closed ??= (async () => {
        if (!dead) await call({ op: 'close' }).catch(() => undefined);
        await worker.terminate();
      })();
      return closed;
    },
  };
}

/** Buffers cross the thread as plain bytes; everything else the store takes clones as is. */
function cloneable(v: unknown): unknown {
  return Buffer.isBuffer(v) ? new Uint8Array(v) : v;
}
