import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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
  const pem = readFileSync(path, 'utf8');
  const parsed = ssh2.utils.parseKey(pem);
  if (parsed instanceof Error || Array.isArray(parsed) || !parsed.isPrivateKey()) {
    throw new Error(`${path} is not an SSH private key; remove it to have Gatehouse generate a new one`);
  }
  return { pem, publicKey: `${parsed.type} ${parsed.getPublicSSH().toString('base64')}` };
}
