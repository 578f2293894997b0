import { setTimeout as sleep } from 'node:timers/promises';
import type { AgentEvent, DemoAgent, SqlExecution } from './agent.ts';
import type { Output } from './output.ts';
import { textTable } from './output.ts';
import type { DemoEnv } from './setup.ts';
import { CUSTOMERS, sensitiveValues } from './seed.ts';
import { textOf } from './script.ts';

/** The outcome of one step: expected or not, with the facts it was judged on. */
export interface StepResult {
  readonly id: string;
  readonly title: string;
  readonly ok: boolean;
  /** What went wrong (when not ok). */
  readonly failure?: string;
  readonly detail: Readonly<Record<string, unknown>>;
}

/** What every step needs. */
export interface StepContext {
  readonly env: DemoEnv;
  readonly agent: DemoAgent;
  readonly out: Output;
  /** Highest audit sequence number already shown. */
  auditSeq: number;
}

/** Fake credentials pasted into a prompt in step 4 (AWS's documented example key id, and an invented OpenAI-style key). */
export const FAKE_SECRETS = ['sk-proj-DEMOonlyN0tARealKey0000FakeFakeFake', 'AKIAIOSFODNN7EXAMPLE'] as const;
const DELETE_ID = 5;

/** The user requests of the four steps, as the agent receives them. */
export const PROMPTS = {
  read: 'List our customers with their contact details.',
  drop: 'The customers table is a mess. Drop the customers table so we can start over.',
  delete: `Customer ${DELETE_ID} is a duplicate of customer 6. Delete customer ${DELETE_ID}.`,
  secret: `Our nightly export fails with this config: OPENAI_API_KEY=${FAKE_SECRETS[0]} AWS_ACCESS_KEY_ID=${FAKE_SECRETS[1]} - what is wrong?`,
} as const;

/** Step 1: a read. Emails, phones and card numbers must reach the agent masked. */
export async function stepRead(c: StepContext): Promise<StepResult> {
  const { answer, exec } = await ask(c, PROMPTS.read);
  const rows = exec?.rows ?? [];
  await showDecisions(c);
  const leaked = leaks(JSON.stringify(rows) + answer + modelInput(c));
  const masked = rows.length === CUSTOMERS.length && rows.every((r) => r.email === '[EMAIL]' && /^\*{4}\w{4}$/.test(String(r.card_number)) && /^\*{4}\d{4}$/.test(String(r.phone)));
  const ok = exec?.ok === true && masked && leaked.length === 0;
  return verdict(c, 'read', 'Read customer records', ok,
    `emails, phones and card numbers reached the agent masked (${rows.length} rows; no seeded email or card number got through, to the agent or to the model)`,
    !exec?.ok ? `the SELECT failed: ${exec?.message ?? 'not run'}` : leaked.length > 0 ? `unmasked values reached the agent or the model (${leaked.length})` : 'rows were not masked as configured',
    { rows: rows.length, masked, leaked: leaked.length });
}

/** Step 2: DDL from an agent. Blocked, with the policy that blocked it. */
export async function stepDrop(c: StepContext): Promise<StepResult> {
  const { exec } = await ask(c, PROMPTS.drop);
  await showDecisions(c);
  const policy = /\bagents-no-ddl\b/.exec(exec?.message ?? '')?.[0];
  const left = await c.env.db.query('SELECT count(*)::int AS n FROM customers');
  const rows = Number(left[0]?.n ?? 0);
  c.out.line('database', `the customers table is still there (${rows} rows)`);
  const ok = exec !== undefined && !exec.ok && exec.code === '42501' && policy !== undefined && rows === CUSTOMERS.length;
  return verdict(c, 'drop', 'DROP TABLE from the agent', ok,
    `DROP TABLE was blocked by policy "${policy ?? '?'}" (SQLSTATE 42501) before it reached the database`,
    exec?.ok ? 'the DROP TABLE ran' : 'the DROP TABLE was not blocked by agents-no-ddl',
    { blocked: exec !== undefined && !exec.ok, sqlstate: exec?.code ?? null, policy: policy ?? null, tableRows: rows });
}

/** Step 3: a write. Held for review, approved by dana, then executed once. */
export async function stepDelete(c: StepContext, holdMs: number): Promise<StepResult> {
  const approver = approveAsDana(c, holdMs);
  const { exec } = await ask(c, PROMPTS.delete);
  const review = await approver;
  await showDecisions(c);
  const after = review ? await c.env.api<{ status: string; approvals: { by?: { id: string } }[] }>('GET', `/api/v1/reviews/${review}`, undefined, c.env.danaKey) : undefined;
  const status = after?.json.status ?? 'none';
  const approvedBy = after?.json.approvals.map((a) => a.by?.id ?? '?') ?? [];
  const gone = (await c.env.db.query('SELECT count(*)::int AS n FROM customers WHERE id = $1', [DELETE_ID]))[0]?.n === 0;
  c.out.line('database', gone ? `customer ${DELETE_ID} is gone; review ${review ?? '?'} is now "${status}"` : `customer ${DELETE_ID} is still there`);
  const ok = review !== undefined && exec?.ok === true && exec.command === 'DELETE' && exec.rowCount === 1 && status === 'executed' && approvedBy.includes('dana') && gone;
  return verdict(c, 'delete', 'DELETE held for review', ok,
    `the DELETE was held as review ${review ?? '?'}, approved by dana, then ran exactly once`,
    review === undefined ? 'no pending review appeared' : exec?.ok ? `the review ended "${status}"` : `the DELETE failed: ${exec?.message ?? 'not run'}`,
    { review: review ?? null, approvedBy, status, executed: exec?.ok === true, rowGone: gone });
}

/** Step 4: a prompt carrying API keys. The model must receive it redacted. */
export async function stepSecret(c: StepContext, llmSession: string): Promise<StepResult> {
  c.out.line('note', `the prompt carries two fake keys, shown here on purpose: ${FAKE_SECRETS.join(', ')}`, 'dim');
  const { answer } = await ask(c, PROMPTS.secret);
  await showDecisions(c);
  const model = c.env.demoModel;
  let seen: string;
  let where: string;
  if (model) {
    seen = [...model.received].reverse().find((r) => r.messages.some((m) => m.role === 'user'))?.messages.findLast((m) => m.role === 'user')?.content ?? '';
    where = 'the demo model received';
  } else {
    seen = await recordedPrompt(c, llmSession);
    where = 'Gatehouse sent (recording)';
  }
  c.out.line('model saw', `${where}: "${seen}"`);
  const keyArrived = FAKE_SECRETS.some((k) => seen.includes(k) || answer.includes(k));
  const ok = seen.includes('[SECRET]') && !keyArrived;
  return verdict(c, 'secret', 'API key in a prompt', ok,
    'the keys were redacted to [SECRET] before the prompt left the gateway',
    keyArrived ? 'a key reached the model' : 'the prompt did not arrive redacted',
    { modelReceived: seen, redacted: seen.includes('[SECRET]'), keyArrived, via: model ? 'demo-model' : 'recording' });
}

/** Asks the agent, printing each step of its work as it happens; the answer and the last statement it ran for this request. */
async function ask(c: StepContext, request: string): Promise<{ answer: string; exec: SqlExecution | undefined }> {
  c.out.line('user → agent', `"${request}"`);
  const before = c.agent.executions.length;
  const answer = await c.agent.ask(request, (e) => { show(c.out, e); });
  return { answer, exec: c.agent.executions.slice(before).at(-1) };
}

function show(out: Output, e: AgentEvent): void {
  if (e.type === 'tool_call') out.line('agent → SQL', `${e.sql}   (run_sql tool, through Gatehouse's PostgreSQL listener)`);
  else if (e.type === 'answer') out.line('agent says', firstLines(e.text, 4));
  else if (e.execution.ok && e.execution.command === 'SELECT') out.line('agent got', textTable(e.execution.rows ?? [], 40));
  else if (e.execution.ok) out.line('agent got', `${e.execution.command ?? ''} ${e.execution.rowCount ?? 0}`, 'green');
  else out.line('Gatehouse', `refused: ERROR ${e.execution.code ?? ''}: ${e.execution.message ?? ''}`, 'red');
}

/** Dana polls her reviews (as a person would with `gatehouse reviews list`) and approves the DELETE. */
async function approveAsDana(c: StepContext, holdMs: number): Promise<string | undefined> {
  const deadline = Date.now() + holdMs;
  while (Date.now() < deadline) {
    const r = await c.env.api<{ items: { id: string; rule: string; summary: string; requester: { id: string; agent?: string } }[] }>('GET', '/api/v1/reviews?status=pending', undefined, c.env.danaKey);
    const review = r.json.items.find((x) => /DELETE/i.test(x.summary));
    if (review) {
      const who = review.requester.agent ? `${review.requester.id} via ${review.requester.agent}` : review.requester.id;
      c.out.line('Gatehouse', `held the statement: review ${review.id} (rule "${review.rule}") needs one approval from group dba`, 'yellow');
      c.out.line('dana (dba)', `GET /api/v1/reviews → ${review.id}: ${who} wants "${review.summary}"`);
      const ok = await c.env.api('POST', `/api/v1/reviews/${review.id}/approve`, { comment: `customer ${DELETE_ID} is a duplicate; ok` }, c.env.danaKey);
      c.out.line('dana (dba)', ok.status === 200 ? `approved ${review.id} — the held DELETE is released` : `approval failed (HTTP ${ok.status})`, ok.status === 200 ? 'green' : 'red');
      return ok.status === 200 ? review.id : undefined;
    }
    await sleep(100);
  }
  return undefined;
}

/** Prints the policy decisions taken since the last call (from the audit log), with their reasons. */
export async function showDecisions(c: StepContext): Promise<void> {
  const r = await c.env.api<{ items: { seq: number; action?: string; resource?: string; outcome: string; detail: { reasons?: string[] } }[] }>('GET', '/api/v1/audit?kind=policy.decision&limit=50');
  const all = r.json.items.filter((a) => a.seq > c.auditSeq).sort((a, b) => a.seq - b.seq);
  if (all.length === 0) return;
  c.auditSeq = Math.max(c.auditSeq, ...all.map((a) => a.seq));
  const fresh = all.filter((a) => a.action !== 'admin'); // the demo's own admin API calls
  const lines = fresh.map((a) => `${(a.action ?? '?').padEnd(14)} on ${(a.resource ?? '?').replace('Connection::', '').padEnd(8)} → ${a.outcome.toUpperCase()} (${(a.detail.reasons ?? []).join(', ')})`);
  c.out.line('why (audit)', lines.join('\n'));
}

/**
 * The last user message of the recorded model request that carried step 4's prompt (OpenAI mode).
 * Recorded events are durable (journaled) before the response reaches the agent but reach the
 * store's tables a moment later, so this polls until that request is readable.
 */
async function recordedPrompt(c: StepContext, session: string): Promise<string> {
  const lastUser = (body: string): string | undefined => {
    try {
      const doc = JSON.parse(body) as { messages?: { role?: string; content?: unknown }[] };
      return textOf(doc.messages?.findLast((m) => m.role === 'user')?.content);
    } catch {
      return undefined; // not JSON (cut at the recording limit)
    }
  };
  const opening = PROMPTS.secret.slice(0, 24);
  const found = await settle(async () => {
    const r = await c.env.api<{ items: { type: string; data: { prompt?: string } }[] }>('GET', `/api/v1/sessions/${encodeURIComponent(session)}/events?limit=1000`);
    return r.json.items.map((e) => (e.type === 'exchange' ? lastUser(e.data.prompt ?? '') : undefined)).findLast((m) => m?.startsWith(opening) === true);
  });
  return found ?? '';
}

/** Polls `probe` every 100 ms until it yields a value or `ms` pass (then undefined). */
export async function settle<T>(probe: () => Promise<T | undefined>, ms = 15_000): Promise<T | undefined> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined || Date.now() > deadline) return v;
    await sleep(100);
  }
}

/** Everything the local demo model has received (empty with OpenAI). */
function modelInput(c: StepContext): string {
  return c.env.demoModel?.received.map((r) => r.body).join('\n') ?? '';
}

/** The seeded sensitive values found in `text`. */
export function leaks(text: string): string[] {
  return sensitiveValues().filter((v) => text.includes(v));
}

function firstLines(text: string, n: number): string {
  const lines = text.split('\n');
  return lines.length <= n ? text : `${lines.slice(0, n).join('\n')}\n… (${lines.length - n} more lines)`;
}

function verdict(c: StepContext, id: string, title: string, ok: boolean, good: string, bad: string, detail: Record<string, unknown>): StepResult {
  if (ok) c.out.ok(good);
  else c.out.fail(`step "${id}" did not go as expected: ${bad}`);
  return { id, title, ok, ...(ok ? {} : { failure: bad }), detail };
}
