import { once } from 'node:events';
import type { Router } from '../../http/router.ts';
import { sendJson } from '../../http/problem.ts';
import { GatehouseError } from '../../kernel/errors.ts';
import { EXPORT_FORMATS, exportContentType, exportSession, type ExportFormat } from '../../recording/export.ts';
import type { SessionStore } from '../../recording/session-store.ts';
import { parseTimeFilter } from '../../recording/time-filter.ts';
import type { DecisionEffect, SessionFilter, SessionInfo } from '../../recording/types.ts';
import { maySeeSession, visibleSessions } from '../../enforce/session-view.ts';
import { limitParam, type AdminContext, type AdminState } from '../context.ts';

const DECISIONS: readonly string[] = ['allow', 'deny', 'review'];

/**
 * `/api/v1/sessions`: list (filters `user`, `agent`, `connection`, `since`, `until` — ISO time or
 * a duration ago such as `24h` —, `decision`, `limit`, `before`), get, events (paged by `after`),
 * verify, and export (`format=json|csv|asciicast`, streamed). Who sees which sessions is decided
 * by policy, session by session: the Cedar action `session.view` on `Session::"<id>"` (its owner,
 * agent, connection and protocol as attributes). The built-in policy permits it to the admin
 * group (every session) and to a session's owner (its own); policy files may add more (an
 * auditor group for one connection) or forbid. A session one may not see is 404, as if it did
 * not exist, and is left out of lists; a decision that fails to evaluate hides (fail closed).
 * Being an approver does not make a principal an auditor. The decisions are
 * src/enforce/session-view.ts's, which MCP's session tools use too.
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
    sendJson(ctx.res, 200, await visibleSessions(ctx.state.svc, await store(ctx), ctx.state.principal, f));
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

/** The session of `:id`, when policy lets the caller see it (`session.view`, audited); else 404. */
async function found(ctx: AdminContext): Promise<SessionInfo> {
  const { svc, principal } = ctx.state;
  const s = await (await store(ctx)).get(ctx.params.id!);
  if (!s || !await maySeeSession(svc, principal, s)) throw new GatehouseError('not_found', 'no such session');
  return s;
}
