/**
 * SSH through Gatehouse vs direct, same OpenSSH server, same run (issue 19):
 * - exec round trip: one `true` per exec on an open connection (ssh2 client), median and p95 ms,
 *   direct vs through the gateway (inspection, decision, audit, recording, masking on);
 * - output throughput: `head -c N /dev/zero | tr '\0' a` streamed back, MB/s, direct vs through
 *   the gateway with an EMAIL masking rule on the connection;
 * - interactive output throughput: the same output in a shell with a PTY (`shell.interactive`,
 *   masked and recorded as asciicast), MB/s, direct vs through the gateway.
 *
 * @example npx node bench/ssh-exec.ts   # BENCH_EXECS=200 BENCH_MB=32
 */
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import ssh2 from 'ssh2';
import { startTestGateway, TEST_POLICIES } from '../test/harness/gateway.ts';
import { sshConnectionYaml, startSshd } from '../test/harness/sshd.ts';
import { sshConnect, sshExec } from '../test/harness/ssh-client.ts';

const EXECS = Number(process.env.BENCH_EXECS ?? 100);
const MB = Number(process.env.BENCH_MB ?? 16);
const SHELL = readFileSync(fileURLToPath(new URL('../policies/shell.cedar', import.meta.url)), 'utf8');

function direct(port: number, user: string, key: string): Promise<ssh2.Client> {
  const c = new ssh2.Client();
  return new Promise((resolve, reject) => {
    c.once('ready', () => { resolve(c); }).once('error', reject).connect({ host: '127.0.0.1', port, username: user, privateKey: key });
  });
}

async function roundTrips(c: ssh2.Client): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < EXECS; i++) {
    const t = process.hrtime.bigint();
    await sshExec(c, 'true');
    ms.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return ms.sort((a, b) => a - b);
}

async function throughput(c: ssh2.Client): Promise<number> {
  const t = process.hrtime.bigint();
  const r = await sshExec(c, `head -c ${MB * 1048576} /dev/zero | tr '\\0' a`);
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  if (r.stdout.length !== MB * 1048576) throw new Error(`got ${r.stdout.length} bytes`);
  return MB / s;
}

/** MB/s of N MiB printed in an interactive shell (PTY), timed from the command to its end marker. */
function interactive(c: ssh2.Client): Promise<number> {
  return new Promise((resolve, reject) => {
    c.shell({ term: 'xterm', cols: 120, rows: 40 }, (err, stream) => {
      if (err) { reject(err); return; }
      let seen = 0;
      let tail = '';
      let t0 = 0n;
      // The echo of the typed line shows __E""ND__; only the command's output shows __END__.
      stream.on('data', (d: Buffer) => {
        seen += d.length;
        tail = (tail + d.toString('latin1')).slice(-64);
        if (t0 !== 0n && tail.includes('__END__')) {
          const s = Number(process.hrtime.bigint() - t0) / 1e9;
          stream.end('exit\n');
          if (seen < MB * 1048576) { reject(new Error(`got ${seen} bytes`)); return; }
          resolve(MB / s);
          t0 = 0n;
        }
      });
      stream.stderr.on('data', () => undefined);
      setTimeout(() => {
        t0 = process.hrtime.bigint();
        stream.write(`head -c ${MB * 1048576} /dev/zero | tr '\\0' a; echo __E""ND__\n`);
      }, 500);
    });
  });
}

const q = (a: number[], p: number): number => a[Math.min(a.length - 1, Math.floor(p * a.length))]!;

const sshd = await startSshd();
const t = await startTestGateway({
  policies: `${TEST_POLICIES}\n${SHELL}\npermit (principal in Group::"ops", action == Action::"shell.interactive", resource == Connection::"web01");`,
  yaml: [
    'connections:',
    sshConnectionYaml(sshd),
    'masking:',
    '  rules: [ { connections: ["web01"], direction: response, entities: [EMAIL] } ]',
  ].join('\n'),
});
try {
  const key = (await t.api('POST', '/api/v1/api-keys', { user: 'alice', groups: ['developers', 'ops'] })).json.key as string;
  const d = await direct(sshd.port, sshd.user, sshd.clientKey);
  const g = await sshConnect(t.gw.listeners.ssh!.port, 'web01', key);
  await roundTrips(d); await roundTrips(g); // warm-up
  const rd = await roundTrips(d);
  const rg = await roundTrips(g);
  const td = await throughput(d);
  const tg = await throughput(g);
  const id = await interactive(d);
  const ig = await interactive(g);
  console.log(`exec round trip (${EXECS} execs of "true"): direct p50 ${q(rd, 0.5).toFixed(2)} ms p95 ${q(rd, 0.95).toFixed(2)} ms; `
    + `gatehouse p50 ${q(rg, 0.5).toFixed(2)} ms p95 ${q(rg, 0.95).toFixed(2)} ms; added p50 ${(q(rg, 0.5) - q(rd, 0.5)).toFixed(2)} ms`);
  console.log(`output throughput (${MB} MiB): direct ${td.toFixed(1)} MB/s; gatehouse with EMAIL masking ${tg.toFixed(1)} MB/s (${(tg / td * 100).toFixed(0)} %)`);
  console.log(`interactive output throughput (${MB} MiB in a PTY shell): direct ${id.toFixed(1)} MB/s; gatehouse with EMAIL masking and asciicast recording ${ig.toFixed(1)} MB/s (${(ig / id * 100).toFixed(0)} %)`);
  d.end(); g.end();
} finally {
  await t.close();
  await sshd.stop();
}
