import { parseSync } from 'libpg-query';
import { candidates, type NameResolution } from './search-path.ts';
import type { LineageCatalog, RelationInfo } from './types.ts';

/** An in-memory {@link LineageCatalog} for tests: tables `schema.name(cols)`, views by SQL text. */
export function memoryCatalog(
  tables: Record<string, readonly string[]>, views: Record<string, { columns: readonly string[]; sql: string }> = {},
  userFunctions: readonly string[] = [], ancestors: Record<string, readonly string[]> = {},
  how: NameResolution = { searchPath: ['pg_catalog', 'public'], unionAll: false }, descendants: Record<string, readonly string[]> = {},
): LineageCatalog {
  const rels: RelationInfo[] = [];
  const split = (q: string): [string, string] => { const [s, n] = q.split('.'); return [s!, n!]; };
  for (const [q, columns] of Object.entries(tables)) {
    const [schema, name] = split(q);
    const tables = (m: Record<string, readonly string[]>): { schema: string; table: string }[] => (m[q] ?? []).map((a) => { const [s, t] = split(a); return { schema: s, table: t }; });
    rels.push({ schema, name, columns, ancestors: tables(ancestors), descendants: tables(descendants) });
  }
  for (const [q, v] of Object.entries(views)) {
    const [schema, name] = split(q);
    rels.push({ schema, name, columns: v.columns, query: parseSync(v.sql).stmts![0]!.stmt, ancestors: [], descendants: [] });
  }
  return {
    relations: (schema, name) => {
      const named = rels.filter((r) => r.name === name);
      return schema === undefined ? candidates(named, how) : named.filter((r) => r.schema === schema);
    },
    opaqueFunction: (_schema, name) => userFunctions.includes(name),
    opaqueCall: (_schema, name) => userFunctions.includes(name),
  };
}
