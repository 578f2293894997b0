import { randomBytes } from 'node:crypto';

/** The YAML text with every `${…}` / `$${…}` swapped for an inert token, and the way back. */
export interface ProtectedText {
  readonly text: string;
  /** Puts the original `${…}` text back in a string taken from the parsed document. */
  readonly restore: (s: string) => string;
}

// One expression (or escaped expression) on one line.
const EXPRESSION = /\$?\$\{[^}\r\n]*\}/g;

/**
 * Replaces each `${…}` expression with a token that YAML reads as part of a plain scalar, so
 * `credentials: { api_key: ${OPENAI_API_KEY} }` (SPEC's form) parses although `{` and `}` are
 * flow indicators. Expressions are evaluated only after parsing, inside string values, so a value
 * can never add YAML structure. The token carries a random nonce: file text cannot forge one.
 *
 * @example protectExpressions('a: { b: ${X} }').text // 'a: { b: GH…I0E }'
 */
export function protectExpressions(source: string): ProtectedText {
  const originals: string[] = [];
  const nonce = randomBytes(8).toString('hex');
  const text = source.replace(EXPRESSION, (expr) => `GH${nonce}I${originals.push(expr) - 1}E`);
  if (originals.length === 0) return { text, restore: (s) => s };
  const token = new RegExp(`GH${nonce}I(\\d+)E`, 'g');
  return { text, restore: (s) => s.replace(token, (t, n: string) => originals[Number(n)] ?? t) };
}
