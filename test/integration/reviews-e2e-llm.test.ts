import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';
import { MemoryRecorder } from '../../src/recording/recorder.ts';
import { FAKE_OPENAI_KEY, startFakeLlm, type FakeLlm } from '../harness/fake-llm.ts';
import { LLM_POLICIES } from '../harness/llm-gateway.ts';
import { waitForReview, type ListedReview } from '../harness/review-tools.ts';

const POLICIES = `${LLM_POLICIES}
@id("dba-approves")
permit (principal in Group::"dba", action == Action::"review.approve", resource);
`;
const EMAIL = 'jane.doe@example.com';
const PROMPT = `Draft a renewal letter to our customer ${EMAIL}.`;

interface Env { fake: FakeLlm; t: TestGateway; alice: string; bob: string; client: OpenAI; recorder: MemoryRecorder }

async function boot(holdTimeout: string): Promise<Env> {
  const fake = await startFakeLlm();
  const recorder = new MemoryRecorder();
  const t = await startTestGateway({
    policies: POLICIES, recorder,
    yaml: [
      'connections:',
      `  - { name: openai, type: llm, provider: openai, url: "${fake.url}", credentials: { api_key: "${FAKE_OPENAI_KEY}" } }`,
      'reviews:',
      `  hold_timeout: ${holdTimeout}`,
      '  rules:',
      '    - { name: customer-data-to-llm, connections: [openai], actions: [llm.invoke], kind: command, approvers: [dba], when: "context.llm.pii_types.contains(\\"EMAIL\\")" }',
    ].join('\n'),
  });
  const alice = (await t.api('POST', '/api/v1/api-keys', { user: 'alice', groups: ['developers'], agent: 'writer' })).json.key as string;
  const bob = (await t.api('POST', '/api/v1/api-keys', { user: 'bob', groups: ['dba'] })).json.key as string;
  const client = new OpenAI({ baseURL: `${t.url}/proxy/openai/v1`, apiKey: alice, maxRetries: 0, timeout: 60_000 });
  return { fake, t, alice, bob, client, recorder };
}

function pending(e: Env): () => Promise<ListedReview[]> {
  return async () => (await e.t.api('GET', '/api/v1/reviews?status=pending', undefined, e.bob)).json.items as ListedReview[];
}

const ask = (e: Env): Promise<OpenAI.Chat.Completions.ChatCompletion> => e.client.chat.completions.create(
  { model: 'gpt-4o', messages: [{ role: 'user', content: PROMPT }] },
  { headers: { 'Gatehouse-Justification': 'renewals campaign, ticket SALES-7' } },
);

describe('reviews end to end: OpenAI SDK (held until approved)', () => {
  let e: Env;
  before(async () => { e = await boot('60s'); });
  after(async () => { await e.t.close(); await e.fake.close(); });

  test('a prompt with customer data blocks until a dba approves, then returns the completion', async () => {
    e.fake.behavior = { reply: 'Dear customer, ...', chunk: 4 };
    let settled = false;
    const call = ask(e).finally(() => { settled = true; });
    const r = await waitForReview(pending(e), (x) => x.rule === 'customer-data-to-llm');
    assert.equal(settled, false, 'the SDK call is still waiting');
    assert.equal(e.fake.received.length, 0, 'nothing reached the model yet');
    assert.equal(r.justification, 'renewals campaign, ticket SALES-7');
    assert.match(r.summary, /^POST \/v1\/chat\/completions: /);
    assert.ok(!r.summary.includes(EMAIL), 'approvers see the prompt masked');

    // A prompt without customer data is not reviewed and runs meanwhile.
    const plain = await e.client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hello' }] });
    assert.equal(plain.choices[0]?.message.content, 'Dear customer, ...');

    const ok = await e.t.api('POST', `/api/v1/reviews/${r.id}/approve`, { comment: 'ok' }, e.bob);
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    const done = await call;
    assert.equal(done.choices[0]?.message.content, 'Dear customer, ...');
    assert.equal(e.fake.received.length, 2);
    assert.ok(e.fake.last().body.includes(EMAIL), 'the approved request is forwarded as sent');
    assert.equal((await e.t.api('GET', `/api/v1/reviews/${r.id}`, undefined, e.bob)).json.status, 'executed');
    // Its one recorded event names the review it waited for, with its decision and its response.
    const held = e.recorder.events.filter((x) => x.type === 'exchange' && x.data.review_id === r.id);
    assert.equal(held.length, 1, JSON.stringify(e.recorder.events.map((x) => x.type)));
    assert.deepEqual([held[0]!.data.effect, held[0]!.data.status, held[0]!.data.code], ['review', 200, undefined]);
    assert.ok(String(held[0]!.data.prompt).includes('[EMAIL]') && !JSON.stringify(held[0]!.data).includes(EMAIL), 'recorded masked');
  });

  test('deny releases the SDK call with 403 naming the denier and the reason', async () => {
    const call = ask(e).then(() => undefined, (err: unknown) => err);
    const r = await waitForReview(pending(e), (x) => x.rule === 'customer-data-to-llm');
    await e.t.api('POST', `/api/v1/reviews/${r.id}/deny`, { reason: 'use the CRM template instead' }, e.bob);
    const err = await call;
    assert.ok(err instanceof OpenAI.PermissionDeniedError);
    assert.match(err.message, new RegExp(`review ${r.id} denied by user:bob: use the CRM template instead`));
    assert.equal((err.error as { review_id?: string } | undefined)?.review_id, r.id);
    const denied = e.recorder.events.filter((x) => x.type === 'exchange' && x.data.review_id === r.id);
    assert.equal(denied.length, 1);
    assert.deepEqual([denied[0]!.data.effect, denied[0]!.data.status, denied[0]!.data.code], ['review', undefined, 'policy_denied']);
  });
});

describe('reviews end to end: OpenAI SDK timeout path', () => {
  let e: Env;
  before(async () => { e = await boot('1s'); });
  after(async () => { await e.t.close(); await e.fake.close(); });

  const rejected = async (): Promise<InstanceType<typeof OpenAI.PermissionDeniedError>> => {
    const err = await ask(e).then(() => undefined, (x: unknown) => x);
    assert.ok(err instanceof OpenAI.PermissionDeniedError, String(err));
    return err;
  };

  test('403 review_required with review_id; approval; re-send runs once; a second re-send is reviewed again', async () => {
    const first = await rejected();
    assert.equal(first.status, 403);
    const body = first.error as { code?: string; review_id?: string; message?: string };
    assert.equal(body.code, 'review_required');
    const id = body.review_id ?? '';
    assert.match(id, /^rv_/);
    assert.equal(body.message, `approval required: review ${id} is pending; re-send the request after it is approved`);
    assert.equal(e.fake.received.length, 0);

    // The raw problem+json carries review_id at the top level too.
    const raw = await fetch(`${e.t.url}/proxy/openai/v1/chat/completions`, {
      method: 'POST', headers: { authorization: `Bearer ${e.alice}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: PROMPT }] }),
    });
    assert.equal(raw.status, 403);
    assert.match(raw.headers.get('content-type') ?? '', /application\/problem\+json/);
    const problem = await raw.json() as { code: string; review_id: string };
    assert.equal(problem.code, 'review_required');
    // Its headers are not the SDK's (user-agent, x-stainless-*): another request, another review.
    assert.notEqual(problem.review_id, id, 'an approval covers the forwarded headers too');
    const same = await rejected();
    assert.equal((same.error as { review_id?: string }).review_id, id, 'the same pending review is reused for the same request');

    const ok = await e.t.api('POST', `/api/v1/reviews/${id}/approve`, {}, e.bob);
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    const done = await ask(e);
    assert.equal(done.choices[0]?.message.content, 'Hello from the fake model.');
    assert.equal(e.fake.received.length, 1, 'ran once');

    const again = await rejected();
    const id2 = (again.error as { review_id?: string }).review_id;
    assert.match(id2 ?? '', /^rv_/);
    assert.notEqual(id2, id);
    assert.equal(e.fake.received.length, 1);
    assert.equal((await e.t.api('GET', `/api/v1/reviews/${id2 ?? ''}`, undefined, e.bob)).json.status, 'pending');
  });
});
