import { execFile } from 'node:child_process';
import type { ErrorCode } from '../kernel/errors.ts';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ClusterTemplate, FromWorker, ToWorker } from './embedded-protocol.ts';
import type { SqlDriver, SqlExecutor } from './sql.ts';

/** Distributes `Omit` over a union (each request shape without its id). */
type Request = ToWorker extends infer T ? T extends ToWorker ? Omit<T, 'id'> : never : never;

/** An error from the store thread: PostgreSQL's message and SQLSTATE, when there is one. */
export class EmbeddedStoreError extends Error {
  /** The registry code (the store failed the operation). */
  readonly code = 'store_unavailable' satisfies ErrorCode;
  /** PostgreSQL's SQLSTATE, when the store thread's error had one. */
  readonly sqlstate: string | undefined;
  constructor(message: string, sqlstate: string | undefined) {
    super(message);
    this.name = 'EmbeddedStoreError';
    this.sqlstate = sqlstate;
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
  const wasm = await pgliteModules();
  // In memory: start from the cluster initdb made for an earlier in-memory store of the process.
  // The template is made from the second one on: a process with one store (a gateway) keeps none.
  if (dir === undefined) inMemoryOpens++;
  const fromTemplate = dir === undefined ? template : undefined;
  const wantTemplate = dir === undefined && template === undefined && inMemoryOpens >= 2;
  // A new data directory is initialized by a process of its own: initdb leaves the WebAssembly
  // memory at ~0.5 GB, which a running instance never gives back, and the allocator fragmented.
  if (dir !== undefined && !existsSync(join(dir, 'PG_VERSION'))) await initDataDir(dir);
  const worker = new Worker(new URL('./embedded-worker.ts', import.meta.url), {
    workerData: { dir, wasm, template: fromTemplate, wantTemplate } satisfies EmbeddedWorkerData,
    execArgv: ['--disable-warning=ExperimentalWarning'],
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
    pending.set(0, { resolve: (m) => { if (m.template) template ??= m.template; resolve(); }, reject });
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

/** What the store thread starts with. */
export interface EmbeddedWorkerData {
  /** The data directory, or undefined for an in-memory cluster. */
  readonly dir: string | undefined;
  readonly wasm: PgliteModules;
  /** In memory: the cluster to start from instead of running initdb. */
  readonly template: ClusterTemplate | undefined;
  /** In memory without a template: send one back with the start answer. */
  readonly wantTemplate: boolean;
}

/**
 * Runs initdb for `dir` in a process of its own (embedded-init.ts, on this Node) that exits when it
 * is done: its memory (~0.5 GB at its peak, and the allocator's fragments) goes with it, where a
 * thread left ~25-40 MiB of freed but resident malloc arenas in the gateway.
 */
function initDataDir(dir: string): Promise<void> {
  const script = fileURLToPath(new URL('./embedded-init.ts', import.meta.url));
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--disable-warning=ExperimentalWarning', script, dir], { timeout: 10 * 60_000, maxBuffer: 1 << 20 }, (err, _out, errText) => {
      if (!err) { resolve(); return; }
      const why = errText.trim().split('\n').at(-1) ?? '';
      reject(new EmbeddedStoreError(`the embedded store could not initialize its data directory${why ? `: ${why}` : ''}`, undefined));
    });
  });
}

/**
 * The fresh in-memory cluster of this process (≈40 MB, kept once the second in-memory store made
 * it): starting from it costs about a tenth of the CPU of initdb, which every test gateway paid.
 */
let template: ClusterTemplate | undefined;
/** In-memory stores opened so far in this process. */
let inMemoryOpens = 0;

/** A compiled WebAssembly module: opaque here (the project's TypeScript lib has no WebAssembly types). */
export type WasmModule = object;
const wasmApi = (globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<WasmModule> } }).WebAssembly;

/** PGlite's two WebAssembly modules, compiled once per process. */
export interface PgliteModules {
  readonly pglite: WasmModule;
  readonly initdb: WasmModule;
}

let compiled: Promise<PgliteModules> | undefined;

/**
 * Compiles PGlite's WebAssembly once per process and keeps it for the process's life; every store
 * thread instantiates from these modules instead of compiling its own copy. Opening a store then
 * costs no compilation, the machine code is shared, and closing a store frees no code — which also
 * keeps the process clear of a V8 fault seen when many PGlite instances compile and free their code
 * in one process (nodejs/node#64500: `jit_page_->allocations_.erase(addr) == 1`). A failed compile
 * is not kept: the next open tries again.
 */
export function pgliteModules(): Promise<PgliteModules> {
  compiled ??= (async () => {
    // The package's entry point sits next to its .wasm files (its exports map does not list them).
    const entry = import.meta.resolve('@electric-sql/pglite');
    const [pglite, initdb] = await Promise.all(['pglite.wasm', 'initdb.wasm'].map(async (f) => {
      const bytes = await readFile(new URL(f, entry));
      const module = await wasmApi.compile(bytes);
      // V8 keeps its own copy of the bytes; the file's 9 MB are garbage now, but nothing makes V8
      // collect them soon: an idle gateway kept both copies resident (+8.7 MiB). Detaching the
      // buffer frees its memory at once (it is this read's own buffer, shared with nothing).
      if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) bytes.buffer.transfer(0);
      return module;
    }));
    return { pglite: pglite!, initdb: initdb! };
  })();
  compiled.catch(() => { compiled = undefined; });
  return compiled;
}

/** Buffers cross the thread as plain bytes; everything else the store takes clones as is. */
function cloneable(v: unknown): unknown {
  return Buffer.isBuffer(v) ? new Uint8Array(v) : v;
}
