import { functionEffect } from './functions.ts';
import { functionSideEffect, isSecretFunction, isSecretRelation, isSecretSetting, readsSettingByName } from './side-effects.ts';
import { statementKinds } from './statement-kinds.ts';
import type { SqlKind } from './types.ts';
import type { ErrorCode } from '../../kernel/errors.ts';

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
  /** COPY … TO STDOUT (its rows bypass the row path). */
  copyOut: boolean;
  readonly executes: Set<string>;
  /** Side-effect categories (see side-effects.ts). */
  readonly sideEffects: Set<string>;
  /** Settings changed (SET, RESET, set_config with a literal name); `*` when unknown. */
  readonly settings: Set<string>;
  /** Server secrets read (relations, settings, functions). */
  readonly secrets: Set<string>;
  /** Names in attribute notation (`t.f`, `(x).f`): PostgreSQL calls `f(t)` when `t` has no column `f`. */
  readonly attributeNames: Set<string>;
}

/** Thrown for anything the walker does not understand; the inspector turns it into `ok: false`. */
export class UnknownSqlError extends Error {
  override readonly name = 'UnknownSqlError';
  /** The registry code: SQL the inspector cannot read is denied (42501), never forwarded. */
  readonly code = 'policy_denied' satisfies ErrorCode;
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
    copyProgram: false, copyOut: false, executes: new Set(), sideEffects: new Set(), settings: new Set(),
    secrets: new Set(), attributeNames: new Set(),
  };
}

function addKinds(f: TreeFacts, kinds: readonly SqlKind[], planOnly: boolean): void {
  for (const k of kinds) f.kinds.add(planOnly ? 'read' : k);
}

/** The string literal of a call's first argument, if it is one. */
function firstStringArg(call: Record<string, unknown>): string | undefined {
  const args = call.args;
  if (!Array.isArray(args) || args.length === 0) return undefined;
  const a: unknown = args[0];
  if (!isRecord(a) || !isRecord(a.A_Const) || !isRecord(a.A_Const.sval)) return undefined;
  const v = a.A_Const.sval.sval;
  return typeof v === 'string' ? v : undefined;
}

/** Records a called function; `name` may be qualified; `call` is the FuncCall node when there is one. */
function recordFunction(f: TreeFacts, name: string, call?: Record<string, unknown>): void {
  const lower = name.toLowerCase();
  f.functions.add(lower);
  const effect = functionEffect(lower);
  if (effect === 'dangerous') f.dangerous.add(lower);
  else if (effect === 'write') f.writeFunction = true;
  const side = functionSideEffect(lower);
  if (side !== undefined) f.sideEffects.add(side);
  if (isSecretFunction(lower)) f.secrets.add(lower);
  const setting = call === undefined ? undefined : firstStringArg(call);
  if (readsSettingByName(lower)) {
    // A name computed at run time could be any setting.
    if (setting === undefined) f.secrets.add(`${lower}(?)`);
    else if (isSecretSetting(setting)) f.secrets.add(setting.toLowerCase());
  }
  if (side === 'settings' && lower.endsWith('set_config')) f.settings.add(setting?.toLowerCase() ?? '*');
}

/**
 * `(expr).fname` and `t.fname` call `fname(expr)` in PostgreSQL (functional notation) when the
 * row has no such column: every such name is a fact (the session asks the catalog whether a
 * volatile function has it), and a known dangerous or side-effect function is recorded as a call.
 */
function recordFieldNotation(f: TreeFacts, names: readonly string[]): void {
  for (const name of names) {
    f.attributeNames.add(name.toLowerCase());
    if (functionEffect(name) !== 'none' || functionSideEffect(name) !== undefined || isSecretFunction(name)) recordFunction(f, name);
  }
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
    case 'FuncCall': recordFunction(f, stringItems(body.funcname).join('.'), body); break;
    case 'NotifyStmt': case 'ListenStmt': case 'UnlistenStmt': f.sideEffects.add('notify'); break;
    case 'LockStmt': f.sideEffects.add('lock'); break;
    case 'VariableSetStmt':
      if (body.kind !== 'VAR_SET_MULTI') {
        f.sideEffects.add('settings');
        f.settings.add(body.kind === 'VAR_RESET_ALL' ? 'all' : typeof body.name === 'string' ? body.name.toLowerCase() : '*');
      }
      break;
    case 'VariableShowStmt':
      if (typeof body.name !== 'string' || isSecretSetting(body.name)) f.secrets.add(typeof body.name === 'string' ? body.name.toLowerCase() : '*');
      break;
    case 'ColumnRef': recordFieldNotation(f, stringItems(body.fields).slice(1)); break;
    case 'A_Indirection': recordFieldNotation(f, stringItems(body.indirection)); break;
    case 'CommonTableExpr':
      if (isRecord(body.ctequery) && Object.keys(body.ctequery).some((k) => DML_TAGS.has(k))) f.dataModifyingCte = true;
      // `WITH RECURSIVE … SEARCH … SET` / `CYCLE … SET`: a plain read of this form crashes
      // PostgreSQL 15.20 (every session of every user ends while the server restarts). Treated
      // like a dangerous function (sql.admin) until the servers we support are all fixed.
      if (isRecord(body.search_clause)) f.dangerous.add('WITH RECURSIVE … SEARCH');
      if (isRecord(body.cycle_clause)) f.dangerous.add('WITH RECURSIVE … CYCLE');
      break;
    case 'DoStmt': f.doBlock = true; break;
    case 'CopyStmt':
      if (body.is_program === true) f.copyProgram = true;
      else if (body.is_from !== true && typeof body.filename !== 'string') f.copyOut = true;
      break;
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
      if (isRecord(value)) recordFunction(f, stringItems(value.funcname).join('.'), value);
      break;
    case 'intoClause': // SELECT … INTO t creates and fills a table, like CREATE TABLE AS
      if (isRecord(value)) addKinds(f, ['ddl', 'write'], planOnly);
      break;
    case 'lockingClause': // FOR UPDATE/SHARE: PostgreSQL requires UPDATE privilege; locks block writers
      if (Array.isArray(value) && value.length > 0) { addKinds(f, ['write'], planOnly); f.sideEffects.add('lock'); }
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
    if (typeof value.relname === 'string') {
      const rel = rangeVarName(value);
      f.tables.add(rel);
      if (isSecretRelation(rel)) f.secrets.add(rel.toLowerCase());
    }
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
