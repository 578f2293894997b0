import { hash } from 'node:crypto';

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
 * A record's canonical JSON split around its `seq`, which is assigned only when the batch is
 * written: `head + seq + tail` is exactly `canonicalJson` of the hashed fields (keys in sorted
 * order: action, agent, at, detail, kind, outcome, resource, seq, user). Built once per record
 * when it is enqueued, so writing a batch costs one sha256 per record.
 */
export interface RecordBody {
  readonly head: string;
  readonly tail: string;
}

/** See {@link RecordBody}; `detailText` must be the canonical JSON of `f.detail`. */
export function recordBody(f: Omit<HashedFields, 'seq' | 'detail'>, detailText: string): RecordBody {
  const p = bodyParts(f, detailText);
  return { head: `${p.pre}${JSON.stringify(f.at)}${p.mid}`, tail: p.tail };
}

/** A record body without its time: `head` is `pre + JSON of at + mid`. */
export interface BodyParts {
  readonly pre: string;
  readonly mid: string;
  readonly tail: string;
}

/** The parts of {@link recordBody} that do not depend on `at`, so they can be kept and reused. */
export function bodyParts(f: Omit<HashedFields, 'seq' | 'detail' | 'at'>, detailText: string): BodyParts {
  return {
    pre: `{"action":${JSON.stringify(f.action)},"agent":${JSON.stringify(f.agent)},"at":`,
    mid: `,"detail":${detailText},"kind":${JSON.stringify(f.kind)},"outcome":${JSON.stringify(f.outcome)},"resource":${JSON.stringify(f.resource)},"seq":`,
    tail: `,"user":${JSON.stringify(f.user)}}`,
  };
}

/** The chain link of a prepared body at `seq`: sha256 hex of `prevHash` followed by the body. */
export function chainHash(prevHash: string, body: RecordBody, seq: number): string {
  // One-shot hash of the concatenation: the same digest as two updates, without a Hash object.
  return hash('sha256', `${prevHash}${body.head}${seq}${body.tail}`, 'hex');
}

/**
 * The chain link: sha256 hex of `prevHash` followed by the canonical JSON of the record fields.
 *
 * @example recordHash(GENESIS_HASH, { seq: 1, at: '2025-01-01T00:00:00.000Z', kind: 'x', user: null,
 *   agent: null, action: null, resource: null, outcome: 'ok', detail: {} })
 */
export function recordHash(prevHash: string, f: HashedFields): string {
  if (!Number.isSafeInteger(f.seq)) throw new TypeError('seq must be a safe integer');
  return chainHash(prevHash, recordBody(f, canonicalJson(f.detail)), f.seq);
}
