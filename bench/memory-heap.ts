/**
 * What the main thread's V8 heap keeps under 1 000 keep-alive HTTP connections (issue 23): starts
 * `gatehouse start` as `bench/memory.ts` does (embedded store, masking, recording on), runs
 * `wrk -c1000` (a ~1 KB chat completion) for BENCH_SECONDS, writes a heap snapshot of the main
 * thread (Node's `--heapsnapshot-signal`) at each of the given seconds into the soak, and prints,
 * between consecutive snapshots, the object kinds (V8 type and constructor) whose retained count and
 * self size grew most. A leak shows as a kind that grows with every snapshot.
 *
 *   BENCH_SECONDS=300 npx node bench/memory-heap.ts [snapshot-seconds=60,240] [keep-dir]
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGatehouse } from './lib/gatehouse-process.ts';
import { chatRequest, startUpstream } from './lib/llm-upstream.ts';
import { loadAverage, rssMiB, stopAll } from './lib/proc.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 300);
const AT = (process.argv[2] ?? '60,240').split(',').map(Number);
const KEEP = process.argv[3];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

type Kinds = Map<string, { n: number; bytes: number }>;

/** Count and self size by "type:constructor" of every node of a `.heapsnapshot`. */
export function kinds(file: string): Kinds {
  const s = JSON.parse(readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } }; nodes: number[]; strings: string[];
  };
  const f = s.snapshot.meta.node_fields;
  const [ti, ni, si, nf] = [f.indexOf('type'), f.indexOf('name'), f.indexOf('self_size'), f.length];
  const types = s.snapshot.meta.node_types[0];
  const out: Kinds = new Map();
  for (let i = 0; i < s.nodes.length; i += nf) {
    const type = types[s.nodes[i + ti]!]!;
    const name = /string|number|code|hidden|array/.test(type) ? '' : s.strings[s.nodes[i + ni]!]!.slice(0, 60);
    const k = `${type}:${name}`;
    const e = out.get(k) ?? { n: 0, bytes: 0 };
    e.n++;
    e.bytes += s.nodes[i + si]!;
    out.set(k, e);
  }
  return out;
}

function diff(a: Kinds, b: Kinds, top = 25): string[] {
  const total = (k: Kinds): number => [...k.values()].reduce((x, e) => x + e.bytes, 0);
  const rows = [...b].map(([k, e]) => ({ k, dn: e.n - (a.get(k)?.n ?? 0), db: e.bytes - (a.get(k)?.bytes ?? 0), n: e.n, bytes: e.bytes }))
    .sort((x, y) => y.db - x.db).slice(0, top);
  return [`  heap in snapshot ${(total(a) / 2 ** 20).toFixed(1)} -> ${(total(b) / 2 ** 20).toFixed(1)} MB; grew most:`,
    ...rows.map((r) => `  ${(r.db / 1024).toFixed(0).padStart(8)} KB ${String(r.dn).padStart(8)} objects  (now ${r.n}, ${(r.bytes / 1024).toFixed(0)} KB)  ${r.k}`)];
}

if (import.meta.main) {
  const dir = mkdtempSync(join(tmpdir(), 'gh-bench-heap-'));
  const snaps = join(dir, 'snaps');
  mkdirSync(snaps);
  const up = await startUpstream(600);
  const children = [up.proc];
  try {
    const gw = await startGatehouse({
      dir: join(dir, 'gw'), recording: true, actions: ['llm.invoke'],
      connections: [`  - { name: openai, type: llm, provider: openai, url: "http://127.0.0.1:${up.port}", credentials: { api_key: "sk-bench-upstream" } }`],
      maskingRules: ['    - { connections: ["*"], direction: both, entities: [EMAIL, CREDIT_CARD, US_SSN, PHONE, SECRET], strategy: redact }'],
      extraYaml: ['limits: { per_principal: { http_requests: 2000 } }'],
      nodeArgs: ['--heapsnapshot-signal=SIGUSR1', `--diagnostic-dir=${snaps}`],
    });
    children.push(gw.proc);
    const key = await gw.mint('bench');
    const script = join(dir, 'post.lua');
    writeFileSync(script, ['wrk.method = "POST"', `wrk.body = ${JSON.stringify(chatRequest(1000))}`, 'wrk.headers["content-type"] = "application/json"', `wrk.headers["authorization"] = "Bearer ${key}"`].join('\n'));
    console.log(`heap soak: ${SECONDS} s of wrk -c1000, snapshots at ${AT.join(', ')} s; idle RSS ${rssMiB(gw.pid).rss.toFixed(0)} MiB; load average ${loadAverage()}`);
    const t0 = Date.now();
    let wrkProc: ReturnType<typeof execFile> | undefined;
    const wrk = new Promise<string>((resolve, reject) => {
      wrkProc = execFile('wrk', ['-t1', '-c1000', `-d${SECONDS}s`, '--timeout', '30s', '-s', script, `${gw.httpUrl}/proxy/openai/v1/chat/completions`], { encoding: 'utf8' }, (err, out) => { if (err) reject(new Error(`wrk: ${err.message}`)); else resolve(out); });
    });
    const files: string[] = [];
    process.on('exit', () => { wrkProc?.kill(); });
    for (const at of AT) {
      await sleep(Math.max(0, t0 + at * 1000 - Date.now()));
      process.kill(gw.pid, 'SIGUSR1');
      let file: string | undefined;
      // Written when complete (Node writes to the final name; wait until its size stops changing).
      for (let last = -1; ; await sleep(2000)) {
        file = readdirSync(snaps).find((f) => f.endsWith('.heapsnapshot') && !files.includes(join(snaps, f)));
        if (file) { const size = statSync(join(snaps, file)).size; if (size === last && size > 0) break; last = size; }
      }
      const path = join(snaps, file);
      files.push(path);
      console.log(`snapshot at ${at} s (took until ${((Date.now() - t0) / 1000).toFixed(0)} s): ${(statSync(path).size / 2 ** 20).toFixed(0)} MB file; RSS ${rssMiB(gw.pid).rss.toFixed(0)} MiB; load average ${loadAverage()}`);
    }
    const out = await wrk;
    console.log(`wrk: ${/(\d+) requests in/.exec(out)?.[1] ?? '?'} requests; ${/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0} non-2xx; ${/Socket errors: .*/.exec(out)?.[0] ?? 'no socket errors'}`);
    let prev = kinds(files[0]!);
    for (let i = 1; i < files.length; i++) {
      const cur = kinds(files[i]!);
      console.log(`snapshot ${i} -> ${i + 1}:`);
      for (const l of diff(prev, cur)) console.log(l);
      prev = cur;
    }
    if (KEEP) files.forEach((f, i) => renameSync(f, join(KEEP, `heap-${i + 1}.heapsnapshot`)));
  } finally {
    await stopAll(children);
    rmSync(dir, { recursive: true, force: true });
  }
}
