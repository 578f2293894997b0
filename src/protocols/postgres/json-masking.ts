/** A JSON number as it was written (exact digits, kept through the walk). */
class RawNumber {
  readonly raw: string;
  constructor(raw: string) { this.raw = raw; }
}

/** `JSON.rawJSON` (Node ≥ 21): emits a number's exact digits when re-serializing. */
const rawJSON = (JSON as unknown as { rawJSON: (s: string) => unknown }).rawJSON;

const MAX_DEPTH = 256;

/**
 * Masks a JSON text so that the client still receives JSON. The text is masked as a whole first
 * (entities keep their context); when that breaks the document (a card number replaced in a
 * number position), the original is walked instead: every key and string masked, every number
 * scanned with its key as context and, when it carries an entity, replaced by the masked text as a
 * string. Unchanged numbers keep their exact digits. Text that is not JSON is masked as text.
 *
 * @example
 *   maskJson('{"n": 4111111111111111}', scan) // '{"n":"[CREDIT_CARD]"}'
 */
export function maskJson(text: string, scan: (t: string) => string): string {
  const masked = scan(text);
  if (masked === text) return text;
  try { JSON.parse(masked); return masked; } catch { /* walk the original below */ }
  let doc: unknown;
  try {
    doc = JSON.parse(text, (_k, v: unknown, ctx?: { source?: string }) => (typeof v === 'number' ? new RawNumber(ctx?.source ?? String(v)) : v));
  } catch { return masked; }
  return JSON.stringify(walk(doc, '', scan, 0));
}

function walk(v: unknown, key: string, scan: (t: string) => string, depth: number): unknown {
  if (depth > MAX_DEPTH) return '[REDACTED]';
  if (typeof v === 'string') return scan(v);
  if (v instanceof RawNumber) {
    const probe = `${key} ${v.raw}`;
    return scan(probe) === probe && scan(v.raw) === v.raw ? rawJSON(v.raw) : scan(v.raw) === v.raw ? '[REDACTED]' : scan(v.raw);
  }
  if (Array.isArray(v)) return v.map((e) => walk(e, key, scan, depth + 1));
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, e] of Object.entries(v)) out[scan(k)] = walk(e, k, scan, depth + 1);
    return out;
  }
  return v;
}
