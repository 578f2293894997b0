import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import Anthropic from '@anthropic-ai/sdk';
import { ChatOpenAI } from '@langchain/openai';
import { startLlmGateway, type LlmGateway } from '../harness/llm-gateway.ts';
import { FAKE_ANTHROPIC_KEY } from '../harness/fake-llm.ts';

const CARD = '5555 5555 5555 4444';

function curl(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn('curl', ['-sS', '-i', ...args]);
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.on('error', reject);
    p.on('close', (code) => { resolve({ code, out }); });
  });
}

describe('anthropic SDK, LangChain ChatOpenAI and curl through the gateway', () => {
  let g: LlmGateway;
  before(async () => { g = await startLlmGateway(); });
  after(async () => { await g.close(); });

  test('anthropic messages: x-api-key consumed and replaced, anthropic-version kept, response masked', async () => {
    const client = new Anthropic({ baseURL: g.base('anthropic'), apiKey: g.key, maxRetries: 0 });
    g.fake.behavior = { reply: `Card ${CARD}, mail henry@example.com.`, chunk: 3 };
    const m = await client.messages.create({
      model: 'claude-sonnet-4-5', max_tokens: 100,
      system: [{ type: 'text', text: 'support agent for ivy@example.com' }],
      messages: [{ role: 'user', content: 'status?' }],
    });
    const block = m.content[0];
    assert.ok(block?.type === 'text');
    assert.equal(block.text, 'Card [CREDIT_CARD], mail [EMAIL].');
    const got = g.fake.last();
    assert.equal(got.headers['x-api-key'], FAKE_ANTHROPIC_KEY);
    assert.match(String(got.headers['anthropic-version']), /^\d{4}-\d{2}-\d{2}$/, 'anthropic-version forwarded');
    assert.equal(got.headers.authorization, undefined);
    assert.ok(!got.body.includes('ivy@example.com'), 'system block redacted before it left');
  });

  test('anthropic streaming: text deltas and tool input deltas are masked, events well-formed', async () => {
    const client = new Anthropic({ baseURL: g.base('anthropic'), apiKey: g.key, maxRetries: 0 });
    g.fake.behavior = { reply: `Hi! jack.doe@example.com and ${CARD} are on file.`, chunk: 1 };
    const stream = client.messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'x' }] });
    let text = '';
    stream.on('text', (t) => { text += t; });
    const final = await stream.finalMessage();
    assert.equal(text, 'Hi! [EMAIL] and [CREDIT_CARD] are on file.');
    assert.equal(final.usage.output_tokens, 7);
    g.fake.behavior = { reply: '', chunk: 4, toolCall: { name: 'mail', arguments: '{"to":"kim@example.com"}' } };
    const tool = await client.messages.stream({
      model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'x' }],
      tools: [{ name: 'mail', input_schema: { type: 'object', properties: { to: { type: 'string' } } } }],
    }).finalMessage();
    const use = tool.content[0];
    assert.ok(use?.type === 'tool_use');
    assert.deepEqual(use.input, { to: '[EMAIL]' });
  });

  test('LangChain ChatOpenAI: invoke, stream and bindTools', async () => {
    const llm = new ChatOpenAI({ model: 'gpt-4o', apiKey: g.key, configuration: { baseURL: `${g.base('openai')}/v1` }, maxRetries: 0 });
    g.fake.behavior = { reply: 'Send it to liam@example.com please.', chunk: 2 };
    const msg = await llm.invoke('hello');
    assert.equal(msg.content, 'Send it to [EMAIL] please.');
    let streamed = '';
    for await (const chunk of await llm.stream('hello')) streamed += typeof chunk.content === 'string' ? chunk.content : '';
    assert.equal(streamed, 'Send it to [EMAIL] please.');
    g.fake.behavior = { reply: '', chunk: 3, toolCall: { name: 'lookup', arguments: '{"email":"mia@example.com"}' } };
    const withTools = llm.bindTools([{ type: 'function', function: { name: 'lookup', description: 'find', parameters: { type: 'object', properties: { email: { type: 'string' } } } } }]);
    const r = await withTools.invoke('find mia');
    assert.deepEqual(r.tool_calls?.[0]?.args, { email: '[EMAIL]' });
    assert.ok((JSON.parse(g.fake.last().body) as { tools?: unknown }).tools, 'tools were offered upstream');
  });

  test('curl: JSON and streamed requests, with masking, through an openai-compatible connection', async () => {
    g.fake.behavior = { reply: 'call noah@example.com', chunk: 3 };
    const body = JSON.stringify({ model: 'local', messages: [{ role: 'user', content: 'hi' }] });
    const plain = await curl(['-H', `Authorization: Bearer ${g.key}`, '-H', 'content-type: application/json', '-d', body, `${g.base('compat')}/v1/chat/completions`]);
    assert.equal(plain.code, 0);
    assert.match(plain.out, /^HTTP\/1\.1 200/);
    assert.match(plain.out, /server-timing: gatehouse;dur=/i);
    assert.ok(plain.out.includes('call [EMAIL]') && !plain.out.includes('noah@example.com'));
    const streamed = await curl(['-N', '-H', `Authorization: Bearer ${g.key}`, '-H', 'content-type: application/json', '-d', JSON.stringify({ ...JSON.parse(body), stream: true }), `${g.base('compat')}/v1/chat/completions`]);
    assert.match(streamed.out, /content-type: text\/event-stream/i);
    assert.ok(streamed.out.trimEnd().endsWith('data: [DONE]'));
    assert.ok(!streamed.out.includes('noah@'));
  });
});
