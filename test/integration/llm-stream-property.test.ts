import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import fc from 'fast-check';
import { startLlmGateway, type LlmGateway } from '../harness/llm-gateway.ts';
import { SseParser } from '../../src/protocols/http/sse/parser.ts';

const ENTITIES = ['zoe@example.com', 'first.last+x@mail.example.net', '4111 1111 1111 1111', '5555555555554444', '078-05-1121'];
const FILLER = fc.string({ unit: fc.constantFrom(...'ab yz.,;!-"é🙂'.split('')), maxLength: 20 });
const textWithEntities = fc.array(fc.tuple(FILLER, fc.constantFrom(...ENTITIES)), { minLength: 1, maxLength: 4 })
  .chain((parts) => FILLER.map((tail) => ({ text: parts.map(([f, e]) => `${f} ${e} `).join('') + tail, entities: parts.map(([, e]) => e) })));

/** Every byte the gateway writes to the client socket (HTTP/1.1, Connection: close). */
function rawExchange(url: string, path: string, headers: Record<string, string>, body: string): Promise<Buffer> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(u.port), u.hostname);
    const parts: Buffer[] = [];
    s.on('data', (d: Buffer) => parts.push(d));
    s.on('end', () => { resolve(Buffer.concat(parts)); });
    s.on('error', reject);
    const head = Object.entries({ ...headers, host: u.host, connection: 'close', 'content-length': String(Buffer.byteLength(body)) }).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    s.write(`POST ${path} HTTP/1.1\r\n${head}\r\n${body}`);
  });
}

function dechunk(raw: Buffer): Buffer {
  const sep = raw.indexOf('\r\n\r\n');
  let rest = raw.subarray(sep + 4);
  const out: Buffer[] = [];
  for (;;) {
    const eol = rest.indexOf('\r\n');
    const size = parseInt(rest.subarray(0, eol).toString(), 16);
    if (!size) break;
    out.push(rest.subarray(eol + 2, eol + 2 + size));
    rest = rest.subarray(eol + 2 + size + 2);
  }
  return Buffer.concat(out);
}

describe('stream masking through the real proxy, random texts and byte splits', () => {
  let g: LlmGateway;
  before(async () => { g = await startLlmGateway(); });
  after(async () => { await g.close(); });

  test('openai chat stream: client text equals the masked whole; no entity byte reaches the client socket', async () => {
    const scanner = g.t.gw.services.masking.textMasker('openai', 'response');
    assert.ok(scanner);
    await fc.assert(fc.asyncProperty(textWithEntities, fc.integer({ min: 1, max: 9 }), fc.array(fc.nat(), { maxLength: 60 }), async (gen, deltaSize, byteCuts) => {
      const env = { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm' };
      let wire = '';
      for (let i = 0; i < gen.text.length; i += deltaSize) {
        wire += `data: ${JSON.stringify({ ...env, choices: [{ index: 0, delta: { content: gen.text.slice(i, i + deltaSize) }, finish_reason: null }] })}\n\n`;
      }
      wire += `data: ${JSON.stringify({ ...env, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\ndata: [DONE]\n\n`;
      g.fake.behavior = { reply: '', chunk: 1, raw: { contentType: 'text/event-stream', body: wire, split: byteCuts } };
      const raw = await rawExchange(g.t.url, '/proxy/openai/v1/chat/completions', { authorization: `Bearer ${g.key}`, 'content-type': 'application/json' },
        JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'go' }] }));
      const rawText = raw.toString('utf8');
      for (const e of gen.entities) assert.ok(!rawText.includes(e), `entity ${e} reached the client socket`);
      const p = new SseParser();
      const events = [...p.push(dechunk(raw)), ...p.end()];
      let text = '';
      for (const ev of events) {
        if (ev.data === '[DONE]') continue;
        const d = JSON.parse(ev.data) as { choices: { delta: { content?: string } }[] };
        text += d.choices[0]?.delta.content ?? '';
      }
      assert.equal(text, scanner.mask(gen.text).text);
      assert.equal(events.at(-1)?.data, '[DONE]');
    }), { numRuns: 40 });
  });
});
