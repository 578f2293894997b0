import { parentPort } from 'node:worker_threads';

/**
 * The worker side of a {@link WorkerPool} (worker-pool.ts): answers every `{ id, payload }`
 * message with `handle(payload)`'s result, or with its error's message and `code` (a string
 * property of the thrown value, when it has one). Tasks run one at a time, in order.
 *
 * @example
 *   // in the worker module:
 *   serveTasks(async (p: { sql: string }) => inspect(p.sql));
 */
export function serveTasks<Res>(handle: (payload: never) => Res | Promise<Res>): void {
  const port = parentPort;
  if (port === null) throw new Error('serveTasks must run on a worker thread');
  let chain: Promise<void> = Promise.resolve();
  port.on('message', (m: { id: number; payload: never }) => {
    chain = chain.then(async () => {
      try {
        const result = await handle(m.payload);
        port.postMessage({ id: m.id, ok: true, result });
      } catch (err) {
        const code = typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : undefined;
        const detail = typeof err === 'object' && err !== null && typeof (err as { detail?: unknown }).detail === 'string' ? (err as { detail: string }).detail : undefined;
        const message = detail ?? (err instanceof Error ? err.message : String(err));
        port.postMessage({ id: m.id, ok: false, message: message.slice(0, 500), ...(code === undefined ? {} : { code }) });
      }
    });
  });
}
