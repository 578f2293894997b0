import type { Action, SqlFacts } from '../../policy/request.ts';

/**
 * The categories a statement falls into. A statement can fall into several (a SELECT with a
 * data-modifying CTE is `read` and `write`); see `statement-kinds.ts` for the table.
 */
export const SQL_KINDS = ['read', 'write', 'ddl', 'admin', 'transaction', 'utility'] as const;
export type SqlKind = (typeof SQL_KINDS)[number];

/** The Gatehouse actions a SQL request can need. */
export type SqlAction = Extract<Action, 'sql.read' | 'sql.write' | 'sql.ddl' | 'sql.admin'>;

/** Canonical order of SQL actions in results (the order of `ACTIONS`). */
export const SQL_ACTIONS: readonly SqlAction[] = ['sql.read', 'sql.write', 'sql.ddl', 'sql.admin'];

/** Where a statement sits in the inspected text, as UTF-16 indices (`sql.slice(start, end)`). */
export interface TextRange {
  readonly start: number;
  readonly end: number;
}

/** What one top-level statement of a request does. */
export interface StatementInfo {
  /** The top-level statement's own category (`utility` for PREPARE, `read` for SELECT …). */
  readonly kind: SqlKind;
  /** Every category found anywhere in its tree, canonical order. */
  readonly kinds: readonly SqlKind[];
  /** The actions this statement needs (kinds, dangerous/side-effect functions), canonical order. */
  readonly actions: readonly SqlAction[];
  readonly tables: readonly string[];
  readonly functions: readonly string[];
  readonly dangerous_functions: readonly string[];
  /** False when an UPDATE or DELETE anywhere in it has no WHERE (WHERE CURRENT OF counts). */
  readonly has_where: boolean;
  readonly data_modifying_cte: boolean;
  readonly do_block: boolean;
  readonly copy_program: boolean;
  readonly copy_out: boolean;
  readonly side_effects: readonly string[];
  readonly settings: readonly string[];
  readonly server_secrets: readonly string[];
  /** Explicit calls plus attribute-notation names (`t.f`, `(x).f`), lowercased. */
  readonly possible_functions: readonly string[];
  readonly location: TextRange;
  /** For `PREPARE name AS …`: the name and what the prepared statement does when executed. */
  readonly prepared?: { readonly name: string; readonly statement: StatementInfo };
  /**
   * Names of prepared statements this statement runs (`EXECUTE p`, `EXPLAIN ANALYZE EXECUTE p`,
   * `CREATE TABLE x AS EXECUTE p`). Their actions are NOT in `actions`: the session must add
   * them (see `PreparedStatements`) and deny when a name is unknown.
   */
  readonly executes: readonly string[];
  /** `DEALLOCATE name` / `DEALLOCATE ALL` / `DISCARD ALL`: prepared statements the session forgets. */
  readonly deallocates?: { readonly all: true } | { readonly all: false; readonly name: string };
}

/**
 * The result of inspecting one SQL text. `ok: false` means "could not understand it": the caller
 * denies (fail closed). Results are frozen and depend only on the text.
 */
export type SqlInspection =
  | {
      readonly ok: true;
      readonly facts: SqlFacts;
      /** Union of the statements' actions; never empty (an empty query needs `sql.read`). */
      readonly actions: readonly SqlAction[];
      readonly statements: readonly StatementInfo[];
      /** Union of the statements' `executes`: when non-empty, resolve before authorizing. */
      readonly executes: readonly string[];
    }
  | {
      readonly ok: false;
      readonly error: string;
      /** A genuine syntax error: the parser's message and 1-based character position (as PostgreSQL reports them). */
      readonly syntax?: { readonly message: string; readonly position: number };
    };

/** Maps a kind to the action it needs: session statements (transaction, utility) need only read. */
export function kindAction(kind: SqlKind): SqlAction {
  switch (kind) {
    case 'write': return 'sql.write';
    case 'ddl': return 'sql.ddl';
    case 'admin': return 'sql.admin';
    case 'read':
    case 'transaction':
    case 'utility':
      return 'sql.read';
  }
}

/** Sorts kinds into canonical order, without duplicates. */
export function sortKinds(kinds: Iterable<SqlKind>): SqlKind[] {
  const set = new Set(kinds);
  return SQL_KINDS.filter((k) => set.has(k));
}

/** Sorts actions into canonical order, without duplicates. */
export function sortActions(actions: Iterable<SqlAction>): SqlAction[] {
  const set = new Set(actions);
  return SQL_ACTIONS.filter((a) => set.has(a));
}
