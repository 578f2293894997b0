import type { RelationInfo } from './types.ts';

/**
 * How unqualified relation names are resolved. `searchPath` is the server's effective path for the
 * session (`current_schemas(true)`: pg_catalog and the schemas that exist); temporary schemas are
 * always candidates too (a session's own temporary relations come first on the server). When the
 * session may have changed its `search_path` (`SET search_path`, `set_config`, `SET ROLE`), the
 * caller passes `unionAll`: every schema's relation of that name is a candidate (over-approximation
 * that holds whatever the path is).
 */
export interface NameResolution {
  readonly searchPath: readonly string[];
  readonly unionAll: boolean;
}

/** The candidates an unqualified name may denote, from every relation of that name in the catalog. */
export function candidates(all: readonly RelationInfo[], how: NameResolution): RelationInfo[] {
  if (how.unionAll) return [...all];
  const temp = all.filter((r) => r.schema.startsWith('pg_temp_'));
  for (const schema of how.searchPath) {
    const hit = all.find((r) => r.schema === schema);
    if (hit) return [...temp, hit];
  }
  return temp;
}
