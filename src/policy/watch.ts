import { existsSync, watch, type FSWatcher } from 'node:fs';
import { after, systemClock, type Clock } from '../kernel/clock.ts';
import type { PolicyEngine, ReloadResult } from './engine.ts';

/** A running watcher or signal hook; `close()` stops it. */
export interface PolicyWatch {
  close(): void;
}

/**
 * Reloads `engine` when a file changes in the directories its patterns point at (non-recursive
 * unless a pattern has `**` or a glob in a directory segment). Bursts of events (editors write
 * files in several steps) are debounced into one reload; `onResult` gets each reload's result,
 * and a failed reload leaves the previous policy set active.
 * Directories that do not exist are skipped; engines built with `fromSources` watch nothing.
 * The debounce runs on `opts.clock` (the gateway's; tests pass `manualTimers`).
 *
 * @example
 *   const w = watchPolicies(engine, (r) => r.ok ? log.info(r, 'policies reloaded') : log.error(r, 'policy reload failed'));
 *   // later: w.close();
 */
export function watchPolicies(
  engine: PolicyEngine, onResult: (r: ReloadResult) => void, opts: { debounceMs?: number; clock?: Clock } = {},
): PolicyWatch {
  const debounceMs = opts.debounceMs ?? 200;
  const clock = opts.clock ?? systemClock;
  let cancel: (() => void) | undefined;
  let closed = false;
  const fire = (): void => {
    cancel = undefined;
    if (!closed) onResult(engine.reload());
  };
  const schedule = (): void => {
    if (closed) return;
    cancel?.();
    cancel = after(clock, debounceMs, fire, { keepAlive: true });
  };
  const watchers: FSWatcher[] = [];
  for (const t of engine.watchTargets()) {
    if (!existsSync(t.dir)) continue;
    const w = watch(t.dir, { recursive: t.recursive, persistent: false }, schedule);
    // A watched directory that disappears or errors: try one reload, which reports the problem.
    w.on('error', schedule);
    watchers.push(w);
  }
  return {
    close: () => {
      closed = true;
      cancel?.();
      for (const w of watchers) w.close();
    },
  };
}

/**
 * Reloads `engine` on `SIGHUP` (the classic "re-read your config" signal: `kill -HUP <pid>`).
 *
 * @example const hook = reloadOnSighup(engine, report); // hook.close() removes the handler
 */
export function reloadOnSighup(engine: PolicyEngine, onResult: (r: ReloadResult) => void): PolicyWatch {
  const handler = (): void => onResult(engine.reload());
  process.on('SIGHUP', handler);
  return { close: () => { process.off('SIGHUP', handler); } };
}
