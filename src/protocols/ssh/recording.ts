import type { Clock } from '../../kernel/clock.ts';
import type { Recorder } from '../../recording/recorder.ts';
import type { Connection } from '../../connections/registry.ts';
import { recordedIdentity, type Principal } from '../../identity/principal.ts';
import type { TextMasker } from '../../masking/text-masker.ts';
import { isRecording, type RecordEvent } from '../../recording/recorder.ts';

/** Most characters of a command (or keystroke slice) kept in the recording, after masking. */
export const MAX_RECORDED_COMMAND = 4096;

/**
 * What one SSH client connection records, as one session (protocol `ssh`): each exec as a
 * `request` (command, facts), a `decision`, and a `response` (exit status, masked stdout/stderr,
 * byte counts, ms); each interactive shell as `terminal` events (asciicast v2: `o` output, `i`
 * keystrokes, `r` resizes), with the terminal size in its `request`. Recording never throws into
 * the data path; with recording off nothing is built.
 */
export class SshRecording {
  readonly on: boolean;
  readonly #svc: { readonly recorder: Recorder; readonly clock: Clock };
  readonly #id: string;
  readonly #principal: Principal;
  readonly #conn: Connection;
  readonly #scanner: TextMasker;

  constructor(svc: { readonly recorder: Recorder; readonly clock: Clock }, id: string, principal: Principal, conn: Connection, scanner: TextMasker) {
    this.#svc = svc;
    this.on = isRecording(svc.recorder);
    this.#id = id;
    this.#principal = principal;
    this.#conn = conn;
    this.#scanner = scanner;
  }

  get id(): string {
    return this.#id;
  }

  /** Records one event (failures of the recorder are swallowed). */
  event(type: RecordEvent['type'], data: Record<string, unknown>): void {
    if (!this.on) return;
    try {
      this.#svc.recorder.record({
        session: this.#id, protocol: 'ssh', type, at: this.#svc.clock.now(),
        ...recordedIdentity(this.#principal), connection: this.#conn.name, data,
      });
    } catch { /* the recorder must never break the data path */ }
  }

  /** A client text (command, keystrokes) as recorded: bounded and masked with every detector. */
  text(text: string): string {
    const t = text.length > MAX_RECORDED_COMMAND ? text.slice(0, MAX_RECORDED_COMMAND) : text;
    try { return this.#scanner.mask(t).text; } catch { return '[unrecordable]'; }
  }

  /**
   * True once this session's recording reached `recording.max_session_bytes` (see
   * {@link Recorder.full}): nothing more can be recorded, so nothing more may run.
   */
  full(): boolean {
    return this.on && this.#svc.recorder.full?.(this.#id) === true;
  }

  /** Resolves once what was recorded is durable; rejects when some of it was lost. */
  flush(): Promise<void> {
    if (!this.on) return Promise.resolve();
    if (this.#svc.recorder.flushedNow?.(this.#id) === true) return Promise.resolve();
    return this.#svc.recorder.flush?.(this.#id) ?? Promise.resolve();
  }
}
