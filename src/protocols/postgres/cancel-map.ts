import { randomInt } from 'node:crypto';
import { connect } from 'node:net';
import { CANCEL_REQUEST } from './frontend-messages.ts';
import { MessageWriter } from './writer.ts';

/** Where a client's cancel key leads. */
export interface UpstreamKey {
  readonly host: string;
  readonly port: number;
  readonly pid: number;
  readonly secret: number;
}

/**
 * The BackendKeyData Gatehouse gives clients (random, never the upstream's) mapped to the upstream
 * backend's key, so that a CancelRequest reaches the right upstream backend and nobody can cancel
 * a query of a session whose key they were not given.
 *
 * @example
 *   const key = cancels.register(upstreamKey); // send key.pid / key.secret to the client
 *   cancels.cancel(pid, secret);               // on CancelRequest
 */
export class CancelMap {
  readonly #map = new Map<string, { readonly up: UpstreamKey | undefined; readonly local: (() => void) | undefined }>();

  /** A new client key for `up`; `local` also runs on cancel (e.g. to end a statement held for review). */
  register(up: UpstreamKey | undefined, local?: () => void): { pid: number; secret: number } {
    for (;;) {
      const key = { pid: randomInt(1, 0x7fffffff), secret: randomInt(-0x80000000, 0x7fffffff) };
      const id = `${key.pid}:${key.secret}`;
      if (this.#map.has(id)) continue;
      if (up || local) this.#map.set(id, { up, local });
      return key;
    }
  }

  unregister(key: { pid: number; secret: number }): void {
    this.#map.delete(`${key.pid}:${key.secret}`);
  }

  /** Forwards a CancelRequest upstream; an unknown key is ignored (as PostgreSQL does). */
  cancel(pid: number, secret: number): boolean {
    const entry = this.#map.get(`${pid}:${secret}`);
    if (!entry) return false;
    entry.local?.();
    const up = entry.up;
    if (!up) return true;
    const s = connect({ host: up.host, port: up.port }, () => {
      s.end(new MessageWriter().int32(CANCEL_REQUEST).int32(up.pid).int32(up.secret).untyped());
    });
    s.on('error', () => undefined);
    // The socket's own inactivity timer (node:net), not a gateway clock timer: it measures the
    // socket's idle I/O, which no injected clock can observe.
    s.setTimeout(10_000, () => s.destroy());
    return true;
  }

  get size(): number {
    return this.#map.size;
  }
}
