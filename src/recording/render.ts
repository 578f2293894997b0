import type { StoredEvent } from './types.ts';

/** Most characters of one event's body shown by replay and asciicast export. */
export const MAX_BODY_CHARS = 4000;
const TEXT_FIELDS = ['statement', 'prompt', 'completion', 'text', 'content', 'message', 'result', 'tool'] as const;

/**
 * Makes recorded text safe for a terminal: control characters other than newline and tab
 * (ANSI escapes, carriage returns, bells) become visible `\xNN` / `\uNNNN` text, so a recorded
 * payload can never drive the investigator's terminal.
 *
 * @example safeText('a\u001b[2Jb') === 'a\\x1b[2Jb'
 */
export function safeText(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    const n = c.charCodeAt(0);
    return n < 0x100 ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
  });
}

/** The main text of an event's data (statement, prompt, completion, …), if it has one. */
function mainText(data: Readonly<Record<string, unknown>>): string | undefined {
  for (const k of TEXT_FIELDS) {
    const v = data[k];
    if (typeof v === 'string') return v;
  }
  return undefined;
}

/**
 * One line describing an event (CSV `summary`, listings): its main text, or the decision and
 * reasons, or the row count, or compact JSON; newlines folded, at most `max` characters.
 *
 * @example summarize({ type: 'decision', data: { effect: 'deny', reasons: ['no-writes'] } }) === 'deny: no-writes'
 */
export function summarize(e: Pick<StoredEvent, 'type' | 'data'>, max = 200): string {
  const d = e.data;
  let s: string;
  if (e.type === 'decision' && typeof (d.effect ?? d.decision) === 'string') {
    s = decisionText(d);
  } else if (e.type === 'statement') {
    const decision = typeof d.effect === 'string' ? decisionText(d) : undefined;
    s = [requestText(d), decision, outcomeText(d)].filter((x) => x !== undefined).join(' → ');
  } else if (e.type === 'exchange') {
    const decision = typeof d.effect === 'string' ? decisionText(d) : undefined;
    const prompt = typeof d.prompt === 'string' ? d.prompt : undefined;
    const text = typeof d.text === 'string' && d.text !== '' ? d.text : undefined;
    s = [`${scalar(d.method)} ${scalar(d.endpoint)}`, prompt, decision, exchangeOutcome(d), text].filter((x) => x !== undefined).join(' → ');
  } else if (e.type === 'truncated') {
    s = `truncated (${scalar(d.reason)}${typeof d.dropped === 'number' ? `, ${d.dropped} dropped` : ''})`;
  } else {
    const text = mainText(d);
    if (text !== undefined) s = text;
    else if (typeof d.method === 'string') s = `${d.method} ${scalar(d.path)}`;
    else if (typeof d.rows === 'number') s = `${d.rows} rows`;
    else s = JSON.stringify(d);
  }
  const one = safeText(s.replace(/\s+/g, ' ').trim());
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

/**
 * An event as terminal lines: a header with its offset from the session start, seq, type and
 * principal, then its body (main text, or JSON) indented, bounded and made terminal-safe.
 *
 * @example renderEvent(e, startMs) // "[+1.250s] #3 response (exchange 1) alice/bot\n  hello"
 */
export function renderEvent(e: StoredEvent, startMs: number): string {
  const offset = ((Date.parse(e.at) - startMs) / 1000).toFixed(3);
  const who = [e.user, e.agent].filter((x) => x !== undefined).join('/');
  // HTTP/MCP events carry their exchange's number: concurrent exchanges of a session interleave.
  const exchange = Number.isSafeInteger(e.data.exchange) ? ` (exchange ${String(e.data.exchange)})` : '';
  const head = `[+${offset}s] #${e.seq} ${e.type}${exchange}${who ? ` ${safeText(who)}` : ''}`;
  const text = e.type === 'decision' || e.type === 'truncated' ? summarize(e, MAX_BODY_CHARS)
    : e.type === 'statement' ? statementText(e.data) : e.type === 'exchange' ? exchangeText(e.data)
      : mainText(e.data) ?? resultTable(e.data) ?? JSON.stringify(e.data);
  const bounded = text.length > MAX_BODY_CHARS ? `${text.slice(0, MAX_BODY_CHARS)}… (${text.length - MAX_BODY_CHARS} more characters)` : text;
  const body = safeText(bounded).split('\n').map((l) => `  ${l}`).join('\n');
  return bounded.length > 0 && bounded !== '{}' ? `${head}\n${body}` : head;
}

/** `effect: reason, reason` of a decision (or of a statement's decision). */
function decisionText(d: Readonly<Record<string, unknown>>): string {
  const reasons = Array.isArray(d.reasons) ? d.reasons.map(String).join(', ') : '';
  return `${scalar(d.effect ?? d.decision)}${reasons ? `: ${reasons}` : ''}`;
}

/** An HTTP exchange record's outcome in one line: its status, or the gateway's error code; undefined without one. */
function exchangeOutcome(d: Readonly<Record<string, unknown>>): string | undefined {
  if (typeof d.code === 'string') return `error ${d.code}`;
  return typeof d.status === 'number' ? `${d.status}${d.truncated === true ? ' (text truncated)' : ''}` : undefined;
}

/**
 * An HTTP `exchange` record (request, decision, review, response in one event) as lines: the
 * method and endpoint, the prompt, `decision: …`, the review, the outcome, then the response text.
 */
function exchangeText(d: Readonly<Record<string, unknown>>): string {
  const lines = [`${scalar(d.method)} ${scalar(d.endpoint)}`];
  if (typeof d.prompt === 'string') lines.push(d.prompt);
  if (typeof d.effect === 'string') lines.push(`decision: ${decisionText(d)}`);
  if (typeof d.review_id === 'string') lines.push(`review: ${d.review_id}`);
  const outcome = exchangeOutcome(d);
  if (outcome !== undefined) lines.push(outcome);
  if (typeof d.text === 'string' && d.text !== '') lines.push(d.text);
  return lines.join('\n');
}

/** A PostgreSQL statement record's request: its text, or the prepared statement a Bind ran. */
function requestText(d: Readonly<Record<string, unknown>>): string {
  return typeof d.statement === 'string' ? d.statement : `${scalar(d.message) || 'statement'} ${JSON.stringify(scalar(d.name))}`;
}

/** A PostgreSQL statement record's outcome in one line: the error's SQLSTATE, or tag and rows; undefined without one. */
function outcomeText(d: Readonly<Record<string, unknown>>): string | undefined {
  if ('error' in d) return `error ${scalar(d.error) || '(no SQLSTATE)'}`;
  if (typeof d.rows !== 'number') return undefined;
  return `${scalar(d.tag) || 'result'} (${d.rows} rows, ${scalar(d.ms)} ms)`;
}

/**
 * A PostgreSQL `statement` record (one statement exchange: request, decision, result) as lines:
 * the statement (or the Bind's statement name), its parameters, `decision: …`, then its result
 * (tag line and rows as {@link resultTable}) or its error.
 */
function statementText(d: Readonly<Record<string, unknown>>): string {
  const lines = [requestText(d)];
  if (d.local === true) lines.push('(handled by the gateway)');
  if (Array.isArray(d.params)) lines.push(`params: ${JSON.stringify(d.params)}${typeof d.portal === 'string' && d.portal !== '' ? ` (portal ${JSON.stringify(d.portal)})` : ''}`);
  if (typeof d.effect === 'string') lines.push(`decision: ${decisionText(d)}`);
  const table = 'error' in d ? undefined : resultTable(d);
  const outcome = table ?? outcomeText(d);
  if (outcome !== undefined) lines.push(outcome);
  return lines.join('\n');
}

/**
 * A PostgreSQL result as recorded (`tag`, `rows`, `ms`, and the first rows as sent: `columns`,
 * `sample`): the tag line, then the rows as `a | b` lines under their column names.
 */
function resultTable(d: Readonly<Record<string, unknown>>): string | undefined {
  if (!Array.isArray(d.sample)) return undefined;
  const cell = (v: unknown): string => (v === null ? 'NULL' : (typeof v === 'string' ? v : JSON.stringify(v)).replace(/\s+/g, ' '));
  const lines = [`${scalar(d.tag) || 'result'} (${scalar(d.rows)} rows, ${scalar(d.ms)} ms)`];
  if (Array.isArray(d.columns)) lines.push((d.columns as unknown[]).map(cell).join(' | '));
  for (const row of d.sample as unknown[]) if (Array.isArray(row)) lines.push(row.map(cell).join(' | '));
  if (d.sample_truncated === true) lines.push(`… (first ${d.sample.length} rows recorded)`);
  return lines.join('\n');
}

function scalar(v: unknown): string {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : '';
}
