/**
 * Who sees which recorded session: the one policy path of the admin API (and so the console and
 * the CLI) and of MCP's session tools. The Cedar action `session.view` on `Session::"<id>"` (its
 * owner, agent, connection and protocol as attributes) decides, session by session: the built-in
 * policy permits the admin group every session and a user its own (an agent acting for it only
 * those recorded with that same agent); policy files may add more (an auditor group for one
 * connection) or forbid. A decision that fails to evaluate hides the session (fail closed).
 */
import type { Principal } from '../identity/principal.ts';
import type { Resource } from '../policy/request.ts';
import type { SessionStore } from '../recording/session-store.ts';
import type { SessionFilter, SessionInfo } from '../recording/types.ts';
import { authorize, type DecideDeps } from './authorize.ts';

/** A list reads at most this many sessions to fill its page from those the caller may see. */
export const MAX_SCAN = 10_000;

/** The Cedar resource of a recorded session. */
export function sessionResource(s: SessionInfo): Extract<Resource, { kind: 'session' }> {
  return {
    kind: 'session', id: s.id, protocol: s.protocol,
    ...(s.user === undefined ? {} : { owner: s.user }),
    ...(s.agent === undefined ? {} : { agent: s.agent }),
    ...(s.connection === undefined ? {} : { connection: s.connection }),
  };
}

/**
 * Whether `principal` may see one session: `session.view`, decided and audited like every
 * request; any failure is false (fail closed).
 *
 * @example if (!await maySeeSession(svc, principal, s)) throw new GatehouseError('not_found', 'no such session');
 */
export async function maySeeSession(svc: DecideDeps, principal: Principal, s: SessionInfo): Promise<boolean> {
  try {
    return (await authorize(svc, principal, 'session.view', sessionResource(s))).effect === 'allow';
  } catch {
    return false;
  }
}

/**
 * Whether `principal` may see a session, for many sessions (a list): one quiet decision (no audit
 * record per row) per distinct owner, agent, connection and protocol — the attributes policy sees;
 * the session id is left out of the resource so that decisions are shared and cached. Any
 * evaluation error hides the session (fail closed).
 */
export function sessionViewer(svc: Pick<DecideDeps, 'decider' | 'clock'>, principal: Principal): (s: SessionInfo) => boolean {
  const memo = new Map<string, boolean>();
  return (s) => {
    const key = JSON.stringify([s.protocol, s.user ?? null, s.agent ?? null, s.connection ?? null]);
    let ok = memo.get(key);
    if (ok === undefined) {
      try {
        const d = svc.decider.decide({ principal, action: 'session.view', resource: { ...sessionResource(s), id: '' }, facts: {}, at: svc.clock.now() });
        ok = d.effect === 'allow' && d.errors.length === 0;
      } catch {
        ok = false;
      }
      if (memo.size < 10_000) memo.set(key, ok);
    }
    return ok;
  };
}

/** A page of sessions, and where to go on when the scan stopped before the sessions ran out. */
export interface VisiblePage {
  readonly items: SessionInfo[];
  /** Opening time (ISO) to pass as `before` for the next page; set only when {@link MAX_SCAN} sessions were read. */
  readonly next_before?: string;
}

/**
 * A page of the sessions matching `f` that `principal` may see ({@link sessionViewer}): the store
 * is read newest first in batches until the page is full, the sessions run out, or
 * {@link MAX_SCAN} were read — then `next_before` says where to go on (`before`). The filter
 * narrows within what policy lets the caller see; it never widens it.
 */
export async function visibleSessions(
  svc: Pick<DecideDeps, 'decider' | 'clock'>, sessions: Pick<SessionStore, 'list'>, principal: Principal, f: SessionFilter,
): Promise<VisiblePage> {
  const limit = f.limit ?? 50;
  const batch = Math.min(1000, Math.max(100, limit));
  const view = sessionViewer(svc, principal);
  const items: SessionInfo[] = [];
  const seen = new Set<string>();
  let before = f.before;
  let scanned = 0;
  for (;;) {
    const rows = await sessions.list({ ...f, limit: batch, ...(before === undefined ? {} : { before }) });
    for (const s of rows) {
      if (seen.has(s.id)) continue;
      seen.add(s.id);
      if (view(s)) items.push(s);
      if (items.length >= limit) return { items };
    }
    scanned += rows.length;
    const last = rows[rows.length - 1];
    if (rows.length < batch || !last) return { items };
    // Paging is by opening time (ms): go on from the last one's millisecond again (ids already
    // seen are skipped), unless the whole batch opened within it.
    const at = Date.parse(last.openedAt);
    const next = Date.parse(rows[0]!.openedAt) === at ? at : at + 1;
    if (scanned >= MAX_SCAN) return { items, next_before: new Date(next).toISOString() };
    before = next;
  }
}
