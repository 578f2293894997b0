import { setTimeout as sleep } from 'node:timers/promises';
import { runCli } from '../../src/cli/main.ts';
import { replay } from '../../src/recording/replay.ts';
import type { StoredEvent } from '../../src/recording/types.ts';
import { textOf } from './script.ts';
import { settle, type StepContext, type StepResult } from './steps.ts';

interface SessionRow { id: string; protocol: string; connection?: string; events: number; closedAt?: string }

/**
 * The finale: finds the agent's two recorded sessions (its PostgreSQL connection and its model
 * calls) through the admin API and replays them — the database session with the real CLI command
 * (`gatehouse sessions replay <id>`, run in-process with GATEHOUSE_URL/GATEHOUSE_TOKEN), the model
 * calls with the same replay and rendering (src/recording/replay.ts), each request shown by its
 * last message — then verifies both hash chains. Everything shown is what was recorded: masked.
 *
 * @example const r = await stepReplay(ctx, 'demo-1234', 1000);
 */
export async function stepReplay(c: StepContext, llmSession: string, speed: number): Promise<StepResult> {
  // Recorded events are durable before each response reaches the agent, and land in the store's
  // tables a moment later: wait until both sessions are complete there (the database session
  // closed, every model call's exchange event present).
  const complete = 1 + c.agent.modelCalls;
  const listed = await settle(async () => {
    const list = await c.env.api<{ items: SessionRow[] }>('GET', '/api/v1/sessions?user=alice&limit=20');
    const s = list.json.items.find((x) => x.connection === 'crm');
    const l = list.json.items.find((x) => x.id === llmSession);
    return s?.closedAt !== undefined && l !== undefined && l.events >= complete ? { sql: s, llm: l } : undefined;
  });
  const list = await c.env.api<{ items: SessionRow[] }>('GET', '/api/v1/sessions?user=alice&limit=20');
  const sql = listed?.sql ?? list.json.items.find((s) => s.connection === 'crm');
  const llm = listed?.llm ?? list.json.items.find((s) => s.id === llmSession);
  let replayed = 0;
  let intact = 0;
  let deniedShown = false;
  if (sql) {
    c.out.line('replay', `gatehouse sessions replay ${sql.id}   (the agent's database session)`);
    const before = c.out.transcript().length;
    const code = await runCli(['sessions', 'replay', sql.id, '--speed', String(speed)], {
      env: { GATEHOUSE_URL: c.env.gw.http.url, GATEHOUSE_TOKEN: c.env.adminKey, GATEHOUSE_CONFIG: '' },
      cwd: c.env.stateDir,
      out: (text: string) => { indent(c, text); },
      err: (text: string) => { c.out.raw(`    ${c.out.tone('red', text)}`); },
    });
    if (code === 0) replayed++;
    deniedShown = /deny: agents-no-ddl/.test(c.out.transcript().slice(before));
    if (await verified(c, sql.id)) intact++;
  }
  if (llm) {
    c.out.line('replay', `the agent's model calls, session ${llm.id}\n(each request shown by its last message; all of it: gatehouse sessions export ${llm.id})`);
    await replay(digest(c, llm.id), { speed, write: (text) => { indent(c, text); }, sleep: (ms) => sleep(ms) });
    replayed++;
    if (await verified(c, llm.id)) intact++;
  }
  const found = (sql ? 1 : 0) + (llm ? 1 : 0);
  const ok = found === 2 && replayed === 2 && intact === 2 && deniedShown;
  const bad = found < 2 ? `found ${found} of the 2 sessions` : replayed < 2 ? 'the replay command failed' : intact < 2 ? 'a hash chain did not verify' : 'the replay did not show the blocked DROP';
  if (ok) c.out.ok('both sessions replayed from the recording, masked, the blocked DROP with its policy; hash chains intact');
  else c.out.fail(`step "replay" did not go as expected: ${bad}`);
  return {
    id: 'replay', title: 'Replay the recorded sessions', ok, ...(ok ? {} : { failure: bad }),
    detail: { sessions: [sql?.id ?? null, llm?.id ?? null], replayed, intact, deniedShown },
  };
}

function indent(c: StepContext, text: string): void {
  for (const l of text.split('\n')) c.out.raw(`    ${l}`);
}

async function verified(c: StepContext, id: string): Promise<boolean> {
  const v = await c.env.api<{ ok: boolean; events?: number; seq?: number; reason?: string }>('GET', `/api/v1/sessions/${encodeURIComponent(id)}/verify`);
  c.out.line('verify', v.json.ok ? `hash chain intact (${v.json.events ?? 0} events)` : `NOT intact at event ${v.json.seq ?? '?'}: ${v.json.reason ?? '?'}`, v.json.ok ? 'green' : 'red');
  return v.json.ok;
}

/** The session's events (paged from the API), model calls condensed to their gist. */
async function* digest(c: StepContext, id: string): AsyncGenerator<StoredEvent> {
  let after = 0;
  for (;;) {
    const page = await c.env.api<{ items: StoredEvent[]; next?: number }>('GET', `/api/v1/sessions/${encodeURIComponent(id)}/events?after=${after}&limit=500`);
    for (const e of page.json.items) yield { ...e, data: gist(e) };
    if (page.json.items.length === 0 || page.json.next === undefined) return;
    after = page.json.next;
  }
}

/** A model call's prompt shown by its last message and its answer by the answer or tool call; other events unchanged. */
function gist(e: StoredEvent): StoredEvent['data'] {
  if (e.type !== 'exchange') return e.data;
  const prompt = typeof e.data.prompt === 'string' ? condense(e.data.prompt) : undefined;
  const text = typeof e.data.text === 'string' ? condense(e.data.text) : undefined;
  return { ...e.data, ...(prompt === undefined ? {} : { prompt }), ...(text === undefined ? {} : { text }) };
}

/** A chat request's last message, or a chat answer's content or first tool call, in one line; undefined when it is neither. */
function condense(body: string): string | undefined {
  try {
    const doc = JSON.parse(body) as { messages?: { role?: string; content?: unknown }[]; choices?: { message?: { content?: unknown; tool_calls?: { function?: { name?: string; arguments?: string } }[] } }[] };
    const last = doc.messages?.at(-1);
    if (last) return `${last.role ?? '?'}: ${textOf(last.content)}`;
    const m = doc.choices?.[0]?.message;
    const call = m?.tool_calls?.[0]?.function;
    if (call) return `assistant calls ${call.name ?? '?'} ${call.arguments ?? ''}`;
    if (typeof m?.content === 'string') return `assistant: ${m.content}`;
  } catch { /* not JSON: shown as recorded */ }
  return undefined;
}
