import { isRecord, list, str, strings, tagOf, type Node } from './tree.ts';

/**
 * The name PostgreSQL gives an output column without an alias (FigureColname), or undefined when
 * the analysis does not know it (such a column then matches every name, which over-approximates).
 */
export function figureName(node: unknown): string | undefined {
  const t = tagOf(node);
  if (!t) return undefined;
  const b = t.body;
  switch (t.tag) {
    case 'ColumnRef': {
      const fields = list(b.fields);
      return str(fields[fields.length - 1]);
    }
    case 'A_Indirection': {
      const ind = list(b.indirection);
      const last = str(ind[ind.length - 1]);
      return last ?? figureName(b.arg);
    }
    case 'FuncCall': {
      const n = strings(b.funcname);
      return n?.[n.length - 1];
    }
    case 'TypeCast': {
      const inner = figureName(b.arg);
      if (inner !== undefined && inner !== '?column?') return inner;
      const names = isRecord(b.typeName) ? strings(b.typeName.names) : undefined;
      return names?.[names.length - 1];
    }
    case 'CollateClause': return figureName(b.arg);
    case 'CaseExpr': return 'case';
    case 'A_ArrayExpr': return 'array';
    case 'RowExpr': return 'row';
    case 'CoalesceExpr': return 'coalesce';
    case 'GroupingFunc': return 'grouping';
    case 'A_Const': case 'A_Expr': case 'BoolExpr': case 'NullTest': case 'BooleanTest': case 'ParamRef':
      return t.tag === 'A_Expr' && b.kind === 'AEXPR_NULLIF' ? 'nullif' : '?column?';
    case 'SubLink':
      if (b.subLinkType === 'EXISTS_SUBLINK') return 'exists';
      if (b.subLinkType === 'ARRAY_SUBLINK') return 'array';
      if (b.subLinkType === 'EXPR_SUBLINK') return firstTargetName(b.subselect);
      return '?column?';
    default: return undefined;
  }
}

function firstTargetName(sub: unknown): string | undefined {
  const t = tagOf(sub);
  if (t?.tag !== 'SelectStmt') return undefined;
  let s: Node = t.body;
  for (let i = 0; i < 64 && s.op !== undefined && s.op !== 'SETOP_NONE' && isRecord(s.larg); i++) s = s.larg;
  const first = tagOf(list(s.targetList)[0]);
  if (first?.tag !== 'ResTarget') return undefined;
  return typeof first.body.name === 'string' ? first.body.name : figureName(first.body.val);
}

/** Functions that run SQL given as text or read whole tables by name: their results may hold anything. */
const QUERY_FUNCTIONS: ReadonlySet<string> = new Set([
  'query_to_xml', 'query_to_xmlschema', 'query_to_xml_and_xmlschema', 'cursor_to_xml', 'cursor_to_xmlschema',
  'table_to_xml', 'table_to_xmlschema', 'table_to_xml_and_xmlschema', 'schema_to_xml', 'schema_to_xmlschema',
  'schema_to_xml_and_xmlschema', 'database_to_xml', 'database_to_xmlschema', 'database_to_xml_and_xmlschema',
  'ts_stat', 'dblink', 'dblink_exec', 'dblink_get_result', 'dblink_fetch', 'pg_read_file', 'pg_read_binary_file',
  'lo_get', 'loread', 'lo_export', 'pg_stat_get_activity', 'current_setting', 'pg_get_object_address',
  // The session's settings: a hidden function may have set one to a protected value (set_config).
  'pg_show_all_settings',
]);

/** True for a built-in that reads data the text does not name (see QUERY_FUNCTIONS). */
export function readsHiddenData(name: string): boolean {
  return QUERY_FUNCTIONS.has(name.toLowerCase());
}

/** Catalog relations whose rows hold other tables' values (column statistics). */
const STATISTICS: ReadonlySet<string> = new Set([
  'pg_statistic', 'pg_stats', 'pg_stats_ext', 'pg_stats_ext_exprs', 'pg_statistic_ext_data', 'pg_statistic_ext',
]);

/** True for `pg_catalog` relations holding sampled column values (most common values, histograms). */
export function isStatisticsCatalog(name: string): boolean {
  return STATISTICS.has(name);
}

/**
 * True for `pg_catalog` relations whose values may come from any column: the statistics
 * catalogs, and `pg_settings` (the session's settings, which a hidden function may have set to a
 * protected value with `set_config`).
 */
export function holdsHiddenValues(name: string): boolean {
  return STATISTICS.has(name) || name === 'pg_settings';
}

/**
 * Settings whose value the server checks against a fixed set of words or computes itself (booleans,
 * enums, the parsed `DateStyle`, encoding names, read-only server facts): they cannot carry a value
 * read from a table. Drivers read some of them (`SHOW standard_conforming_strings`, `SHOW
 * transaction isolation level`). Every other setting holds free text or a number a hidden function
 * may have set from a protected column (`set_config('application_name', phone, false)`, a
 * `TimeZone` of `<555-867-5309>+5`, digits in an integer setting).
 */
const FIXED_VALUE_SETTINGS: ReadonlySet<string> = new Set([
  'transaction_isolation', 'transaction_read_only', 'transaction_deferrable', 'default_transaction_isolation',
  'default_transaction_read_only', 'default_transaction_deferrable', 'standard_conforming_strings', 'integer_datetimes',
  'in_hot_standby', 'is_superuser', 'intervalstyle', 'datestyle', 'client_encoding', 'server_encoding', 'server_version',
  'server_version_num', 'max_identifier_length', 'bytea_output', 'client_min_messages', 'xmloption', 'xmlbinary',
]);

/** True when setting `name` (whatever its case) may hold a value derived from table data (see {@link FIXED_VALUE_SETTINGS}). */
export function settingMayCarryData(name: string): boolean {
  return !FIXED_VALUE_SETTINGS.has(name.toLowerCase());
}
