import { randomBytes, randomUUID } from 'node:crypto';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** `n` characters of uniformly random base62 (rejection sampling, no modulo bias). */
export function randomBase62(n: number): string {
  let out = '';
  while (out.length < n) {
    for (const b of randomBytes(n * 2)) {
      if (b < 248) out += BASE62.charAt(b % 62);
      if (out.length === n) break;
    }
  }
  return out;
}

/** A new random id (UUID v4). */
export function newId(): string {
  return randomUUID();
}
