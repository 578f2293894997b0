import type { Principal } from '../identity/principal.ts';
import type { Action } from '../policy/request.ts';
import type { RouteContext } from '../http/router.ts';
import type { AdminDeps } from './deps.ts';
import { authorize, denialReason } from '../enforce/authorize.ts';
import { GatehouseError } from '../kernel/errors.ts';
import { readJson } from '../http/body.ts';

/** Per-request state of an admin API call: the authenticated caller. */
export interface AdminState {
  readonly principal: Principal;
  readonly svc: AdminDeps;
}

export type AdminContext = RouteContext<AdminState>;

/** Requires the caller to be permitted `action` on the gateway (Cedar); audits the decision. */
export async function requireAction(ctx: AdminContext, action: Action = 'admin'): Promise<void> {
  const { svc, principal } = ctx.state;
  const d = await authorize(svc, principal, action, { kind: 'gateway' });
  if (d.effect !== 'allow') throw new GatehouseError('policy_denied', `not permitted "${action}": ${denialReason(d)}`, { reasons: d.reasons });
}

/** Parses the JSON body as an object (arrays and scalars are rejected). */
export async function jsonObject(ctx: AdminContext, limit = 1024 * 1024): Promise<Record<string, unknown>> {
  const body = await readJson(ctx.req, limit);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new GatehouseError('validation_failed', 'body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

/** Appends an `admin.mutation` audit event for the caller. */
export async function auditMutation(ctx: AdminContext, what: string, target: string, detail: Record<string, unknown> = {}): Promise<void> {
  const p = ctx.state.principal;
  await ctx.state.svc.audit.append({
    kind: 'admin.mutation', user: p.id, ...(p.agent ? { agent: p.agent.id } : {}),
    action: what, resource: target, outcome: 'ok', detail,
  });
}

/** Reads an optional string field, rejecting other types. */
export function optString(body: Record<string, unknown>, key: string): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new GatehouseError('validation_failed', `"${key}" must be a string`);
  return v;
}

/** Reads an optional string array field. */
export function optStrings(body: Record<string, unknown>, key: string): string[] | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new GatehouseError('validation_failed', `"${key}" must be an array of strings`);
  return v;
}

/** Parses a `limit` query parameter within [1, max]. */
export function limitParam(q: URLSearchParams, def: number, max: number): number {
  const raw = q.get('limit');
  if (raw === null) return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new GatehouseError('validation_failed', `limit must be an integer from 1 to ${max}`);
  return n;
}
