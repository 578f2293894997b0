import { z } from 'zod';
import { maySeeSession, visibleSessions } from '../../../enforce/session-view.ts';
import { parseTimeFilter } from '../../../recording/time-filter.ts';
import { summarize } from '../../../recording/render.ts';
import type { SessionFilter, StoredEvent } from '../../../recording/types.ts';
import { isGatehouseError } from '../../../kernel/errors.ts';
import { envelope } from '../results.ts';
import { defineTool } from '../tool-runner.ts';

const sessionSchema = z.looseObject({
  id: z.string(), protocol: z.string(), user: z.string().optional(), agent: z.string().optional(), connection: z.string().optional(),
  openedAt: z.string(), lastAt: z.string(), events: z.number(), truncated: z.boolean(), decisions: z.array(z.string()),
});
const eventSchema = z.looseObject({ seq: z.number(), at: z.string(), type: z.string(), user: z.string().optional(), agent: z.string().optional(), data: z.record(z.string(), z.unknown()) });

/**
 * `sessions_list`: the recorded sessions the caller may see, decided by policy (`session.view`)
 * exactly as the admin API does (src/enforce/session-view.ts): its own, all for an admin, and
 * whatever a policy file grants (an auditor group).
 */
export const sessionsListTool = defineTool({
  name: 'sessions_list',
  title: 'List recorded sessions',
  description: 'Lists the recorded sessions you may see (newest first): your own sessions (this MCP session, your PostgreSQL and HTTP sessions), '
    + 'those the gateway policy lets you audit, or everyone\'s if you are a gateway admin. Each session is a tamper-evident record of requests, '
    + 'decisions and (masked) responses. When "next_before" is returned, pass it as "before" to go on.',
  input: z.object({
    connection: z.string().max(63).optional(),
    decision: z.enum(['allow', 'deny', 'review']).optional().describe('Only sessions in which a decision had this effect'),
    before: z.string().max(40).optional().describe('Only sessions opened before this time (ISO 8601, or a duration ago such as "24h"): the next_before of a previous call'),
    limit: z.number().int().min(1).max(200).default(50),
  }),
  output: envelope({ sessions: z.array(sessionSchema), next_before: z.string().optional() }),
  annotations: { readOnlyHint: true, openWorldHint: false },
  run: async (env, args) => {
    let before: number | undefined;
    try {
      before = args.before === undefined ? undefined : parseTimeFilter(args.before, env.svc.clock.now(), 'before');
    } catch (err) {
      if (isGatehouseError(err)) return { kind: 'error', code: err.code, reason: err.detail };
      throw err;
    }
    const f: SessionFilter = {
      limit: args.limit, ...(args.connection === undefined ? {} : { connection: args.connection }),
      ...(args.decision === undefined ? {} : { decision: args.decision }), ...(before === undefined ? {} : { before }),
    };
    await env.svc.recorder.settled?.();
    const page = await visibleSessions(env.svc, env.svc.sessions, env.caller.principal, f);
    const items = page.items;
    const lines = items.map((s) => `${s.id} ${s.protocol} ${s.user ?? ''}${s.agent ? ` via ${s.agent}` : ''} ${s.openedAt} (${s.events} events)`);
    if (page.next_before !== undefined) lines.push(`(more may be older: call again with before=${page.next_before})`);
    const text = lines.length === 0 ? 'No sessions.' : lines.join('\n');
    return { kind: 'ok', data: { sessions: items, ...(page.next_before === undefined ? {} : { next_before: page.next_before }) }, text };
  },
});

/** `session_get`: one session with a page of its events. */
export const sessionGetTool = defineTool({
  name: 'session_get',
  title: 'Get a recorded session',
  description: 'Shows one recorded session and a page of its events in order (requests, decisions with their reasons, reviews, masked responses, errors; a database statement is one event with its text, decision and result). '
    + 'Page on with "after" = the last seq you got. You see your own sessions, those the gateway policy lets you audit; admins see all.',
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
    if (!s || !await maySeeSession(env.svc, env.caller.principal, s)) return { kind: 'error', code: 'not_found', reason: `no session ${args.session_id} that you may see` };
    const events = (await env.svc.sessions.events(s.id, { afterSeq: args.after, limit: args.limit }))
      .map((e) => ({ seq: e.seq, at: e.at, type: e.type, data: e.data, ...(e.user === undefined ? {} : { user: e.user }), ...(e.agent === undefined ? {} : { agent: e.agent }) }));
    const last = events[events.length - 1];
    const text = [`session ${s.id} (${s.protocol}), ${s.events} events`, ...events.map((e) => `#${e.seq} ${e.at} ${e.type} ${eventLine(e)}`)].join('\n');
    return { kind: 'ok', data: { session: s, events, ...(last ? { next: last.seq } : {}) }, text };
  },
});

/**
 * One event in the text answer: its data as JSON (cut at 300 characters); a PostgreSQL statement
 * record (request, decision and result in one event) as its text → decision → result, and its
 * parameters, so that the statement is never cut off behind its rows; an HTTP exchange record as
 * its method and endpoint → prompt → decision → status → response text.
 */
function eventLine(e: Pick<StoredEvent, 'type' | 'data'>): string {
  if (e.type === 'exchange') return summarize(e, 300);
  if (e.type !== 'statement') return JSON.stringify(e.data).slice(0, 300);
  const params = Array.isArray(e.data.params) ? ` params ${JSON.stringify(e.data.params).slice(0, 200)}` : '';
  return `${summarize(e, 300)}${params}`;
}
