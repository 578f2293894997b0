import { recordedIdentity, type Principal } from '../identity/principal.ts';
import type { Clock } from '../kernel/clock.ts';
import type { Logger } from '../kernel/log.ts';
import type { TextMasker } from '../masking/text-masker.ts';
import { maskedExcerpt } from '../inspect/prompt/excerpt.ts';
import { isRecording, type Recorder, type RecordEvent } from '../recording/recorder.ts';

/** What a tap needs: the recorder, the clock of its events, where a recorder failure is logged. */
export interface TapDeps {
  readonly recorder: Recorder;
  readonly clock: Pick<Clock, 'now'>;
  readonly log: Pick<Logger, 'error'>;
}

/** Whose events a tap records, and how its texts are cut and masked. */
export interface TapOptions {
  readonly protocol: RecordEvent['protocol'];
  /** The identity of the events (absent before authentication). */
  readonly principal: Principal | undefined;
  /** The connection named by events that do not name their own. */
  readonly connection?: string;
  /** The protocol's explicit text limit: most characters of one recorded text (before masking). */
  readonly textLimit: number;
  /** The masker of recorded texts (undefined: texts are only cut). */
  readonly masker: TextMasker | undefined;
}

/**
 * The one recording tap of the data paths: hands events of one session to the recorder with
 * their identity and time, and cuts and masks recorded texts. It never throws into the data path:
 * a recorder failure is logged, a text the masker fails on is recorded as `[unrecordable]`.
 *
 * @example
 *   const tap = new RecordingTap(svc, session, { protocol: 'mcp', principal, textLimit: 16 * 1024, masker: svc.scanner });
 *   tap.event('request', { tool: 'query', arguments: tap.text(json) });
 */
export class RecordingTap {
  /** False when the recorder keeps nothing: callers need not even build events. */
  readonly on: boolean;
  readonly session: string;
  readonly #deps: TapDeps;
  readonly #opts: TapOptions;
  /** What every event of this tap names (session, protocol, identity, connection), built once. */
  readonly #base: Pick<RecordEvent, 'session' | 'protocol' | 'user' | 'agent' | 'connection'>;

  constructor(deps: TapDeps, session: string, opts: TapOptions) {
    this.#deps = deps;
    this.session = session;
    this.#opts = opts;
    this.on = isRecording(deps.recorder);
    const p = opts.principal;
    this.#base = {
      session, protocol: opts.protocol, ...(p ? recordedIdentity(p) : {}), ...(opts.connection === undefined ? {} : { connection: opts.connection }),
    };
  }

  /** Records one event (its content already masked). Never throws. */
  event(type: RecordEvent['type'], data: Readonly<Record<string, unknown>>, connection?: string): void {
    const p = this.#opts.principal;
    try {
      this.#deps.recorder.record(connection === undefined
        ? { ...this.#base, type, at: this.#deps.clock.now(), data }
        : { ...this.#base, connection, type, at: this.#deps.clock.now(), data });
    } catch (err) {
      this.#deps.log.error({ err: String(err), ...(p ? { user: p.id } : {}) }, 'recorder failed');
    }
  }

  /** A text as recorded: at most the protocol's text limit, masked. Never throws. */
  text(text: string): string {
    const t = text.length > this.#opts.textLimit ? text.slice(0, this.#opts.textLimit) : text;
    try {
      return this.#opts.masker ? this.#opts.masker.mask(t).text : t;
    } catch {
      return '[unrecordable]';
    }
  }

  /**
   * A text that may be a JSON document (tool arguments, a tool's result) as recorded: masked with
   * the fail-closed walk when it is one, else as text with its escapes decoded, then cut to the
   * protocol's text limit (`inspect/prompt/excerpt.ts`). Never throws.
   */
  excerpt(text: string): string {
    const m = this.#opts.masker;
    if (m === undefined) return this.text(text);
    try {
      return maskedExcerpt(text, m, this.#opts.textLimit);
    } catch {
      return '[unrecordable]';
    }
  }

  /**
   * True once the session's recording reached `recording.max_session_bytes` (see
   * {@link Recorder.full}): nothing more of it can be recorded, so the data path must refuse the
   * exchange before it runs anything.
   */
  full(): boolean {
    return this.on && this.#deps.recorder.full?.(this.session) === true;
  }

  /** Resolves once everything recorded in this session is durable; rejects when some was lost. */
  async flush(): Promise<void> {
    await this.#deps.recorder.flush?.(this.session);
  }
}
