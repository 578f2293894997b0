/** Messages between the embedded store's driver (embedded.ts) and its thread (embedded-worker.ts). */

/** A request to the store thread. `id` > 0, unique per request; `tx` names an open transaction. */
export type ToWorker =
  | { readonly op: 'query'; readonly id: number; readonly text: string; readonly params: readonly unknown[]; readonly tx?: number }
  | { readonly op: 'exec'; readonly id: number; readonly text: string; readonly tx?: number }
  | { readonly op: 'begin'; readonly id: number }
  | { readonly op: 'commit' | 'rollback'; readonly id: number; readonly tx: number }
  | { readonly op: 'listen'; readonly id: number; readonly channel: string }
  | { readonly op: 'unlisten'; readonly id: number; readonly sub: number }
  | { readonly op: 'close'; readonly id: number };

/**
 * An answer (to request `id`; id 0 is the thread's start), or a notification (`id` -1) for the
 * subscription opened by the listen request `notify.sub`.
 */
export type FromWorker =
  | { readonly id: number; readonly ok: true; readonly rows?: object[]; readonly notify?: { readonly sub: number; readonly payload: string }; readonly template?: ClusterTemplate }
  | { readonly id: number; readonly ok: false; readonly message: string; readonly code?: string };

/**
 * An in-memory cluster as initdb left it (PGlite's data-directory dump, uncompressed tar): an
 * in-memory store starts from it instead of running initdb again. Sent once, with the start
 * answer of the first in-memory store thread that was asked for it.
 */
export interface ClusterTemplate {
  readonly bytes: Uint8Array<ArrayBuffer>;
  readonly type: string;
}
