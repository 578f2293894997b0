import { once } from 'node:events';
import type { Router } from '../../http/router.ts';
import { sendJson } from '../../http/problem.ts';
import { GatehouseError } from '../../kernel/errors.ts';
import { EXPORT_FORMATS, exportContentType, exportSession, type ExportFormat } from '../../recording/export.ts';
import type { SessionStore } from '../../recording/session-store.ts';
import { parseTimeFilter } from '../../recording/time-filter.ts';
import type { DecisionEffect, SessionFilter } from '../../recording/types.ts';
import { authorize } from '../../enforce/authorize.ts';
import { limitParam, type AdminContext, type AdminState } from '../context.ts';

const DECISIONS: readonly string[] = ['allow', 'deny', 'review'];

/**
 * `/api/v1/sessions`: list (filters `user`, `agent`, `connection`, `since`, `until` — ISO time or
 * a duration ago such as `24h` —, `decision`, `limit`, `before`), get, events (paged by `after`),
 * verify, and export (`format=json|csv|asciicast`, streamed). Who sees which sessions is decided
 * by policy: a principal permitted `admin` sees every session; any other user only the sessions
 * recorded under its own name (another's is 404, as if it did not exist); an agent alone, none.
 * Being an approver does not make a principal an auditor.
 */
export function registerSessionRoutes(r: Router<AdminState>): void {
  r.add('GET', '/api/v1/sessions', async (ctx) => {
    const only = await ownerScope(ctx);
    const q = ctx.query;
    const now = ctx.state.svc.clock.now();
    const f: { -readonly [K in keyof SessionFilter]: SessionFilter[K] } = { limit: limitParam(q, 50, 1000) };
    for (const k of ['user', 'agent', 'connection'] as const) {
      const v = q.get(k);
      if (v !== null) f[k] = v;
    }
    if (only !== undefined) {
      if (f.user !== undefined && f.user !== only) { sendJson(ctx.res, 200, { items: [] }); return; }
      f.user = only;
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
    sendJson(ctx.res, 200, { items: await (await store(ctx)).list(f) });
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

/** The session of `:id`, when the caller may see it (see {@link ownerScope}); else 404. */
async function found(ctx: AdminContext): Promise<NonNullable<Awaited<ReturnType<SessionStore['get']>>>> {
  const only = await ownerScope(ctx);
  const s = await (await store(ctx)).get(ctx.params.id!);
  if (!s || (only !== undefined && s.user !== only)) throw new GatehouseError('not_found', 'no such session');
  return s;
}

/**
 * Which sessions the caller may see: undefined for all (Cedar permits it `admin` on the gateway;
 * the decision is audited), else the user name whose sessions it may see. An agent acting on its
 * own sees none (`policy_denied`).
 */
async function ownerScope(ctx: AdminContext): Promise<string | undefined> {
  const { svc, principal } = ctx.state;
  const d = await authorize(svc, principal, 'admin', { kind: 'gateway' });
  if (d.effect === 'allow') return undefined;
  if (principal.kind !== 'user') throw new GatehouseError('policy_denied', 'not permitted to read recordings');
  return principal.id;
}
