import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { ProtocolError } from './errors.ts';

/** Most PBKDF2 iterations we accept from a server (a hostile one could ask for billions). */
const MAX_ITERATIONS = 1_000_000;

function hmac(key: Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/**
 * A SCRAM-SHA-256 client exchange (RFC 5802 / RFC 7677) without channel binding, as PostgreSQL
 * runs it: the user name is empty in the messages (the startup packet names the user).
 *
 * @example
 *   const s = new ScramClient(password);
 *   send(s.clientFirst()); const final = s.clientFinal(serverFirst); s.verifyServerFinal(serverFinal);
 */
export class ScramClient {
  readonly #password: string;
  readonly #nonce: string;
  #clientFirstBare = '';
  #serverSignature: Buffer | undefined;

  constructor(password: string, nonce = randomBytes(18).toString('base64')) {
    this.#password = password.normalize('NFKC');
    this.#nonce = nonce;
  }

  /** client-first-message (with the `n,,` GS2 header). */
  clientFirst(): string {
    this.#clientFirstBare = `n=,r=${this.#nonce}`;
    return `n,,${this.#clientFirstBare}`;
  }

  /** client-final-message for the server-first-message. Throws ProtocolError when it is invalid. */
  clientFinal(serverFirst: string): string {
    const attrs = parseAttributes(serverFirst);
    const nonce = attrs.get('r');
    const salt = attrs.get('s');
    const iterations = Number(attrs.get('i'));
    if (nonce === undefined || salt === undefined || !nonce.startsWith(this.#nonce) || nonce.length <= this.#nonce.length) {
      throw new ProtocolError('invalid SCRAM server-first-message');
    }
    if (!Number.isInteger(iterations) || iterations < 1 || iterations > MAX_ITERATIONS) {
      throw new ProtocolError('invalid SCRAM iteration count');
    }
    const salted = pbkdf2Sync(this.#password, Buffer.from(salt, 'base64'), iterations, 32, 'sha256');
    const clientKey = hmac(salted, 'Client Key');
    const storedKey = createHash('sha256').update(clientKey).digest();
    const withoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.#clientFirstBare},${serverFirst},${withoutProof}`;
    const signature = hmac(storedKey, authMessage);
    const proof = Buffer.alloc(clientKey.length);
    for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i]! ^ signature[i]!;
    this.#serverSignature = hmac(hmac(salted, 'Server Key'), authMessage);
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  /** Checks the server-final-message (the server proves it knows the password too). */
  verifyServerFinal(serverFinal: string): void {
    const v = parseAttributes(serverFinal).get('v');
    const got = v === undefined ? Buffer.alloc(0) : Buffer.from(v, 'base64');
    if (this.#serverSignature === undefined || got.length !== this.#serverSignature.length || !timingSafeEqual(got, this.#serverSignature)) {
      throw new ProtocolError('SCRAM server signature does not match');
    }
  }
}

function parseAttributes(msg: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const part of msg.split(',')) {
    const eq = part.indexOf('=');
    if (eq === 1) m.set(part[0]!, part.slice(2));
  }
  return m;
}

/** The md5 password response: `md5` + md5(md5(password + user) + salt). */
export function md5Password(user: string, password: string, salt: Buffer): string {
  const inner = createHash('md5').update(password + user).digest('hex');
  return 'md5' + createHash('md5').update(Buffer.concat([Buffer.from(inner), salt])).digest('hex');
}
