/**
 * The recorder's own event-loop CPU per PostgreSQL transaction (not a test): the four events the
 * PostgreSQL path records for a `pgbench -S` extended transaction (parse, bind, decision,
 * response) at 4 connections, a flush before each ReadyForQuery (journal on), batches chained,
 * encoded and compressed as the store writer does — against a store that does nothing, so what is
 * measured is canonical JSON, the journal append (its write(2) included), chaining, hashing,
 * body encoding and compression, and their garbage. With other source trees given (e.g. a
 * worktree of an older commit, node_modules symlinked), each runs in the same process, rounds
 * interleaved, so a loaded machine affects both alike.
 *
 *   npx node bench/recorder-cpu.ts [transactions=50000] [rounds=3] [other tree ...]
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

interface Rec {
  record(e: object): void;
  flushedNow(session: string): boolean;
  flush(session?: string): Promise<void>;
  settled(ms?: number): Promise<void>;
  close(): Promise<void>;
}

const args = process.argv.slice(2);
const N = Number(args[0] ?? 50_000);
const ROUNDS = Number(args[1] ?? 3);
const here = fileURLToPath(new URL('..', import.meta.url));
const trees = [here, ...args.slice(2).map((p) => resolve(p))];

const exec = { query: () => Promise.resolve([]) };
const nullStore = {
  kind: 'postgres', ...exec,
  transaction: <T>(fn: (tx: typeof exec) => Promise<T>): Promise<T> => fn(exec),
  exec: () => Promise.resolve(), listen: () => Promise.resolve(() => Promise.resolve()), notify: () => Promise.resolve(), close: () => Promise.resolve(),
};

/** utime + stime of the whole process (every thread), µs. */
function cpu(): number {
  let us = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const s = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      us += (Number(f[11]) + Number(f[12])) * 1e4;
    } catch { /* thread gone */ }
  }
  return us;
}

const PARSE = { message: 'parse', name: '', statement: 'SELECT abalance FROM pgbench_accounts WHERE aid = $1;' };

async function round(rec: Rec, n: number, tag: string): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: 4 }, async (_, c) => {
    const session = `pg-${tag}-${c}`;
    const base = { session, protocol: 'postgres', user: 'alice', agent: 'bench', connection: 'pgbench' };
    rec.record({ ...base, type: 'session.open', at: Date.now(), data: { pid: 1000 + c } });
    while (next++ < n) {
      const aid = String(1 + Math.floor(Math.random() * 100_000));
      rec.record({ ...base, type: 'request', at: Date.now(), data: PARSE });
      rec.record({ ...base, type: 'request', at: Date.now(), data: { message: 'bind', name: '', params: [aid], portal: '' } });
      rec.record({ ...base, type: 'decision', at: Date.now(), data: { actions: ['sql.read'], effect: 'allow' } });
      rec.record({ ...base, type: 'response', at: Date.now(), data: { columns: ['abalance'], ms: 0, rows: 1, sample: [['0']], sample_truncated: false, tag: 'SELECT 1' } });
      if (!rec.flushedNow(session)) await rec.flush(session);
      // The client's round trip: other connections run; now and then a timer turn (the group commit's).
      if (next % 50 === 0) await new Promise<void>((r) => setTimeout(r, 1));
      else await new Promise<void>((r) => setImmediate(r));
    }
  }));
  await rec.settled(30_000);
}

const dir = mkdtempSync(join(tmpdir(), 'gh-bench-reccpu-'));
const rigs: { tree: string; rec: Rec }[] = [];
for (const [i, tree] of trees.entries()) {
  const { StoreRecorder } = await import(join(tree, 'src/recording/store-recorder.ts')) as { StoreRecorder: new (db: unknown, o: object) => Rec };
  const { RecordingJournal } = await import(join(tree, 'src/recording/journal.ts')) as { RecordingJournal: { create(d: string): unknown } };
  rigs.push({ tree, rec: new StoreRecorder(nullStore, { journal: RecordingJournal.create(join(dir, `j${i}`)) }) });
}
// The loop alone (a recorder that does nothing): what the figures include besides recording.
const none: Rec = { record: () => undefined, flushedNow: () => true, flush: () => Promise.resolve(), settled: () => Promise.resolve(), close: () => Promise.resolve() };
console.log(`recorder event-loop CPU per PostgreSQL transaction (4 events), null store, ${N} tx per round, ${ROUNDS} rounds interleaved; load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
const results = new Map<string, number[]>();
for (const r of [...rigs, { tree: '(no recorder: the loop alone)', rec: none }]) await round(r.rec, Math.min(N, 20_000), 'warm');
for (let k = 0; k < ROUNDS; k++) {
  const order = [...rigs, { tree: '(no recorder: the loop alone)', rec: none }];
  if (k % 2 === 1) order.reverse();
  for (const r of order) {
    const c0 = cpu();
    await round(r.rec, N, `r${k}`);
    const us = (cpu() - c0) / N;
    results.set(r.tree, [...(results.get(r.tree) ?? []), us]);
  }
}
for (const [tree, list] of results) {
  console.log(`  ${tree.padEnd(40)} ${Math.min(...list).toFixed(1)}–${Math.max(...list).toFixed(1)} µs/tx (rounds: ${list.map((x) => x.toFixed(1)).join(', ')})`);
}
for (const r of rigs) await r.rec.close();
rmSync(dir, { recursive: true, force: true });
