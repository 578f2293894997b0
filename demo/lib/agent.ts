import { ChatOpenAI } from '@langchain/openai';
import { tool } from '@langchain/core/tools';
import { AIMessage, HumanMessage, SystemMessage, ToolMessage, type AIMessageChunk, type BaseMessage } from '@langchain/core/messages';
import { z } from 'zod';
import pg from 'pg';
import { planNext, SQL_TOOL, textOf, type WireMessage } from './script.ts';

/** Rows the tool hands back to the model at most. */
const MAX_TOOL_ROWS = 50;
/** Tool-calling rounds per request before the agent gives up. */
const MAX_ROUNDS = 4;

/** One statement the agent ran through the gateway, and what came back. */
export interface SqlExecution {
  readonly sql: string;
  readonly ok: boolean;
  /** Command tag, e.g. "SELECT", "DELETE". */
  readonly command?: string;
  readonly rowCount?: number | null;
  readonly rows?: readonly Record<string, unknown>[];
  /** SQLSTATE and message of an error. */
  readonly code?: string;
  readonly message?: string;
}

/** What the agent reports while it works (the demo prints it as it happens). */
export type AgentEvent =
  | { readonly type: 'tool_call'; readonly sql: string }
  | { readonly type: 'tool_result'; readonly execution: SqlExecution }
  | { readonly type: 'answer'; readonly text: string };

/** Where the agent connects, and as whom. */
export interface AgentOptions {
  /** The gateway's base URL, e.g. http://127.0.0.1:8080. */
  readonly gatewayUrl: string;
  /** The gateway's PostgreSQL listener. */
  readonly postgres: { readonly host: string; readonly port: number };
  /** The agent's Gatehouse key: API key for the model, password for the database. */
  readonly key: string;
  /** Model name to ask for. */
  readonly model: string;
  /**
   * The agent's label for its model calls' recording session (`Gatehouse-Session`), so they
   * replay together; the gateway answers with the stored session's id ({@link DemoAgent.session}).
   */
  readonly session: string;
  /**
   * Decide tool calls locally with the demo script and use the model only to phrase answers
   * (with a real model, so the demo's steps stay the same on every run).
   */
  readonly scriptedTools: boolean;
}

const SYSTEM = 'You are a customer-support assistant with read access to the CRM through the run_sql tool. '
  + 'Use the tool when asked about customers. Answer briefly, quoting data exactly as the tool returned it.';

/**
 * A LangChain JS agent: `ChatOpenAI` pointed at the gateway's `/proxy/demo-llm/v1` with the
 * agent's Gatehouse key, `.bindTools([run_sql])`, and a plain tool-calling loop. `run_sql` sends
 * SQL with `pg` to the gateway's PostgreSQL listener, the same key as password, on one
 * connection (one recorded session). Errors from the database become the tool's answer, as an
 * agent framework would hand them to the model.
 *
 * @example
 *   const agent = await DemoAgent.connect({ gatewayUrl, postgres, key, model: 'gpt-4o-mini', session: 'demo-1', scriptedTools: false });
 *   const answer = await agent.ask('List our customers', (e) => console.log(e));
 *   await agent.close();
 */
export class DemoAgent {
  readonly #db: pg.Client;
  readonly #llm: ChatOpenAI;
  readonly #scripted: boolean;
  readonly #runSql;
  /** Every statement run so far, in order. */
  readonly executions: SqlExecution[] = [];
  /** Requests sent to the model so far (through the gateway). */
  modelCalls = 0;
  /** The recording session of the model calls, as the gateway returned it (undefined before the first call). */
  session: string | undefined;
  #calls = 0;

  private constructor(db: pg.Client, o: AgentOptions) {
    this.#db = db;
    this.#scripted = o.scriptedTools;
    this.#llm = new ChatOpenAI({
      model: o.model, apiKey: o.key, maxRetries: 0, temperature: 0,
      configuration: {
        baseURL: `${o.gatewayUrl}/proxy/demo-llm/v1`, defaultHeaders: { 'Gatehouse-Session': o.session },
        // The stored session id is the gateway's (the label only finds it): kept for the replay.
        fetch: async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
          const res = await fetch(input, init);
          this.session = res.headers.get('gatehouse-session') ?? this.session;
          return res;
        },
      },
    });
    this.#runSql = tool(async ({ sql }: { sql: string }) => this.#execute(sql), {
      name: SQL_TOOL,
      description: 'Run one SQL statement on the CRM database (PostgreSQL) and return the result.',
      schema: z.object({ sql: z.string().describe('One SQL statement') }),
    });
  }

  /** Connects the agent's database session through the gateway. */
  static async connect(o: AgentOptions): Promise<DemoAgent> {
    const db = new pg.Client({ host: o.postgres.host, port: o.postgres.port, user: 'alice', password: o.key, database: 'crm', application_name: 'gatehouse-demo-agent' });
    db.on('error', () => undefined);
    await db.connect();
    return new DemoAgent(db, o);
  }

  /** One user request: model → tool calls → model …, until the model answers in text. */
  async ask(request: string, onEvent: (e: AgentEvent) => void): Promise<string> {
    const messages: BaseMessage[] = [new SystemMessage(SYSTEM), new HumanMessage(request)];
    const llm = this.#llm.bindTools([this.#runSql]);
    const phraseOnly = this.#llm.bindTools([this.#runSql], { tool_choice: 'none' });
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const planned = this.#scripted ? this.#plan(messages) : undefined;
      let ai: AIMessage | AIMessageChunk;
      if (planned) ai = planned;
      else {
        this.modelCalls++;
        ai = await (this.#scripted ? phraseOnly : llm).invoke(messages);
      }
      messages.push(ai);
      const calls = ai.tool_calls ?? [];
      if (calls.length === 0) {
        const text = textOf(ai.content);
        onEvent({ type: 'answer', text });
        return text;
      }
      for (const call of calls) {
        const sql = typeof call.args.sql === 'string' ? call.args.sql : '';
        onEvent({ type: 'tool_call', sql });
        const result: unknown = await this.#runSql.invoke({ ...call, type: 'tool_call' });
        messages.push(result instanceof ToolMessage ? result : new ToolMessage({ content: String(result), tool_call_id: call.id ?? '' }));
        const last = this.executions.at(-1);
        if (last) onEvent({ type: 'tool_result', execution: last });
      }
    }
    throw new Error(`the agent made more than ${MAX_ROUNDS} tool-calling rounds`);
  }

  async close(): Promise<void> {
    await this.#db.end();
  }

  /** The demo script's tool call for this conversation, as the model's message (scriptedTools). */
  #plan(messages: readonly BaseMessage[]): AIMessage | undefined {
    const plan = planNext(messages.map(toWire), [SQL_TOOL]);
    if (plan.kind !== 'tool') return undefined;
    this.#calls++;
    return new AIMessage({ content: '', tool_calls: [{ id: `call_script_${this.#calls}`, name: plan.name, args: { ...plan.args }, type: 'tool_call' }] });
  }

  async #execute(sql: string): Promise<string> {
    try {
      const r = await this.#db.query<Record<string, unknown>>(sql);
      const rows = r.rows.slice(0, MAX_TOOL_ROWS);
      this.executions.push({ sql, ok: true, command: r.command, rowCount: r.rowCount, rows });
      const head = `OK: ${r.command} ${r.rowCount ?? 0}`;
      return r.command === 'SELECT' ? `${head}\n${rows.map((x) => JSON.stringify(x)).join('\n')}` : head;
    } catch (err) {
      const e = err as { code?: unknown; message?: unknown };
      const code = typeof e.code === 'string' ? e.code : 'XX000';
      const message = typeof e.message === 'string' ? e.message : String(err);
      this.executions.push({ sql, ok: false, code, message });
      return `ERROR ${code}: ${message}`;
    }
  }
}

function toWire(m: BaseMessage): WireMessage {
  const role = m.type === 'human' ? 'user' : m.type === 'ai' ? 'assistant' : m.type;
  return { role, content: textOf(m.content) };
}
