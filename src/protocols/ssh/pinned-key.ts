import { createHash, timingSafeEqual } from 'node:crypto';

/** A host key pinned in a connection (`host_key: "ssh-ed25519 AAAA…"`). */
export interface PinnedHostKey {
  /** The key type as written (`ssh-ed25519`, `ssh-rsa`, `ecdsa-sha2-nistp256`, …). */
  readonly type: string;
  /** The public key blob (the base64 part, decoded). */
  readonly blob: Buffer;
}

/**
 * Parses a pinned host key as `ssh-keyscan` or `known_hosts` write it, without the host name:
 * `<type> <base64> [comment]`. The type inside the blob must equal the written type (a key of one
 * type cannot be passed off as another). Throws an Error naming the problem.
 *
 * @example parsePinnedKey('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI…').type === 'ssh-ed25519'
 */
export function parsePinnedKey(text: string): PinnedHostKey {
  const [type, b64] = text.trim().split(/\s+/);
  if (type === undefined || b64 === undefined || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) {
    throw new Error('host_key must look like "ssh-ed25519 AAAA…" (ssh-keyscan output without the host name)');
  }
  const blob = Buffer.from(b64, 'base64');
  const inner = blobType(blob);
  if (inner !== type) throw new Error(`host_key says ${type} but its key data is ${inner ?? 'not an SSH public key'}`);
  return { type, blob };
}

/** The key type at the start of a public key blob (a length-prefixed string), if it has one. */
function blobType(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const n = blob.readUInt32BE(0);
  if (n === 0 || n > 64 || 4 + n > blob.length) return undefined;
  return blob.subarray(4, 4 + n).toString('latin1');
}

/** True when the key the upstream presented is exactly the pinned one. */
export function matchesPinned(pinned: PinnedHostKey, presented: Buffer): boolean {
  return presented.length === pinned.blob.length && timingSafeEqual(presented, pinned.blob);
}

/**
 * Host key algorithms to offer upstream so that the server presents a key of the pinned type
 * (a server with several host keys otherwise picks by the client's preference order).
 */
export function hostKeyAlgorithms(pinned: PinnedHostKey): string[] {
  if (pinned.type === 'ssh-rsa') return ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
  return [pinned.type];
}

/** The SHA-256 fingerprint of a key blob as OpenSSH prints it (`SHA256:…`, unpadded base64). */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest().toString('base64').replace(/=+$/, '')}`;
}
