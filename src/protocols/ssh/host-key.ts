import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ssh2 from 'ssh2';

/** File name of the gateway's own SSH host key, in the state directory. */
export const HOST_KEY_FILE = 'ssh_host_ed25519_key';

/**
 * The SSH listener's host key: read from `<stateDir>/ssh_host_ed25519_key`, or generated once
 * (Ed25519, OpenSSH format, mode 0600) and kept there, so clients that pinned it keep trusting it
 * across restarts. Throws when the file exists but is not a private key (never silently replaced).
 *
 * @example const key = loadOrCreateHostKey('/var/lib/gatehouse'); new ssh2.Server({ hostKeys: [key] })
 */
export function loadOrCreateHostKey(stateDir: string): { readonly pem: string; readonly publicKey: string } {
  const path = join(stateDir, HOST_KEY_FILE);
  if (!existsSync(path)) {
    mkdirSync(stateDir, { recursive: true });
    const pair = ssh2.utils.generateKeyPairSync('ed25519', { comment: 'gatehouse' });
    writeFileSync(path, pair.private, { mode: 0o600, flag: 'wx' });
    writeFileSync(`${path}.pub`, `${pair.public}\n`, { mode: 0o644 });
  }
  chmodSync(path, 0o600);
  return parseHostKey(path, readFileSync(path, 'utf8'), 'remove it to have Gatehouse generate a new one');
}

/** Largest host key file read (an OpenSSH private key is a few kilobytes). */
const MAX_HOST_KEY_BYTES = 64 * 1024;

/**
 * A host key given in the configuration (`server.ssh.host_key`): read as it is, never generated
 * or changed (it is typically a read-only Secret mounted into every replica, so that clients see
 * the same host key from each). Throws, naming the file, when it is missing, larger than 64 KiB,
 * readable by everyone (mode o+r), or not an SSH private key.
 *
 * @example const key = loadHostKeyFile('/etc/gatehouse/ssh/ssh_host_ed25519_key');
 */
export function loadHostKeyFile(path: string): { readonly pem: string; readonly publicKey: string } {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    throw new Error(`server.ssh.host_key: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`, { cause: err });
  }
  if (!st.isFile() || st.size > MAX_HOST_KEY_BYTES) throw new Error(`server.ssh.host_key: ${path} is not a host key file (a regular file under 64 KiB)`);
  if ((st.mode & 0o004) !== 0) throw new Error(`server.ssh.host_key: ${path} is readable by every user; make it 0600 or 0440 (a Secret's defaultMode)`);
  return parseHostKey(path, readFileSync(path, 'utf8'), 'give an OpenSSH private key (ssh-keygen -t ed25519 -N "" -f <file>)');
}

function parseHostKey(path: string, pem: string, hint: string): { readonly pem: string; readonly publicKey: string } {
  const parsed = ssh2.utils.parseKey(pem);
  if (parsed instanceof Error || Array.isArray(parsed) || !parsed.isPrivateKey()) {
    throw new Error(`${path} is not an SSH private key; ${hint}`);
  }
  return { pem, publicKey: `${parsed.type} ${parsed.getPublicSSH().toString('base64')}` };
}
