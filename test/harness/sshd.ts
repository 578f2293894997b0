import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from './net.ts';

const SSHD = '/usr/sbin/sshd';
const NO_SSHD = 'no OpenSSH server: install openssh-server (and openssh-client, sshpass, python3-paramiko) — .ci/run does';

/** A real OpenSSH server run for a test, on 127.0.0.1 and a free port, with its own config and keys. */
export interface TestSshd {
  readonly host: string;
  readonly port: number;
  /** The login user (the user running the tests) and the private key it is authorized with. */
  readonly user: string;
  readonly clientKey: string;
  /** Its host key as a connection pins it: `ssh-ed25519 AAAA…`. */
  readonly hostKey: string;
  readonly dir: string;
  stop(): Promise<void>;
}

/**
 * The gatehouse.yaml line of an ssh connection to `sshd` (pinned host key, the authorized client key
 * as its vaulted credential, written once into the server's directory as `gw_client_key`).
 *
 * @example yaml: ['connections:', sshConnectionYaml(sshd)].join('\n')
 */
export function sshConnectionYaml(sshd: TestSshd, name = 'web01', hostKey = sshd.hostKey): string {
  const keyFile = join(sshd.dir, 'gw_client_key');
  if (!existsSync(keyFile)) writeFileSync(keyFile, sshd.clientKey, { mode: 0o600 });
  return `  - { name: ${name}, type: ssh, url: "ssh://${sshd.user}@127.0.0.1:${sshd.port}", host_key: "${hostKey}", credentials: { private_key: "\${file:${keyFile}}" } }`;
}

/** Why SSH tests cannot run here, or undefined when they can. In CI a missing sshd is an error, never a skip. */
export function sshdSkip(): string | undefined {
  const missing = [SSHD, '/usr/bin/ssh', '/usr/bin/ssh-keygen'].filter((p) => !existsSync(p));
  if (missing.length === 0) return undefined;
  if (process.env.CI) throw new Error(`CI must provide OpenSSH (${NO_SSHD}); missing ${missing.join(', ')}`);
  return `SKIPPED LOUDLY: ${NO_SSHD}`;
}

function keygen(path: string, comment: string): string {
  const r = spawnSync('/usr/bin/ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
  return readFileSync(`${path}.pub`, 'utf8').trim();
}

/**
 * Starts `sshd -D -e -f <config>` as the current user: a generated Ed25519 host key, the current
 * user authorized with a generated password-less key, password logins off, the internal sftp
 * server, no PAM. Run as root it needs /run/sshd (privilege separation), created if missing.
 */
export async function startSshd(opts: { readonly extraConfig?: string } = {}): Promise<TestSshd> {
  const dir = mkdtempSync(join(tmpdir(), 'gh-sshd-'));
  const hostPub = keygen(join(dir, 'host_ed25519'), 'test-host');
  const clientPub = keygen(join(dir, 'client_ed25519'), 'test-client');
  writeFileSync(join(dir, 'authorized_keys'), `${clientPub}\n`, { mode: 0o600 });
  const user = userInfo().username;
  if (process.getuid?.() === 0) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  let lastErr = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    writeFileSync(join(dir, 'sshd_config'), [
      `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${join(dir, 'host_ed25519')}`, `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`, 'PermitRootLogin prohibit-password', 'PubkeyAuthentication yes',
      'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'UsePAM no', 'StrictModes no',
      'Subsystem sftp internal-sftp', 'LogLevel ERROR', 'PrintMotd no', 'PrintLastLog no', 'MaxStartups 100', 'MaxSessions 100',
      opts.extraConfig ?? '',
    ].join('\n'));
    const child: ChildProcess = spawn(SSHD, ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => { if (stderr.length < 4096) stderr += d.toString(); });
    const up = await waitForPort(port, child, 10_000);
    if (!up) {
      lastErr = stderr;
      child.kill('SIGKILL');
      continue;
    }
    return {
      host: '127.0.0.1', port, user, clientKey: readFileSync(join(dir, 'client_ed25519'), 'utf8'),
      hostKey: hostPub.split(' ').slice(0, 2).join(' '), dir,
      async stop() {
        if (child.exitCode === null) {
          const gone = new Promise((r) => child.once('exit', r));
          child.kill('SIGTERM');
          await gone;
        }
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  rmSync(dir, { recursive: true, force: true });
  throw new Error(`sshd did not start: ${lastErr}`);
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.exitCode !== null) return false;
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
      s.on('error', () => { resolve(false); });
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}
