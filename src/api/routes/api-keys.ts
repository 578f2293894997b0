import type { Router } from '../../http/router.ts';
import { sendJson } from '../../http/problem.ts';
import { GatehouseError } from '../../kernel/errors.ts';
import type { ApiKeyRecord } from '../../identity/api-keys.ts';
import { parseDuration } from '../../kernel/duration.ts';
import { auditMutation, jsonObject, optString, optStrings, requireAction, type AdminState } from '../context.ts';

/** The API view of a key record: times as ISO 8601 strings. Never the hash, never the key. */
function view(rec: ApiKeyRecord): Record<string, unknown> {
  const iso = (t: number | undefined): string | undefined => (t === undefined ? undefined : new Date(t).toISOString());
  return { ...rec, createdAt: iso(rec.createdAt), expiresAt: iso(rec.expiresAt), revokedAt: iso(rec.revokedAt), lastUsedAt: iso(rec.lastUsedAt) };
}

/** `/api/v1/api-keys`: create (the key is in the response once), list, get, revoke. */
export function registerApiKeyRoutes(r: Router<AdminState>): void {
  r.add('GET', '/api/v1/api-keys', async (ctx) => {
    await requireAction(ctx);
    sendJson(ctx.res, 200, { items: (await ctx.state.svc.apiKeys.list()).map(view) });
  });

  r.add('POST', '/api/v1/api-keys', async (ctx) => {
    await requireAction(ctx);
    const body = await jsonObject(ctx);
    const user = optString(body, 'user');
    const agent = optString(body, 'agent');
    const expires = optString(body, 'expires');
    let expiresAt: number | undefined;
    if (expires !== undefined) {
      const ms = parseDuration(expires);
      if (ms === undefined || ms <= 0) throw new GatehouseError('validation_failed', '"expires" must be a duration such as 24h or 30d');
      expiresAt = ctx.state.svc.clock.now() + ms;
    }
    const groups = optStrings(body, 'groups');
    const agentGroups = optStrings(body, 'agent_groups');
    const description = optString(body, 'description');
    const { key, record } = await ctx.state.svc.apiKeys.create({
      ...(user === undefined ? {} : { user }), ...(agent === undefined ? {} : { agent }),
      ...(groups === undefined ? {} : { groups }), ...(agentGroups === undefined ? {} : { agentGroups }),
      ...(expiresAt === undefined ? {} : { expiresAt }), ...(description === undefined ? {} : { description }),
      createdBy: ctx.state.principal.id,
    });
    await auditMutation(ctx, 'api_key.create', `ApiKey::${record.id}`, { user: user ?? null, agent: agent ?? null });
    sendJson(ctx.res, 201, { ...view(record), key });
  });

  r.add('GET', '/api/v1/api-keys/:id', async (ctx) => {
    await requireAction(ctx);
    const rec = await ctx.state.svc.apiKeys.get(ctx.params.id!);
    if (!rec) throw new GatehouseError('not_found', 'no such API key');
    sendJson(ctx.res, 200, view(rec));
  });

  r.add('DELETE', '/api/v1/api-keys/:id', async (ctx) => {
    await requireAction(ctx);
    const id = ctx.params.id!;
    if (!(await ctx.state.svc.apiKeys.revoke(id, ctx.state.principal.id))) throw new GatehouseError('not_found', 'no such API key');
    await auditMutation(ctx, 'api_key.revoke', `ApiKey::${id}`);
    sendJson(ctx.res, 200, { id, revoked: true });
  });
}
