import { LineageUnknownError } from './types.ts';

/** Parse-tree helpers shared by the lineage files. */
export type Node = Record<string, unknown>;

export function isRecord(v: unknown): v is Node {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The only key of a tagged node (`{ SelectStmt: {...} }`) and its body, or undefined. */
export function tagOf(node: unknown): { tag: string; body: Node } | undefined {
  if (!isRecord(node)) return undefined;
  const keys = Object.keys(node);
  const tag = keys[0];
  if (keys.length !== 1 || tag === undefined || !isRecord(node[tag])) return undefined;
  const c = tag.charCodeAt(0);
  return c >= 65 && c <= 90 ? { tag, body: node[tag] } : undefined;
}

/** The list at `v` (missing → empty). */
export function list(v: unknown): unknown[] {
  return Array.isArray(v) ? (v as unknown[]) : [];
}

/** `{ String: { sval } }` → sval, else undefined. */
export function str(v: unknown): string | undefined {
  const t = tagOf(v);
  return t?.tag === 'String' && typeof t.body.sval === 'string' ? t.body.sval : undefined;
}

/** The strings of a list of `String` nodes; any other node makes it undefined. */
export function strings(v: unknown): string[] | undefined {
  const out: string[] = [];
  for (const item of list(v)) {
    const s = str(item);
    if (s === undefined) return undefined;
    out.push(s);
  }
  return out;
}

/** A bound on work per statement (nodes visited, including expanded views). */
export class Budget {
  #left: number;
  constructor(max: number) {
    this.#left = max;
  }
  spend(): void {
    if (--this.#left < 0) throw new LineageUnknownError('statement too large for lineage analysis');
  }
}
