/**
 * A LangChain JS agent whose model calls and SQL both go through Gatehouse. The only differences
 * from an agent without Gatehouse: the model's base URL and the database address point at the
 * gateway, and the agent holds one Gatehouse key instead of the OpenAI key and a database password.
 *
 *   GATEHOUSE_KEY=ghk_… npx node examples/langchain-js/agent.ts "List the customers in Berlin"
 *
 * Environment (defaults in brackets):
 *   GATEHOUSE_KEY             the agent's Gatehouse API key (required; `gatehouse keys create …`)
 *   GATEHOUSE_URL             the gateway [http://127.0.0.1:8080]
 *   GATEHOUSE_LLM_CONNECTION  the llm connection to call [openai]
 *   GATEHOUSE_MODEL           the model name [gpt-4o-mini]
 *   GATEHOUSE_PG_HOST / GATEHOUSE_PG_PORT   the gateway's PostgreSQL listener [127.0.0.1 / 15432]
 *   GATEHOUSE_PG_DATABASE     the postgres connection to query [app]
 */
import { ChatOpenAI } from '@langchain/openai';
import { tool } from '@langchain/core/tools';
import { HumanMessage, SystemMessage, ToolMessage, type BaseMessage } from '@langchain/core/messages';
import { z } from 'zod';
import pg from 'pg';

const env = process.env;
const key = env.GATEHOUSE_KEY;
if (key === undefined || key === '') {
  process.stderr.write('set GATEHOUSE_KEY to the agent\'s Gatehouse key (gatehouse keys create --user <you> --agent <name>)\n');
  process.exit(2);
}
const gateway = (env.GATEHOUSE_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
const question = process.argv.slice(2).join(' ') || 'List our customers.';

// The database: the gateway's PostgreSQL listener; the database name selects the connection and
// the password is the Gatehouse key. Statements are authorized one by one; rows come back masked.
const db = new pg.Client({
  host: env.GATEHOUSE_PG_HOST ?? '127.0.0.1',
  port: Number(env.GATEHOUSE_PG_PORT ?? 15432),
  database: env.GATEHOUSE_PG_DATABASE ?? 'app',
  user: 'agent',
  password: key,
});

const runSql = tool(async ({ sql }: { sql: string }): Promise<string> => {
  try {
    const r = await db.query<Record<string, unknown>>(sql);
    const rows = r.rows.slice(0, 50).map((row) => JSON.stringify(row));
    process.stdout.write(`  [run_sql] ${sql}\n  [result] ${r.command} ${r.rowCount ?? 0}${rows.length > 0 ? `\n    ${rows.join('\n    ')}` : ''}\n`);
    return [`${r.command} ${r.rowCount ?? 0}`, ...rows].join('\n');
  } catch (err) {
    // A policy denial arrives as SQLSTATE 42501 naming the policy; a held write as 42501 naming
    // the review to approve. The model sees the reason and can tell the user.
    const e = err as { code?: string; message?: string };
    process.stdout.write(`  [run_sql] ${sql}\n  [error]  ${e.code ?? ''} ${e.message ?? String(err)}\n`);
    return `ERROR ${e.code ?? ''}: ${e.message ?? String(err)}`;
  }
}, {
  name: 'run_sql',
  description: 'Run one SQL statement on the company database (PostgreSQL) and return the rows.',
  schema: z.object({ sql: z.string().describe('One SQL statement') }),
});

// The model: the OpenAI wire format through /proxy/<connection>/v1, with the Gatehouse key. The
// gateway checks policy, redacts secrets and personal data from the prompt, injects the real
// OpenAI key (which this process never sees), masks the answer and records the exchange.
const llm = new ChatOpenAI({
  model: env.GATEHOUSE_MODEL ?? 'gpt-4o-mini',
  apiKey: key,
  configuration: { baseURL: `${gateway}/proxy/${env.GATEHOUSE_LLM_CONNECTION ?? 'openai'}/v1` },
  maxRetries: 1,
}).bindTools([runSql]);

await db.connect();
try {
  const messages: BaseMessage[] = [
    new SystemMessage('You answer questions about the company database using the run_sql tool (PostgreSQL). Be brief.'),
    new HumanMessage(question),
  ];
  process.stdout.write(`question: ${question}\n`);
  for (let round = 0; round < 6; round++) {
    const ai = await llm.invoke(messages);
    messages.push(ai);
    if (!ai.tool_calls || ai.tool_calls.length === 0) {
      process.stdout.write(`answer: ${typeof ai.content === 'string' ? ai.content : JSON.stringify(ai.content)}\n`);
      break;
    }
    for (const call of ai.tool_calls) {
      const result: unknown = await runSql.invoke({ ...call, type: 'tool_call' });
      messages.push(result instanceof ToolMessage ? result : new ToolMessage({ content: String(result), tool_call_id: call.id ?? '' }));
    }
  }
} finally {
  await db.end();
}
