import { after, sleep as clockSleep, type Clock } from '../../kernel/clock.ts';
import type { Logger } from '../../kernel/log.ts';
import type { Secret } from '../../kernel/secret.ts';
import type { ReviewEvent } from '../types.ts';
import type { Notifier } from './types.ts';
import { genericPayload, slackPayload } from './payload.ts';
import { sign, SIGNATURE_HEADER } from './signature.ts';

/** One `notifications.webhooks[]` entry. */
export interface WebhookTarget {
  readonly url: string;
  readonly secret?: Secret;
  readonly format: 'generic' | 'slack';
}

export interface WebhookNotifierOptions {
  readonly targets: readonly WebhookTarget[];
  /** Base of the links in messages (the gateway's public URL). */
  readonly publicUrl: string;
  readonly clock: Clock;
  readonly log?: Pick<Logger, 'warn'>;
  /** Attempts per delivery (default 5). */
  readonly maxAttempts?: number;
  /** First retry delay; doubles each attempt up to `maxDelayMs` (defaults 1 s and 60 s). */
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  /** Per-attempt timeout (default 10 s). */
  readonly timeoutMs?: number;
  /** Deliveries waiting per target; past it new ones are dropped and logged (default 1000). */
  readonly maxQueue?: number;
  /** Waits `ms` (resolves early when `signal` aborts); default: `ms` on `clock`'s timers. */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  readonly fetch?: typeof fetch;
}

interface Delivery { readonly body: string; readonly event: string; readonly review: string }

/**
 * Outgoing webhooks for review events. `notify` only enqueues (bounded, per target) and returns;
 * one worker per target delivers in order, retrying network errors, 408, 429 and 5xx with
 * exponential backoff up to `maxAttempts`; other statuses are not retried. Redirects are not
 * followed. With a `secret`, each POST carries `Gatehouse-Signature: t=<unix>,v1=<hex HMAC>`.
 *
 * @example
 *   const n = new WebhookNotifier({ targets: config.notifications.webhooks, publicUrl, clock });
 *   n.notify({ event: 'review.requested', review });
 */
export class WebhookNotifier implements Notifier {
  readonly #o: WebhookNotifierOptions;
  readonly #queues: Delivery[][];
  readonly #running = new Set<Promise<void>>();
  readonly #stop = new AbortController();
  /** Deliveries given up (dropped on a full queue, or failed every attempt). */
  failed = 0;
  delivered = 0;

  constructor(o: WebhookNotifierOptions) {
    this.#o = o;
    this.#queues = o.targets.map(() => []);
  }

  notify(e: ReviewEvent): void {
    if (this.#stop.signal.aborted) return;
    this.#o.targets.forEach((target, i) => {
      const q = this.#queues[i]!;
      if (q.length >= (this.#o.maxQueue ?? 1000)) {
        this.failed++;
        this.#o.log?.warn({ webhook: i, event: e.event, review: e.review.id }, 'webhook queue full; notification dropped');
        return;
      }
      const payload = target.format === 'slack' ? slackPayload(e, this.#o.publicUrl) : genericPayload(e, this.#o.publicUrl);
      q.push({ body: JSON.stringify(payload), event: e.event, review: e.review.id });
      if (q.length === 1) this.#start(i);
    });
  }

  /** Resolves when every queue is empty (tests; graceful shutdown). */
  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.all([...this.#running]);
  }

  /** Stops retrying and drops what is queued. */
  async close(): Promise<void> {
    this.#stop.abort();
    for (const q of this.#queues) q.length = 0;
    await this.idle();
  }

  #start(i: number): void {
    const run: Promise<void> = this.#drain(i).finally(() => { this.#running.delete(run); });
    this.#running.add(run);
  }

  async #drain(i: number): Promise<void> {
    const q = this.#queues[i]!;
    const target = this.#o.targets[i]!;
    while (q.length > 0 && !this.#stop.signal.aborted) {
      const d = q[0]!;
      if (await this.#deliver(target, d)) this.delivered++;
      else {
        this.failed++;
        this.#o.log?.warn({ webhook: i, event: d.event, review: d.review }, 'webhook delivery failed; giving up');
      }
      q.shift();
    }
  }

  async #deliver(target: WebhookTarget, d: Delivery): Promise<boolean> {
    const attempts = Math.max(1, this.#o.maxAttempts ?? 5);
    const doFetch = this.#o.fetch ?? fetch;
    const sleep = this.#o.sleep ?? ((ms: number, signal: AbortSignal) => clockSleep(this.#o.clock, ms, signal));
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (this.#stop.signal.aborted) return false;
      const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'gatehouse-webhook/1' };
      if (target.secret) headers[SIGNATURE_HEADER] = sign(target.secret.reveal(), d.body, Math.floor(this.#o.clock.now() / 1000));
      let retry: boolean;
      // The attempt's deadline runs on the clock (AbortSignal.timeout would be real time only).
      const deadline = new AbortController();
      const cancelDeadline = after(this.#o.clock, this.#o.timeoutMs ?? 10_000, () => { deadline.abort(new DOMException('the webhook did not answer in time', 'TimeoutError')); });
      try {
        const res = await doFetch(target.url, {
          method: 'POST', headers, body: d.body, redirect: 'manual',
          signal: AbortSignal.any([deadline.signal, this.#stop.signal]),
        });
        await res.body?.cancel().catch(() => undefined);
        if (res.status >= 200 && res.status < 300) return true;
        retry = res.status === 408 || res.status === 429 || res.status >= 500;
      } catch {
        retry = true; // network error or timeout
      } finally {
        cancelDeadline();
      }
      if (!retry || attempt === attempts) return false;
      const delay = Math.min((this.#o.baseDelayMs ?? 1000) * 2 ** (attempt - 1), this.#o.maxDelayMs ?? 60_000);
      await sleep(delay, this.#stop.signal);
    }
    return false;
  }
}
