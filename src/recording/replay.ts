import { renderEvent } from './render.ts';
import { playableOutput, terminalFrame } from './terminal.ts';
import type { StoredEvent } from './types.ts';

export interface ReplayOptions {
  /** Playback speed: gaps are divided by it. Default 1. */
  readonly speed?: number;
  /** Longest pause between two events, after dividing by speed (ms). Default 2000. */
  readonly maxGapMs?: number;
  /** Where rendered events go (one call per event, without a trailing newline). */
  readonly write: (text: string) => void;
  /** Where a terminal session's output goes, as is (no newline added); default `write`. */
  readonly writeRaw?: (text: string) => void;
  /** Waits `ms`; injected so tests do not wait. */
  readonly sleep: (ms: number) => Promise<void>;
}

/**
 * Replays events in order with their timing: before each event it sleeps for the gap since the
 * previous one, divided by `speed` and capped at `maxGapMs` (out-of-order timestamps give no
 * pause). Returns how many events were played and the total pause.
 *
 * @example
 *   await replay(events, { speed: 4, write: (t) => process.stdout.write(`${t}\n`), sleep: (ms) => setTimeout(ms) });
 */
export async function replay(events: Iterable<StoredEvent> | AsyncIterable<StoredEvent>, opts: ReplayOptions): Promise<{ events: number; pausedMs: number }> {
  const speed = opts.speed !== undefined && Number.isFinite(opts.speed) && opts.speed > 0 ? opts.speed : 1;
  const maxGap = opts.maxGapMs ?? 2000;
  let start: number | undefined;
  let prev: number | undefined;
  let count = 0;
  let paused = 0;
  for await (const e of events) {
    const at = Date.parse(e.at);
    start ??= at;
    if (prev !== undefined) {
      const gap = Math.min(maxGap, Math.max(0, (at - prev) / speed));
      if (gap > 0) {
        paused += gap;
        await opts.sleep(gap);
      }
    }
    prev = Math.max(prev ?? at, at);
    const frame = terminalFrame(e);
    // An interactive session's output is played as the terminal drew it (made safe: see
    // playableOutput); its keystrokes and resizes are not written (the output echoes what was typed).
    if (frame === undefined) opts.write(renderEvent(e, start));
    else if (frame.code === 'o') (opts.writeRaw ?? opts.write)(playableOutput(frame.text));
    count++;
  }
  return { events: count, pausedMs: paused };
}
