/**
 * Walks every string value of a JSON document (used for `http` connection bodies). LLM documents
 * go through the fail-closed walk of `json-walk.ts` instead (keys, numbers, payloads, key context).
 *
 * With `skipStructural` (the default, kept for callers that ask for it): structural keys whose
 * values are identifiers or enums (see {@link STRUCTURAL_KEYS}) and inline binary payloads are
 * skipped — which is why no LLM path uses it any more.
 */

/** Keys whose string values are identifiers or enums, not content. */
export const STRUCTURAL_KEYS: ReadonlySet<string> = new Set([
  'model', 'role', 'type', 'id', 'object', 'tool_call_id', 'tool_use_id', 'call_id', 'item_id',
  'finish_reason', 'stop_reason', 'status', 'media_type', 'tool_choice', 'service_tier',
  'system_fingerprint', 'reasoning_effort', 'encoding_format', 'previous_response_id', 'signature',
  'response_format', 'stop_sequence',
]);

/** Nesting bound; deeper documents are refused (fail closed). */
export const MAX_DEPTH = 64;

/** A path element: an object key or an array index. */
export type PathElem = string | number;

function isBinary(parent: Record<string, unknown>, key: string, value: string): boolean {
  if (value.startsWith('data:') && /^data:[\w.+-]+\/[\w.+-]+;base64,/.test(value.slice(0, 100))) return true;
  return key === 'data' && parent.type === 'base64';
}

/**
 * Calls `fn` on every content string of `doc` (depth first, in document order) and replaces
 * it with what `fn` returns. Mutates `doc`; returns the number of strings visited.
 * Throws `RangeError` past {@link MAX_DEPTH}.
 *
 * @example
 *   const body = JSON.parse(raw);
 *   mapStrings(body, (s) => masker.mask(s).text); // egress redaction, in place
 */
export function mapStrings(doc: unknown, fn: (s: string, path: readonly PathElem[]) => string, skipStructural = true): number {
  let count = 0;
  const path: PathElem[] = [];
  const visit = (node: unknown, depth: number): void => {
    if (depth > MAX_DEPTH) throw new RangeError('JSON nesting too deep to inspect');
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        const v: unknown = node[i];
        if (typeof v === 'string') {
          path.push(i);
          count++;
          node[i] = fn(v, path);
          path.pop();
        } else if (v !== null && typeof v === 'object') {
          path.push(i);
          visit(v, depth + 1);
          path.pop();
        }
      }
      return;
    }
    const obj = node as Record<string, unknown>;
    for (const key of Object.keys(obj)) {
      const v = obj[key];
      if (typeof v === 'string') {
        if (skipStructural && (STRUCTURAL_KEYS.has(key) || isBinary(obj, key, v))) continue;
        path.push(key);
        count++;
        obj[key] = fn(v, path);
        path.pop();
      } else if (v !== null && typeof v === 'object') {
        path.push(key);
        visit(v, depth + 1);
        path.pop();
      }
    }
  };
  if (doc !== null && typeof doc === 'object') visit(doc, 0);
  return count;
}
