import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, linkSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GatehouseError } from '../kernel/errors.ts';

/**
 * Sealing of secrets kept at rest (upstream credentials of connections created through the API):
 * AES-256-GCM with a random 96-bit IV. Sealed form: `v1:` + base64(iv ‖ tag ‖ ciphertext).
 * The version prefix lets a later key or algorithm change coexist with old rows.
 */

const VERSION = 'v1';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Sealed values are small (a few credentials); refuse to open anything absurdly large. */
const MAX_SEALED_CHARS = 1024 * 1024;

/**
 * Reads the 32-byte master key from `<dir>/master.key` (base64), creating it (mode 0600, random)
 * on first use. Creation is atomic: concurrent first starts agree on one key.
 *
 * @example const key = loadOrCreateMasterKey('./.gatehouse');
 */
export function loadOrCreateMasterKey(dir: string): Buffer {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, 'master.key');
  try {
    return readKeyFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(tmp, randomBytes(KEY_BYTES).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  try {
    chmodSync(tmp, 0o600);
    linkSync(tmp, file); // fails with EEXIST if another process won the race: then use its key
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    rmSync(tmp, { force: true });
  }
  return readKeyFile(file);
}

function readKeyFile(file: string): Buffer {
  const text = readFileSync(file, 'utf8');
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length !== KEY_BYTES) {
    throw new GatehouseError('config_invalid', `master key file ${file} must hold ${KEY_BYTES} bytes in base64`);
  }
  if ((statSync(file).mode & 0o077) !== 0) {
    throw new GatehouseError('config_invalid', `master key file ${file} must not be readable by group or others (chmod 600)`);
  }
  return key;
}

/**
 * Encrypts `plaintext`. `context` (e.g. the connection name) is bound as additional authenticated
 * data: a sealed value copied to another row with a different context does not open.
 *
 * @example const s = seal(key, '{"api_key":"sk-…"}', 'openai'); open(key, s, 'openai');
 */
export function seal(key: Buffer, plaintext: string, context = ''): string {
  checkKey(key);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return `${VERSION}:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
}

/**
 * Decrypts a value made by {@link seal} with the same key and context. Throws
 * `GatehouseError('internal')` on a wrong key, wrong context, unknown version or any tampering;
 * the message never contains the sealed or plain value.
 */
export function open(key: Buffer, sealed: string, context = ''): string {
  checkKey(key);
  const sep = sealed.indexOf(':');
  if (sep < 0 || sealed.slice(0, sep) !== VERSION || sealed.length > MAX_SEALED_CHARS) {
    throw new GatehouseError('internal', 'sealed value has an unknown format or version');
  }
  const raw = Buffer.from(sealed.slice(sep + 1), 'base64');
  if (raw.length < IV_BYTES + TAG_BYTES) throw new GatehouseError('internal', 'sealed value is truncated');
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch (err) {
    throw new GatehouseError('internal', 'sealed value cannot be opened (wrong key or tampered)', {}, { cause: err });
  }
}

function checkKey(key: Buffer): void {
  if (key.length !== KEY_BYTES) throw new GatehouseError('internal', `master key must be ${KEY_BYTES} bytes`);
}
