import type { Router } from '../../http/router.ts';
import { sendJson } from '../../http/problem.ts';
import { GatehouseError } from '../../kernel/errors.ts';
import { limitParam, requireAction, type AdminState } from '../context.ts';

/** `/api/v1/audit`: newest first, paged by `before` (a sequence number); and chain verification. */
export function registerAuditRoutes(r: Router<AdminState>): void {
  r.add('GET', '/api/v1/audit', async (ctx) => {
    await requireAction(ctx);
    const q = ctx.query;
    const before = q.get('before');
    if (before !== null && !/^\d+$/.test(before)) throw new GatehouseError('validation_failed', 'before must be a sequence number');
    const kind = q.get('kind');
    const user = q.get('user');
    const items = await ctx.state.svc.audit.list({
      limit: limitParam(q, 100, 1000),
      ...(before === null ? {} : { beforeSeq: Number(before) }),
      ...(kind === null ? {} : { kind }),
      ...(user === null ? {} : { user }),
    });
    sendJson(ctx.res, 200, { items });
  });

  r.add('GET', '/api/v1/audit/verify', async (ctx) => {
    await requireAction(ctx);
    sendJson(ctx.res, 200, await ctx.state.svc.audit.verify());
  });
}
