import type { Clock } from '../kernel/clock.ts';
import type { Logger } from '../kernel/log.ts';
import type { Recorder } from '../recording/recorder.ts';
import { recordedIdentity, type Principal } from '../identity/principal.ts';
import type { ExchangeSessionProtocol } from '../protocols/registry.ts';

/** Most HTTP sessions whose owner the gateway remembers (least recently used are forgotten). */
export const MAX_TRACKED_SESSIONS = 10_000;

/**
 * A principal's default session (its exchanges without a valid header) is rotated — closed with
 * reason `rotated`, which anchors it, and a new one started — once it has this many exchanges:
 * one session row, open, close and anchor per 1 000 exchanges instead of per exchange, while a
 * session stays small enough to read, verify and export at once (~5 MB of typical exchanges).
 */
export const MAX_DEFAULT_EXCHANGES = 1_000;
/** ... or once it is this old (ms): a default session never spans more than 5 minutes of traffic. */
export const MAX_DEFAULT_AGE_MS = 5 * 60_000;
/**
 * What one exchange is assumed to add to its session's recording until it ends (bytes): an upper
 * bound of a `/proxy` exchange's events (prompt and response excerpts of at most 64 Ki characters
 * each, masked, at most 6 bytes per character as JSON, plus the rest). A default session is
 * rotated before its estimate plus this would pass half of `recording.max_session_bytes`, so its
 * exchanges are never truncated by that limit, however many run at once.
 */
export const EXCHANGE_RESERVE_BYTES = 2 * 1024 * 1024;
/** The allowance for an exchange's recorded fields other than its texts (method, facts, decision, timings, keys). */
export const EXCHANGE_OVERHEAD_BYTES = 64 * 1024;

/** An upper bound of the bytes an exchange recorded, from the characters of its recorded texts. */
export function exchangeBytes(textChars: number): number {
  return Math.min(EXCHANGE_RESERVE_BYTES, 6 * textChars + EXCHANGE_OVERHEAD_BYTES);
}

const SESSION = /^[A-Za-z0-9._:-]{1,128}$/;

/** The recording session of one HTTP exchange. */
export interface HttpSession {
  /** The stored session id: always one this table generated, never a client-supplied value. */
  readonly id: string;
  /** True when this exchange starts the session (its `session.open` must be recorded first). */
  readonly fresh: boolean;
  /** The client's label (the header it sent) when the session is fresh and it differs from `id`. */
  readonly label?: string;
  /** This exchange's number in the session (from 1): recorded in each of its events as `exchange`. */
  readonly exchange: number;
}

/** Who a session's `session.close` names (the identity of its events). */
export interface SessionIdentity {
  readonly protocol: ExchangeSessionProtocol;
  readonly user: string | undefined;
  readonly agent?: string;
  /**
   * The connection of a `/proxy` exchange: default sessions are per connection too, so that a
   * session — and a `session.view` decision on its connection — never mixes connections.
   */
  readonly connection?: string;
}

/** A session the table let go: to be closed in the recording. */
export interface EndedSession {
  readonly id: string;
  readonly identity: SessionIdentity;
  readonly reason: 'idle' | 'evicted' | 'shutdown' | 'orphaned' | 'rotated';
}

interface Entry {
  readonly owner: string;
  readonly identity: SessionIdentity | undefined;
  /** The key of this session in the label index (owner and client label, or the owner's default key), if it has one. */
  readonly labelKey: string | undefined;
  /** The owner's default session (exchanges without a valid header): rotated. */
  readonly implicit: boolean;
  readonly opened: number;
  last: number;
  /** Exchanges started in it so far. */
  exchanges: number;
  /** Exchanges started and not yet {@link HttpSessions.release}d. */
  active: number;
  /** Estimated recorded bytes: ended exchanges' estimates plus a reserve per active one. */
  bytes: number;
  /** Why it ended, once let go while exchanges were still active (closed when the last ends). */
  ending?: EndedSession['reason'];
}

function labelKey(owner: string, label: string): string {
  return JSON.stringify([owner, label]);
}

/** The label-index key of an owner's default session for a protocol and connection (no client label is `null`). */
function defaultKey(owner: string, protocol: string, connection: string | undefined): string {
  return JSON.stringify([owner, null, protocol, connection ?? null]);
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
 * Exchanges without a valid header continue the owner's **default session** for their protocol
 * and connection (an implicit label), which is rotated — ended with reason `rotated` and a new one started —
 * after {@link MAX_DEFAULT_EXCHANGES} exchanges, {@link MAX_DEFAULT_AGE_MS}, or before its
 * estimated size could pass half of `recording.max_session_bytes`. Every exchange gets a number
 * in its session (`exchange`), so that concurrent exchanges' interleaved events stay attributable.
 *
 * A session that ended (or that this process never knew: after a restart, on another replica) is
 * never continued — its id or label starts a new session — so a stored chain is only ever
 * appended to by the process that opened it, for the owner that opened it. Another owner sending
 * the same id or label gets a session of its own.
 *
 * Sessions end: {@link sweep} lets go of those unused for the idle time, a full table (LRU of
 * {@link MAX_TRACKED_SESSIONS}) of the least recently used, and {@link endAll} of every one at
 * shutdown; the caller records their `session.close`, which anchors each chain in the audit log.
 * A session let go while an exchange of it runs is closed when its last exchange is
 * {@link release}d, so `session.close` stays its last event. The label index holds at most one key
 * per live session and loses it when the session ends.
 *
 * @example const s = sessions.resolve(req.headers['gatehouse-session'], sessionOwner(principal), newId, identityOf('http', principal));
 */
export class HttpSessions {
  readonly #entries = new Map<string, Entry>();
  /** (owner, client label) → stored id of a live session. */
  readonly #labels = new Map<string, string>();
  /** Sessions let go while exchanges were active: closed when their last exchange ends. */
  readonly #retiring = new Map<string, Entry>();
  #pending: EndedSession[] = [];
  readonly #max: number;
  readonly #now: () => number;
  readonly #budget: number;

  /** `maxSessionBytes`: `recording.max_session_bytes` (a default session is rotated before half of it). */
  constructor(max = MAX_TRACKED_SESSIONS, now: () => number = Date.now, opts: { readonly maxSessionBytes?: number } = {}) {
    this.#max = max;
    this.#now = now;
    this.#budget = (opts.maxSessionBytes ?? 50 * 1024 * 1024) / 2;
  }

  /** The number of live sessions (and at most as many labels). */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * The session for one exchange of `owner` sending `header` (rules above; without a valid header,
   * the owner's default session for `identity.protocol`); `identity` names its close. The caller
   * must {@link release} it when the exchange has recorded its last event.
   */
  resolve(header: unknown, owner: string, newId: () => string, identity?: SessionIdentity): HttpSession {
    const now = this.#now();
    if (!validSessionHeader(header)) {
      const key = defaultKey(owner, identity?.protocol ?? 'http', identity?.connection);
      const id = this.#labels.get(key);
      const e = id === undefined ? undefined : this.#entries.get(id);
      if (id !== undefined && e !== undefined) return this.#continue(id, e, newId, now);
      return this.#open(newId(), { key, label: undefined }, true, owner, identity, now);
    }
    const live = this.#find(header, owner);
    if (live !== undefined) return this.#continue(live.id, live.e, newId, now);
    return this.#open(newId(), { key: labelKey(owner, header), label: header }, false, owner, identity, now);
  }

  /**
   * Ends one exchange of session `id` that recorded at most `bytes` (an upper bound, see
   * {@link exchangeBytes}; default: the whole reserve). A session let go meanwhile (rotated,
   * evicted) is closed once its last exchange has ended, so its `session.close` is its last event.
   */
  release(id: string, bytes = EXCHANGE_RESERVE_BYTES): void {
    const live = this.#entries.get(id);
    const e = live ?? this.#retiring.get(id);
    if (e === undefined || e.active === 0) return;
    e.active--;
    e.bytes += Math.min(bytes, EXCHANGE_RESERVE_BYTES) - EXCHANGE_RESERVE_BYTES;
    e.last = this.#now();
    if (live !== undefined) {
      this.#entries.delete(id);
      this.#entries.set(id, e);
    } else if (e.active === 0) {
      this.#retiring.delete(id);
      this.#close(id, e, e.ending ?? 'evicted', this.#pending);
    }
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

  /**
   * Lets go of the sessions unused for `idleMs` (and reports those ended meanwhile: evicted,
   * rotated). A session with an exchange still running is not idle (unless unused for four times
   * `idleMs`: an exchange never released must not keep it forever).
   */
  sweep(idleMs: number): EndedSession[] {
    const now = this.#now();
    const cutoff = now - idleMs;
    const stuck = now - 4 * idleMs;
    const out = this.#pending;
    this.#pending = [];
    for (const [id, e] of this.#entries) {
      if (e.last > cutoff) break; // least recently used first
      if (e.active > 0 && e.last > stuck) continue;
      this.#end(id, e, 'idle', out, true);
    }
    for (const [id, e] of this.#retiring) {
      if (e.last > stuck) continue;
      this.#retiring.delete(id);
      this.#close(id, e, e.ending ?? 'evicted', out);
    }
    return out;
  }

  /** Lets go of every session (shutdown). */
  endAll(): EndedSession[] {
    const out = this.#pending;
    this.#pending = [];
    for (const [id, e] of this.#entries) this.#end(id, e, 'shutdown', out, true);
    for (const [id, e] of this.#retiring) this.#close(id, e, e.ending ?? 'shutdown', out);
    this.#retiring.clear();
    return out;
  }

  #continue(id: string, e: Entry, newId: () => string, now: number): HttpSession {
    if (e.implicit && (e.exchanges >= MAX_DEFAULT_EXCHANGES || now - e.opened >= MAX_DEFAULT_AGE_MS || e.bytes + EXCHANGE_RESERVE_BYTES > this.#budget)) {
      const key = e.labelKey;
      this.#end(id, e, 'rotated', this.#pending, false);
      return this.#open(newId(), key === undefined ? undefined : { key, label: undefined }, true, e.owner, e.identity, now);
    }
    this.#entries.delete(id);
    e.last = now;
    e.exchanges++;
    e.active++;
    e.bytes += EXCHANGE_RESERVE_BYTES;
    this.#entries.set(id, e);
    return { id, fresh: false, exchange: e.exchanges };
  }

  /** Takes `id` out of the table; closes it now (into `out`) or, with exchanges running, when the last ends (`force`: now). */
  #end(id: string, e: Entry, reason: EndedSession['reason'], out: EndedSession[], force: boolean): void {
    this.#entries.delete(id);
    if (e.labelKey !== undefined && this.#labels.get(e.labelKey) === id) this.#labels.delete(e.labelKey);
    if (e.active === 0 || force) {
      this.#close(id, e, reason, out);
      return;
    }
    e.ending = reason;
    this.#retiring.set(id, e);
    if (this.#retiring.size > MAX_TRACKED_SESSIONS) {
      // Bounded: the oldest is closed now, running exchanges or not.
      const [oldId, oldest] = this.#retiring.entries().next().value!;
      this.#retiring.delete(oldId);
      this.#close(oldId, oldest, oldest.ending ?? reason, this.#pending);
    }
  }

  #close(id: string, e: Entry, reason: EndedSession['reason'], out: EndedSession[]): void {
    if (e.identity && (out !== this.#pending || this.#pending.length < this.#max)) out.push({ id, identity: e.identity, reason });
  }

  #open(id: string, label: { key: string; label: string | undefined } | undefined, implicit: boolean, owner: string, identity: SessionIdentity | undefined, now: number): HttpSession {
    // A generated id equal to a known one (never, for random ids) must not merge two sessions.
    if (this.#entries.has(id) || this.#retiring.has(id)) throw new Error('session id generator returned a live id');
    this.#entries.set(id, { owner, identity, labelKey: label?.key, implicit, opened: now, last: now, exchanges: 1, active: 1, bytes: EXCHANGE_RESERVE_BYTES });
    if (label !== undefined) this.#labels.set(label.key, id);
    if (this.#entries.size > this.#max) {
      const [oldId, oldest] = this.#entries.entries().next().value!;
      this.#end(oldId, oldest, 'evicted', this.#pending, false);
    }
    return { id, fresh: true, exchange: 1, ...(label?.label === undefined || label.label === id ? {} : { label: label.label }) };
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
        ...(s.identity.connection === undefined ? {} : { connection: s.identity.connection }),
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
