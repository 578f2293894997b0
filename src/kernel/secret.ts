import { inspect } from 'node:util';

/**
 * A secret value (upstream credential, signing key material). It cannot be printed by accident:
 * `String()`, `JSON.stringify` and `util.inspect` all render `[redacted]`. Use `reveal()` at the
 * single place the value is needed (e.g. injecting an upstream header).
 *
 * @example
 *   const s = new Secret('sk-live-…'); JSON.stringify({ s }) === '{"s":"[redacted]"}'
 */
export class Secret {
  readonly #value: string;
  constructor(value: string) { this.#value = value; }
  reveal(): string { return this.#value; }
  toString(): string { return '[redacted]'; }
  toJSON(): string { return '[redacted]'; }
  [inspect.custom](): string { return '[redacted]'; }
}
