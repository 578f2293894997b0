import { z } from 'zod';
import type { Principal } from '../../../identity/principal.ts';
import type { SessionFilter, SessionInfo } from '../../../recording/types.ts';
import { envelope } from '../results.ts';
import { defineTool } from '../tool-runner.ts';
import { isAdmin } from './review-access.ts';

const sessionSchema = z.looseObject({
  id: z.string(), protocol: z.string(), user: z.string().optional(), agent: z.string().optional(), connection: z.string().optional(),
  openedAt: z.string(), lastAt: z.string(), events: z.number(), truncated: z.boolean(), decisions: z.array(z.string()),
});
const eventSchema = z.looseObject({ seq: z.number(), at: z.string(), type: z.string(), user: z.string().optional(), agent: z.string().optional(), data: z.record(z.string(), z.unknown()) });

/**
 * The caller's own sessions, as the built-in policy's `session.view` reads them: a user's (only
 * those recorded with the agent acting for it, when there is one); undefined for an agent acting
 * alone, which owns none (its recordings name no user; Agent::"alice" is not User::"alice").
 */
function ownFilter(p: Principal): Pick<SessionFilter, 'user' | 'agent'> | undefined {
  if (p.kind !== 'user') return undefined;
  return p.agent ? { user: p.id, agent: p.agent.id } : { user: p.id };
}

function owns(p: Principal, s: SessionInfo): boolean {
  return p.kind === 'user' && s.user === p.id && (p.agent === undefined || s.agent === p.agent.id);
}

/** `sessions_list`: recorded sessions; a principal sees its own, an admin all. */
export const sessionsListTool = defineTool({
  name: 'sessions_list',
  title: 'List recorded sessions',
  description: 'Lists recorded sessions (newest first): your own sessions (this MCP session, your PostgreSQL and HTTP sessions), or everyone\'s '
    + 'if you are a gateway admin. Each session is a tamper-evident record of requests, decisions and (masked) responses.',
  input: z.object({
    connection: z.string().max(63).optional(),
    decision: z.enum(['allow', 'deny', 'review']).optional().describe('Only sessions in which a decision had this effect'),
    limit: z.number().int().min(1).max(200).default(50),
  }),
  output: envelope({ sessions: z.array(sessionSchema) }),
  annotations: { readOnlyHint: true, openWorldHint: false },
  run: async (env, args) => {
    const p = env.caller.principal;
    const own = await isAdmin(env) ? {} : ownFilter(p);
    const f: SessionFilter = {
      limit: args.limit, ...(args.connection === undefined ? {} : { connection: args.connection }),
      ...(args.decision === undefined ? {} : { decision: args.decision }), ...own,
    };
    await env.svc.recorder.settled?.();
    const items = own === undefined ? [] : await env.svc.sessions.list(f);
    const text = items.length === 0 ? 'No sessions.' : items.map((s) => `${s.id} ${s.protocol} ${s.user ?? ''}${s.agent ? ` via ${s.agent}` : ''} ${s.openedAt} (${s.events} events)`).join('\n');
    return { kind: 'ok', data: { sessions: items }, text };
  },
});

/** `session_get`: one session with a page of its events. */
export const sessionGetTool = defineTool({
  name: 'session_get',
  title: 'Get a recorded session',
  description: 'Shows one recorded session and a page of its events in order (requests, decisions with their reasons, reviews, masked responses, errors). '
    + 'Page on with "after" = the last seq you got. You see your own sessions; admins see all.',
  input: z.object({
    session_id: z.string().min(1).max(200),
    after: z.number().int().min(0).default(0).describe('Return events after this sequence number'),
    limit: z.number().int().min(1).max(200).default(100),
  }),
  output: envelope({ session: sessionSchema, events: z.array(eventSchema), next: z.number().optional() }),
  annotations: { readOnlyHint: true, openWorldHint: false },
  run: async (env, args) => {
    await env.svc.recorder.settled?.();
    const s = await env.svc.sessions.get(args.session_id);
    if (!s || !(owns(env.caller.principal, s) || await isAdmin(env))) return { kind: 'error', code: 'not_found', reason: `no session ${args.session_id} that you may see` };
    const events = (await env.svc.sessions.events(s.id, { afterSeq: args.after, limit: args.limit }))
      .map((e) => ({ seq: e.seq, at: e.at, type: e.type, data: e.data, ...(e.user === undefined ? {} : { user: e.user }), ...(e.agent === undefined ? {} : { agent: e.agent }) }));
    const last = events[events.length - 1];
    const text = [`session ${s.id} (${s.protocol}), ${s.events} events`, ...events.map((e) => `#${e.seq} ${e.at} ${e.type} ${JSON.stringify(e.data).slice(0, 300)}`)].join('\n');
    return { kind: 'ok', data: { session: s, events, ...(last ? { next: last.seq } : {}) }, text };
  },
});
