/**
 * Availability under attack: one authenticated attacker next to well-behaved clients, in the same
 * run. Gatehouse runs as deployed (`gatehouse start`, its own process); a fake LLM upstream and
 * the attacker run in two more processes; this process runs the well-behaved clients and a
 * `/healthz` probe. Two phases of equal length: well-behaved clients alone, then the same
 * clients with the attacker. Reported per phase: the gateway's event-loop delay (max and p99 from
 * its own `monitorEventLoopDelay`, read through `/metrics`, reset at each phase start), the
 * `/healthz` probe's latency, and the well-behaved clients' p50/p99 (small SQL through the
 * PostgreSQL listener, small chat completions through `/proxy`).
 *
 * The attacker loops, for the whole phase: a 0.9 MB `SELECT … WHERE x IN (0, …, 124999)`, a
 * 10 000-statement query, a 9 MB chat prompt, and 40 slow-body connections (1 byte every 100 ms,
 * reconnecting when cut). Loopback only; every loop is bounded by the phase's deadline.
 * Needs a PostgreSQL server (BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432/postgres).
 *
 *   npx node bench/adversarial-mix.ts [seconds=8] [workers=2]
 *   (workers=0: inspection inline, as before the worker pool, for comparison)
 *   BENCH_ATTACKS=in,many,prompt,slow   which attacks run (default: all)
 *   BENCH_GW_PROF=<dir>                 writes a CPU profile of the gateway process
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startGatehouse } from './lib/gatehouse-process.ts';
import { startUpstream } from './lib/llm-upstream.ts';
import { firstLine, stopAll } from './lib/proc.ts';

const SECONDS = Math.min(60, Number(process.argv[2] ?? 8));
const WORKERS = Number(process.argv[3] ?? 2);
const PG_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const ROLE = process.env.BENCH_ROLE;

/** Latencies (ms) of one client kind in one phase. */
class Samples {
  readonly ms: number[] = [];
  errors = 0;
  add(t0: number): void { this.ms.push(performance.now() - t0); }
  pct(p: number): number {
    const s = [...this.ms].sort((a, b) => a - b);
    return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
  }
  line(name: string): string {
    return `${name.padEnd(26)} n=${String(this.ms.length).padStart(5)}  p50 ${this.pct(50).toFixed(1).padStart(7)} ms  p99 ${this.pct(99).toFixed(1).padStart(7)} ms  max ${this.pct(100).toFixed(1).padStart(7)} ms${this.errors ? `  errors ${this.errors}` : ''}`;
  }
}

async function loopUntil(deadline: number, fn: () => Promise<void>): Promise<void> {
  while (performance.now() < deadline) await fn();
}

/** The attacker process: every attack in parallel until the deadline; prints counts. */
async function attack(): Promise<void> {
  const gw = process.env.GW_URL!;
  const key = process.env.KEY!;
  const pgPort = Number(process.env.PG_PORT);
  const deadline = performance.now() + SECONDS * 1000;
  const counts: Record<string, { ok: number; refused: number }> = {};
  const count = (k: string, ok: boolean): void => { const c = (counts[k] ??= { ok: 0, refused: 0 }); if (ok) c.ok++; else c.refused++; };
  const inList = `SELECT 1 WHERE 1 IN (${Array.from({ length: 125_000 }, (_, i) => i).join(', ')})`;
  const many = 'SELECT 1;'.repeat(10_000);
  const prompt = Buffer.from(JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'tell me about 12345 67890 '.repeat(360_000) }] }));
  const pgLoop = (name: string, sql: string): Promise<void> => loopUntil(deadline, async () => {
    const c = new pg.Client({ host: '127.0.0.1', port: pgPort, user: 'attacker', database: 'db', password: key });
    c.on('error', () => undefined);
    try {
      await c.connect();
      while (performance.now() < deadline) await c.query(sql).then(() => { count(name, true); }, () => { count(name, false); });
    } catch { count(name, false); await new Promise((r) => setTimeout(r, 50)); }
    await c.end().catch(() => undefined);
  });
  const llmLoop = (): Promise<void> => loopUntil(deadline, async () => {
    const r = await fetch(`${gw}/proxy/openai/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: prompt }).catch(() => undefined);
    count('llm 9 MB prompt', r?.status === 200);
    await r?.text().catch(() => undefined);
    if (r === undefined || r.status !== 200) await new Promise((res) => setTimeout(res, 50));
  });
  const host = new URL(gw);
  const slow = (): Promise<void>[] => Array.from({ length: 40 }, () => loopUntil(deadline, () => new Promise<void>((resolve) => {
    const s = connect(Number(host.port), host.hostname);
    const drip = setInterval(() => { if (s.writable) s.write('a'); }, 100);
    const stop = setTimeout(() => { s.destroy(); }, Math.max(0, deadline - performance.now()));
    s.on('error', () => undefined);
    s.on('close', () => { clearInterval(drip); clearTimeout(stop); count('slow-body connection', false); resolve(); });
    s.write(`POST /proxy/openai/v1/chat/completions HTTP/1.1\r\nHost: ${host.host}\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n`);
  })));
  const only = new Set((process.env.BENCH_ATTACKS ?? 'in,many,prompt,slow').split(','));
  await Promise.all([
    only.has('in') ? pgLoop('pg 0.9 MB IN list', inList) : undefined, only.has('many') ? pgLoop('pg 10 000 statements', many) : undefined,
    only.has('prompt') ? llmLoop() : undefined, ...(only.has('slow') ? slow() : []),
  ]);
  process.stdout.write(`${JSON.stringify(counts)}\n`);
}

/** The gateway's event-loop delay since the last scrape (prom-client resets it on each collect). */
async function loopDelay(gw: string): Promise<{ maxMs: number; p99Ms: number }> {
  const text = await (await fetch(`${gw}/metrics`)).text();
  const read = (name: string): number => Number(new RegExp(`^gatehouse_nodejs_eventloop_lag_${name}_seconds (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) * 1000;
  return { maxMs: read('max'), p99Ms: read('p99') };
}

/** One phase of well-behaved clients (and the attacker when `attacker` is given). */
async function phase(gw: string, pgPort: number, key: string, attacker?: () => Promise<string>): Promise<{ lines: string[]; delay: { maxMs: number; p99Ms: number }; attack?: string }> {
  await loopDelay(gw); // reset
  const deadline = performance.now() + SECONDS * 1000;
  const health = new Samples();
  const sql = new Samples();
  const llm = new Samples();
  const attackDone = attacker?.();
  const probe = loopUntil(deadline, async () => {
    const t0 = performance.now();
    const r = await fetch(`${gw}/healthz`).catch(() => undefined);
    if (r?.status === 200) health.add(t0); else health.errors++;
    await r?.text().catch(() => undefined);
    await new Promise((res) => setTimeout(res, 20));
  });
  const pgClient = async (): Promise<void> => {
    const c = new pg.Client({ host: '127.0.0.1', port: pgPort, user: 'good', database: 'db', password: key });
    c.on('error', () => undefined);
    await c.connect();
    let i = 0;
    await loopUntil(deadline, async () => {
      const t0 = performance.now();
      await c.query('SELECT $1::int + 1 AS n', [i++ % 100]).then(() => { sql.add(t0); }, () => { sql.errors++; });
    });
    await c.end();
  };
  const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'What is six times seven?' }] });
  const llmClient = (): Promise<void> => loopUntil(deadline, async () => {
    const t0 = performance.now();
    const r = await fetch(`${gw}/proxy/openai/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body }).catch(() => undefined);
    if (r?.status === 200) llm.add(t0); else llm.errors++;
    await r?.text().catch(() => undefined);
  });
  await Promise.all([probe, pgClient(), pgClient(), llmClient(), llmClient()]);
  const delay = await loopDelay(gw);
  const attack = attackDone === undefined ? undefined : await attackDone;
  return {
    lines: [health.line('/healthz probe (every 20 ms)'), sql.line('SQL, 2 clients'), llm.line('chat completion, 2 clients')],
    delay, ...(attack === undefined ? {} : { attack }),
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'gh-bench-adv-'));
  const children: ChildProcess[] = [];
  const self = fileURLToPath(import.meta.url);
  const node = (env: Record<string, string>): ChildProcess => {
    const c = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', self, String(SECONDS), String(WORKERS)], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(c);
    return c;
  };
  try {
    const upstream = await startUpstream(250);
    children.push(upstream.proc);
    const upPort = upstream.port;
    const pgUrl = new URL(PG_URL);
    const password = decodeURIComponent(pgUrl.password);
    pgUrl.password = '';
    const started = await startGatehouse({
      dir, recording: false, actions: ['llm.invoke', 'sql.read'],
      ...(process.env.BENCH_GW_PROF ? { cpuProfDir: process.env.BENCH_GW_PROF } : {}),
      connections: [
        `  - { name: openai, type: llm, provider: openai, url: "http://127.0.0.1:${upPort}", credentials: { api_key: "sk-bench-upstream" } }`,
        `  - { name: db, type: postgres, url: "${pgUrl.toString()}", credentials: { password: "${password || 'unused'}" } }`,
      ],
      maskingRules: ['    - { connections: ["*"], direction: both, entities: [EMAIL, CREDIT_CARD, US_SSN, PHONE, SECRET], strategy: redact }'],
      extraYaml: [`limits: { inspection: { workers: ${WORKERS} } }`],
    });
    children.push(started.proc);
    const gw = started.httpUrl;
    const pgPort = started.pgPort;
    const mint = (user: string): Promise<string> => started.mint(user);
    const good = await mint('good');
    const bad = await mint('attacker');
    await phase(gw, pgPort, good); // warm-up (JIT, pools), not reported
    const calm = await phase(gw, pgPort, good);
    const attacked = await phase(gw, pgPort, good, async () => {
      const a = node({ BENCH_ROLE: 'attack', GW_URL: gw, KEY: bad, PG_PORT: String(pgPort) });
      return (await firstLine(a, /^(\{.*\})\n/m, (SECONDS + 60) * 1000))[1]!;
    });
    console.log(`adversarial mix: ${SECONDS} s per phase, inspection workers ${WORKERS}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Node ${process.version}`);
    for (const [name, r] of [['well-behaved clients alone', calm], ['with the attacker', attacked]] as const) {
      console.log(`${name}: gateway event-loop delay max ${r.delay.maxMs.toFixed(1)} ms, p99 ${r.delay.p99Ms.toFixed(1)} ms`);
      for (const l of r.lines) console.log(`  ${l}`);
      if (r.attack !== undefined) console.log(`  attacker (ok/refused): ${r.attack}`);
    }
  } finally {
    await stopAll(children);
    rmSync(dir, { recursive: true, force: true });
  }
}

// Dispatch last: the classes and functions above are initialized by now.
if (ROLE === 'attack') {
  await attack();
} else {
  await main();
}
