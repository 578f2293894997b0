import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { adminHandler } from '../../src/api/admin.ts';
import type { AdminState } from '../../src/api/context.ts';
import { HostGuard } from '../../src/http/host-guard.ts';
import { registerSessionRoutes } from '../../src/api/routes/sessions.ts';
import { CliError, type Io } from '../../src/cli/args.ts';
import { sessionsExport, sessionsList, sessionsReplay, sessionsVerify } from '../../src/cli/commands/sessions.ts';
import { Router } from '../../src/http/router.ts';
import { sendProblem } from '../../src/http/problem.ts';
import { exchangeEvents } from '../../src/recording/recording.case.ts';
import { rewriteEvents } from '../harness/recording-tamper.ts';
import { SessionStore } from '../../src/recording/session-store.ts';
import { StoreRecorder } from '../../src/recording/store-recorder.ts';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';

// The session routes and CLI commands against a real gateway's services, store and audit log.
// (Until the lead registers the routes in buildAdminRouter, this test mounts them itself.)
describe('sessions API and CLI', () => {
  let t: TestGateway;
  let server: Server;
  let base: string;
  const hourAgo = Date.now() - 3_600_000;
  before(async () => {
    t = await startTestGateway();
    const svc = t.gw.services;
    const sessions = new SessionStore(svc.db, { clock: svc.clock });
    const rec = new StoreRecorder(svc.db, { clock: svc.clock, audit: svc.audit });
    for (const e of exchangeEvents('s-alice', hourAgo, { effect: 'deny', exchanges: 3 })) rec.record(e);
    for (const e of exchangeEvents('s-bob', hourAgo + 60_000, { user: 'bob' })) rec.record(e);
    for (const e of exchangeEvents('s-old', Date.now() - 3 * 86_400_000, { user: 'bob' })) rec.record(e);
    await rec.flush();
    const router = new Router<AdminState>();
    registerSessionRoutes(router);
    server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    base = `http://127.0.0.1:${port}`;
    const handle = adminHandler({ ...svc, sessions }, new HostGuard({ host: '127.0.0.1', port }, undefined, []), router);
    server.on('request', (req, res) => {
      handle(req, res, new URL(req.url ?? '/', base)).catch((err: unknown) => { sendProblem(res, err); });
    });
  });
  after(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    await t.close();
  });

  const get = async (path: string, token = t.adminKey): Promise<{ status: number; type: string; text: string; json: () => Record<string, unknown> }> => {
    const res = await fetch(base + path, { headers: { authorization: `Bearer ${token}` } });
    const text = await res.text();
    return { status: res.status, type: res.headers.get('content-type') ?? '', text, json: () => JSON.parse(text) as Record<string, unknown> };
  };
  const ids = (r: { json: () => Record<string, unknown> }): string[] => (r.json().items as { id: string }[]).map((s) => s.id);

  test('list with filters as query parameters; admin action required', async () => {
    assert.deepEqual(ids(await get('/api/v1/sessions')), ['s-bob', 's-alice', 's-old']);
    assert.deepEqual(ids(await get('/api/v1/sessions?since=24h')), ['s-bob', 's-alice']);
    assert.deepEqual(ids(await get('/api/v1/sessions?user=bob&since=24h')), ['s-bob']);
    assert.deepEqual(ids(await get('/api/v1/sessions?decision=deny')), ['s-alice']);
    assert.deepEqual(ids(await get(`/api/v1/sessions?until=${new Date(hourAgo).toISOString()}`)), ['s-old']);
    assert.deepEqual(ids(await get('/api/v1/sessions?agent=bot&connection=openai&limit=1')), ['s-bob']);
    const bad = await get('/api/v1/sessions?decision=maybe');
    assert.equal(bad.status, 400);
    assert.equal(bad.json().code, 'validation_failed');
    assert.equal((await get('/api/v1/sessions?since=yesterday')).status, 400);
    assert.equal((await get('/api/v1/sessions', 'ghk_notarealkeynotarealkeynotarealkey0000')).status, 401);
  });

  test('get, events (paged), verify, export; unknown sessions are 404', async () => {
    const one = (await get('/api/v1/sessions/s-alice')).json();
    assert.equal(one.events, 11);
    assert.deepEqual(one.decisions, ['deny']);
    const page = (await get('/api/v1/sessions/s-alice/events?after=2&limit=3')).json();
    assert.deepEqual((page.items as { seq: number }[]).map((e) => e.seq), [3, 4, 5]);
    assert.equal(page.next, 5);
    assert.deepEqual((await get('/api/v1/sessions/s-alice/verify')).json(), { ok: true, events: 11 });
    const csv = await get('/api/v1/sessions/s-alice/export?format=csv');
    assert.match(csv.type, /^text\/csv/);
    assert.equal(csv.text.split('\r\n').length, 13);
    const cast = await get('/api/v1/sessions/s-alice/export?format=asciicast');
    assert.equal((JSON.parse(cast.text.split('\n')[0]!) as { version: number }).version, 2);
    const json = (await get('/api/v1/sessions/s-alice/export')).json();
    assert.equal((json.events as unknown[]).length, 11);
    assert.equal((await get('/api/v1/sessions/s-alice/export?format=xml')).status, 400);
    for (const p of ['', '/events', '/verify', '/export']) assert.equal((await get(`/api/v1/sessions/nope${p}`)).status, 404);
  });

  const cli = (): Io & { lines: string[]; errs: string[] } => {
    const lines: string[] = [];
    const errs: string[] = [];
    return { lines, errs, out: (l) => lines.push(l), err: (l) => errs.push(l), env: { GATEHOUSE_URL: base, GATEHOUSE_TOKEN: t.adminKey }, cwd: t.dir };
  };

  test('CLI: list (table and --json), replay, export, verify', async () => {
    let io = cli();
    assert.equal(await sessionsList.run(['--user', 'bob', '--since', '24h', '--json'], io), 0);
    assert.deepEqual((JSON.parse(io.lines[0]!) as { id: string }[]).map((s) => s.id), ['s-bob']);
    io = cli();
    assert.equal(await sessionsList.run(['--decision', 'deny'], io), 0);
    assert.match(io.lines[0]!, /^ID\s+PROTOCOL\s+PRINCIPAL/);
    assert.match(io.lines[0]!, /s-alice\s+http\s+alice via bot\s+openai/);
    io = cli();
    assert.equal(await sessionsReplay.run(['s-bob', '--speed', '100000'], io), 0);
    assert.match(io.lines[0]!, /^session s-bob \(http, bob via bot\)/);
    assert.deepEqual(io.lines.slice(1).map((l) => /#(\d+) (\S+)/.exec(l)?.slice(1).join(' ')), ['1 session.open', '2 request', '3 decision', '4 response', '5 session.close']);
    io = cli();
    assert.equal(await sessionsExport.run(['s-bob', '--format', 'asciicast'], io), 0);
    const frames = io.lines[0]!.split('\n').slice(1).map((l) => JSON.parse(l) as [number, string, string]);
    assert.equal(frames.length, 5);
    io = cli();
    assert.equal(await sessionsVerify.run(['s-bob'], io), 0);
    assert.equal(io.lines[0], 'session s-bob is intact (5 events)');
  });

  test('CLI verify exits 1 naming the first bad event; --json too', async () => {
    await rewriteEvents(t.gw.services.db, 's-old', (es) => es.map((e) => (e.seq === 4 ? { ...e, text: '{"text":"forged"}' } : e)));
    await assert.rejects(sessionsVerify.run(['s-old'], cli()), (e) => e instanceof CliError && e.exitCode === 1 && /event 4: changed/.test(e.message));
    const io = cli();
    assert.equal(await sessionsVerify.run(['s-old', '--json'], io), 1);
    assert.deepEqual(JSON.parse(io.lines[0]!), { ok: false, seq: 4, reason: 'changed' });
    await assert.rejects(sessionsVerify.run(['nope'], cli()), (e) => e instanceof CliError && /not_found/.test(e.message));
  });
});
