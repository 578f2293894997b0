import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startDemoModel, planNext, type DemoModel } from '../../demo/lib/demo-model.ts';

const KEY = 'demo-model-test-key';
const TOOLS = [{ type: 'function' as const, function: { name: 'run_sql', description: 'run SQL', parameters: { type: 'object', properties: { sql: { type: 'string' } }, required: ['sql'] } } }];

describe('the scripted demo model (demo/lib/demo-model.ts) speaks chat completions to the real OpenAI SDK', () => {
  let model: DemoModel;
  let client: OpenAI;
  before(async () => {
    model = await startDemoModel({ apiKey: KEY });
    client = new OpenAI({ baseURL: `${model.url}/v1`, apiKey: KEY, maxRetries: 0 });
  });
  after(async () => { await model.close(); });

  test('a request to list customers becomes a run_sql tool call (JSON)', async () => {
    const r = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'Please list our customers' }], tools: TOOLS });
    const call = r.choices[0]?.message.tool_calls?.[0];
    assert.equal(r.choices[0]?.finish_reason, 'tool_calls');
    assert.ok(call?.type === 'function');
    assert.equal(call.function.name, 'run_sql');
    assert.deepEqual(JSON.parse(call.function.arguments), { sql: 'SELECT id, name, email, phone, card_number, notes FROM customers ORDER BY id' });
    assert.ok(r.usage && r.usage.total_tokens > 0);
    assert.equal(model.received.at(-1)?.messages.at(-1)?.content, 'Please list our customers');
    assert.equal(model.received.at(-1)?.authorized, true);
  });

  test('streamed: tool-call arguments arrive in deltas and reassemble; text streams too; usage on request', async () => {
    const stream = await client.chat.completions.create({ model: 'm', stream: true, messages: [{ role: 'user', content: 'Delete customer 42 please' }], tools: TOOLS });
    let args = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      for (const t of chunk.choices[0]?.delta.tool_calls ?? []) args += t.function?.arguments ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.deepEqual(JSON.parse(args), { sql: 'DELETE FROM customers WHERE id = 42' });
    assert.equal(finish, 'tool_calls');

    const text = await client.chat.completions.create({ model: 'm', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hello there, how are you today?' }] });
    let out = '';
    let usage = 0;
    for await (const chunk of text) {
      out += chunk.choices[0]?.delta.content ?? '';
      usage = chunk.usage?.total_tokens ?? usage;
    }
    assert.equal(out, 'Your message reached me as: "hello there, how are you today?". I can list customers, or delete a customer by number.');
    assert.ok(usage > 0);
  });

  test('tool results are answered in text; tool_choice "none" never calls a tool', async () => {
    const r = await client.chat.completions.create({
      model: 'm', tools: TOOLS,
      messages: [
        { role: 'user', content: 'Drop the customers table' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'run_sql', arguments: '{"sql":"DROP TABLE customers"}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: 'ERROR 42501: denied by agents-no-ddl' },
      ],
    });
    assert.equal(r.choices[0]?.message.content, 'I could not do that. The database connection answered:\ndenied by agents-no-ddl');
    const none = await client.chat.completions.create({ model: 'm', tools: TOOLS, tool_choice: 'none', messages: [{ role: 'user', content: 'list customers' }] });
    assert.equal(none.choices[0]?.message.tool_calls, undefined);
    assert.equal(none.choices[0]?.finish_reason, 'stop');
  });

  test('a wrong key is refused with an OpenAI 401 error body; unknown paths 404; what arrived is kept', async () => {
    const wrong = new OpenAI({ baseURL: `${model.url}/v1`, apiKey: 'sk-wrong', maxRetries: 0 });
    await assert.rejects(wrong.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }), (e: unknown) => {
      assert.ok(e instanceof OpenAI.AuthenticationError);
      assert.equal(e.status, 401);
      assert.equal(e.code, 'invalid_api_key');
      return true;
    });
    assert.equal(model.received.at(-1)?.authorized, false);
    const models = await client.models.list();
    assert.deepEqual(models.data.map((m) => m.id), ['gatehouse-demo-model']);
    const res = await fetch(`${model.url}/v1/embeddings`, { method: 'POST', headers: { authorization: `Bearer ${KEY}` }, body: '{}' });
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { error: { type: string } }).error.type, 'invalid_request_error');
  });

  test('the script never copies free text into SQL', () => {
    assert.deepEqual(planNext([{ role: 'user', content: "drop table users; --'" }], ['run_sql']).kind, 'text');
    assert.deepEqual(planNext([{ role: 'user', content: 'remove customer 7' }], ['run_sql']), { kind: 'tool', name: 'run_sql', args: { sql: 'DELETE FROM customers WHERE id = 7' } });
    assert.deepEqual(planNext([{ role: 'user', content: 'list customers' }], []).kind, 'text', 'no tool offered, no call');
  });
});
