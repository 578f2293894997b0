import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startLlmGateway, type LlmGateway } from '../harness/llm-gateway.ts';
import { FAKE_OPENAI_KEY } from '../harness/fake-llm.ts';

const AWS = 'AKIA' + 'Q3EGRVH2LXJ7KZ4N';
const CARD = '4111 1111 1111 1111';

describe('openai SDK through the gateway', () => {
  let g: LlmGateway;
  let client: OpenAI;
  before(async () => {
    g = await startLlmGateway();
    client = new OpenAI({ baseURL: `${g.base('openai')}/v1`, apiKey: g.key, maxRetries: 0 });
  });
  after(async () => { await g.close(); });

  test('chat completion: vaulted key injected, client key consumed, Server-Timing and session set', async () => {
    g.fake.behavior = { reply: 'plain answer', chunk: 4 };
    const { data, response } = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    assert.equal(data.choices[0]?.message.content, 'plain answer');
    const got = g.fake.last();
    assert.equal(got.path, '/v1/chat/completions');
    assert.equal(got.headers.authorization, `Bearer ${FAKE_OPENAI_KEY}`);
    assert.ok(!JSON.stringify(got.headers).includes(g.key), 'the Gatehouse key never reaches the upstream');
    assert.match(response.headers.get('server-timing') ?? '', /^gatehouse;dur=\d+\.\d{3}$/);
    assert.match(response.headers.get('gatehouse-session') ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(response.headers.get('x-request-id'), 'req_fake_1');
  });

  test('a secret in the system message (not the last one) is denied by the Cedar forbid, naming it', async () => {
    const before = g.fake.received.length;
    await assert.rejects(client.chat.completions.create({
      model: 'gpt-4o', messages: [{ role: 'system', content: `use key ${AWS}` }, { role: 'user', content: 'what is 2+2?' }],
    }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.PermissionDeniedError);
      assert.match(err.message, /no-secrets-to-external-models/);
      return true;
    });
    assert.equal(g.fake.received.length, before, 'nothing was sent upstream');
  });

  test('a secret in an earlier tool result is seen by policy', async () => {
    await assert.rejects(client.chat.completions.create({
      model: 'gpt-4o',
      messages: [
        { role: 'user', content: 'look it up' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'env', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: `AWS_ACCESS_KEY_ID=${AWS}` },
        { role: 'user', content: 'thanks, now summarize' },
      ],
    }), OpenAI.PermissionDeniedError);
  });

  test('PII in the prompt is redacted before it leaves; the upstream never receives it', async () => {
    g.fake.behavior = { reply: 'ok', chunk: 4 };
    await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [
        { role: 'system', content: 'customer is bob@example.com' },
        { role: 'user', content: [{ type: 'text', text: `card ${CARD}, ssn 078-05-1121` }] },
      ],
    });
    const body = g.fake.last().body;
    for (const v of ['bob@example.com', CARD, '078-05-1121']) assert.ok(!body.includes(v), `upstream received ${v}`);
    assert.ok(body.includes('[EMAIL]') && body.includes('[CREDIT_CARD]'));
  });

  test('non-streamed response: email and card in content are masked; tool call arguments too', async () => {
    g.fake.behavior = { reply: `Write to carol@example.com, card ${CARD}.`, chunk: 3 };
    const r = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(r.choices[0]?.message.content, 'Write to [EMAIL], card [CREDIT_CARD].');
    assert.deepEqual(r.usage, { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 });
    g.fake.behavior = { reply: '', chunk: 3, toolCall: { name: 'send_mail', arguments: '{"to":"dave@example.com"}' } };
    const t = await client.chat.completions.create({
      model: 'gpt-4o', messages: [{ role: 'user', content: 'mail dave' }],
      tools: [{ type: 'function', function: { name: 'send_mail', parameters: { type: 'object', properties: { to: { type: 'string' } } } } }],
    });
    const call = t.choices[0]?.message.tool_calls?.[0];
    assert.ok(call && call.type === 'function');
    assert.equal(call.function.arguments, '{"to":"[EMAIL]"}');
  });

  test('streamed chat completion: an email split across chunks is masked; usage arrives', async () => {
    g.fake.behavior = { reply: `Contact erin.smith@example.com or call about card ${CARD} today.`, chunk: 2 };
    const stream = await client.chat.completions.create({ model: 'gpt-4o', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'x' }] });
    let text = '';
    let usage: unknown;
    for await (const c of stream) {
      text += c.choices[0]?.delta.content ?? '';
      if (c.usage) usage = c.usage;
    }
    assert.equal(text, 'Contact [EMAIL] or call about card [CREDIT_CARD] today.');
    assert.ok(usage);
  });

  test('streamed tool call arguments are masked', async () => {
    g.fake.behavior = { reply: '', chunk: 3, toolCall: { name: 'send_mail', arguments: '{"to":"frank@example.com","body":"hi"}' } };
    const stream = client.chat.completions.stream({
      model: 'gpt-4o', messages: [{ role: 'user', content: 'mail frank' }],
      tools: [{ type: 'function', function: { name: 'send_mail', parameters: { type: 'object', properties: {} } } }],
    });
    const final = await stream.finalChatCompletion();
    const call = final.choices[0]?.message.tool_calls?.[0];
    assert.ok(call && call.type === 'function');
    assert.equal(call.function.arguments, '{"to":"[EMAIL]","body":"hi"}');
  });

  test('Responses API, non-streamed and streamed, is masked', async () => {
    g.fake.behavior = { reply: 'Reach grace@example.com now.', chunk: 2 };
    const r = await client.responses.create({ model: 'gpt-4o', input: 'who?', instructions: 'be brief' });
    assert.equal(r.output_text, 'Reach [EMAIL] now.');
    const s = await client.responses.create({ model: 'gpt-4o', input: [{ role: 'user', content: 'who?' }], stream: true });
    let text = '';
    let completed = '';
    for await (const ev of s) {
      if (ev.type === 'response.output_text.delta') text += ev.delta;
      if (ev.type === 'response.completed') {
        for (const item of ev.response.output) if (item.type === 'message') for (const c of item.content) if (c.type === 'output_text') completed += c.text;
      }
    }
    assert.equal(text, 'Reach [EMAIL] now.');
    assert.equal(completed, 'Reach [EMAIL] now.');
  });

  test('the exchange is recorded masked, with decision and timings', () => {
    const events = g.recorder.events.filter((e) => e.connection === 'openai');
    assert.ok(events.some((e) => e.type === 'exchange' && e.data.effect === 'deny' && e.data.code === 'policy_denied'));
    const responses = events.filter((e) => e.type === 'exchange' && typeof e.data.status === 'number');
    assert.ok(responses.length > 0);
    const all = JSON.stringify(events);
    for (const v of ['carol@example.com', 'erin.smith@example.com', CARD, AWS, 'bob@example.com']) assert.ok(!all.includes(v), `recording leaked ${v}`);
    assert.ok(responses.every((e) => typeof (e.data.timings as { gateway_ms: number }).gateway_ms === 'number'));
    assert.equal(events[0]?.user, 'alice');
    // No Gatehouse-Session sent: alice's exchanges share her default session, opened once; each
    // exchange is one event (request, decision, response or error) carrying its number.
    const sessions = new Set(events.map((e) => e.session));
    assert.equal(sessions.size, 1, 'one default session');
    assert.equal(events[0]?.type, 'session.open');
    assert.equal(events.filter((e) => e.type === 'session.open').length, 1);
    const bySession = new Map<string, typeof events>();
    for (const e of events.slice(1)) {
      assert.equal(typeof e.data.exchange, 'number', `${e.type} carries its exchange number`);
      const k = `${e.session}#${String(e.data.exchange)}`;
      bySession.set(k, [...(bySession.get(k) ?? []), e]);
    }
    const shapes = new Set([...bySession.values()].map((es) => es.map((e) => `${e.type}:${String(e.data.effect)}:${String(e.data.status ?? e.data.code)}`).join(' ')));
    assert.deepEqual([...shapes].sort(), [
      'exchange:allow:200',
      'exchange:deny:policy_denied',
    ]);
    assert.ok(responses.every((e) => typeof e.data.prompt === 'string' && typeof e.data.text === 'string' && e.data.action === 'llm.invoke'));
    assert.deepEqual([...bySession.keys()].map((k) => Number(k.split('#')[1])), Array.from({ length: bySession.size }, (_, i) => i + 1), 'numbered from 1');
    for (const es of bySession.values()) assert.ok(es.every((e, i) => i === 0 || e.at >= es[i - 1]!.at), 'times do not go back');
  });
});
