import { once } from 'node:events';
import type { Router } from '../../http/router.ts';
import { sendJson } from '../../http/problem.ts';
import { GatehouseError } from '../../kernel/errors.ts';
import { EXPORT_FORMATS, exportContentType, exportSession, type ExportFormat } from '../../recording/export.ts';
import type { SessionStore } from '../../recording/session-store.ts';
import { parseTimeFilter } from '../../recording/time-filter.ts';
import type { DecisionEffect, SessionFilter, SessionInfo } from '../../recording/types.ts';
import { authorize } from '../../enforce/authorize.ts';
import type { Resource } from '../../policy/request.ts';
import { limitParam, type AdminContext, type AdminState } from '../context.ts';

const DECISIONS: readonly string[] = ['allow', 'deny', 'review'];
/** A list request reads at most this many sessions to fill its page from those the caller may see. */
const MAX_SCAN = 10_000;

/**
 * `/api/v1/sessions`: list (filters `user`, `agent`, `connection`, `since`, `until` — ISO time or
 * a duration ago such as `24h` —, `decision`, `limit`, `before`), get, events (paged by `after`),
 * verify, and export (`format=json|csv|asciicast`, streamed). Who sees which sessions is decided
 * by policy, session by session: the Cedar action `session.view` on `Session::"<id>"` (its owner,
 * agent, connection and protocol as attributes). The built-in policy permits it to the admin
 * group (every session) and to a session's owner (its own); policy files may add more (an
 * auditor group for one connection) or forbid. A session one may not see is 404, as if it did
 * not exist, and is left out of lists; a decision that fails to evaluate hides (fail closed).
 * Being an approver does not make a principal an auditor.
 */
export function registerSessionRoutes(r: Router<AdminState>): void {
  r.add('GET', '/api/v1/sessions', async (ctx) => {
    const q = ctx.query;
    const now = ctx.state.svc.clock.now();
    const f: { -readonly [K in keyof SessionFilter]: SessionFilter[K] } = { limit: limitParam(q, 50, 1000) };
    for (const k of ['user', 'agent', 'connection'] as const) {
      const v = q.get(k);
      if (v !== null) f[k] = v;
    }
    for (const k of ['since', 'until', 'before'] as const) {
      const v = q.get(k);
      if (v !== null) f[k] = parseTimeFilter(v, now, k);
    }
    const decision = q.get('decision');
    if (decision !== null) {
      if (!DECISIONS.includes(decision)) throw new GatehouseError('validation_failed', 'decision must be allow, deny or review');
      f.decision = decision as DecisionEffect;
    }
    sendJson(ctx.res, 200, await visibleList(ctx, f));
  });

  r.add('GET', '/api/v1/sessions/:id', async (ctx) => {
    sendJson(ctx.res, 200, await found(ctx));
  });

  r.add('GET', '/api/v1/sessions/:id/events', async (ctx) => {
    await found(ctx);
    const after = ctx.query.get('after');
    if (after !== null && !/^\d{1,15}$/.test(after)) throw new GatehouseError('validation_failed', 'after must be a sequence number');
    const items = await (await store(ctx)).events(ctx.params.id!, { afterSeq: after === null ? 0 : Number(after), limit: limitParam(ctx.query, 100, 1000) });
    const last = items[items.length - 1];
    sendJson(ctx.res, 200, { items, ...(last ? { next: last.seq } : {}) });
  });

  r.add('GET', '/api/v1/sessions/:id/verify', async (ctx) => {
    await found(ctx);
    sendJson(ctx.res, 200, await (await store(ctx)).verify(ctx.params.id!));
  });

  r.add('GET', '/api/v1/sessions/:id/export', async (ctx) => {
    const format = ctx.query.get('format') ?? 'json';
    if (!(EXPORT_FORMATS as readonly string[]).includes(format)) throw new GatehouseError('validation_failed', 'format must be json, csv or asciicast');
    const info = await found(ctx);
    const ext = format === 'asciicast' ? 'cast' : format;
    const res = ctx.res;
    res.writeHead(200, {
      'content-type': exportContentType(format as ExportFormat), 'cache-control': 'no-store', 'x-content-type-options': 'nosniff',
      'content-disposition': `attachment; filename="session-${info.id.replace(/[^A-Za-z0-9._-]/g, '_')}.${ext}"`,
    });
    try {
      for await (const chunk of exportSession(format as ExportFormat, info, (await store(ctx)).allEvents(info.id))) {
        if (!res.write(chunk)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
        if (res.destroyed) return; // the client went away
      }
      res.end();
    } catch {
      res.destroy(); // headers are sent: cut the stream so the client sees an incomplete export
    }
  });
}

/**
 * The session store of the services (present even when recording is off), once everything
 * recorded before the request is in it: events acknowledged through the journal reach the store
 * a group commit later, and a reader must see what the client it investigates has seen.
 */
async function store(ctx: AdminContext): Promise<SessionStore> {
  await ctx.state.svc.recorder.settled?.();
  return ctx.state.svc.sessions;
}

/**
 * A page of the sessions matching `f` that the caller may see (policy `session.view`, decided per
 * distinct owner, agent, connection and protocol, without an audit record per row): the store is
 * read newest first in batches until the page is full, the sessions run out, or {@link MAX_SCAN}
 * were read — then `next_before` says where to go on (`before=`).
 */
async function visibleList(ctx: AdminContext, f: SessionFilter): Promise<{ items: SessionInfo[]; next_before?: string }> {
  const sessions = await store(ctx);
  const limit = f.limit ?? 50;
  const batch = Math.min(1000, Math.max(100, limit));
  const view = viewer(ctx);
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

/** The Cedar resource of a recorded session. */
function sessionResource(s: SessionInfo): Extract<Resource, { kind: 'session' }> {
  return {
    kind: 'session', id: s.id, protocol: s.protocol,
    ...(s.user === undefined ? {} : { owner: s.user }),
    ...(s.agent === undefined ? {} : { agent: s.agent }),
    ...(s.connection === undefined ? {} : { connection: s.connection }),
  };
}

/**
 * Whether the caller may see a session, for many sessions: one decision per distinct owner, agent,
 * connection and protocol (the attributes policy sees; the session id is left out of the
 * resource so that decisions are shared and cached). Any evaluation error hides the session (fail closed).
 */
function viewer(ctx: AdminContext): (s: SessionInfo) => boolean {
  const { svc, principal } = ctx.state;
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

/** The session of `:id`, when policy lets the caller see it (`session.view`, audited); else 404. */
async function found(ctx: AdminContext): Promise<SessionInfo> {
  const { svc, principal } = ctx.state;
  const s = await (await store(ctx)).get(ctx.params.id!);
  if (!s) throw new GatehouseError('not_found', 'no such session');
  let allowed: boolean;
  try {
    allowed = (await authorize(svc, principal, 'session.view', sessionResource(s))).effect === 'allow';
  } catch {
    allowed = false; // fail closed
  }
  if (!allowed) throw new GatehouseError('not_found', 'no such session');
  return s;
}
