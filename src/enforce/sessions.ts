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
  /** The stored session id: always one this table generated, never a client-supplied value. */
  readonly id: string;
  /** True when this exchange starts the session (its `session.open` must be recorded first). */
  readonly fresh: boolean;
  /** The client's label (the header it sent) when the session is fresh and it differs from `id`. */
  readonly label?: string;
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

interface Entry {
  readonly owner: string;
  readonly identity: SessionIdentity | undefined;
  /** The key of this session in the label index (owner and client label), if it has one. */
  readonly labelKey: string | undefined;
  last: number;
}

function labelKey(owner: string, label: string): string {
  return JSON.stringify([owner, label]);
}

/**
 * The owner key of a principal's sessions: its kind, id and acting agent, so that a user, the
 * same user through an agent, and an agent of the same name are three different owners.
 *
 * @example sessions.resolve(header, sessionOwner(principal), newId, identityOf('http', principal));
 */
export function sessionOwner(p: Principal): string {
  return JSON.stringify([p.kind, p.id, p.agent?.id ?? null]);
}

/**
 * Groups HTTP/LLM (and MCP) exchanges into recording sessions by `Gatehouse-Session` header and
 * credential. **A stored session id is always one this table generated (random), never a value a
 * client sent**: the header is only a key to find a live session of the same owner —
 *
 * 1. a header naming a live session of this owner (the id the gateway returned) continues it;
 * 2. else a header the same owner used as its own label for a live session continues that one;
 * 3. else a new session with a new random id starts, and a valid header becomes its label.
 *
 * A session that ended (or that this process never knew: after a restart, on another replica) is
 * never continued — its id or label starts a new session — so a stored chain is only ever
 * appended to by the process that opened it, for the owner that opened it. Another owner sending
 * the same id or label gets a session of its own.
 *
 * Sessions end: {@link sweep} lets go of those unused for the idle time, a full table (LRU of
 * {@link MAX_TRACKED_SESSIONS}) of the least recently used, and {@link endAll} of every one at
 * shutdown; the caller records their `session.close`, which anchors each chain in the audit log.
 * The label index holds at most one key per live session and loses it when the session ends.
 *
 * @example const s = sessions.resolve(req.headers['gatehouse-session'], sessionOwner(principal), newId, identityOf('http', principal));
 */
export class HttpSessions {
  readonly #entries = new Map<string, Entry>();
  /** (owner, client label) → stored id of a live session. */
  readonly #labels = new Map<string, string>();
  #pending: EndedSession[] = [];
  readonly #max: number;
  readonly #now: () => number;

  constructor(max = MAX_TRACKED_SESSIONS, now: () => number = Date.now) {
    this.#max = max;
    this.#now = now;
  }

  /** The number of live sessions (and at most as many labels). */
  get size(): number {
    return this.#entries.size;
  }

  /** The session for one exchange of `owner` sending `header` (rules above); `identity` names its close. */
  resolve(header: unknown, owner: string, newId: () => string, identity?: SessionIdentity): HttpSession {
    const now = this.#now();
    if (!validSessionHeader(header)) return this.#open(newId(), undefined, owner, identity, now);
    const live = this.#find(header, owner);
    if (live !== undefined) return this.#touch(live, now);
    return this.#open(newId(), { key: labelKey(owner, header), label: header }, owner, identity, now);
  }

  /** The id of the live session `header` names for `owner` (as {@link resolve} would continue), without touching it. */
  peek(header: unknown, owner: string): string | undefined {
    return validSessionHeader(header) ? this.#find(header, owner)?.id : undefined;
  }

  #find(header: string, owner: string): { id: string; e: Entry } | undefined {
    const own = this.#entries.get(header);
    if (own?.owner === owner) return { id: header, e: own };
    const id = this.#labels.get(labelKey(owner, header));
    const e = id === undefined ? undefined : this.#entries.get(id);
    return id === undefined || e === undefined ? undefined : { id, e };
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

  #touch({ id, e }: { id: string; e: Entry }, now: number): HttpSession {
    this.#entries.delete(id);
    e.last = now;
    this.#entries.set(id, e);
    return { id, fresh: false };
  }

  #end(id: string, e: Entry, reason: EndedSession['reason'], out: EndedSession[]): void {
    this.#entries.delete(id);
    if (e.labelKey !== undefined && this.#labels.get(e.labelKey) === id) this.#labels.delete(e.labelKey);
    if (e.identity) out.push({ id, identity: e.identity, reason });
  }

  #open(id: string, label: { key: string; label: string } | undefined, owner: string, identity: SessionIdentity | undefined, now: number): HttpSession {
    // A generated id equal to a live one (never, for random ids) must not merge two sessions.
    if (this.#entries.has(id)) throw new Error('session id generator returned a live id');
    this.#entries.set(id, { owner, identity, labelKey: label?.key, last: now });
    if (label !== undefined) this.#labels.set(label.key, id);
    if (this.#entries.size > this.#max) {
      const [oldId, oldest] = this.#entries.entries().next().value!;
      const ended: EndedSession[] = [];
      this.#end(oldId, oldest, 'evicted', ended);
      if (this.#pending.length < this.#max) this.#pending.push(...ended);
    }
    return { id, fresh: true, ...(label === undefined || label.label === id ? {} : { label: label.label }) };
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
