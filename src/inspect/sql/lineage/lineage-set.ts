import type { Lineage, SourceColumn } from './types.ts';

/** The display key of a source column: `schema.table.column`. */
export function sourceKey(c: SourceColumn): string {
  return `${c.schema}.${c.table}.${c.column}`;
}

/** A value that derives from nothing (a constant). */
export const CLEAN: Lineage = Object.freeze({ sources: new Map<string, SourceColumn>(), bare: false, opaque: false });

/** A value that may derive from anything. */
export const OPAQUE: Lineage = Object.freeze({ sources: new Map<string, SourceColumn>(), bare: false, opaque: true });

/** The lineage of a stored column itself (bare). */
export function column(sources: readonly SourceColumn[]): Lineage {
  return { sources: new Map(sources.map((s) => [sourceKey(s), s])), bare: true, opaque: false };
}

/** The same sources, no longer an unchanged value. */
export function derived(l: Lineage): Lineage {
  return l.bare ? { sources: l.sources, bare: false, opaque: l.opaque } : l;
}

/** The union of lineages; derived (not bare) unless it is exactly one bare lineage. */
export function union(parts: readonly Lineage[]): Lineage {
  if (parts.length === 1) return parts[0]!;
  let opaque = false;
  const sources = new Map<string, SourceColumn>();
  for (const p of parts) {
    if (p.opaque) opaque = true;
    for (const [k, v] of p.sources) sources.set(k, v);
  }
  if (!opaque && sources.size === 0) return CLEAN;
  return { sources, bare: false, opaque };
}

/** Whether two lineages hold the same sources and flags (for fixpoints). */
export function sameLineage(a: Lineage, b: Lineage): boolean {
  if (a.bare !== b.bare || a.opaque !== b.opaque || a.sources.size !== b.sources.size) return false;
  for (const k of a.sources.keys()) if (!b.sources.has(k)) return false;
  return true;
}

/** True when the lineage derives from nothing at all. */
export function isClean(l: Lineage): boolean {
  return !l.opaque && l.sources.size === 0;
}
