import { createHash } from 'node:crypto';

/** `prev_hash` of the first record, and the head hash of an empty log. */
export const GENESIS_HASH = '0'.repeat(64);

/** The fields a record's hash covers: everything except `prev_hash` and `hash` themselves. */
export interface HashedFields {
  readonly seq: number;
  /** ISO-8601 UTC with milliseconds, as `Date#toISOString()` renders it. */
  readonly at: string;
  readonly kind: string;
  readonly user: string | null;
  readonly agent: string | null;
  readonly action: string | null;
  readonly resource: string | null;
  readonly outcome: string;
  readonly detail: Readonly<Record<string, unknown>>;
}

/**
 * JSON with object keys sorted (recursively) and no whitespace, so equal values always give the
 * same text — whatever key order the database hands back for `jsonb`. Input must be JSON data
 * (the audit log normalizes `detail` through a JSON round trip before hashing or storing it).
 *
 * @example canonicalJson({ b: 1, a: [true, null] }) === '{"a":[true,null],"b":1}'
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v)).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const parts: string[] = [];
  for (const key of Object.keys(obj).sort()) {
    const v = obj[key];
    if (v === undefined) continue;
    parts.push(`${JSON.stringify(key)}:${canonicalJson(v)}`);
  }
  return `{${parts.join(',')}}`;
}

/**
 * The chain link: sha256 hex of `prevHash` followed by the canonical JSON of the record fields.
 *
 * @example recordHash(GENESIS_HASH, { seq: 1, at: '2025-01-01T00:00:00.000Z', kind: 'x', user: null,
 *   agent: null, action: null, resource: null, outcome: 'ok', detail: {} })
 */
export function recordHash(prevHash: string, f: HashedFields): string {
  const body = canonicalJson({
    seq: f.seq, at: f.at, kind: f.kind, user: f.user, agent: f.agent,
    action: f.action, resource: f.resource, outcome: f.outcome, detail: f.detail,
  });
  return createHash('sha256').update(prevHash, 'utf8').update(body, 'utf8').digest('hex');
}
