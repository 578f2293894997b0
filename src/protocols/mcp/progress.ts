import { every, type Clock } from '../../kernel/clock.ts';
import type { ToolExtra } from './env.ts';

/**
 * While `work` runs, sends MCP progress notifications (`notifications/progress`) for the request's
 * `progressToken` — one at once, then every `everyMs` of `clock` — with the seconds waited so far, the
 * expected total, and `message`. Without a progress token it only awaits `work`. Notification
 * failures are ignored (the client may have gone; the call's own answer still matters).
 *
 * @example const outcome = await withProgress(extra, clock, 5000, 60, 'waiting for approval of rv_…', hold());
 */
export async function withProgress<T>(extra: ToolExtra, clock: Clock, everyMs: number, totalSeconds: number | undefined, message: string, work: Promise<T>): Promise<T> {
  const token = extra._meta?.progressToken;
  if (token === undefined) return work;
  const started = clock.now();
  let last = -1;
  const tick = (): void => {
    const progress = Math.max(last + 0.001, (clock.now() - started) / 1000);
    last = progress;
    extra.sendNotification({
      method: 'notifications/progress',
      params: { progressToken: token, progress, ...(totalSeconds === undefined ? {} : { total: totalSeconds }), message },
    }).catch(() => undefined);
  };
  tick();
  const stop = every(clock, everyMs, tick);
  try {
    return await work;
  } finally {
    stop();
  }
}
