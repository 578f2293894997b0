/**
 * Starts Gatehouse as deployed for a benchmark: `gatehouse start` in its own process (its own
 * event loop and threads, so `/proc` CPU figures are the gateway's alone), the embedded store on
 * disk in a scratch directory, a permit policy for group `bench`, and the connections, masking
 * rules and recording setting the benchmark gives. `root` may point at another worktree (e.g. an
 * older commit, for a before/after comparison in the same run).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../test/harness/net.ts';
import { firstLine } from './proc.ts';

export interface GatehouseOptions {
  /** Scratch directory (created if missing) for the config, policies and store. */
  dir: string;
  /** Source tree to run (default: this checkout). */
  root?: string;
  /** YAML lines of the `connections:` list (each `  - { … }`). */
  connections: string[];
  /** YAML lines of `masking.rules` (each `    - { … }`); none: no masking. */
  maskingRules?: string[];
  recording: boolean;
  /** `recording.durability` (default: the config's default, journal). */
  durability?: 'journal' | 'store';
  /** A PostgreSQL store at this URL instead of the embedded one (local state then in ./.gatehouse). */
  storeUrl?: string;
  /** Cedar actions permitted to group `bench`. */
  actions: string[];
  /** Extra top-level YAML (e.g. `limits: …`). */
  extraYaml?: string[];
  /** Write a CPU profile of the gateway into this directory when it stops. */
  cpuProfDir?: string;
  /** Extra Node flags (passed in NODE_OPTIONS). */
  nodeArgs?: string[];
}

export interface GatehouseProcess {
  proc: ChildProcess;
  pid: number;
  httpUrl: string;
  pgPort: number;
  /** A new API key for `user` in group `bench`. */
  mint(user: string): Promise<string>;
}

const here = new URL('../../', import.meta.url);

export async function startGatehouse(o: GatehouseOptions): Promise<GatehouseProcess> {
  const root = o.root ?? here.pathname;
  mkdirSync(join(o.dir, 'policies'), { recursive: true });
  const actions = o.actions.map((a) => `Action::"${a}"`).join(', ');
  writeFileSync(join(o.dir, 'policies', 'bench.cedar'), `@id("bench")\npermit (principal in Group::"bench", action in [${actions}], resource);\n`);
  const httpPort = await freePort();
  const pgPort = await freePort();
  writeFileSync(join(o.dir, 'gatehouse.yaml'), [
    'server:', `  http: { listen: "127.0.0.1:${httpPort}" }`, `  postgres: { listen: "127.0.0.1:${pgPort}" }`,
    'store:', o.storeUrl === undefined ? '  embedded: { path: ./state }' : `  postgres: { url: "${o.storeUrl}" }`,
    'policies:', '  files: [ "policies/*.cedar" ]',
    'log: { level: warn }',
    'connections:', ...o.connections,
    ...(o.maskingRules?.length ? ['masking:', '  rules:', ...o.maskingRules] : []),
    `recording: { enabled: ${o.recording}${o.durability === undefined ? '' : `, durability: ${o.durability}`} }`,
    ...(o.extraYaml ?? []),
  ].join('\n'));
  const prof = o.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${o.cpuProfDir}`] : [];
  // As deployed: through the launcher (bin/gatehouse: the pinned Node and its environment).
  const nodeOptions = [process.env.NODE_OPTIONS ?? '', ...(o.nodeArgs ?? []), ...prof].join(' ').trim();
  const proc = spawn(join(root, 'bin/gatehouse'), ['start', '--config', join(o.dir, 'gatehouse.yaml')], {
    cwd: o.dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: nodeOptions },
  });
  const m = await firstLine(proc, /listening on (http:\/\/\S+)/);
  const httpUrl = m[1]!;
  // Keep draining its output (a full pipe would stall the gateway).
  proc.stdout?.resume();
  proc.stderr?.resume();
  const adminKey = readFileSync(join(o.dir, o.storeUrl === undefined ? 'state' : '.gatehouse', 'admin.key'), 'utf8').trim();
  return {
    proc, pid: proc.pid!, httpUrl, pgPort,
    async mint(user: string): Promise<string> {
      const r = await fetch(`${httpUrl}/api/v1/api-keys`, {
        method: 'POST', headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ user, agent: 'bench-agent', groups: ['bench'] }),
      });
      if (r.status !== 201 && r.status !== 200) throw new Error(`minting a key: ${r.status} ${await r.text()}`);
      return ((await r.json()) as { key: string }).key;
    },
  };
}
