import type { Services } from '../../app/services.ts';
import { optionalAgent, type Principal } from '../../identity/principal.ts';
import type { RecordEvent } from '../../recording/recorder.ts';
import { newId } from '../../kernel/ids.ts';
import { scannerFor } from '../http/proxy/scanner.ts';
import { identityOf, validSessionHeader } from '../../enforce/sessions.ts';

/** Most characters of arguments or result text kept in one recorded event (after masking). */
export const RECORD_TEXT_LIMIT = 16 * 1024;

/**
 * The recording session of an MCP exchange stream. Sessions are grouped per credential exactly as
 * the `/proxy` path groups them (the same table, `enforce/sessions.ts`): the id a client echoes
 * (`Mcp-Session-Id`, else `Gatehouse-Session`) continues the session when the same principal
 * opened it; anything else gets a new id. `session.open` is recorded on the first tool call.
 */
export class McpSession {
  readonly id: string;
  readonly #svc: Pick<Services, 'recorder' | 'clock' | 'log' | 'masking'>;
  readonly #principal: Principal;
  #fresh: boolean;

  private constructor(svc: Pick<Services, 'recorder' | 'clock' | 'log' | 'masking'>, principal: Principal, id: string, fresh: boolean) {
    this.#svc = svc;
    this.#principal = principal;
    this.id = id;
    this.#fresh = fresh;
  }

  /** The session named by `header` (if valid and the principal's), else a new one. */
  static resolve(svc: Pick<Services, 'recorder' | 'clock' | 'log' | 'masking' | 'httpSessions'>, principal: Principal, header: unknown): McpSession {
    const s = svc.httpSessions.resolve(validSessionHeader(header) ? header : undefined, principal.id, newId, identityOf('mcp', principal));
    return new McpSession(svc, principal, s.id, s.fresh);
  }

  /** A handle on session `id` that never claims it in the session table (for requests that record nothing). */
  static passive(svc: Pick<Services, 'recorder' | 'clock' | 'log' | 'masking'>, principal: Principal, id: string): McpSession {
    return new McpSession(svc, principal, id, false);
  }

  /** Records one event (content must be masked; `text`-like fields are bounded by the caller). Never throws. */
  record(type: RecordEvent['type'], data: Record<string, unknown>, connection?: string): void {
    const p = this.#principal;
    try {
      if (this.#fresh) {
        this.#fresh = false;
        this.#svc.recorder.record(this.#event('session.open', { transport: 'mcp' }, undefined));
      }
      this.#svc.recorder.record(this.#event(type, data, connection));
    } catch (err) {
      this.#svc.log.error({ err: String(err), user: p.id }, 'recorder failed');
    }
  }

  /** Resolves once everything recorded in this session is durable; rejects when some was lost. */
  async flush(): Promise<void> {
    await this.#svc.recorder.flush?.(this.id);
  }

  /** `text` bounded and masked with every detector (for recording arguments and results). */
  excerpt(text: string): string {
    return scannerFor(this.#svc).mask(text.slice(0, RECORD_TEXT_LIMIT)).text;
  }

  #event(type: RecordEvent['type'], data: Record<string, unknown>, connection: string | undefined): RecordEvent {
    const p = this.#principal;
    return {
      session: this.id, protocol: 'mcp', type, at: this.#svc.clock.now(), data, user: p.id,
      ...optionalAgent(p),
      ...(connection === undefined ? {} : { connection }),
    };
  }
}
