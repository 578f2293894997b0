import { isRecord, strings } from '../../inspect/sql/lineage/tree.ts';

/** Settings that change how the server resolves unqualified names. */
const NAME_SETTINGS: ReadonlySet<string> = new Set(['search_path', 'role', 'session_authorization']);

/**
 * Whether a statement may change how the session resolves unqualified relation names:
 * `SET [LOCAL] search_path / ROLE / SESSION AUTHORIZATION`, `RESET ALL`, `DISCARD ALL`, or a call
 * of `set_config` (whose setting name may be computed). Over-approximates: once true, lineage
 * treats every schema's relation of a name as a candidate for the rest of the session.
 */
export function changesNameResolution(stmt: unknown): boolean {
  const stack: unknown[] = [stmt];
  for (let n = 0, v = stack.pop(); v !== undefined; v = stack.pop()) {
    if (++n > 1_000_000) return true;
    if (Array.isArray(v)) { for (const x of v as unknown[]) stack.push(x); continue; }
    if (!isRecord(v)) continue;
    const set = v.VariableSetStmt;
    if (isRecord(set) && (typeof set.name !== 'string' || NAME_SETTINGS.has(set.name.toLowerCase()) || set.kind === 'VAR_RESET_ALL')) return true;
    if (isRecord(v.DiscardStmt) || isRecord(v.AlterRoleSetStmt)) return true;
    const fn = v.funcname === undefined ? undefined : strings(v.funcname);
    if (fn?.some((p) => p.toLowerCase() === 'set_config')) return true;
    for (const child of Object.values(v)) if (typeof child === 'object' && child !== null) stack.push(child);
  }
  return false;
}
