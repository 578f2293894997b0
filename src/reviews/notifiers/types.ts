import type { ReviewEvent } from '../types.ts';

/**
 * Receives every committed review transition. `notify` must return at once and never throw:
 * delivery happens off the request path (see WebhookNotifier).
 */
export interface Notifier {
  notify(e: ReviewEvent): void;
  /** Stops delivery; pending deliveries are dropped after `close` resolves. */
  close(): Promise<void>;
}

/** Sends each event to every notifier. */
export function fanOut(notifiers: readonly Notifier[]): Notifier {
  return {
    notify(e) { for (const n of notifiers) n.notify(e); },
    async close() { await Promise.all(notifiers.map((n) => n.close())); },
  };
}

/** A notifier that drops everything. */
export const nullNotifier: Notifier = { notify: () => undefined, close: () => Promise.resolve() };
