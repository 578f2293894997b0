import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { initSqlInspector, SqlInspector } from '../inspect/sql/inspect.ts';
import { MaskingRules } from '../masking/rules.ts';
import { prepareRequest } from '../protocols/http/proxy/prepare.ts';
import { inspectionScanner } from '../masking/scanner.ts';
import { InspectionPool } from './inspection-pool.ts';

const hashKey = Buffer.alloc(32, 7);
const rules = [{ connections: ['m'], direction: 'request' as const, entities: ['EMAIL' as const], strategy: 'redact' as const }];
let pool: InspectionPool;

before(async () => {
  await initSqlInspector();
  pool = new InspectionPool(
    { workers: 1, queue: 100, timeoutMs: 60_000, inlineSqlChars: 200, inlinePromptBytes: 200, maxSqlBytes: 1024 * 1024, maxStatements: 50 },
    { maskingRules: rules, hashKey: new Uint8Array(hashKey) },
  );
});

test('every text over the inline threshold goes to the worker; those under it stay inline', async () => {
  const { worker, inline } = pool.counts;
  await pool.inspectSql('SELECT 1');
  assert.deepEqual([pool.counts.worker, pool.counts.inline], [worker, inline + 1]);
  await pool.inspectSql(`SELECT 2 -- ${'y'.repeat(300)}`);
  assert.deepEqual([pool.counts.worker, pool.counts.inline], [worker + 1, inline + 1]);
});
after(async () => { await pool.close(); });

const STATEMENTS = [
  'SELECT a, b FROM t WHERE c = 1', 'DELETE FROM orders', 'UPDATE t SET a = 2 WHERE id = 3', 'DROP TABLE x',
  'PREPARE p AS DELETE FROM t', 'EXECUTE p', 'SELECT pg_read_file(\'/etc/passwd\')', 'COPY t TO PROGRAM \'sh\'',
  'WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d', 'SELECT 1 WHERE 1 IN (1, 2, 3)', 'SELEC broken', 'DO $$ BEGIN END $$',
];

test('property: a text inspected on a worker gets exactly the inline inspection (facts, actions, errors, limits)', async () => {
  const inline = new SqlInspector({ maxBytes: 1024 * 1024, maxStatements: 50 });
  await fc.assert(fc.asyncProperty(fc.array(fc.constantFrom(...STATEMENTS), { minLength: 1, maxLength: 60 }), fc.nat(400), async (parts, pad) => {
    const sql = `${parts.join('; ')} -- ${'x'.repeat(pad)}`;
    const got = await pool.inspectSql(sql);
    assert.deepEqual(got, inline.inspect(sql));
    assert.ok(Object.isFrozen(got));
  }), { numRuns: 40 });
});

test('a large text inspected on a worker is answered from the cache afterwards, without parsing it again inline', async () => {
  const sql = `SELECT * FROM t WHERE x IN (${Array.from({ length: 5_000 }, (_, i) => i).join(', ')})`;
  const { worker, inline } = pool.counts;
  const first = await pool.inspectSql(sql);
  assert.equal(pool.counts.worker, worker + 1);
  assert.equal(pool.inspectSqlNow(sql), first);
  assert.equal(pool.inspectSql(sql), first, 'synchronous: no second trip to a worker');
  assert.equal(pool.counts.inline, inline);
});

test('too many statements are denied with the configured bound', async () => {
  const r = await pool.inspectSql('SELECT 1;'.repeat(51));
  assert.equal(r.ok, false);
  assert.match(r.ok ? '' : r.error, /more than 50 statements/);
});

test('a large request body prepared on a worker equals the inline preparation (facts, redacted body, prompt)', async () => {
  const masking = new MaskingRules(rules, hashKey);
  const raw = Buffer.from(JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: `${'lorem ipsum '.repeat(100)} mail bob@example.com` }] }));
  const input = {
    conn: { name: 'm', type: 'llm' as const, provider: 'openai' as const }, method: 'POST', endpoint: '/v1/chat/completions', raw,
    contentType: 'application/json', format: 'openai-chat' as const, scanner: inspectionScanner(masking.hashKey), egress: masking.textMasker('m', 'request'),
  };
  const before = pool.counts.worker;
  const off = await pool.prepare(input);
  assert.equal(pool.counts.worker, before + 1);
  const inline = prepareRequest(input);
  assert.deepEqual(off.facts, inline.facts);
  assert.deepEqual(off.body, inline.body);
  assert.equal(off.prompt, inline.prompt);
  assert.ok(!off.body?.toString('utf8').includes('bob@example.com'));
});

test('a malformed large body keeps its error code through the worker', async () => {
  const masking = new MaskingRules(rules, hashKey);
  await assert.rejects(Promise.resolve(pool.prepare({
    conn: { name: 'm', type: 'llm', provider: 'openai' }, method: 'POST', endpoint: '/v1/chat/completions', raw: Buffer.from(`{${' '.repeat(500)}`),
    contentType: 'application/json', format: 'openai-chat', scanner: inspectionScanner(masking.hashKey), egress: undefined,
  })), (e: { code?: string }) => e.code === 'invalid_json');
});

test('a large body of an http connection without egress rules is looked at on a worker (a method override) and comes back as it was', async () => {
  const masking = new MaskingRules(rules, hashKey);
  const raw = Buffer.alloc(10_000, 'a');
  const before = pool.counts.worker;
  const p = await pool.prepare({
    conn: { name: 'h', type: 'http' }, method: 'PUT', endpoint: '/upload', raw,
    contentType: 'application/octet-stream', format: undefined, scanner: inspectionScanner(masking.hashKey), egress: undefined,
  });
  assert.deepEqual(p.body, raw);
  assert.equal(pool.counts.worker, before + 1);
  const override = Buffer.concat([raw, Buffer.from('&_m%65thod=DELETE')]);
  await assert.rejects(Promise.resolve(pool.prepare({
    conn: { name: 'h', type: 'http' }, method: 'POST', endpoint: '/items/1', raw: override,
    contentType: 'application/x-www-form-urlencoded', format: undefined, scanner: inspectionScanner(masking.hashKey), egress: undefined,
  })), (e: Error & { code?: string }) => e.code === 'bad_request' && /method override/.test(e.message));
});

test('a large response body masked on a worker equals the inline masking (rules and the secrets\' echo forms)', async () => {
  const { withExactValues } = await import('../masking/exact-values.ts');
  const { maskJsonText, maskForm } = await import('../protocols/http/proxy/body-mask.ts');
  const { maskResponseJson } = await import('../inspect/prompt/inspect.ts');
  const respRules = [{ connections: ['r'], direction: 'response' as const, entities: ['EMAIL' as const], strategy: 'redact' as const }];
  const rpool = new InspectionPool(
    { workers: 1, queue: 10, timeoutMs: 60_000, inlineSqlChars: 200, inlinePromptBytes: 200, maxSqlBytes: 1024 * 1024, maxStatements: 50 },
    { maskingRules: respRules, hashKey: new Uint8Array(hashKey) },
  );
  try {
    const masking = new MaskingRules(respRules, hashKey);
    const forms = ['sk-upstream-secret-123456'];
    const masker = withExactValues(masking.textMasker('r', 'response'), forms, hashKey)!;
    const json = JSON.stringify({ usage: { total_tokens: 3 }, choices: [{ message: { content: `${'pad '.repeat(100)} bob@example.com sk-upstream-secret-123456` } }] });
    const llm = await rpool.maskResponse('llm-json', json, 'r', forms);
    assert.equal(llm?.text, JSON.stringify(maskResponseJson(JSON.parse(json), masker)));
    assert.deepEqual(llm?.usage, { total_tokens: 3 });
    assert.ok(!llm?.text.includes('bob@example.com') && !llm?.text.includes('sk-upstream-secret'));
    assert.equal((await rpool.maskResponse('json', json, 'r', forms))?.text, maskJsonText(json, masker));
    const form = `a=${'x'.repeat(300)}&mail=bob%40example.com&k=sk-upstream-secret-123456`;
    assert.equal((await rpool.maskResponse('form', form, 'r', forms))?.text, maskForm(form, masker));
    assert.equal(rpool.maskResponse('json', '{"a":1}', 'r', forms), undefined, 'small bodies are masked inline');
    await assert.rejects(rpool.maskResponse('llm-json', `{${' '.repeat(300)}`, 'r', forms)!, SyntaxError);
  } finally {
    await rpool.close();
  }
});
