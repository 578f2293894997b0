/**
 * Recording cost benchmark (not a test). 10 000 small exchanges (request, decision, response:
 * three events each) at 32 concurrent sessions, each exchange awaiting `flush(session)` as the
 * data path does before a response's last byte. Two loops, measured in the same run:
 * - "recording only": the exchange is nothing but recording (the raw cost of group commit);
 * - "with upstream": each exchange also makes a real keep-alive HTTP round trip to a local server,
 *   with a null recorder (off) and with the StoreRecorder (on); the ratio on/off is the figure.
 *
 *   npx node bench/recording.ts [exchanges] [--pg] [--upstream-ms N]
 *     --pg: also on a throwaway PostgreSQL server (fsync off); --upstream-ms: the local upstream
 *     answers after N ms (default 0: the cheapest possible exchange, the worst case for the ratio)
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { AuditLog } from '../src/audit/audit-log.ts';
import { nullRecorder, type Recorder } from '../src/recording/recorder.ts';
import { StoreRecorder } from '../src/recording/store-recorder.ts';
import { RecordingJournal } from '../src/recording/journal.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../src/store/index.ts';
import type { SqlDriver } from '../src/store/sql.ts';
import { getTestPostgres } from '../test/harness/postgres-server.ts';

const total = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 10_000);
const usePg = process.argv.includes('--pg');
const CONCURRENCY = 32;
const msArg = process.argv.indexOf('--upstream-ms');
const upstreamMs = msArg > 0 ? Number(process.argv[msArg + 1]) : 0;

const upstream = createServer((_req, res) => {
  const answer = (): void => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"ok":true,"rows":3}'); };
  if (upstreamMs > 0) setTimeout(answer, upstreamMs);
  else answer();
});
await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/`;
const agent = new Agent({ connections: CONCURRENCY, keepAliveTimeout: 10_000 });

async function callUpstream(): Promise<string> {
  const res = await request(url, { dispatcher: agent });
  return res.body.text();
}

type Flushable = Recorder & { flush?: (session?: string) => Promise<void> };

async function run(rec: Flushable, withUpstream: boolean, tag: string): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async (_, w) => {
    const session = `bench-${tag}-${w}`;
    for (;;) {
      const i = next++;
      if (i >= total) return;
      const at = Date.now();
      rec.record({ session, protocol: 'http', type: 'request', at, user: 'alice', agent: 'bot', connection: 'api', data: { method: 'POST', path: '/v1/chat/completions', prompt: `question ${i}` } });
      rec.record({ session, protocol: 'http', type: 'decision', at, data: { effect: 'allow', reasons: ['developers-read'] } });
      const body = withUpstream ? await callUpstream() : '{"ok":true,"rows":3}';
      rec.record({ session, protocol: 'http', type: 'response', at: Date.now(), data: { status: 200, text: body } });
      await rec.flush?.(session);
    }
  }));
  return (performance.now() - t0) / 1000;
}

async function bench(name: string, db: SqlDriver, journalDir?: string): Promise<void> {
  const audit = new AuditLog(db, { now: () => Date.now() });
  const rec = new StoreRecorder(db, { audit, ...(journalDir ? { journal: RecordingJournal.create(journalDir) } : {}) });
  await run(rec, false, 'warm'); // warm up JIT, pools and tables
  const rawS = await run(rec, false, 'raw');
  const offS = await run(nullRecorder, true, 'off');
  const onS = await run(rec, true, 'on');
  const st = rec.stats();
  const line = (label: string, s: number): string =>
    `${label.padEnd(36)} ${(total / s).toFixed(0).padStart(7)} exchanges/s ${(3 * total / s).toFixed(0).padStart(8)} events/s`;
  console.log(`\n${name}: ${total} exchanges, ${CONCURRENCY} concurrent sessions, flush per exchange, upstream +${upstreamMs} ms`);
  console.log(line('recording only', rawS));
  console.log(line('with upstream, recording off', offS));
  console.log(line('with upstream, recording on', onS));
  console.log(`ratio on/off: ${(100 * offS / onS).toFixed(1)} %   (batches: ${st.batches}, avg ${(st.recorded / Math.max(1, st.batches)).toFixed(1)} events/transaction, dropped ${st.dropped})`);
  await rec.close();
}

const embedded = await openStore({ embedded: { path: undefined } });
await bench('embedded (PGlite, in memory: flush waits for the commit)', embedded);
await embedded.close();
const dir = mkdtempSync(join(tmpdir(), 'gh-bench-rec-'));
const onDisk = await openStore({ embedded: { path: dir } });
await bench('embedded (PGlite on disk, with the journal, as the gateway runs)', onDisk, join(dir, 'journal'));
await onDisk.close();
rmSync(dir, { recursive: true, force: true });
if (usePg) {
  const pgdb = await getTestPostgres();
  if (!pgdb) throw new Error('no PostgreSQL server available');
  const db = await openStore({ postgres: { url: pgdb.url, poolMax: 8 } });
  const jdir = mkdtempSync(join(tmpdir(), 'gh-bench-rec-'));
  await bench('PostgreSQL 15 server (with the journal)', db, jdir);
  rmSync(jdir, { recursive: true, force: true });
  await db.close();
  await pgdb.stop();
}
await agent.close();
upstream.close();
