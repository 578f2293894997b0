import type { McpDeps } from './deps.ts';
import type { Principal } from '../../identity/principal.ts';
import { RecordingTap } from '../../enforce/tap.ts';
import type { RecordEvent } from '../../recording/recorder.ts';
import { newId } from '../../kernel/ids.ts';
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
  readonly #tap: RecordingTap;
  #fresh: boolean;

  private constructor(svc: Pick<McpDeps, 'recorder' | 'clock' | 'log' | 'scanner'>, principal: Principal, id: string, fresh: boolean) {
    this.#tap = new RecordingTap(svc, id, { protocol: 'mcp', principal, textLimit: RECORD_TEXT_LIMIT, masker: svc.scanner });
    this.id = id;
    this.#fresh = fresh;
  }

  /** The session named by `header` (if valid and the principal's), else a new one. */
  static resolve(svc: Pick<McpDeps, 'recorder' | 'clock' | 'log' | 'scanner' | 'httpSessions'>, principal: Principal, header: unknown): McpSession {
    const s = svc.httpSessions.resolve(validSessionHeader(header) ? header : undefined, principal.id, newId, identityOf('mcp', principal));
    return new McpSession(svc, principal, s.id, s.fresh);
  }

  /** A handle on session `id` that never claims it in the session table (for requests that record nothing). */
  static passive(svc: Pick<McpDeps, 'recorder' | 'clock' | 'log' | 'scanner'>, principal: Principal, id: string): McpSession {
    return new McpSession(svc, principal, id, false);
  }

  /** Records one event (content must be masked; `text`-like fields are bounded by the caller). Never throws. */
  record(type: RecordEvent['type'], data: Record<string, unknown>, connection?: string): void {
    if (this.#fresh) {
      this.#fresh = false;
      this.#tap.event('session.open', { transport: 'mcp' });
    }
    this.#tap.event(type, data, connection);
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
