/**
 * How long a CLI call takes, as a user runs it (`./bin/gatehouse …`, a new process each time),
 * next to a bare Node start measured in the same run. API commands talk to a warm gateway that
 * this script starts (`gatehouse start` in its own process, a temporary store) and stops.
 * Reported per command: median and p90 wall time, and the median CPU time of the process (user +
 * system, from `/usr/bin/time` when present). The first call of each command is a warm-up (it
 * also fills Node's compile cache, as any earlier call on the machine would).
 *
 *   npx node bench/cli-startup.ts [runs=10]
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const RUNS = Math.max(3, Math.min(100, Number(process.argv[2] ?? 10)));
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin', 'gatehouse');
const NODE = join(ROOT, 'node_modules', 'node', 'bin', 'node');
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

interface Sample { readonly wallMs: number; readonly cpuMs: number | undefined }

/** Runs `cmd args` once; wall time from here, CPU time from /usr/bin/time. */
function once(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv): Sample {
  const t0 = process.hrtime.bigint();
  const r = TIME
    ? spawnSync(TIME, ['-f', 'CPU %U %S', cmd, ...args], { env, encoding: 'utf8' })
    : spawnSync(cmd, args, { env, encoding: 'utf8' });
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? 'signal'}): ${r.stderr}`);
  const m = /CPU ([\d.]+) ([\d.]+)\s*$/.exec(r.stderr);
  return { wallMs, cpuMs: m ? (Number(m[1]) + Number(m[2])) * 1000 : undefined };
}

const quantile = (xs: readonly number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
};

function measure(label: string, cmd: string, args: readonly string[], env: NodeJS.ProcessEnv, baseline?: number): number {
  once(cmd, args, env); // warm-up
  const samples = Array.from({ length: RUNS }, () => once(cmd, args, env));
  const wall = samples.map((s) => s.wallMs);
  const cpu = samples.map((s) => s.cpuMs).filter((c): c is number => c !== undefined);
  const p50 = quantile(wall, 0.5);
  const ratio = baseline === undefined ? '' : `  (${(p50 / baseline).toFixed(1)}× bare node)`;
  console.log(`${label.padEnd(34)} wall p50 ${p50.toFixed(0).padStart(5)} ms  p90 ${quantile(wall, 0.9).toFixed(0).padStart(5)} ms`
    + `  cpu p50 ${cpu.length > 0 ? quantile(cpu, 0.5).toFixed(0).padStart(5) : '    ?'} ms${ratio}`);
  return p50;
}

const dir = mkdtempSync(join(tmpdir(), 'gh-bench-cli-'));
const config = join(dir, 'gatehouse.yaml');
writeFileSync(config, [
  'server:', '  http: { listen: "127.0.0.1:0" }', '  postgres: { listen: "127.0.0.1:0" }',
  'store:', '  embedded: { path: ./state }',
  'policies:', `  files: [ "${join(ROOT, 'policies')}/*.cedar" ]`,
  'log: { level: warn }',
].join('\n'));
const gw = spawn(BIN, ['start', '--config', config], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
try {
  const url = await new Promise<string>((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => { reject(new Error(`the gateway did not start: ${err}`)); }, 60_000);
    gw.stderr.on('data', (c: Buffer) => {
      err += c.toString('utf8');
      const m = /listening on (http:\/\/\S+)/.exec(err);
      if (m) { clearTimeout(timer); resolve(m[1]!); }
    });
  });
  const token = readFileSync(join(dir, 'state', 'admin.key'), 'utf8').trim();
  const env = { ...process.env, GATEHOUSE_URL: url, GATEHOUSE_TOKEN: token, GATEHOUSE_CONFIG: config };
  console.log(`CLI start-up, ${RUNS} runs each (gateway ${url}, Node ${spawnSync(NODE, ['--version'], { encoding: 'utf8' }).stdout.trim()})`);
  const bare = measure('bare node -e 0', NODE, ['-e', '0'], env);
  measure('gatehouse --version', BIN, ['--version'], env, bare);
  measure('gatehouse --help', BIN, ['--help'], env, bare);
  measure('gatehouse keys list (API)', BIN, ['keys', 'list'], env, bare);
  measure('gatehouse reviews list (API)', BIN, ['reviews', 'list', '--json'], env, bare);
  measure('gatehouse policy explain (API)', BIN, ['policy', 'explain', '--principal', 'alice', '--groups', 'developers', '--action', 'admin'], env, bare);
  measure('gatehouse config validate (local)', BIN, ['config', 'validate'], env, bare);
} finally {
  if (gw.pid !== undefined) try { process.kill(-gw.pid, 'SIGTERM'); } catch { /* gone */ }
  await new Promise((r) => setTimeout(r, 500));
  rmSync(dir, { recursive: true, force: true });
}
