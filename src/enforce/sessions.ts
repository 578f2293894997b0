import type { Clock } from '../kernel/clock.ts';
import type { Logger } from '../kernel/log.ts';
import type { Recorder } from '../recording/recorder.ts';
import { recordedIdentity, type Principal } from '../identity/principal.ts';
import type { ExchangeSessionProtocol } from '../protocols/registry.ts';

/** Most HTTP sessions whose owner the gateway remembers (least recently used are forgotten). */
export const MAX_TRACKED_SESSIONS = 10_000;

const SESSION = /^[A-Za-z0-9._:-]{1,128}$/;

/** The recording session of one HTTP exchange. */
export interface HttpSession {
  readonly id: string;
  /** True when this exchange starts the session (its `session.open` must be recorded first). */
  readonly fresh: boolean;
}

/** Who a session's `session.close` names (the identity of its events). */
export interface SessionIdentity {
  readonly protocol: ExchangeSessionProtocol;
  readonly user: string | undefined;
  readonly agent?: string;
}

/** A session the table let go: to be closed in the recording. */
export interface EndedSession {
  readonly id: string;
  readonly identity: SessionIdentity;
  readonly reason: 'idle' | 'evicted' | 'shutdown' | 'orphaned';
}

interface Entry { readonly owner: string; readonly identity: SessionIdentity | undefined; last: number }

/**
 * Groups HTTP/LLM (and MCP) exchanges into recording sessions by `Gatehouse-Session` header and
 * credential: a valid header value continues the session it names when the same principal opened
 * it; an absent or invalid value — or one last used by another principal, or one already closed —
 * gets a new id (returned in the response header).
 *
 * Sessions end: {@link sweep} lets go of those unused for the idle time, a full table (LRU of
 * {@link MAX_TRACKED_SESSIONS}) of the least recently used, and {@link endAll} of every one at
 * shutdown; the caller records their `session.close`, which anchors each chain in the audit log.
 * An ended id is remembered (bounded) so that it is never continued after its close.
 *
 * @example const s = sessions.resolve(req.headers['gatehouse-session'], principal.id, newId, { protocol: 'http', user: 'alice' });
 */
export class HttpSessions {
  readonly #entries = new Map<string, Entry>();
  readonly #ended = new Set<string>();
  #pending: EndedSession[] = [];
  readonly #max: number;
  readonly #now: () => number;

  constructor(max = MAX_TRACKED_SESSIONS, now: () => number = Date.now) {
    this.#max = max;
    this.#now = now;
  }

  resolve(header: unknown, owner: string, newId: () => string, identity?: SessionIdentity): HttpSession {
    const now = this.#now();
    if (typeof header === 'string' && SESSION.test(header) && !this.#ended.has(header)) {
      const e = this.#entries.get(header);
      if (e?.owner === owner) {
        this.#entries.delete(header);
        e.last = now;
        this.#entries.set(header, e);
        return { id: header, fresh: false };
      }
      if (e === undefined) return { id: this.#remember(header, owner, identity, now), fresh: true };
    }
    return { id: this.#remember(newId(), owner, identity, now), fresh: true };
  }

  /** Lets go of the sessions unused for `idleMs` (and of those evicted meanwhile). */
  sweep(idleMs: number): EndedSession[] {
    const cutoff = this.#now() - idleMs;
    const out = this.#pending;
    this.#pending = [];
    for (const [id, e] of this.#entries) {
      if (e.last > cutoff) break; // least recently used first
      this.#end(id, e, 'idle', out);
    }
    return out;
  }

  /** Lets go of every session (shutdown). */
  endAll(): EndedSession[] {
    const out = this.#pending;
    this.#pending = [];
    for (const [id, e] of this.#entries) this.#end(id, e, 'shutdown', out);
    return out;
  }

  #end(id: string, e: Entry, reason: EndedSession['reason'], out: EndedSession[]): void {
    this.#entries.delete(id);
    this.#ended.add(id);
    if (this.#ended.size > this.#max) this.#ended.delete(this.#ended.values().next().value!);
    if (e.identity) out.push({ id, identity: e.identity, reason });
  }

  #remember(id: string, owner: string, identity: SessionIdentity | undefined, now: number): string {
    this.#entries.set(id, { owner, identity, last: now });
    if (this.#entries.size > this.#max) {
      const [oldId, oldest] = this.#entries.entries().next().value!;
      const ended: EndedSession[] = [];
      this.#end(oldId, oldest, 'evicted', ended);
      if (this.#pending.length < this.#max) this.#pending.push(...ended);
    }
    return id;
  }
}

/**
 * Records the `session.close` of ended sessions (which anchors their chains). Never throws.
 *
 * @example closeSessions(svc, svc.httpSessions.sweep(15 * 60_000));
 */
export function closeSessions(svc: { readonly recorder: Recorder; readonly clock: Clock; readonly log: Pick<Logger, 'error'> }, ended: readonly EndedSession[]): void {
  for (const s of ended) {
    try {
      svc.recorder.record({
        session: s.id, protocol: s.identity.protocol, type: 'session.close', at: svc.clock.now(),
        ...(s.identity.user === undefined ? {} : { user: s.identity.user }),
        ...(s.identity.agent === undefined ? {} : { agent: s.identity.agent }), data: { reason: s.reason },
      });
    } catch (err) {
      svc.log.error({ err: String(err) }, 'recorder failed');
    }
  }
}

/** The identity a session's events carry, for its close. */
export function identityOf(protocol: ExchangeSessionProtocol, p: Principal): SessionIdentity {
  const { user, agent } = recordedIdentity(p);
  return { protocol, user, ...(agent === undefined ? {} : { agent }) };
}

/** Whether `header` is a usable `Gatehouse-Session` value. */
export function validSessionHeader(header: unknown): header is string {
  return typeof header === 'string' && SESSION.test(header);
}
