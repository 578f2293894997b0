import { sourceKey } from './lineage-set.ts';
import type { Lineage, OutputEntry, SourceColumn, StatementLineage } from './types.ts';

/**
 * What to do with one output column on a connection with column rules: `clean` (left to the
 * content detectors), `rule` (a bare protected column: its rule's strategy), `redact` (derived
 * from a protected column, or opaque: replaced whole).
 */
export type ColumnDecision<S extends string> =
  | { readonly kind: 'clean' }
  | { readonly kind: 'rule'; readonly strategy: S; readonly column: string }
  | { readonly kind: 'redact'; readonly column: string };

/** The decision for each output entry; a spread entry stands for a run of columns. */
export interface OutputPlan<S extends string> {
  readonly entries: readonly { readonly spread: boolean; readonly decision: ColumnDecision<S> }[];
}

/** The strategy of the column rule covering a source column, if any. */
export type ProtectionOf<S extends string> = (c: SourceColumn) => S | undefined;

/** Protected source columns of a lineage (`schema.table.column`); `*` when it is opaque. */
export function protectedSources<S extends string>(l: Lineage, protection: ProtectionOf<S>): string[] {
  const out: string[] = [];
  for (const [k, c] of l.sources) if (protection(c) !== undefined) out.push(k);
  out.sort();
  if (l.opaque) out.push('*');
  return out;
}

/** The decision for one lineage. */
export function decideColumn<S extends string>(l: Lineage, protection: ProtectionOf<S>): ColumnDecision<S> {
  const hit = [...l.sources.values()].filter((c) => protection(c) !== undefined);
  if (hit.length === 0 && !l.opaque) return { kind: 'clean' };
  const first = hit[0];
  const column = first ? sourceKey(first) : 'a column whose source cannot be seen';
  if (l.bare && !l.opaque && first) {
    const strategies = new Set(hit.map((c) => protection(c)));
    if (strategies.size === 1) return { kind: 'rule', strategy: protection(first)!, column };
  }
  return { kind: 'redact', column };
}

/** The plan for a statement's outputs. */
export function planOutputs<S extends string>(outputs: readonly OutputEntry[], protection: ProtectionOf<S>): OutputPlan<S> {
  return { entries: outputs.map((o) => ({ spread: o.kind === 'spread', decision: decideColumn(o.lineage, protection) })) };
}

/**
 * The decisions for a result of `width` columns (RowDescription). Fixed entries are placed from
 * both ends; one spread fills the middle. When the entries cannot be placed (several spreads, or
 * more fixed entries than columns), every column from the first uncertain one on gets the
 * strictest decision among the entries that could land there (fail closed).
 */
export function placePlan<S extends string>(plan: OutputPlan<S>, width: number): ColumnDecision<S>[] {
  const e = plan.entries;
  const spreads = e.filter((x) => x.spread).length;
  const fixed = e.length - spreads;
  if (spreads === 0 && fixed === width) return e.map((x) => x.decision);
  if (spreads === 1 && fixed <= width) {
    const at = e.findIndex((x) => x.spread);
    const out: ColumnDecision<S>[] = [];
    for (let i = 0; i < at; i++) out.push(e[i]!.decision);
    for (let i = 0; i < width - fixed; i++) out.push(e[at]!.decision);
    for (let i = at + 1; i < e.length; i++) out.push(e[i]!.decision);
    return out;
  }
  if (spreads === 0) return Array.from({ length: width }, () => strictestOf(e.map((x) => x.decision)));
  const firstSpread = e.findIndex((x) => x.spread);
  const sure = Math.min(firstSpread, width);
  const out: ColumnDecision<S>[] = e.slice(0, sure).map((x) => x.decision);
  const strictest = strictestOf(e.slice(sure).map((x) => x.decision));
  while (out.length < width) out.push(strictest);
  return out;
}

function strictestOf<S extends string>(ds: readonly ColumnDecision<S>[]): ColumnDecision<S> {
  const red = ds.find((d) => d.kind !== 'clean');
  return red === undefined ? { kind: 'clean' } : { kind: 'redact', column: red.column };
}

/**
 * The protected columns a statement reads in its outputs and in its filters (facts for policy).
 * An output *derived* from a protected column (not a bare reference) also counts as a filter:
 * its value is redacted whole, so all it can still tell the client is an oracle — an error
 * (`1/(phone = '…')::int`), a row count (`unnest(CASE WHEN phone LIKE … THEN … END)`) or a delay
 * (`pg_sleep(CASE WHEN phone …)`).
 */
export function protectedFacts<S extends string>(l: StatementLineage, protection: ProtectionOf<S>): { reads: string[]; filters: string[] } {
  const reads = new Set<string>();
  const filters = new Set(protectedSources(l.filters, protection));
  for (const o of l.outputs ?? []) {
    for (const k of protectedSources(o.lineage, protection)) {
      reads.add(k);
      if (!o.lineage.bare || o.lineage.opaque) filters.add(k);
    }
  }
  return { reads: [...reads].sort(), filters: [...filters].sort() };
}
