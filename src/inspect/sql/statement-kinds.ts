import { asksReadWrite, setStatementKind } from './set-statement.ts';
import type { SqlKind } from './types.ts';

/**
 * The category of every statement node of the PostgreSQL 18 raw parse tree. A node type missing
 * here is unknown: inspection fails and the caller denies (fail closed). Decisions:
 *
 * - **read**: SELECT / VALUES / TABLE, SHOW, EXPLAIN without ANALYZE (the inner statement is only
 *   planned; `ExplainStmt` walks it as read). `RETURN` exists only in SQL function bodies.
 * - **write**: INSERT, UPDATE, DELETE, MERGE, COPY FROM STDIN, LOCK TABLE (PostgreSQL asks for
 *   UPDATE/DELETE/TRUNCATE privileges for anything above ACCESS SHARE, and locks block writers),
 *   CALL (a procedure's body is invisible here; it exists to change things — its name is in
 *   `functions` so policy can narrow it). `SELECT … FOR UPDATE/SHARE` and `SELECT INTO` are
 *   detected on the tree (fields `lockingClause`, `intoClause`), not here.
 * - **ddl**: CREATE / ALTER / DROP / COMMENT / RENAME of schema objects, TRUNCATE, REFRESH
 *   MATERIALIZED VIEW; CREATE TABLE AS (and SELECT INTO) is ddl **and** write: it creates and fills.
 * - **admin**: privileges and roles (GRANT, REVOKE, roles, default privileges, ownership, RLS
 *   policies, security labels), cluster-wide objects (databases, tablespaces, extensions,
 *   languages, FDWs, servers, user mappings, publications, subscriptions, event triggers, access
 *   methods), ALTER SYSTEM, LOAD, CHECKPOINT, maintenance (VACUUM, ANALYZE, CLUSTER, REINDEX),
 *   DO blocks (arbitrary code), COPY to/from a server file or PROGRAM, COMMIT/ROLLBACK PREPARED
 *   (they finish a two-phase transaction another session — maybe another principal — prepared),
 *   PREPARE TRANSACTION (its locks outlive the session until one of those), DISCARD ALL (it
 *   resets the role), and the SET cases listed in `set-statement.ts`.
 * - **transaction**: BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE, SET TRANSACTION, SET
 *   CONSTRAINTS; BEGIN / START TRANSACTION / SET TRANSACTION … READ WRITE also **write** (they ask
 *   for writes: a read-only upstream role's backstop turned off). PREPARE TRANSACTION is admin.
 * - **utility**: SET / RESET of ordinary settings, DISCARD PLANS/SEQUENCES/TEMP, LISTEN, NOTIFY,
 *   UNLISTEN, PREPARE (its inner statement is walked too, so PREPARE needs what the statement
 *   needs), EXECUTE (resolved by the session), DEALLOCATE, DECLARE CURSOR (its query is walked),
 *   FETCH, MOVE, CLOSE.
 */
const FIXED: Readonly<Record<string, readonly SqlKind[]>> = {
  SelectStmt: ['read'], VariableShowStmt: ['read'], ExplainStmt: ['read'], ReturnStmt: ['read'],

  InsertStmt: ['write'], UpdateStmt: ['write'], DeleteStmt: ['write'], MergeStmt: ['write'],
  LockStmt: ['write'], CallStmt: ['write'],

  CreateTableAsStmt: ['ddl', 'write'],
  CreateSchemaStmt: ['ddl'], CreateStmt: ['ddl'], CreateForeignTableStmt: ['ddl'],
  CreateSeqStmt: ['ddl'], AlterSeqStmt: ['ddl'], DefineStmt: ['ddl'], CreateDomainStmt: ['ddl'],
  AlterDomainStmt: ['ddl'], AlterCollationStmt: ['ddl'], CreateOpClassStmt: ['ddl'],
  CreateOpFamilyStmt: ['ddl'], AlterOpFamilyStmt: ['ddl'], TruncateStmt: ['ddl'],
  CommentStmt: ['ddl'], IndexStmt: ['ddl'], CreateStatsStmt: ['ddl'], AlterStatsStmt: ['ddl'],
  CreateFunctionStmt: ['ddl'], AlterFunctionStmt: ['ddl'], AlterObjectDependsStmt: ['ddl'],
  AlterOperatorStmt: ['ddl'], AlterTypeStmt: ['ddl'], RuleStmt: ['ddl'], CreateTrigStmt: ['ddl'],
  CompositeTypeStmt: ['ddl'], CreateEnumStmt: ['ddl'], CreateRangeStmt: ['ddl'],
  AlterEnumStmt: ['ddl'], ViewStmt: ['ddl'], RefreshMatViewStmt: ['ddl'],
  CreateConversionStmt: ['ddl'], CreateCastStmt: ['ddl'], CreateTransformStmt: ['ddl'],
  AlterTSDictionaryStmt: ['ddl'], AlterTSConfigurationStmt: ['ddl'],
  ImportForeignSchemaStmt: ['ddl'], ReplicaIdentityStmt: ['ddl'],

  GrantStmt: ['admin'], GrantRoleStmt: ['admin'], AlterDefaultPrivilegesStmt: ['admin'],
  CreateRoleStmt: ['admin'], AlterRoleStmt: ['admin'], AlterRoleSetStmt: ['admin'],
  DropRoleStmt: ['admin'], AlterOwnerStmt: ['admin'], DropOwnedStmt: ['admin'],
  ReassignOwnedStmt: ['admin'], CreatePolicyStmt: ['admin'], AlterPolicyStmt: ['admin'],
  SecLabelStmt: ['admin'], CreateTableSpaceStmt: ['admin'], DropTableSpaceStmt: ['admin'],
  AlterTableSpaceOptionsStmt: ['admin'], AlterTableMoveAllStmt: ['admin'],
  CreateExtensionStmt: ['admin'], AlterExtensionStmt: ['admin'],
  AlterExtensionContentsStmt: ['admin'], CreateFdwStmt: ['admin'], AlterFdwStmt: ['admin'],
  CreateForeignServerStmt: ['admin'], AlterForeignServerStmt: ['admin'],
  CreateUserMappingStmt: ['admin'], AlterUserMappingStmt: ['admin'],
  DropUserMappingStmt: ['admin'], CreateAmStmt: ['admin'], CreateEventTrigStmt: ['admin'],
  AlterEventTrigStmt: ['admin'], CreatePLangStmt: ['admin'], LoadStmt: ['admin'],
  CreatedbStmt: ['admin'], AlterDatabaseStmt: ['admin'], AlterDatabaseRefreshCollStmt: ['admin'],
  AlterDatabaseSetStmt: ['admin'], DropdbStmt: ['admin'], AlterSystemStmt: ['admin'],
  CheckPointStmt: ['admin'], VacuumStmt: ['admin'], ClusterStmt: ['admin'], ReindexStmt: ['admin'],
  DoStmt: ['admin'], CreatePublicationStmt: ['admin'], AlterPublicationStmt: ['admin'],
  CreateSubscriptionStmt: ['admin'], AlterSubscriptionStmt: ['admin'],
  DropSubscriptionStmt: ['admin'],

  ConstraintsSetStmt: ['transaction'],

  NotifyStmt: ['utility'], ListenStmt: ['utility'], UnlistenStmt: ['utility'],
  PrepareStmt: ['utility'], ExecuteStmt: ['utility'], DeallocateStmt: ['utility'],
  DeclareCursorStmt: ['utility'], FetchStmt: ['utility'], ClosePortalStmt: ['utility'],
};

/** Object types whose CREATE/ALTER/DROP/RENAME is cluster-wide or about access control. */
const ADMIN_OBJECTS: ReadonlySet<string> = new Set([
  'OBJECT_ACCESS_METHOD', 'OBJECT_DATABASE', 'OBJECT_DEFACL', 'OBJECT_EVENT_TRIGGER',
  'OBJECT_EXTENSION', 'OBJECT_FDW', 'OBJECT_FOREIGN_SERVER', 'OBJECT_LANGUAGE',
  'OBJECT_PARAMETER_ACL', 'OBJECT_POLICY', 'OBJECT_PUBLICATION', 'OBJECT_PUBLICATION_NAMESPACE',
  'OBJECT_PUBLICATION_REL', 'OBJECT_ROLE', 'OBJECT_SUBSCRIPTION', 'OBJECT_TABLESPACE',
  'OBJECT_USER_MAPPING',
]);

/** ALTER TABLE subcommands about access control rather than shape. */
const ADMIN_ALTER_TABLE: ReadonlySet<string> = new Set([
  'AT_ChangeOwner', 'AT_EnableRowSecurity', 'AT_DisableRowSecurity', 'AT_ForceRowSecurity',
  'AT_NoForceRowSecurity',
]);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `ddl`, or `admin` when the object type is in the admin list (or missing: fail closed). */
function byObjectType(objectType: unknown): readonly SqlKind[] {
  return typeof objectType === 'string' && !ADMIN_OBJECTS.has(objectType) ? ['ddl'] : ['admin'];
}

function copyKinds(body: Record<string, unknown>): readonly SqlKind[] {
  if (body.is_program === true) return ['admin'];
  if (typeof body.filename === 'string') return ['admin']; // a server-side file, either way
  return body.is_from === true ? ['write'] : ['read'];
}

function transactionKinds(body: Record<string, unknown>): readonly SqlKind[] {
  const kind = body.kind;
  // PREPARE TRANSACTION leaves a transaction (its locks, its snapshot) behind the session, which
  // only COMMIT/ROLLBACK PREPARED ends: admin, as they are.
  if (kind === 'TRANS_STMT_COMMIT_PREPARED' || kind === 'TRANS_STMT_ROLLBACK_PREPARED' || kind === 'TRANS_STMT_PREPARE') return ['admin'];
  // BEGIN / START TRANSACTION READ WRITE asks for writes (a read-only upstream role's backstop off).
  return asksReadWrite(body.options) ? ['transaction', 'write'] : ['transaction'];
}

function alterTableKinds(body: Record<string, unknown>): readonly SqlKind[] {
  const cmds = body.cmds;
  if (Array.isArray(cmds)) {
    for (const cmd of cmds as unknown[]) {
      if (!isRecord(cmd) || !isRecord(cmd.AlterTableCmd)) continue;
      const subtype = cmd.AlterTableCmd.subtype;
      if (typeof subtype !== 'string' || ADMIN_ALTER_TABLE.has(subtype)) return ['admin'];
    }
  }
  return ['ddl'];
}

/**
 * The categories of one statement node (first = its own category), or `undefined` when the node
 * type is unknown (the caller then fails closed). Nested statements are not looked at here.
 *
 * @example
 *   statementKinds('DeleteStmt', {})                      // ['write']
 *   statementKinds('CopyStmt', { is_program: true })      // ['admin']
 *   statementKinds('FrobnicateStmt', {})                  // undefined
 */
export function statementKinds(tag: string, body: Record<string, unknown>): readonly SqlKind[] | undefined {
  switch (tag) {
    case 'CopyStmt': return copyKinds(body);
    case 'TransactionStmt': return transactionKinds(body);
    case 'VariableSetStmt': return [setStatementKind(body)];
    case 'DiscardStmt': return body.target === 'DISCARD_ALL' || typeof body.target !== 'string' ? ['admin'] : ['utility'];
    case 'AlterTableStmt': return alterTableKinds(body);
    case 'DropStmt': return byObjectType(body.removeType);
    case 'RenameStmt': return byObjectType(body.renameType);
    case 'AlterObjectSchemaStmt': return byObjectType(body.objectType);
    default: return Object.hasOwn(FIXED, tag) ? FIXED[tag] : undefined;
  }
}
