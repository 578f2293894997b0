import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import pg from 'pg';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';
import { startFakeLlm, FAKE_OPENAI_KEY, type FakeLlm } from '../harness/fake-llm.ts';
import { LLM_POLICIES } from '../harness/llm-gateway.ts';
import { pgBackends, type UpstreamDb } from '../harness/pglite-server.ts';
import { getTestPostgres } from '../harness/postgres-server.ts';

const POLICIES = `${LLM_POLICIES}
@id("developers-read")
permit (principal in Group::"developers", action == Action::"sql.read", resource);
`;
const AWS = 'AKIA' + 'Q3EGRVH2LXJ7KZ4N';

/** An upstream whose `/hold` requests wait until `release()`; everything else answers at once. */
async function holdingUpstream(): Promise<{ url: string; held: () => number; release: () => void; close: () => Promise<void> }> {
  const waiting: ServerResponse[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    if ((req.url ?? '').includes('/hold')) waiting.push(res);
    else res.end('{"ok":true}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    held: () => waiting.length,
    release: () => { for (const r of waiting.splice(0)) r.end('{"held":true}'); },
    close: () => { server.closeAllConnections(); return new Promise((r) => server.close(() => r())); },
  };
}

/** Resolves with how long the peer took to close `socket` and what it sent (rejects after `maxMs`). */
function closedWithin(socket: Socket, maxMs: number): Promise<{ ms: number; text: string }> {
  const t0 = Date.now();
  let text = '';
  socket.on('data', (d: Buffer) => { text += d.toString('latin1'); });
  socket.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { socket.destroy(); reject(new Error(`still open after ${maxMs} ms`)); }, maxMs);
    socket.on('close', () => { clearTimeout(t); resolve({ ms: Date.now() - t0, text }); });
  });
}

async function waitFor(cond: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const backend = (await pgBackends(getTestPostgres)).at(-1)!;

describe('availability: read timeouts, per-principal limits, inspection off the event loop', () => {
  let t: TestGateway;
  let up: UpstreamDb;
  let fake: FakeLlm;
  let hold: Awaited<ReturnType<typeof holdingUpstream>>;
  let alice: string;
  let bob: string;
  const pgClient = (password: string): pg.Client => {
    const c = new pg.Client({ host: t.postgres.host, port: t.postgres.port, user: 'u', database: 'app', password });
    c.on('error', () => undefined);
    return c;
  };

  before(async () => {
    up = await backend.start('CREATE TABLE nums (x int); INSERT INTO nums SELECT generate_series(1, 10);');
    fake = await startFakeLlm();
    hold = await holdingUpstream();
    t = await startTestGateway({
      policies: POLICIES,
      env: { APP_DB_PASSWORD: up.password ?? 'unused' },
      http: 'headers_timeout: 1s, request_timeout: 2s',
      serverYaml: '  postgres: { startup_timeout: 1s, message_timeout: 1s }',
      yaml: [
        'connections:',
        `  - { name: app, type: postgres, url: "${up.url}", credentials: { password: "\${APP_DB_PASSWORD}" } }`,
        `  - { name: api, type: http, url: "${hold.url}" }`,
        `  - { name: openai, type: llm, provider: openai, url: "${fake.url}", credentials: { api_key: "${FAKE_OPENAI_KEY}" } }`,
        `  - { name: echo, type: http, url: "${fake.url}", credentials: { bearer: "echo-upstream-secret-0123" } }`,
        'masking:',
        '  rules:',
        '    - { connections: [openai], direction: request, entities: [EMAIL], strategy: redact }',
        '    - { connections: [echo], direction: response, entities: [EMAIL], strategy: redact }',
        'limits:',
        '  per_principal: { http_requests: 2, postgres_sessions: 2 }',
        '  inspection: { workers: 1, inline_sql: 4kb, inline_prompt: 16kb }',
      ].join('\n'),
    });
    const key = async (user: string): Promise<string> => {
      const r = await t.api('POST', '/api/v1/api-keys', { user, groups: ['developers'] });
      assert.equal(r.status, 201);
      return String(r.json.key);
    };
    alice = await key('alice');
    bob = await key('bob');
  });
  after(async () => {
    hold.release();
    await t.close();
    await Promise.all([up.stop(), fake.close(), hold.close()]);
  });

  test('a slow-body client is answered 408 and cut after server.http.request_timeout', async () => {
    const s = connect(t.gw.http.port, '127.0.0.1');
    const closed = closedWithin(s, 8_000);
    s.write(`POST /proxy/api/x HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${alice}\r\nContent-Length: 1000\r\n\r\n`);
    const drip = setInterval(() => { if (s.writable) s.write('a'); }, 200);
    try {
      const r = await closed;
      assert.match(r.text, /^HTTP\/1\.1 408 /);
      assert.ok(r.ms < 5_000, `cut after ${r.ms} ms`);
    } finally {
      clearInterval(drip);
    }
  });

  test('a slow-header client is cut after server.http.headers_timeout', async () => {
    const s = connect(t.gw.http.port, '127.0.0.1');
    const closed = closedWithin(s, 8_000);
    s.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const drip = setInterval(() => { if (s.writable) s.write('X-A: b\r\n'); }, 200);
    try {
      const r = await closed;
      assert.ok(r.ms < 4_000, `cut after ${r.ms} ms`);
    } finally {
      clearInterval(drip);
    }
  });

  test('a PostgreSQL client silent in the startup phase is dropped after server.postgres.startup_timeout', async () => {
    const s = connect(t.postgres.port, '127.0.0.1');
    const r = await closedWithin(s, 8_000);
    assert.ok(r.ms < 4_000, `cut after ${r.ms} ms`);
  });

  test('the N+1th concurrent /proxy request of one principal gets 429 (Retry-After) while another principal is served; counted and audited', async () => {
    const inFlight = [1, 2].map(() => fetch(`${t.url}/proxy/api/hold`, { headers: { authorization: `Bearer ${alice}` } }));
    await waitFor(() => hold.held() === 2, 'two held requests');
    const refused = await fetch(`${t.url}/proxy/api/fast`, { headers: { authorization: `Bearer ${alice}` } });
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get('retry-after'), '1');
    assert.match(refused.headers.get('content-type') ?? '', /problem\+json/);
    const problem = await refused.json() as Record<string, unknown>;
    assert.equal(problem.code, 'too_many_requests');
    const other = await fetch(`${t.url}/proxy/api/fast`, { headers: { authorization: `Bearer ${bob}` } });
    assert.equal(other.status, 200);
    await other.text();
    hold.release();
    for (const r of await Promise.all(inFlight)) { assert.equal(r.status, 200); await r.text(); }
    const again = await fetch(`${t.url}/proxy/api/fast`, { headers: { authorization: `Bearer ${alice}` } });
    assert.equal(again.status, 200, 'the units came back when the responses closed');
    await again.text();
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    assert.match(metrics, /gatehouse_limit_refusals_total\{protocol="proxy"\} 1/);
    assert.match(metrics, /gatehouse_inspection_workers\{state="queued"\} 0/);
    assert.match(metrics, /gatehouse_recording_refused_total 0/);
    assert.match(metrics, /gatehouse_recording_events_total\{outcome="dropped"\} 0/);
    await waitFor(async () => {
      const a = await t.api('GET', '/api/v1/audit?kind=limit.exceeded');
      const items = a.json.items as { user?: string; detail?: { surface?: string } }[];
      return items.some((i) => i.user === 'alice' && i.detail?.surface === 'proxy');
    }, 'the limit.exceeded audit record');
  });

  test('the N+1th PostgreSQL session of one principal gets FATAL 53300; another principal connects', async () => {
    const a1 = pgClient(alice);
    const a2 = pgClient(alice);
    await a1.connect();
    await a2.connect();
    const a3 = pgClient(alice);
    const err = await a3.connect().then(() => undefined, (e: unknown) => e) as { code?: string; message?: string } | undefined;
    assert.equal(err?.code, '53300');
    assert.match(err?.message ?? '', /postgres_sessions/);
    assert.match(await (await fetch(`${t.url}/metrics`)).text(), /gatehouse_limit_refusals_total\{protocol="postgres"\} 1/);
    await waitFor(async () => {
      const a = await t.api('GET', '/api/v1/audit?kind=limit.exceeded');
      return (a.json.items as { user?: string; detail?: { surface?: string } }[]).some((i) => i.user === 'alice' && i.detail?.surface === 'postgres');
    }, 'the postgres limit.exceeded audit record');
    const b = pgClient(bob);
    await b.connect();
    assert.equal((await b.query<{ n: number }>('SELECT count(*)::int AS n FROM nums')).rows[0]?.n, 10);
    await b.end();
    await a1.end();
    await waitFor(() => t.gw.services.limits.limiter('postgres').held('user:alice') === 1, 'the session unit released');
    const a4 = pgClient(alice);
    await a4.connect();
    await Promise.all([a2.end(), a4.end()]);
  });

  test('a signed-in PostgreSQL client that leaves a message unfinished is ended after server.postgres.message_timeout (FATAL 08P01); a complete one is served', async () => {
    const c = pgClient(bob);
    await c.connect();
    assert.equal((await c.query<{ n: number }>('SELECT count(*)::int AS n FROM nums')).rows[0]?.n, 10);
    const errors: { code?: string; message?: string }[] = [];
    c.on('error', (e: { code?: string; message?: string }) => errors.push(e));
    const socket = (c as unknown as { connection: { stream: Socket } }).connection.stream;
    // A Query message declaring 1 MB, of which only the header and three bytes ever arrive.
    const head = Buffer.alloc(5);
    head[0] = 0x51;
    head.writeInt32BE(1_000_000, 1);
    socket.write(Buffer.concat([head, Buffer.from('SEL')]));
    const r = await closedWithin(socket, 10_000);
    assert.ok(r.ms < 6_000, `cut after ${r.ms} ms`);
    await waitFor(() => errors.length > 0, 'the FATAL error reaching the client');
    assert.equal(errors[0]?.code, '08P01');
    assert.match(errors[0]?.message ?? '', /message_timeout/);
    await c.end().catch(() => undefined);
    await waitFor(() => t.gw.services.limits.limiter('postgres').held('user:bob') === 0, 'bob\'s session unit released');
  });

  test('server.postgres.message_timeout is per message: a client whose reads all end mid-message keeps its session while messages complete', async () => {
    const c = pgClient(bob);
    await c.connect();
    const socket = (c as unknown as { connection: { stream: Socket } }).connection.stream;
    socket.removeAllListeners('data');
    let readyForQuery = 0;
    let closed = false;
    socket.on('data', (d: Buffer) => { for (const b of d) if (b === 0x5a) readyForQuery++; });
    socket.on('close', () => { closed = true; });
    // Sync messages (5 bytes each): two bytes first, then five at a time every 100 ms for 2.5 s,
    // over twice message_timeout: every read ends inside a message, yet one completes in each.
    const sync = Buffer.from([0x53, 0, 0, 0, 4]);
    const stream = Buffer.concat(Array.from({ length: 200 }, () => sync));
    socket.write(stream.subarray(0, 2));
    let pos = 2;
    const t0 = Date.now();
    while (Date.now() - t0 < 2_500 && !closed) {
      await new Promise((r) => setTimeout(r, 100));
      socket.write(stream.subarray(pos, pos + 5));
      pos += 5;
    }
    socket.write(stream.subarray(pos, pos + (5 - (pos % 5)) % 5));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(closed, false, 'the session was ended while messages were completing');
    assert.ok(readyForQuery >= 20, `${readyForQuery} ReadyForQuery answers`);
    socket.destroy();
    await waitFor(() => t.gw.services.limits.limiter('postgres').held('user:bob') === 0, 'bob\'s session unit released');
  });

  test('a large statement is parsed on an inspection worker and runs; small ones stay inline', async () => {
    const inspection = t.gw.services.inspection;
    const before = { ...inspection.counts };
    const c = pgClient(alice);
    await c.connect();
    try {
      const list = Array.from({ length: 20_000 }, (_, i) => i).join(', ');
      const r = await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM nums WHERE x IN (${list})`);
      assert.equal(r.rows[0]?.n, 10);
      assert.equal(inspection.counts.worker, before.worker + 1, 'the large text went to a worker');
      const small = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM nums WHERE x < 3');
      assert.equal(small.rows[0]?.n, 2);
      assert.equal(inspection.counts.worker, before.worker + 1, 'a small text stays inline');
      // Large and denied: the worker's facts reach policy (a write is not permitted).
      await assert.rejects(c.query(`DELETE FROM nums WHERE x IN (${list})`), (e: { code?: string }) => e.code === '42501');
      assert.equal(inspection.counts.worker, before.worker + 2);
      // Extended protocol: the Parse is inspected once, on the worker; nothing parses it again inline.
      const inline = inspection.counts.inline;
      const p = await c.query<{ n: number }>({ text: `SELECT count(*)::int AS n FROM nums WHERE x IN (${list}) AND $1::int = 1`, values: [1] });
      assert.equal(p.rows[0]?.n, 10);
      assert.equal(inspection.counts.worker, before.worker + 3);
      assert.equal(inspection.counts.inline, inline);
      // Too many statements in one Query: denied with the bound named (limits.inspection.max_statements).
      await assert.rejects(c.query('SELECT 1;'.repeat(1_001)), (e: { code?: string; message?: string }) => e.code === '42501' && /more than 1000 statements/.test(e.message ?? ''));
    } finally {
      await c.end();
    }
  });

  test('a large prompt is scanned on a worker: egress redaction and policy facts as inline', async () => {
    const inspection = t.gw.services.inspection;
    const before = inspection.counts.worker;
    const filler = 'lorem ipsum dolor sit amet '.repeat(2_000);
    const ask = (content: string): Promise<Response> => fetch(`${t.url}/proxy/openai/v1/chat/completions`, {
      method: 'POST', headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content }] }),
    });
    const ok = await ask(`${filler} mail bob@example.com please`);
    assert.equal(ok.status, 200);
    await ok.text();
    const sent = fake.last().body;
    assert.ok(!sent.includes('bob@example.com') && sent.includes('[EMAIL]'), 'redacted before leaving');
    const denied = await ask(`${filler} key ${AWS}`);
    assert.equal(denied.status, 403);
    assert.match(await denied.text(), /no-secrets-to-external-models/);
    assert.equal(inspection.counts.worker, before + 2);
  });

  test('a large response from an upstream that echoes the request is masked on a worker (entities and the vaulted secret)', async () => {
    const inspection = t.gw.services.inspection;
    const before = inspection.counts.worker;
    const res = await fetch(`${t.url}/proxy/echo/anything`, {
      method: 'POST', headers: { authorization: `Bearer ${alice}`, 'content-type': 'text/plain' },
      body: `${'lorem ipsum '.repeat(3_000)} mail bob@example.com, key echo-upstream-secret-0123`,
    });
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.ok(text.includes('lorem ipsum') && text.includes('[EMAIL]'), 'masked, not refused');
    assert.ok(!text.includes('bob@example.com') && !text.includes('echo-upstream-secret-0123'));
    // Two tasks: the request body (looked at for a method override) and the response.
    assert.equal(inspection.counts.worker, before + 2, 'the request and the response went to a worker');
  });
});

describe('availability: inspection fails closed', () => {
  let t: TestGateway;
  let up: UpstreamDb;
  let fake: FakeLlm;
  before(async () => {
    up = await backend.start('CREATE TABLE nums (x int);');
    fake = await startFakeLlm();
    t = await startTestGateway({
      policies: POLICIES,
      env: { APP_DB_PASSWORD: up.password ?? 'unused' },
      yaml: [
        'connections:',
        `  - { name: app, type: postgres, url: "${up.url}", credentials: { password: "\${APP_DB_PASSWORD}" } }`,
        `  - { name: openai, type: llm, provider: openai, url: "${fake.url}", credentials: { api_key: "${FAKE_OPENAI_KEY}" } }`,
        'limits:',
        // No worker can start and answer within 1 ms: every off-loop inspection times out.
        '  inspection: { workers: 1, timeout: 1ms, inline_sql: 1kb, inline_prompt: 1kb }',
      ].join('\n'),
    });
  });
  after(async () => {
    await t.close();
    await Promise.all([up.stop(), fake.close()]);
  });

  test('a statement whose worker times out is denied (42501) and never reaches the server; small ones still run', async () => {
    const r = await t.api('POST', '/api/v1/api-keys', { user: 'carol', groups: ['developers'] });
    const c = new pg.Client({ host: t.postgres.host, port: t.postgres.port, user: 'u', database: 'app', password: String(r.json.key) });
    await c.connect();
    try {
      const list = Array.from({ length: 2_000 }, (_, i) => i).join(', ');
      await assert.rejects(c.query(`SELECT count(*) FROM nums WHERE x IN (${list})`), (e: { code?: string; message?: string }) => {
        assert.equal(e.code, '42501');
        assert.match(e.message ?? '', /inspection failed/);
        return true;
      });
      assert.equal((await c.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one, 1);
    } finally {
      await c.end();
    }
    assert.ok(t.gw.services.inspection.counts.failed >= 1);
  });

  test('a request body whose worker times out is refused 503 inspection_unavailable, not forwarded', async () => {
    const r = await t.api('POST', '/api/v1/api-keys', { user: 'dave', groups: ['developers'] });
    const seen = fake.received.length;
    const res = await fetch(`${t.url}/proxy/openai/v1/chat/completions`, {
      method: 'POST', headers: { authorization: `Bearer ${String(r.json.key)}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x'.repeat(4_000) }] }),
    });
    assert.equal(res.status, 503);
    assert.equal((await res.json() as Record<string, unknown>).code, 'inspection_unavailable');
    assert.equal(fake.received.length, seen);
  });
});
