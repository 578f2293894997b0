import type { McpDeps } from './deps.ts';
import type { Principal } from '../../identity/principal.ts';
import { RecordingTap } from '../../enforce/tap.ts';
import type { RecordEvent } from '../../recording/recorder.ts';
import { newId } from '../../kernel/ids.ts';
import { exchangeBytes, identityOf, sessionOwner } from '../../enforce/sessions.ts';
import { GatehouseError } from '../../kernel/errors.ts';
import type { Recorder } from '../../recording/recorder.ts';
import { recordRoom } from '../../recording/record-room.ts';

/** Bytes of an event besides its data's JSON characters (session, type, time, identity). */
const EVENT_SLACK_BYTES = 1024;

/** Most characters of arguments or result text kept in one recorded event (after masking). */
export const RECORD_TEXT_LIMIT = 16 * 1024;

/**
 * The characters one recorded event's data adds (its JSON text: every recorded string with its
 * escaping, keys and punctuation; texts are bounded by the caller, see {@link RECORD_TEXT_LIMIT}).
 * Data that cannot be serialized is recorded as a short marker.
 */
export function recordedChars(data: Readonly<Record<string, unknown>>): number {
  try {
    return JSON.stringify(data).length;
  } catch {
    return 64;
  }
}

/**
 * The recording session of an MCP exchange stream. Sessions are grouped per credential exactly as
 * the `/proxy` path groups them (the same table, `enforce/sessions.ts`): the value a client sends
 * (`Mcp-Session-Id`, else `Gatehouse-Session`) continues a live session of the same principal —
 * the id the gateway returned, or the client's own label for it; anything else starts a new
 * session with a new gateway-generated id (the stored id is never a client's value).
 * `session.open` (with the client's `label`, masked) is recorded when a tool call resolves it,
 * before any event of that call, so concurrent calls continuing it never precede it.
 * Each tool call is an exchange of the session: it counts the characters it records and, when
 * released, tells the session table their upper bound in bytes ({@link exchangeBytes}), so that
 * the session is rotated on what its calls recorded, not on a 2 MiB reserve per call.
 */
export class McpSession {
  readonly id: string;
  readonly #tap: RecordingTap;
  readonly #recorder: Recorder;
  /**
   * An event of this exchange was not recorded because it would have taken room an in-process
   * `/proxy` exchange of the session reserved for its own event (record-room.ts): the session
   * counts as full for this exchange ({@link full}) and its flush rejects, so nothing of it runs
   * or is delivered unrecorded.
   */
  #starved = false;
  /** This request's exchange number in the session (recorded in its events), and how to release it. */
  readonly #exchange: { readonly exchange: number } | undefined;
  #release: ((chars: number) => void) | undefined;
  /** Tells the session table the session is full (it is rotated at its next exchange); once. */
  #filled: (() => void) | undefined;
  /** Characters of the event data this exchange recorded so far. */
  #chars = 0;
  /** Tool calls running on this exchange, and whether the response asked for its release meanwhile. */
  #running = 0;
  #releaseWanted = false;

  private constructor(svc: Pick<McpDeps, 'recorder' | 'clock' | 'log' | 'scanner'>, principal: Principal, id: string, held?: { exchange: number; release: (chars: number) => void; filled: () => void }) {
    this.#tap = new RecordingTap(svc, id, { protocol: 'mcp', principal, textLimit: RECORD_TEXT_LIMIT, masker: svc.scanner });
    this.#recorder = svc.recorder;
    this.id = id;
    this.#exchange = held === undefined ? undefined : { exchange: held.exchange };
    this.#release = held?.release;
    this.#filled = held?.filled;
  }

  /** The live session `header` names for this principal (its id or the principal's label), else a new one (its `session.open` recorded now). */
  static resolve(svc: Pick<McpDeps, 'recorder' | 'clock' | 'log' | 'scanner' | 'httpSessions'>, principal: Principal, header: unknown): McpSession {
    const s = svc.httpSessions.resolve(header, sessionOwner(principal), newId, identityOf('mcp', principal));
    const session = new McpSession(svc, principal, s.id, {
      exchange: s.exchange, release: (chars) => { svc.httpSessions.release(s.id, exchangeBytes(chars)); }, filled: () => { svc.httpSessions.filled(s.id); },
    });
    if (s.fresh) {
      session.#event('session.open', {
        transport: 'mcp', ...(s.label === undefined ? {} : { label: session.#tap.text(s.label) }), ...(s.previous === undefined ? {} : { previous: s.previous }),
      });
    }
    return session;
  }

  /** A handle on session `id` that never claims it in the session table (for requests that record nothing). */
  static passive(svc: Pick<McpDeps, 'recorder' | 'clock' | 'log' | 'scanner'>, principal: Principal, id: string): McpSession {
    return new McpSession(svc, principal, id);
  }

  /** Records one event (content must be masked; `text`-like fields are bounded by the caller). Never throws. */
  record(type: RecordEvent['type'], data: Record<string, unknown>, connection?: string): void {
    this.#event(type, this.#exchange === undefined ? data : { ...this.#exchange, ...data }, connection);
  }

  /**
   * This call's hold on its session for an exchange made in process on its behalf (`/proxy`): its
   * exchange number, and where the characters that exchange recorded are added (they count in
   * what {@link release} reports). Undefined for a passive handle (the session is not held).
   */
  held(): { readonly exchange: number; readonly recorded: (chars: number) => void } | undefined {
    const x = this.#exchange;
    return x === undefined || this.#release === undefined ? undefined : { exchange: x.exchange, recorded: (chars) => { this.#chars += chars; } };
  }

  /** The characters of event data this exchange recorded so far (what {@link release} reports). */
  get recordedChars(): number {
    return this.#chars;
  }

  #event(type: RecordEvent['type'], data: Record<string, unknown>, connection?: string): void {
    if (this.#tap.on) {
      const chars = recordedChars(data) + (connection?.length ?? 0);
      // While an in-process exchange of this session holds a reservation, an event of this one
      // takes only room nobody reserved (its JSON characters at 3 UTF-8 bytes each, at most).
      const room = recordRoom(this.#recorder);
      if (room.reservedFor(this.id) > 0 && chars * 3 + EVENT_SLACK_BYTES > room.available(this.id, 0)) {
        this.#starved = true;
        return;
      }
      this.#chars += chars;
    }
    this.#tap.event(type, data, connection);
  }

  /**
   * Ends this request's exchange in the session table with the characters it recorded (once; a
   * later call does nothing) — when the response has closed; a tool call still running on it
   * ({@link begin}) defers that to its {@link end}, so what it records still comes before the
   * session's close if the session was rotated or evicted meanwhile.
   */
  release(): void {
    if (this.#running > 0) {
      this.#releaseWanted = true;
      return;
    }
    const r = this.#release;
    this.#release = undefined;
    r?.(this.#chars);
  }

  /** A tool call starts running on this exchange. */
  begin(): void {
    this.#running++;
  }

  /** A tool call on this exchange finished: a release the response asked for meanwhile happens now. */
  end(): void {
    this.#running = Math.max(0, this.#running - 1);
    if (this.#running === 0 && this.#releaseWanted) {
      this.#releaseWanted = false;
      this.release();
    }
  }

  /**
   * True once this session's recording reached `recording.max_session_bytes`: a call must not run.
   * The session table is told, so the session's next exchange goes to a successor (as `/proxy`).
   */
  full(): boolean {
    if (!this.#starved && !this.#tap.full()) return false;
    const f = this.#filled;
    this.#filled = undefined;
    f?.();
    return true;
  }

  /** Resolves once everything recorded in this session is durable; rejects when some was lost. */
  async flush(): Promise<void> {
    if (this.#starved) throw new GatehouseError('store_unavailable', 'the session reached recording.max_session_bytes and can no longer be recorded; start a new session', { reason: 'max_session_bytes' });
    await this.#tap.flush();
  }

  /**
   * `text` masked with every detector — a JSON document with the fail-closed walk (payloads,
   * keys, credential-keyed values), other text with its escapes decoded — and bounded to
   * {@link RECORD_TEXT_LIMIT} (for recording arguments and results). Never throws.
   */
  excerpt(text: string): string {
    return this.#tap.excerpt(text);
  }
}
