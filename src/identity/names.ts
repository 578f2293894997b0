import { GatehouseError } from '../kernel/errors.ts';

/** Names of users, agents and groups that Gatehouse itself assigns (API keys, built-in tokens). */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/;

/** Most groups one principal may carry; bounds tokens and policy entities. */
export const MAX_GROUPS = 64;

/** True when `s` is a valid user, agent or group name. @example isName('alice@example.com') === true */
export function isName(s: unknown): s is string {
  return typeof s === 'string' && NAME_PATTERN.test(s);
}

/**
 * Validates a list of group names (no duplicates kept, order preserved).
 * Throws `validation_failed` naming `field` on a bad entry.
 *
 * @example checkGroups(['dev', 'dev', 'ops'], 'groups') // ['dev', 'ops']
 */
export function checkGroups(groups: readonly string[] | undefined, field: string): string[] {
  const list = groups ?? [];
  if (list.length > MAX_GROUPS) throw new GatehouseError('validation_failed', `"${field}" holds more than ${MAX_GROUPS} groups`);
  for (const g of list) {
    if (!isName(g)) throw new GatehouseError('validation_failed', `"${field}" has an invalid group name (allowed: ${NAME_PATTERN.source})`);
  }
  return [...new Set(list)];
}

/** Parses an untrusted value (a token claim, a jsonb column) as a list of names; undefined if it is not one. */
export function asNameList(v: unknown): string[] | undefined {
  if (!Array.isArray(v) || v.length > MAX_GROUPS) return undefined;
  const out: string[] = [];
  for (const g of v as unknown[]) {
    if (!isName(g)) return undefined;
    out.push(g);
  }
  return out;
}

/**
 * Looser rule for names that arrive in tokens (external IdPs use subjects like `auth0|123`):
 * 1–256 characters, no control characters.
 */
export function isClaimName(s: unknown): s is string {
  // eslint-disable-next-line no-control-regex
  return typeof s === 'string' && /^[^\u0000-\u001f\u007f]{1,256}$/u.test(s);
}

/** Like {@link asNameList} with the looser {@link isClaimName} rule. */
export function asClaimNameList(v: unknown): string[] | undefined {
  if (!Array.isArray(v) || v.length > MAX_GROUPS * 4) return undefined;
  const out: string[] = [];
  for (const g of v as unknown[]) {
    if (!isClaimName(g)) return undefined;
    out.push(g);
  }
  return out;
}
