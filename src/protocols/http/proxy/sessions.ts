/** Most HTTP sessions whose owner the gateway remembers (least recently used are forgotten). */
export const MAX_TRACKED_SESSIONS = 10_000;

const SESSION = /^[A-Za-z0-9._:-]{1,128}$/;

/** The recording session of one HTTP exchange. */
export interface HttpSession {
  readonly id: string;
  /** True when this exchange starts the session (its `session.open` must be recorded first). */
  readonly fresh: boolean;
}

/**
 * Groups HTTP/LLM exchanges into recording sessions by `Gatehouse-Session` header and credential:
 * a valid header value continues the session it names when the same principal opened it; an
 * absent or invalid value — or one last used by another principal — gets a new id (returned in the
 * response header). Bounded LRU of {@link MAX_TRACKED_SESSIONS}; an id it no longer knows is
 * re-opened (a second `session.open` in the chain; harmless). HTTP sessions are never closed.
 *
 * @example const s = sessions.resolve(req.headers['gatehouse-session'], principal.id, newId);
 */
export class HttpSessions {
  readonly #owners = new Map<string, string>();
  readonly #max: number;

  constructor(max = MAX_TRACKED_SESSIONS) {
    this.#max = max;
  }

  resolve(header: unknown, principal: string, newId: () => string): HttpSession {
    if (typeof header === 'string' && SESSION.test(header)) {
      const owner = this.#owners.get(header);
      if (owner === principal) {
        this.#owners.delete(header);
        this.#owners.set(header, principal);
        return { id: header, fresh: false };
      }
      if (owner === undefined) return { id: this.#remember(header, principal), fresh: true };
    }
    return { id: this.#remember(newId(), principal), fresh: true };
  }

  #remember(id: string, principal: string): string {
    this.#owners.set(id, principal);
    if (this.#owners.size > this.#max) {
      const oldest = this.#owners.keys().next();
      if (oldest.done !== true) this.#owners.delete(oldest.value);
    }
    return id;
  }
}

const bySvc = new WeakMap<object, HttpSessions>();

/** The session table of one gateway (keyed by its services object). */
export function httpSessionsOf(svc: object): HttpSessions {
  let s = bySvc.get(svc);
  if (!s) { s = new HttpSessions(); bySvc.set(svc, s); }
  return s;
}

/** Whether `header` is a usable `Gatehouse-Session` value. */
export function validSessionHeader(header: unknown): header is string {
  return typeof header === 'string' && SESSION.test(header);
}
