/** One message of a conversation as the model sees it: its role and its text. */
export interface WireMessage {
  readonly role: string;
  readonly content: string;
}

/** What the model does next: call a tool with arguments, or answer in text. */
export type Plan =
  | { readonly kind: 'tool'; readonly name: string; readonly args: Readonly<Record<string, unknown>> }
  | { readonly kind: 'text'; readonly text: string };

/** The SQL tool the demo agent offers. */
export const SQL_TOOL = 'run_sql';
/** Tables the script is willing to name in SQL it writes (it never copies free text into SQL). */
const KNOWN_TABLES = new Set(['customers']);
const READ_CUSTOMERS = 'SELECT id, name, email, phone, card_number, notes FROM customers ORDER BY id';

/**
 * The demo model's whole mind: from the conversation and the tools offered, the next step, the
 * same on every run. A user message asking to list customers, drop a table or delete customer N
 * becomes one `run_sql` call (when the tool is offered and `tool_choice` is not "none"); a tool
 * result becomes a short answer quoting it; anything else is answered by quoting the message
 * exactly as it arrived — which shows what the gateway let through.
 *
 * @example
 *   planNext([{ role: 'user', content: 'Delete customer 5' }], ['run_sql'])
 *   // { kind: 'tool', name: 'run_sql', args: { sql: 'DELETE FROM customers WHERE id = 5' } }
 */
export function planNext(messages: readonly WireMessage[], tools: readonly string[], toolChoice?: unknown): Plan {
  const last = messages.at(-1);
  if (last === undefined) return { kind: 'text', text: 'Hello! Ask me about your customers.' };
  if (last.role === 'tool') return answerToolResult(last.content);
  const canCall = tools.includes(SQL_TOOL) && toolChoice !== 'none';
  if (last.role === 'user' && canCall) {
    const sql = sqlFor(last.content);
    if (sql !== undefined) return { kind: 'tool', name: SQL_TOOL, args: { sql } };
  }
  return { kind: 'text', text: echo(last.content) };
}

/** The one statement a request asks for, or undefined. */
export function sqlFor(request: string): string | undefined {
  const drop = /\bdrop\s+(?:the\s+)?(?:table\s+)?([a-z_]+)(?:\s+table)?\b/i.exec(request);
  if (drop?.[1] !== undefined && KNOWN_TABLES.has(drop[1].toLowerCase())) return `DROP TABLE ${drop[1].toLowerCase()}`;
  const del = /\b(?:delete|remove)\b.*?\bcustomer\s*#?(\d{1,9})\b/i.exec(request);
  if (del?.[1] !== undefined) return `DELETE FROM customers WHERE id = ${Number(del[1])}`;
  if (/\b(?:list|show|find|look\s+up)\b.*\bcustomers?\b/i.test(request)) return READ_CUSTOMERS;
  return undefined;
}

function answerToolResult(result: string): Plan {
  if (result.startsWith('ERROR')) {
    return { kind: 'text', text: `I could not do that. The database connection answered:\n${result.slice(result.indexOf(':') + 1).trim()}` };
  }
  const [head = '', ...rest] = result.split('\n');
  const tag = head.replace(/^OK:?\s*/, '');
  if (rest.length === 0) return { kind: 'text', text: `Done: ${tag}.` };
  return { kind: 'text', text: `The database returned ${tag.replace(/^SELECT /, '')} rows:\n${rest.map(row).join('\n')}` };
}

/** A JSON row from the tool as one readable line (its values, as received). */
function row(line: string): string {
  try {
    const o: unknown = JSON.parse(line);
    if (o !== null && typeof o === 'object') return `- ${Object.values(o).map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(' | ')}`;
  } catch { /* not JSON */ }
  return `- ${line}`;
}

function echo(message: string): string {
  const quoted = `Your message reached me as: "${message}".`;
  return message.includes('[SECRET]')
    ? `${quoted} The credential in it arrived as [SECRET]: its value never reached me, so I cannot repeat or leak it.`
    : `${quoted} I can list customers, or delete a customer by number.`;
}

/** The text of a message's content: a string, or its text parts joined. */
export function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((p: unknown) => (p !== null && typeof p === 'object' && typeof (p as { text?: unknown }).text === 'string' ? (p as { text: string }).text : '')).join('');
}
