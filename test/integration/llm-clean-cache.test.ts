import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startLlmGateway, type LlmGateway } from '../harness/llm-gateway.ts';

// Regression (attacker review): the prompt walk's clean-string cache (src/inspect/prompt/inspect.ts) once keyed a
// labeled scan `${label}\u0000${s}` and an unlabeled one `s`. One request whose object key is an
// email address with value "x" (the value is clean with the key as its label) makes the string
// "bob@example.com\u0000x" count as clean for that connection's masker from then on: a later
// prompt carrying it reaches the upstream unmasked.

describe('egress masking through /proxy after the clean-string cache is poisoned', () => {
  let g: LlmGateway;
  before(async () => { g = await startLlmGateway(); });
  after(async () => { await g?.close(); });

  const post = (body: string): Promise<Response> =>
    fetch(`${g.base('openai')}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${g.key}`, 'content-type': 'application/json' }, body });

  test('an email in a message is masked even after a request with that email as a key', async () => {
    const first = await post('{"model":"m","messages":[{"role":"user","content":"hi"}],"metadata":{"bob@example.com":"x"}}');
    await first.text();
    const res = await post('{"model":"m","messages":[{"role":"user","content":"bob@example.com\\u0000x"}]}');
    await res.text();
    assert.equal(res.status, 200);
    const sent = g.fake.last().body;
    assert.ok(!sent.includes('bob@example.com'), `the upstream received the email unmasked: ${sent}`);
  });
});
