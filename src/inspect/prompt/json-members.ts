/**
 * Member names that make a JSON request mean one thing to the gateway and another to its upstream.
 *
 * `JSON.parse` keeps the last of two members with one name; other parsers keep the first, merge
 * them, or reject the document, and Go's `encoding/json` (Ollama, LocalAI and other
 * OpenAI-compatible servers) matches member names to fields case-insensitively, with Unicode
 * folding ("ſtream" is its "stream"). A body forwarded as received whose inspection saw only one
 * of two `messages`, or whose `model` fact came from `model` while the upstream reads `Model`, is
 * a body the gateway did not decide on. Such a body is refused (fail closed), whatever the
 * connection's rules: a repeated name anywhere, and at the levels the gateway reads facts from
 * (`providers/index.ts` `requestShape`) a name that folds to one of those it reads.
 */
import { GatehouseError } from '../../kernel/errors.ts';

/**
 * True when some object of `text` (valid JSON: checked by `JSON.parse` first) has two members
 * with one name, compared after unescaping ("a\u0062" is "ab"). Linear in the text: string
 * contents are skipped with `indexOf`, and each object keeps the set of its names.
 */
export function hasRepeatedMember(text: string): boolean {
  // null: an array; a Set: an object's names so far.
  const stack: (Set<string> | null)[] = [];
  let expectName = false;
  // The next backslash at or after the cursor (-1: none left): kept so that finding whether a
  // string has escapes stays linear over the whole text.
  let backslash = text.indexOf('\\');
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 34) { // "
      let end = text.indexOf('"', i + 1);
      for (;;) {
        if (end < 0) return false; // not JSON: JSON.parse refuses it first
        let b = end - 1;
        while (text.charCodeAt(b) === 92) b--;
        if ((end - 1 - b) % 2 === 0) break; // an even run of backslashes: the quote ends the string
        end = text.indexOf('"', end + 1);
      }
      if (expectName) {
        const names = stack[stack.length - 1];
        if (names) {
          if (backslash !== -1 && backslash < i) backslash = text.indexOf('\\', i);
          const name = backslash !== -1 && backslash < end ? (JSON.parse(text.slice(i, end + 1)) as string) : text.slice(i + 1, end);
          if (names.has(name)) return true;
          names.add(name);
        }
        expectName = false;
      }
      i = end + 1;
      continue;
    }
    if (c === 123) { stack.push(new Set()); expectName = true; } // {
    else if (c === 91) { stack.push(null); expectName = false; } // [
    else if (c === 125 || c === 93) { stack.pop(); expectName = false; } // } ]
    else if (c === 44) { const top = stack[stack.length - 1]; expectName = top !== undefined && top !== null; } // ,
    i++;
  }
  return false;
}

/** A member name as Go's case-insensitive field matching sees it (upper then lower: "ſ" → "s", "K" (Kelvin) → "k"). */
function folded(name: string): string {
  return name.toUpperCase().toLowerCase();
}

/** Whether `obj` has a member that is not one of `read` but folds to one of them. */
function foldsToRead(obj: unknown, read: readonly string[]): boolean {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return false;
  for (const name of Object.keys(obj)) {
    if (read.includes(name)) continue;
    if (read.includes(folded(name))) return true;
  }
  return false;
}

/** The members the gateway reads facts from, per level (`requestShape`). */
const TOP = ['model', 'stream', 'tools', 'functions'] as const;
const TOOL = ['function', 'name', 'type'] as const;
const FUNCTION = ['name'] as const;

/**
 * Throws `invalid_json` (400) when the LLM request `text` (parsed as `doc`) repeats a member name
 * in one object, or has a member that differs only by case (or Unicode folding) from one the
 * gateway reads its facts from (`model`, `stream`, `tools`, `functions`, a tool's `function`,
 * `name`, `type`). The name is not echoed (it is the client's text).
 *
 * @example assertUnambiguousMembers('{"model":"a","model":"b"}', { model: 'b' }) // throws
 */
export function assertUnambiguousMembers(text: string, doc: unknown): void {
  if (hasRepeatedMember(text)) {
    throw new GatehouseError('invalid_json', 'the request body repeats a member name within one object; refused (parsers disagree on which one counts, so the upstream could read another value than the gateway inspected)');
  }
  let ambiguous = foldsToRead(doc, TOP);
  if (!ambiguous && doc !== null && typeof doc === 'object' && !Array.isArray(doc)) {
    const d = doc as Record<string, unknown>;
    for (const list of [d.tools, d.functions]) {
      if (!Array.isArray(list)) continue;
      for (const t of list as unknown[]) {
        if (foldsToRead(t, TOOL) || (t !== null && typeof t === 'object' && foldsToRead((t as Record<string, unknown>).function, FUNCTION))) ambiguous = true;
      }
    }
  }
  if (ambiguous) {
    throw new GatehouseError('invalid_json', 'the request body has a member name that differs only by case from one the gateway reads (model, stream, tools, functions, a tool\'s function, name or type); refused (some upstreams match names case-insensitively)');
  }
}
