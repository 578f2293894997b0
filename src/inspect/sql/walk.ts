import { functionEffect } from './functions.ts';
import { statementKinds } from './statement-kinds.ts';
import type { SqlKind } from './types.ts';

/** What a walk over one parse (sub)tree found. Sets, so that order never matters. */
export interface TreeFacts {
  readonly kinds: Set<SqlKind>;
  readonly tables: Set<string>;
  readonly functions: Set<string>;
  readonly dangerous: Set<string>;
  /** A side-effect function (nextval, setval) is called. */
  writeFunction: boolean;
  hasWhere: boolean;
  dataModifyingCte: boolean;
  doBlock: boolean;
  copyProgram: boolean;
  readonly executes: Set<string>;
}

/** Thrown for anything the walker does not understand; the inspector turns it into `ok: false`. */
export class UnknownSqlError extends Error {
  override readonly name = 'UnknownSqlError';
}

/** A hard bound on visited objects per statement (a 1 MiB text stays far below it). */
const MAX_OBJECTS = 2_000_000;

const DML_TAGS: ReadonlySet<string> = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);
const RELATION_OBJECTS: ReadonlySet<string> = new Set([
  'OBJECT_TABLE', 'OBJECT_VIEW', 'OBJECT_MATVIEW', 'OBJECT_FOREIGN_TABLE', 'OBJECT_SEQUENCE',
]);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Node tags start with an upper-case letter (`SelectStmt`, `A_Const`); fields never do. */
function isTag(key: string): boolean {
  const c = key.charCodeAt(0);
  return c >= 65 && c <= 90;
}

/** The `sval`s of a list of `{ String: { sval } }` nodes; other nodes are skipped. */
function stringItems(list: unknown): string[] {
  if (!Array.isArray(list)) return [];
  const out: string[] = [];
  for (const item of list as unknown[]) {
    if (isRecord(item) && isRecord(item.String) && typeof item.String.sval === 'string') out.push(item.String.sval);
  }
  return out;
}

function rangeVarName(v: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const key of ['catalogname', 'schemaname', 'relname']) {
    const part = v[key];
    if (typeof part === 'string' && part !== '') parts.push(part);
  }
  return parts.join('.');
}

function emptyFacts(): TreeFacts {
  return {
    kinds: new Set(), tables: new Set(), functions: new Set(), dangerous: new Set(),
    writeFunction: false, hasWhere: true, dataModifyingCte: false, doBlock: false,
    copyProgram: false, executes: new Set(),
  };
}

function addKinds(f: TreeFacts, kinds: readonly SqlKind[], planOnly: boolean): void {
  for (const k of kinds) f.kinds.add(planOnly ? 'read' : k);
}

/** Records a called function; `name` may be qualified. */
function recordFunction(f: TreeFacts, name: string): void {
  const lower = name.toLowerCase();
  f.functions.add(lower);
  const effect = functionEffect(lower);
  if (effect === 'dangerous') f.dangerous.add(lower);
  else if (effect === 'write') f.writeFunction = true;
}

/**
 * `(expr).fname` and `t.fname` call `fname(expr)` in PostgreSQL (functional notation), so a field
 * name that is a known dangerous or side-effect function is recorded as a call (fail closed).
 */
function recordFieldNotation(f: TreeFacts, names: readonly string[]): void {
  for (const name of names) if (functionEffect(name) !== 'none') recordFunction(f, name);
}

function hasAnalyzeOption(options: unknown): boolean {
  if (!Array.isArray(options)) return false;
  for (const opt of options as unknown[]) {
    if (!isRecord(opt) || !isRecord(opt.DefElem)) continue;
    const name = opt.DefElem.defname;
    // Any ANALYZE option, even `ANALYZE false`, counts: over-asking is the safe direction.
    if (typeof name === 'string' && (name.toLowerCase() === 'analyze' || name.toLowerCase() === 'analyse')) return true;
  }
  return false;
}

/** Handles one tagged node; returns whether its children are only planned (EXPLAIN). */
function onNode(f: TreeFacts, tag: string, body: Record<string, unknown>, planOnly: boolean): boolean {
  if (tag.endsWith('Stmt')) {
    const kinds = statementKinds(tag, body);
    if (kinds === undefined) throw new UnknownSqlError(`unknown statement type ${tag}`);
    addKinds(f, kinds, planOnly);
  }
  switch (tag) {
    case 'RangeVar': break; // recorded by shape in walkTree (bare RangeVars are common)
    case 'FuncCall': recordFunction(f, stringItems(body.funcname).join('.')); break;
    case 'ColumnRef': recordFieldNotation(f, stringItems(body.fields).slice(1)); break;
    case 'A_Indirection': recordFieldNotation(f, stringItems(body.indirection)); break;
    case 'CommonTableExpr':
      if (isRecord(body.ctequery) && Object.keys(body.ctequery).some((k) => DML_TAGS.has(k))) f.dataModifyingCte = true;
      break;
    case 'DoStmt': f.doBlock = true; break;
    case 'CopyStmt': if (body.is_program === true) f.copyProgram = true; break;
    case 'UpdateStmt':
    case 'DeleteStmt': if (body.whereClause === undefined || body.whereClause === null) f.hasWhere = false; break;
    case 'ExecuteStmt':
      if (typeof body.name !== 'string') throw new UnknownSqlError('EXECUTE without a name');
      f.executes.add(body.name);
      break;
    case 'DropStmt':
      if (typeof body.removeType === 'string' && RELATION_OBJECTS.has(body.removeType) && Array.isArray(body.objects)) {
        for (const obj of body.objects as unknown[]) {
          if (isRecord(obj) && isRecord(obj.List)) f.tables.add(stringItems(obj.List.items).join('.'));
        }
      }
      break;
    case 'ExplainStmt': return planOnly || !hasAnalyzeOption(body.options);
    default: break;
  }
  return planOnly;
}

/** Handles a field whose meaning does not depend on a tag (bare nodes inside typed fields). */
function onField(f: TreeFacts, key: string, value: unknown, planOnly: boolean): void {
  switch (key) {
    case 'funccall': // CallStmt.funccall is a bare FuncCall
      if (isRecord(value)) recordFunction(f, stringItems(value.funcname).join('.'));
      break;
    case 'intoClause': // SELECT … INTO t creates and fills a table, like CREATE TABLE AS
      if (isRecord(value)) addKinds(f, ['ddl', 'write'], planOnly);
      break;
    case 'lockingClause': // FOR UPDATE/SHARE: PostgreSQL requires UPDATE privilege; locks block writers
      if (Array.isArray(value) && value.length > 0) addKinds(f, ['write'], planOnly);
      break;
    default: break;
  }
}

interface Frame {
  readonly value: unknown;
  readonly planOnly: boolean;
}

/**
 * Walks a libpg-query parse (sub)tree — every object, iteratively, so depth cannot overflow the
 * stack — and collects its facts. Throws `UnknownSqlError` on an unknown statement type.
 *
 * @example
 *   const facts = walkTree(parseSync('WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x').stmts[0].stmt);
 *   facts.kinds // Set { 'read', 'write' }; facts.dataModifyingCte === true
 */
export function walkTree(root: unknown, planOnly = false): TreeFacts {
  const f = emptyFacts();
  const stack: Frame[] = [{ value: root, planOnly }];
  let visited = 0;
  for (let frame = stack.pop(); frame !== undefined; frame = stack.pop()) {
    const value = frame.value;
    if (Array.isArray(value)) {
      for (const item of value as unknown[]) stack.push({ value: item, planOnly: frame.planOnly });
      continue;
    }
    if (!isRecord(value)) continue;
    if (++visited > MAX_OBJECTS) throw new UnknownSqlError('parse tree too large');
    if (typeof value.relname === 'string') f.tables.add(rangeVarName(value));
    for (const [key, child] of Object.entries(value)) {
      if (isTag(key)) {
        if (!isRecord(child)) continue;
        stack.push({ value: child, planOnly: onNode(f, key, child, frame.planOnly) });
      } else {
        onField(f, key, child, frame.planOnly);
        if (typeof child === 'object' && child !== null) stack.push({ value: child, planOnly: frame.planOnly });
      }
    }
  }
  return f;
}
