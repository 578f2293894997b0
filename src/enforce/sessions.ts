import type { Clock } from '../kernel/clock.ts';
import type { Logger } from '../kernel/log.ts';
import type { Recorder } from '../recording/recorder.ts';
import { recordedIdentity, type Principal } from '../identity/principal.ts';
import type { ExchangeSessionProtocol } from '../protocols/registry.ts';

/** Most HTTP sessions whose owner the gateway remembers (past it, see {@link HttpSessions}: fair eviction). */
export const MAX_TRACKED_SESSIONS = 10_000;

/**
 * Most ids of sessions ended by rotation that are remembered (oldest forgotten first): a client
 * echoing one of them (for its own owner) continues the session that replaced it.
 */
export const MAX_REMEMBERED_ROTATIONS = 10_000;

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
 * each, masked, at most 6 bytes per character as JSON, plus the rest). Every session (default or
 * labelled) is rotated before its estimate plus this would pass half of
 * `recording.max_session_bytes`, so its exchanges are never truncated by that limit, however many
 * run at once.
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
  /** When the session is fresh because it replaces a rotated one: the rotated session's id (recorded as `previous` in `session.open`). */
  readonly previous?: string;
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

/** How a session table is set up. */
export interface HttpSessionsOptions {
  /** `recording.max_session_bytes`: every session is rotated before its estimate passes half of it. */
  readonly maxSessionBytes?: number;
  /**
   * Called at once with each session the table lets go by itself — rotated, evicted, or closed
   * when the last exchange of a rotated or evicted session is released — so that its
   * `session.close` (its anchor) is recorded then, not at the next {@link HttpSessions.sweep}.
   * Must not throw (a throw is ignored). Without it, those ends are kept for the next sweep (at
   * most `max` of them between two sweeps; the gateway always passes it).
   */
  readonly onEnded?: (s: EndedSession) => void;
}

interface Entry {
  readonly owner: string;
  readonly identity: SessionIdentity | undefined;
  /** The key of this session in the label index: owner and client label, or the owner's default key. */
  readonly labelKey: string;
  /** The client's label (undefined for a default session): a successor after rotation keeps it. */
  readonly label: string | undefined;
  /** The owner's default session (exchanges without a valid header): also rotated on count and age. */
  readonly implicit: boolean;
  /** The live sessions of this entry's owner, least recently used first (this one among them). */
  readonly mine: Map<string, Entry>;
  readonly opened: number;
  last: number;
  /** Exchanges started in it so far. */
  exchanges: number;
  /** Exchanges started and not yet {@link HttpSessions.release}d. */
  active: number;
  /** Estimated recorded bytes: ended exchanges' estimates plus a reserve per active one. */
  bytes: number;
  /** The recorder reported it full ({@link HttpSessions.filled}): its next exchange rotates it. */
  filled?: true;
  /** Why it ended, once let go while exchanges were still active (closed when the last ends). */
  ending?: EndedSession['reason'];
}

/** A session ended by rotation: whose it was and the label-index key its successor holds. */
interface Rotated {
  readonly owner: string;
  readonly key: string;
  /** The client's label of that key (undefined: the owner's default session). */
  readonly label: string | undefined;
}

/** Owners bucketed by how many sessions (of one kind) they hold, with the highest count: O(1) per change. */
class CountBuckets {
  /** Count → the owners holding that many (never empty). */
  readonly #by = new Map<number, Set<string>>();
  #most = 0;

  /** The highest count any owner holds (0: none holds any). */
  get most(): number {
    return this.#most;
  }

  /** An owner holding {@link most} (undefined when none holds any). */
  top(): string | undefined {
    return this.#by.get(this.#most)?.values().next().value;
  }

  /** Moves `owner`, which held `was`, to the bucket of `was + by`. */
  move(owner: string, was: number, by: 1 | -1): void {
    const now = was + by;
    const from = this.#by.get(was);
    if (from !== undefined) {
      from.delete(owner);
      if (from.size === 0) {
        this.#by.delete(was);
        if (this.#most === was && by < 0) this.#most = now;
      }
    }
    if (now > 0) {
      const to = this.#by.get(now);
      if (to === undefined) this.#by.set(now, new Set([owner])); else to.add(owner);
      if (now > this.#most) this.#most = now;
    }
  }

  clear(): void {
    this.#by.clear();
    this.#most = 0;
  }
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
 * 3. else a header naming a session of this owner that was **rotated** (one of the last
 *    {@link MAX_REMEMBERED_ROTATIONS}) continues the session that now holds its label (its
 *    successor, however many rotations later) exactly as that session's id would; if none is
 *    live, it starts the label's session anew (a default session's id: the default session);
 * 4. else a new session with a new random id starts, and a valid header becomes its label.
 *
 * Exchanges without a valid header continue the owner's **default session** for their protocol
 * and connection (an implicit label). **Every session is rotated** — ended with reason `rotated`
 * and a successor opened under the same label — before its estimated size could pass half of
 * `recording.max_session_bytes`; a default session also after {@link MAX_DEFAULT_EXCHANGES}
 * exchanges or {@link MAX_DEFAULT_AGE_MS}. A labelled session groups a client's run, so it is
 * split on size only (never left to grow until it fails). Every exchange gets a number in its
 * session (`exchange`), so that concurrent exchanges' interleaved events stay attributable.
 *
 * A session that ended (or that this process never knew: after a restart, on another replica) is
 * never continued — its id or label starts a new session or reaches the rotated one's successor —
 * so a stored chain is only ever appended to by the process that opened it, for the owner that
 * opened it. Another owner sending the same id or label gets a session of its own.
 *
 * Sessions end: {@link sweep} lets go of those unused for the idle time, {@link endAll} of every
 * one at shutdown, rotation of the one replaced, and a full table ({@link MAX_TRACKED_SESSIONS})
 * of one session before it opens another — **fairly**: of an owner holding the most live
 * sessions, if it holds more than the opener does, else of the opener's own least recently used
 * one; so no principal can end the sessions of one holding fewer sessions than itself. The caller
 * records their `session.close` (at once for rotations and evictions, through `onEnded`), which
 * anchors each chain in the audit log. A session let go while an exchange of it runs is closed
 * when its last exchange is {@link release}d, so `session.close` stays its last event (at most
 * {@link MAX_TRACKED_SESSIONS} wait so; past it, the oldest of an owner with the most waiting is
 * closed at once: a principal piling them up closes its own, never another's with fewer). The label
 * index holds at most one key per live session and loses it when the session ends.
 *
 * Cost: O(1) per {@link resolve} and {@link release} (the global and per-owner least-recently-used
 * orders are insertion-ordered maps, owners are bucketed by live count).
 *
 * @example const s = sessions.resolve(req.headers['gatehouse-session'], sessionOwner(principal), newId, identityOf('http', principal));
 */
export class HttpSessions {
  /** Live sessions, least recently used first. */
  readonly #entries = new Map<string, Entry>();
  /** Owner → its live sessions, least recently used first (never empty). */
  readonly #owners = new Map<string, Map<string, Entry>>();
  /** Owners by their live-session count. */
  readonly #live = new CountBuckets();
  /** (owner, client label) → stored id of a live session. */
  readonly #labels = new Map<string, string>();
  /** Sessions let go while exchanges were active: closed when their last exchange ends. */
  readonly #retiring = new Map<string, Entry>();
  /** Owner → its retiring sessions, oldest first (never empty); owners by their retiring count. */
  readonly #retiringOf = new Map<string, Map<string, Entry>>();
  readonly #retiringCounts = new CountBuckets();
  /** Ids of sessions ended by rotation, oldest first. */
  readonly #rotated = new Map<string, Rotated>();
  #pending: EndedSession[] = [];
  readonly #max: number;
  readonly #now: () => number;
  readonly #budget: number;
  readonly #onEnded: ((s: EndedSession) => void) | undefined;

  /** `max`: most live sessions; `opts.maxSessionBytes`: `recording.max_session_bytes` (sessions are rotated before half of it). */
  constructor(max = MAX_TRACKED_SESSIONS, now: () => number = Date.now, opts: HttpSessionsOptions = {}) {
    this.#max = Math.max(1, max);
    this.#now = now;
    this.#budget = (opts.maxSessionBytes ?? 50 * 1024 * 1024) / 2;
    this.#onEnded = opts.onEnded;
  }

  /** The number of live sessions (and at most as many labels). */
  get size(): number {
    return this.#entries.size;
  }

  /** The number of live sessions of `owner`. */
  held(owner: string): number {
    return this.#owners.get(owner)?.size ?? 0;
  }

  /**
   * The session for one exchange of `owner` sending `header` (rules above; without a valid header,
   * the owner's default session for `identity.protocol`); `identity` names its close. The caller
   * must {@link release} it when the exchange has recorded its last event.
   */
  resolve(header: unknown, owner: string, newId: () => string, identity?: SessionIdentity): HttpSession {
    const now = this.#now();
    if (!validSessionHeader(header)) return this.#byKey(defaultKey(owner, identity?.protocol ?? 'http', identity?.connection), undefined, owner, newId, identity, now);
    const live = this.#find(header, owner);
    if (live !== undefined) return this.#continue(live.id, live.e, newId, now);
    const r = this.#rotated.get(header);
    if (r?.owner === owner) {
      // An echoed rotated id: the label's current session; none live — a default one is the
      // request's own default session, a labelled one its label's session anew.
      return r.label === undefined
        ? this.#byKey(defaultKey(owner, identity?.protocol ?? 'http', identity?.connection), undefined, owner, newId, identity, now, r.key)
        : this.#byKey(r.key, r.label, owner, newId, identity, now);
    }
    return this.#open(newId(), labelKey(owner, header), header, false, owner, identity, now);
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
    e.bytes += Math.min(Math.max(0, bytes), EXCHANGE_RESERVE_BYTES) - EXCHANGE_RESERVE_BYTES;
    e.last = this.#now();
    if (live !== undefined) {
      this.#touch(id, e);
    } else if (e.active === 0) {
      this.#unretire(id, e);
      this.#close(id, e, e.ending ?? 'evicted', undefined);
    }
  }

  /**
   * The recorder reports live session `id` full (`recording.max_session_bytes`: its estimate fell
   * short): its next exchange rotates it, so that its label goes on in a successor instead of
   * being refused until the estimate catches up.
   */
  filled(id: string): void {
    const e = this.#entries.get(id);
    if (e !== undefined) e.filled = true;
  }

  /** The id of the live session `header` names for `owner` (as {@link resolve} would continue, before any rotation), without touching it. */
  peek(header: unknown, owner: string): string | undefined {
    if (!validSessionHeader(header)) return undefined;
    const live = this.#find(header, owner);
    if (live !== undefined) return live.id;
    const r = this.#rotated.get(header);
    const id = r?.owner === owner ? this.#labels.get(r.key) : undefined;
    return id !== undefined && this.#entries.has(id) ? id : undefined;
  }

  #find(header: string, owner: string): { id: string; e: Entry } | undefined {
    const own = this.#entries.get(header);
    if (own?.owner === owner) return { id: header, e: own };
    const id = this.#labels.get(labelKey(owner, header));
    const e = id === undefined ? undefined : this.#entries.get(id);
    return id === undefined || e === undefined ? undefined : { id, e };
  }

  /** Continues the live session of label-index `key` (`alias`: else that key's), else opens one under `key`. */
  #byKey(key: string, label: string | undefined, owner: string, newId: () => string, identity: SessionIdentity | undefined, now: number, alias?: string): HttpSession {
    for (const k of alias === undefined ? [key] : [alias, key]) {
      const id = this.#labels.get(k);
      const e = id === undefined ? undefined : this.#entries.get(id);
      if (id !== undefined && e !== undefined) return this.#continue(id, e, newId, now);
    }
    return this.#open(newId(), key, label, label === undefined, owner, identity, now);
  }

  /**
   * Lets go of the sessions unused for `idleMs` (and reports those ended meanwhile without an
   * `onEnded` hook: evicted, rotated). A session with an exchange still running is not idle
   * (unless unused for four times `idleMs`: an exchange never released must not keep it forever).
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
      this.#unretire(id, e);
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
    this.#retiringOf.clear();
    this.#retiringCounts.clear();
    this.#rotated.clear();
    return out;
  }

  #continue(id: string, e: Entry, newId: () => string, now: number): HttpSession {
    if (e.filled === true || e.bytes + EXCHANGE_RESERVE_BYTES > this.#budget || (e.implicit && (e.exchanges >= MAX_DEFAULT_EXCHANGES || now - e.opened >= MAX_DEFAULT_AGE_MS))) {
      this.#end(id, e, 'rotated', undefined, false);
      return this.#open(newId(), e.labelKey, e.label, e.implicit, e.owner, e.identity, now, id);
    }
    e.last = now;
    e.exchanges++;
    e.active++;
    e.bytes += EXCHANGE_RESERVE_BYTES;
    this.#touch(id, e);
    return { id, fresh: false, exchange: e.exchanges };
  }

  /** Makes `id` the most recently used session, of the table and of its owner. */
  #touch(id: string, e: Entry): void {
    this.#entries.delete(id);
    this.#entries.set(id, e);
    e.mine.delete(id);
    e.mine.set(id, e);
  }

  /**
   * Takes `id` out of the table; closes it now (into `out`, else reported) or, with exchanges
   * running, when the last ends (`force`: now). A rotated id is remembered for its owner.
   */
  #end(id: string, e: Entry, reason: EndedSession['reason'], out: EndedSession[] | undefined, force: boolean): void {
    this.#entries.delete(id);
    this.#count(e.owner, e.mine, -1);
    e.mine.delete(id);
    if (e.mine.size === 0) this.#owners.delete(e.owner);
    if (this.#labels.get(e.labelKey) === id) this.#labels.delete(e.labelKey);
    if (reason === 'rotated') {
      this.#rotated.set(id, { owner: e.owner, key: e.labelKey, label: e.label });
      if (this.#rotated.size > MAX_REMEMBERED_ROTATIONS) this.#rotated.delete(this.#rotated.keys().next().value!);
    }
    if (e.active === 0 || force) {
      this.#close(id, e, reason, out);
      return;
    }
    e.ending = reason;
    this.#retiring.set(id, e);
    let theirs = this.#retiringOf.get(e.owner);
    if (theirs === undefined) {
      theirs = new Map();
      this.#retiringOf.set(e.owner, theirs);
    }
    this.#retiringCounts.move(e.owner, theirs.size, 1);
    theirs.set(id, e);
    if (this.#retiring.size > MAX_TRACKED_SESSIONS) {
      // Bounded: the oldest retiring session of an owner holding the most is closed now, running
      // exchanges or not — so a principal piling up retiring sessions closes its own early, never
      // the running session of one holding fewer.
      const top = this.#retiringCounts.top();
      const oldest = top === undefined ? undefined : this.#retiringOf.get(top)?.entries().next().value;
      if (oldest !== undefined) {
        this.#unretire(oldest[0], oldest[1]);
        this.#close(oldest[0], oldest[1], oldest[1].ending ?? reason, undefined);
      }
    }
  }

  /** Takes a retiring session out of the retiring maps (and its owner's count). */
  #unretire(id: string, e: Entry): void {
    if (!this.#retiring.delete(id)) return;
    const theirs = this.#retiringOf.get(e.owner);
    if (theirs === undefined) return;
    this.#retiringCounts.move(e.owner, theirs.size, -1);
    theirs.delete(id);
    if (theirs.size === 0) this.#retiringOf.delete(e.owner);
  }

  /** Reports a close: into `out` (a sweep's or shutdown's list), else to `onEnded` at once, else kept for the next sweep. */
  #close(id: string, e: Entry, reason: EndedSession['reason'], out: EndedSession[] | undefined): void {
    if (!e.identity) return;
    const ended: EndedSession = { id, identity: e.identity, reason };
    if (out !== undefined) out.push(ended);
    else if (this.#onEnded !== undefined) {
      try {
        this.#onEnded(ended);
      } catch {
        // The hook must not throw; the table stays consistent either way.
      }
    } else if (this.#pending.length < this.#max) this.#pending.push(ended);
  }

  /** Moves `owner` (holding `mine`, before the change) from its live-count bucket to the next one up or down. */
  #count(owner: string, mine: Map<string, Entry>, by: 1 | -1): void {
    this.#live.move(owner, mine.size, by);
  }

  /**
   * Before `owner` opens a session in a full table: lets go of the least recently used session of
   * an owner holding the most live sessions if that is more than `owner` holds, else of `owner`'s
   * own least recently used one — so that an owner only loses a session to one holding fewer
   * (before it opens: the victim held at least as many as the opener holds after, and may end
   * with one fewer than it; ties never evict another's).
   */
  #evictFor(owner: string): void {
    const holds = this.held(owner);
    const top = this.#live.top();
    const victimOwner = this.#live.most > holds && top !== undefined ? top : owner;
    const mine = this.#owners.get(victimOwner);
    const first = mine?.entries().next().value;
    if (first !== undefined) this.#end(first[0], first[1], 'evicted', undefined, false);
  }

  #open(id: string, key: string, label: string | undefined, implicit: boolean, owner: string, identity: SessionIdentity | undefined, now: number, previous?: string): HttpSession {
    // A generated id equal to a known one (never, for random ids) must not merge two sessions.
    if (this.#entries.has(id) || this.#retiring.has(id) || this.#rotated.has(id)) throw new Error('session id generator returned a known id');
    if (this.#entries.size >= this.#max) this.#evictFor(owner);
    let mine = this.#owners.get(owner);
    if (mine === undefined) {
      mine = new Map();
      this.#owners.set(owner, mine);
    }
    const e: Entry = { owner, identity, labelKey: key, label, implicit, mine, opened: now, last: now, exchanges: 1, active: 1, bytes: EXCHANGE_RESERVE_BYTES };
    this.#count(owner, mine, 1);
    mine.set(id, e);
    this.#entries.set(id, e);
    this.#labels.set(key, id);
    return {
      id, fresh: true, exchange: 1,
      ...(label === undefined || label === id ? {} : { label }),
      ...(previous === undefined ? {} : { previous }),
    };
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
