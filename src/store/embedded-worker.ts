/**
 * The embedded store's thread: owns the PGlite instance and answers the requests of
 * embedded.ts over the worker port. Runs only as a worker_threads entry point.
 */
import { mkdirSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite, type PGliteOptions, type Transaction } from '@electric-sql/pglite';
import type { FromWorker, ToWorker } from './embedded-protocol.ts';
import type { EmbeddedWorkerData } from './embedded.ts';
import { EMBEDDED_CONF } from './embedded-conf.ts';

const port = parentPort;
if (!port) throw new Error('embedded-worker.ts runs as a worker thread');
const { dir, wasm, template, wantTemplate } = workerData as EmbeddedWorkerData;


const txs = new Map<number, Transaction>();
const enders = new Map<number, { commit: () => void; rollback: (e: Error) => void }>();
const unlisteners = new Map<number, () => Promise<void>>();
const ROLLBACK = new Error('rollback requested');

function send(m: FromWorker): void {
  port!.postMessage(m);
}

function fail(id: number, err: unknown): void {
  const e = err as { message?: unknown; code?: unknown };
  send({ id, ok: false, message: typeof e.message === 'string' ? e.message : String(err), ...(typeof e.code === 'string' ? { code: e.code } : {}) });
}

let db: PGlite;
try {
  if (dir !== undefined) mkdirSync(dir, { recursive: true, mode: 0o700 });
  // Instantiated from the modules the main thread compiled once (see pgliteModules in embedded.ts).
  const modules: Pick<PGliteOptions, 'pgliteWasmModule' | 'initdbWasmModule' | 'postgresqlconf'> = { pgliteWasmModule: wasm.pglite as never, initdbWasmModule: wasm.initdb as never, postgresqlconf: [...EMBEDDED_CONF] };
  if (dir !== undefined) db = await PGlite.create({ ...modules, dataDir: dir });
  else if (template !== undefined) db = await PGlite.create({ ...modules, loadDataDir: new Blob([template.bytes], { type: template.type }) });
  else db = await PGlite.create(modules);
  if (wantTemplate) {
    // Dumped before anything else runs: the cluster exactly as initdb left it.
    const dump = await db.dumpDataDir('none');
    const bytes = new Uint8Array(await dump.arrayBuffer());
    port.postMessage({ id: 0, ok: true, template: { bytes, type: dump.type } } satisfies FromWorker, [bytes.buffer]);
  } else send({ id: 0, ok: true });
} catch (err) {
  fail(0, err);
  throw err;
}

function executor(tx: number | undefined): Pick<PGlite, 'query' | 'exec'> {
  if (tx === undefined) return db;
  const t = txs.get(tx);
  if (!t) throw new Error(`no transaction ${tx}`);
  return t;
}

async function handle(m: ToWorker): Promise<void> {
  switch (m.op) {
    case 'query': {
      const res = await executor(m.tx).query(m.text, m.params as unknown[]);
      send({ id: m.id, ok: true, rows: res.rows as object[] });
      return;
    }
    case 'exec':
      await executor(m.tx).exec(m.text);
      send({ id: m.id, ok: true });
      return;
    case 'begin': {
      // PGlite commits when the callback resolves and rolls back when it throws; the callback
      // waits for the main thread's commit or rollback request, which gets the final answer.
      let started = false;
      db.transaction(async (tx) => {
        txs.set(m.id, tx);
        started = true;
        await new Promise<void>((commit, rollback) => {
          enders.set(m.id, { commit, rollback });
          send({ id: m.id, ok: true });
        });
      }).then(() => { finish(m.id, started, undefined); }, (err: unknown) => { finish(m.id, started, err === ROLLBACK ? undefined : err); });
      return;
    }
    case 'commit':
    case 'rollback': {
      const ender = enders.get(m.tx);
      if (!ender) { fail(m.id, new Error(`no transaction ${m.tx}`)); return; }
      enders.delete(m.tx);
      // The end of the transaction answers under this request's id.
      endIds.set(m.tx, m.id);
      if (m.op === 'commit') ender.commit(); else ender.rollback(ROLLBACK);
      return;
    }
    case 'listen': {
      const unsub = await db.listen(m.channel, (payload) => { send({ id: -1, ok: true, notify: { sub: m.id, payload } }); });
      unlisteners.set(m.id, unsub);
      send({ id: m.id, ok: true });
      return;
    }
    case 'unlisten': {
      const unsub = unlisteners.get(m.sub);
      unlisteners.delete(m.sub);
      if (unsub) await unsub();
      send({ id: m.id, ok: true });
      return;
    }
    case 'close':
      await db.close();
      send({ id: m.id, ok: true });
      port!.close();
      return;
  }
}

/** Transaction id → the id of the commit/rollback request that ends it. */
const endIds = new Map<number, number>();

function finish(tx: number, started: boolean, err: unknown): void {
  txs.delete(tx);
  enders.delete(tx);
  const endId = endIds.get(tx);
  endIds.delete(tx);
  const replyTo = started ? endId : tx; // BEGIN itself failed: answer the begin request
  if (replyTo === undefined) return;
  if (err === undefined) send({ id: replyTo, ok: true });
  else fail(replyTo, err);
}

port.on('message', (m: ToWorker) => {
  handle(m).catch((err: unknown) => { fail(m.id, err); });
});
