/**
 * Microbenchmark of shell command classification (issue 19): µs per `inspectCommand` call over
 * the bypass corpus and the everyday commands (src/inspect/shell/corpus.ts), against
 * tree-sitter-bash's bare parse of the same texts, in the same run. Each command is timed
 * `rounds` times and its median kept (robust to preemption on a loaded machine); p50/p99/max are
 * over the commands. CPU µs/op (process.cpuUsage over all calls) is printed too.
 * Target: p99 ≤ 200 µs for commands under 1 KB. Also one 1 KB and one 15 KB command line.
 *
 *   npx node bench/shell-inspect.ts [rounds=200]
 */
import { createRequire } from 'node:module';
import { Language, Parser } from 'web-tree-sitter';
import { DANGEROUS_ALL, EVERYDAY } from '../src/inspect/shell/corpus.ts';
import { initShellInspector, inspectCommand } from '../src/inspect/shell/inspect.ts';

const rounds = Number(process.argv[2] ?? 200);
const require = createRequire(import.meta.url);

await initShellInspector();
const parser = new Parser();
parser.setLanguage(await Language.load(require.resolve('tree-sitter-bash/tree-sitter-bash.wasm')));

const commands = [...DANGEROUS_ALL, ...EVERYDAY];

/** Median µs of each text (over `rounds` calls), sorted; and CPU µs per call overall. */
function sample(fn: (c: string) => void, texts: readonly string[], n = rounds): { medians: number[]; cpu: number } {
  for (let r = 0; r < 20; r++) for (const c of texts) fn(c); // warm-up
  const per: number[][] = texts.map(() => []);
  const u0 = process.cpuUsage();
  for (let r = 0; r < n; r++) {
    texts.forEach((c, i) => {
      const t0 = process.hrtime.bigint();
      fn(c);
      per[i]?.push(Number(process.hrtime.bigint() - t0) / 1000);
    });
  }
  const u = process.cpuUsage(u0);
  const medians = per.map((xs) => pct(xs.sort((a, b) => a - b), 50)).sort((a, b) => a - b);
  return { medians, cpu: (u.user + u.system) / (n * texts.length) };
}

function pct(s: readonly number[], p: number): number {
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}
const line = (name: string, r: { medians: readonly number[]; cpu: number }): string =>
  `${name.padEnd(34)} p50 ${pct(r.medians, 50).toFixed(1).padStart(7)} µs  p99 ${pct(r.medians, 99).toFixed(1).padStart(7)} µs  max ${pct(r.medians, 100).toFixed(1).padStart(8)} µs  cpu ${r.cpu.toFixed(1).padStart(7)} µs/op`;

console.log(`${commands.length} commands (${DANGEROUS_ALL.length} dangerous, ${EVERYDAY.length} everyday), ${rounds} rounds`);
const parse = sample((c) => parser.parse(c)?.delete(), commands);
const inspect = sample((c) => { inspectCommand(c); }, commands);
console.log(line('tree-sitter parse alone', parse));
console.log(line('inspectCommand (parse + facts)', inspect));
console.log(`ratio p50 inspect/parse: ${(pct(inspect.medians, 50) / pct(parse.medians, 50)).toFixed(2)}x; cpu ${(inspect.cpu / parse.cpu).toFixed(2)}x`);

const kb = Array.from({ length: 40 }, (_, i) => `grep -rn "pattern${i}" src/ | head -n 5`).join(' && ').slice(0, 1000);
const big = Array.from({ length: 500 }, (_, i) => `echo line${i} >> /tmp/out.txt`).join('; ');
console.log(line(`one ${kb.length}-char line`, sample((c) => { inspectCommand(c); }, [kb])));
console.log(line(`one ${big.length}-char line`, sample((c) => { inspectCommand(c); }, [big], Math.max(5, Math.floor(rounds / 10)))));
