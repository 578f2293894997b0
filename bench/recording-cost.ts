/**
 * What recording itself costs per exchange (not a test): the recorder, its journal, the audit
 * anchors and the embedded store thread (PGlite on disk), driven with the events the data paths
 * record, without any protocol work around them. Reports, per exchange:
 * - CPU µs of the whole process (all threads, from /proc/self/task/<tid>/stat), split into the
 *   event loop and the other threads (the store thread);
 * - bytes the store's tables and indexes grew, and the WAL on disk (bounded: it is recycled at
 *   checkpoints), then what retention deleting everything gives back;
 * - refused exchanges (a flush that rejected).
 *
 *   npx node bench/recording-cost.ts [exchanges=20000] [--rounds 3] [--window 2000] [--threads] [--tables]
 *   [--shapes pg,pg-events,http,http-long]
 * (--threads: CPU per thread name; --tables: bytes each table and index grew per exchange.)
 *
 * Shapes:
 * - `pg`: `pgbench -S`, extended protocol, 4 connections: one `statement` event per transaction
 *   (Parse text, decision, Bind parameters, result: tag, rows, excerpt; since session 12); a flush
 *   before each ReadyForQuery.
 * - `pg-events` (only with --shapes): the same transactions as recorded before session 12: request
 *   (parse), request (bind), decision, response.
 * - `http`: a ~1 KB chat completion, each exchange its own session (no `Gatehouse-Session`):
 *   session.open, request (facts, prompt), decision, response (text, usage, timings); once
 *   `--window` sessions are open, each exchange closes the oldest (the owner table evicting it),
 *   which anchors that session in the audit chain, as the gateway does with its 10 000 sessions.
 * - `http-long` (only with --shapes): the same exchanges in 16 long sessions (clients that send
 *   `Gatehouse-Session`): request, decision, response per exchange.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from '../src/audit/audit-log.ts';
import { RecordingJournal } from '../src/recording/journal.ts';
import { SessionStore } from '../src/recording/session-store.ts';
import { StoreRecorder } from '../src/recording/store-recorder.ts';
import { openStore } from '../src/store/index.ts';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const N = Number(args.find((a) => /^\d+$/.test(a)) ?? 20_000);
const ROUNDS = opt('rounds', 3);
const WINDOW = opt('window', 2000);
const PG_CONNS = 4;
const HTTP_CONC = 16;

/** utime + stime of every thread of this process, in µs, split event loop / others. */
function threadCpu(): { main: number; other: number } {
  const tick = 1e6 / 100; // CLK_TCK is 100 on Linux
  let main = 0;
  let other = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    let stat: string;
    try { stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8'); } catch { continue; }
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const us = (Number(f[11]) + Number(f[12])) * tick;
    if (Number(tid) === process.pid) main += us; else other += us;
  }
  return { main, other };
}

/** CPU µs per thread name (for --threads). */
function byName(): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = Number(tid) === process.pid ? 'main' : readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(name, (out.get(name) ?? 0) + (Number(f[11]) + Number(f[12])) * 1e4);
    } catch { /* thread gone */ }
  }
  return out;
}

/** Bytes allocated under `dir`, without `skip` (a subdirectory name). */
function du(dir: string, skip?: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) { if (e.name !== skip) total += du(p); }
    else if (e.isFile()) total += statSync(p).blocks * 512;
  }
  return total;
}

const PARSE = { message: 'parse', name: '', statement: 'SELECT abalance FROM pgbench_accounts WHERE aid = $1;' };
const PROMPT = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'system', content: 'You are a helpful assistant. Answer briefly and precisely.' }, { role: 'user', content: 'What is six times seven? Please explain the multiplication step by step for a child.' }] });
const REPLY = JSON.stringify({ id: 'chatcmpl-abc123', object: 'chat.completion', created: 1765000000, model: 'gpt-4o-mini', choices: [{ index: 0, message: { role: 'assistant', content: 'Six times seven is 42. Think of six groups of seven apples: 7, 14, 21, 28, 35, 42.' }, finish_reason: 'stop' }], usage: { prompt_tokens: 41, completion_tokens: 33, total_tokens: 74 } });

interface Rig { rec: StoreRecorder; audit: AuditLog; sessions: SessionStore; dir: string; pgdata: string; relations(): Promise<Map<string, number>>; close(): Promise<void> }

async function rig(): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'gh-bench-reccost-'));
  const db = await openStore({ embedded: { path: dir } });
  const audit = new AuditLog(db, { now: () => Date.now() });
  const rec = new StoreRecorder(db, { audit, journal: RecordingJournal.create(join(dir, 'journal')) });
  return {
    rec, audit, sessions: new SessionStore(db), dir, pgdata: join(dir, 'pgdata'),
    relations: async () => new Map((await db.query<{ name: string; bytes: number | string }>(
      `SELECT c.relname AS name, pg_relation_size(c.oid) AS bytes FROM pg_class c WHERE c.relkind IN ('r', 'i') AND c.relnamespace = 'public'::regnamespace
       UNION ALL SELECT 'toast:' || c.relname, pg_relation_size(c.reltoastrelid) + COALESCE((SELECT sum(pg_relation_size(i.indexrelid)) FROM pg_index i WHERE i.indrelid = c.reltoastrelid), 0)
       FROM pg_class c WHERE c.relkind = 'r' AND c.reltoastrelid <> 0 AND c.relnamespace = 'public'::regnamespace`,
    )).map((r) => [r.name, Number(r.bytes)])),
    close: async () => { await rec.close(); await audit.flush(); await db.close(); rmSync(dir, { recursive: true, force: true }); },
  };
}

let refused = 0;
async function flushOrCount(rec: StoreRecorder, session: string): Promise<void> {
  if (rec.flushedNow(session)) return;
  try { await rec.flush(session); } catch { refused++; }
}

async function pgRound(rec: StoreRecorder, n: number, tag: string, separate: boolean): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: PG_CONNS }, async (_, c) => {
    const session = `pg-${tag}-${c}`;
    const base = { session, protocol: 'postgres' as const, user: 'alice', agent: 'bench', connection: 'pgbench' };
    rec.record({ ...base, type: 'session.open', at: Date.now(), data: { pid: 1000 + c } });
    while (next++ < n) {
      const aid = String(1 + Math.floor(Math.random() * 100_000));
      if (!separate) {
        // As the PostgreSQL data path builds it (keys in canonical order, session 12).
        rec.record({ ...base, type: 'statement', at: Date.now(), data: {
          actions: ['sql.read'], columns: ['abalance'], effect: 'allow', message: 'parse', ms: 0, name: '', params: [aid], portal: '',
          rows: 1, sample: [['0']], sample_truncated: false, statement: PARSE.statement, tag: 'SELECT 1',
        } });
        await flushOrCount(rec, session);
        await new Promise<void>((r) => setImmediate(r));
        continue;
      }
      rec.record({ ...base, type: 'request', at: Date.now(), data: PARSE });
      // As the PostgreSQL data path builds them (keys in canonical order, session 11).
      rec.record({ ...base, type: 'request', at: Date.now(), data: { message: 'bind', name: '', params: [aid], portal: '' } });
      rec.record({ ...base, type: 'decision', at: Date.now(), data: { actions: ['sql.read'], effect: 'allow' } });
      rec.record({ ...base, type: 'response', at: Date.now(), data: { columns: ['abalance'], ms: 0, rows: 1, sample: [['0']], sample_truncated: false, tag: 'SELECT 1' } });
      await flushOrCount(rec, session);
      // pgbench's round trip: let other connections run.
      await new Promise<void>((r) => setImmediate(r));
    }
    rec.record({ ...base, type: 'session.close', at: Date.now(), data: {} });
  }));
}

const open: { id: string }[] = [];
let sessionNo = 0;
async function httpRound(rec: StoreRecorder, n: number, tag: string): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: HTTP_CONC }, async () => {
    while (next++ < n) {
      const session = `h-${tag}-${(sessionNo++).toString(36)}-0123456789abcdef`;
      const base = { session, protocol: 'http' as const, user: 'alice', agent: 'bench', connection: 'openai' };
      rec.record({ ...base, type: 'session.open', at: Date.now(), data: { transport: 'http', connection: 'openai' } });
      rec.record({ ...base, type: 'request', at: Date.now(), data: { method: 'POST', endpoint: '/v1/chat/completions', facts: { llm: { model: 'gpt-4o-mini', messages: 2, tools: [] }, findings: [] }, prompt: PROMPT } });
      rec.record({ ...base, type: 'decision', at: Date.now(), data: { action: 'llm.invoke', effect: 'allow', reasons: ['policy0'] } });
      await new Promise<void>((r) => setImmediate(r)); // the upstream round trip
      rec.record({ ...base, type: 'response', at: Date.now(), data: { status: 200, text: REPLY, truncated: false, masked: 0, usage: { prompt_tokens: 41, completion_tokens: 33 }, timings: { gateway_ms: 0.21, upstream_headers_ms: 0.4, total_ms: 0.9 } } });
      open.push({ id: session });
      if (open.length > WINDOW) {
        const old = open.shift()!;
        rec.record({ session: old.id, protocol: 'http', type: 'session.close', at: Date.now(), user: 'alice', agent: 'bench', data: { reason: 'evicted' } });
      }
      await flushOrCount(rec, session);
    }
  }));
}

/** `http-long`: the same exchanges in 16 long sessions (clients that send `Gatehouse-Session`), opened once, closed at the end of the round. */
async function httpLongRound(rec: StoreRecorder, n: number, tag: string): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: HTTP_CONC }, async (_, c) => {
    const session = `hl-${tag}-${c}-0123456789abcdef`;
    const base = { session, protocol: 'http' as const, user: 'alice', agent: 'bench', connection: 'openai' };
    rec.record({ ...base, type: 'session.open', at: Date.now(), data: { transport: 'http', connection: 'openai' } });
    while (next++ < n) {
      rec.record({ ...base, type: 'request', at: Date.now(), data: { method: 'POST', endpoint: '/v1/chat/completions', facts: { llm: { model: 'gpt-4o-mini', messages: 2, tools: [] }, findings: [] }, prompt: PROMPT } });
      rec.record({ ...base, type: 'decision', at: Date.now(), data: { action: 'llm.invoke', effect: 'allow', reasons: ['policy0'] } });
      await new Promise<void>((r) => setImmediate(r)); // the upstream round trip
      rec.record({ ...base, type: 'response', at: Date.now(), data: { status: 200, text: REPLY, truncated: false, masked: 0, usage: { prompt_tokens: 41, completion_tokens: 33 }, timings: { gateway_ms: 0.21, upstream_headers_ms: 0.4, total_ms: 0.9 } } });
      await flushOrCount(rec, session);
    }
    rec.record({ ...base, type: 'session.close', at: Date.now(), data: { reason: 'idle' } });
  }));
}

async function measure(r: Rig, shape: Shape, n: number, tag: string): Promise<{ main: number; other: number; bytes: number; wal: number }> {
  await r.rec.settled(30_000);
  const c0 = threadCpu();
  const n0 = byName();
  const d0 = du(r.pgdata, 'pg_wal');
  const t0 = args.includes('--tables') ? await r.relations() : undefined;
  if (shape === 'pg' || shape === 'pg-events') await pgRound(r.rec, n, tag, shape === 'pg-events'); else if (shape === 'http-long') await httpLongRound(r.rec, n, tag); else await httpRound(r.rec, n, tag);
  await r.rec.settled(60_000);
  await r.audit.flush();
  const c1 = threadCpu();
  if (args.includes('--threads')) {
    const parts: string[] = [];
    for (const [name, us] of byName()) { const d = (us - (n0.get(name) ?? 0)) / n; if (d >= 1) parts.push(`${name} ${d.toFixed(0)}`); }
    console.log(`        per thread (µs/exchange): ${parts.join(', ')}`);
  }
  if (t0) {
    const parts: string[] = [];
    for (const [name, bytes] of await r.relations()) { const d = (bytes - (t0.get(name) ?? 0)) / n; if (d >= 1) parts.push(`${name} ${d.toFixed(0)}`); }
    console.log(`        per relation (bytes/exchange): ${parts.join(', ')}`);
  }
  const d1 = du(r.pgdata, 'pg_wal');
  return { main: (c1.main - c0.main) / n, other: (c1.other - c0.other) / n, bytes: (d1 - d0) / n, wal: du(join(r.pgdata, 'pg_wal')) };
}

const fmt = (x: number): string => x.toFixed(0).padStart(6);
const shapeArg = args.indexOf('--shapes');
type Shape = 'pg' | 'pg-events' | 'http' | 'http-long';
const SHAPES = (shapeArg >= 0 ? args[shapeArg + 1]!.split(',') : ['pg', 'http']) as Shape[];
for (const shape of SHAPES) {
  const r = await rig();
  await measure(r, shape, Math.min(N, Math.max(2000, WINDOW + 500)), 'warm');
  console.log(`\n${shape}: ${N} exchanges per round, PGlite on disk + journal, audit anchors`);
  console.log('round   µs CPU/exchange (event loop + other threads = total)   table+index bytes/exchange   WAL on disk');
  for (let i = 0; i < ROUNDS; i++) {
    const m = await measure(r, shape, N, `r${i}`);
    console.log(`${String(i + 1).padStart(5)}   ${fmt(m.main)} + ${fmt(m.other)} = ${fmt(m.main + m.other)}${' '.repeat(27)}${fmt(m.bytes)}${' '.repeat(22)}${(m.wal / 1048576).toFixed(0)} MiB`);
  }
  const before = du(r.pgdata);
  const purged = await r.sessions.purgeOlderThan(-60_000);
  await r.rec.settled(30_000);
  const after = du(r.pgdata);
  console.log(`retention: purged ${purged} sessions, store ${(before / 1048576).toFixed(1)} MiB -> ${(after / 1048576).toFixed(1)} MiB; refused exchanges: ${refused}; dropped events: ${r.rec.stats().dropped}`);
  await r.close();
}
