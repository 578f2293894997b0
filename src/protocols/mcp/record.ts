import type { McpDeps } from './deps.ts';
import type { Principal } from '../../identity/principal.ts';
import { RecordingTap } from '../../enforce/tap.ts';
import type { RecordEvent } from '../../recording/recorder.ts';
import { newId } from '../../kernel/ids.ts';
import { identityOf, sessionOwner } from '../../enforce/sessions.ts';

/** Most characters of arguments or result text kept in one recorded event (after masking). */
export const RECORD_TEXT_LIMIT = 16 * 1024;

/**
 * The recording session of an MCP exchange stream. Sessions are grouped per credential exactly as
 * the `/proxy` path groups them (the same table, `enforce/sessions.ts`): the value a client sends
 * (`Mcp-Session-Id`, else `Gatehouse-Session`) continues a live session of the same principal —
 * the id the gateway returned, or the client's own label for it; anything else starts a new
 * session with a new gateway-generated id (the stored id is never a client's value).
 * `session.open` (with the client's `label`, masked) is recorded when a tool call resolves it,
 * before any event of that call, so concurrent calls continuing it never precede it.
 */
export class McpSession {
  readonly id: string;
  readonly #tap: RecordingTap;
  /** This request's exchange number in the session (recorded in its events), and how to release it. */
  readonly #exchange: { readonly exchange: number } | undefined;
  #release: (() => void) | undefined;

  private constructor(svc: Pick<McpDeps, 'recorder' | 'clock' | 'log' | 'scanner'>, principal: Principal, id: string, held?: { exchange: number; release: () => void }) {
    this.#tap = new RecordingTap(svc, id, { protocol: 'mcp', principal, textLimit: RECORD_TEXT_LIMIT, masker: svc.scanner });
    this.id = id;
    this.#exchange = held === undefined ? undefined : { exchange: held.exchange };
    this.#release = held?.release;
  }

  /** The live session `header` names for this principal (its id or the principal's label), else a new one (its `session.open` recorded now). */
  static resolve(svc: Pick<McpDeps, 'recorder' | 'clock' | 'log' | 'scanner' | 'httpSessions'>, principal: Principal, header: unknown): McpSession {
    const s = svc.httpSessions.resolve(header, sessionOwner(principal), newId, identityOf('mcp', principal));
    const session = new McpSession(svc, principal, s.id, { exchange: s.exchange, release: () => { svc.httpSessions.release(s.id); } });
    if (s.fresh) session.#tap.event('session.open', { transport: 'mcp', ...(s.label === undefined ? {} : { label: session.#tap.text(s.label) }) });
    return session;
  }

  /** A handle on session `id` that never claims it in the session table (for requests that record nothing). */
  static passive(svc: Pick<McpDeps, 'recorder' | 'clock' | 'log' | 'scanner'>, principal: Principal, id: string): McpSession {
    return new McpSession(svc, principal, id);
  }

  /** Records one event (content must be masked; `text`-like fields are bounded by the caller). Never throws. */
  record(type: RecordEvent['type'], data: Record<string, unknown>, connection?: string): void {
    this.#tap.event(type, this.#exchange === undefined ? data : { ...this.#exchange, ...data }, connection);
  }

  /** Ends this request's exchange in the session table (once; a later call does nothing). */
  release(): void {
    const r = this.#release;
    this.#release = undefined;
    r?.();
  }

  /** Resolves once everything recorded in this session is durable; rejects when some was lost. */
  async flush(): Promise<void> {
    await this.#tap.flush();
  }

  /** `text` bounded to {@link RECORD_TEXT_LIMIT} and masked with every detector (for recording arguments and results). Never throws. */
  excerpt(text: string): string {
    return this.#tap.text(text);
  }
}
