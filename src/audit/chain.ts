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
  /**
   * How many identical consecutive decisions the record stands for (1: one event). A run of
   * decisions identical in everything but their time is stored once, with `at` the first time
   * and {@link lastAt} the last (see `AuditLog.enqueue`).
   */
  readonly count: number;
  /** The last decision's time of a run (`count` > 1); null for a single event. */
  readonly lastAt: string | null;
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
 * order: action, agent, at, [count], detail, kind, [last_at], outcome, resource, seq, user). The
 * run fields `count` and `last_at` are present only for a run (count ≠ 1 or a last time), so a
 * single event's JSON (and hash) is what it was before runs existed. Built once per record when
 * its batch is written, so writing a batch costs one sha256 per record.
 */
export interface RecordBody {
  readonly head: string;
  readonly tail: string;
}

/** See {@link RecordBody}; `detailText` must be the canonical JSON of `f.detail`. */
export function recordBody(f: Omit<HashedFields, 'seq' | 'detail'>, detailText: string): RecordBody {
  return bodyAt(bodyParts(f, detailText), f.at, f.count, f.lastAt);
}

/**
 * A record body without its time and run: everything of the canonical JSON but `at`, `count`,
 * `last_at` and `seq`, in order. Two records whose parts are equal (every string) have the same
 * content in every field but those: that is what "identical decisions" means (see {@link sameParts}).
 */
export interface BodyParts {
  /** `{"action":…,"agent":…,"at":` */
  readonly pre: string;
  /** `,"detail":…,"kind":…` */
  readonly mid: string;
  /** `,"outcome":…,"resource":…,"seq":` */
  readonly post: string;
  /** `,"user":…}` */
  readonly tail: string;
}

/** The parts of {@link recordBody} that do not depend on `at` or the run, so they can be kept and reused. */
export function bodyParts(f: Omit<HashedFields, 'seq' | 'detail' | 'at' | 'count' | 'lastAt'>, detailText: string): BodyParts {
  return {
    pre: `{"action":${JSON.stringify(f.action)},"agent":${JSON.stringify(f.agent)},"at":`,
    mid: `,"detail":${detailText},"kind":${JSON.stringify(f.kind)}`,
    post: `,"outcome":${JSON.stringify(f.outcome)},"resource":${JSON.stringify(f.resource)},"seq":`,
    tail: `,"user":${JSON.stringify(f.user)}}`,
  };
}

/** True when the two parts hold the same text: the records differ at most in time, run and seq. */
export function sameParts(a: BodyParts, b: BodyParts): boolean {
  return a === b || (a.pre === b.pre && a.mid === b.mid && a.post === b.post && a.tail === b.tail);
}

/** The body of `parts` at time `at`, with its run fields when it is a run (or carries a last time). */
export function bodyAt(parts: BodyParts, at: string, count: number, lastAt: string | null): RecordBody {
  if (count === 1 && lastAt === null) return { head: `${parts.pre}${JSON.stringify(at)}${parts.mid}${parts.post}`, tail: parts.tail };
  return {
    head: `${parts.pre}${JSON.stringify(at)},"count":${JSON.stringify(count)}${parts.mid},"last_at":${JSON.stringify(lastAt)}${parts.post}`,
    tail: parts.tail,
  };
}

/** The chain link of a prepared body at `seq`: sha256 hex of `prevHash` followed by the body. */
export function chainHash(prevHash: string, body: RecordBody, seq: number): string {
  // One-shot hash of the concatenation: the same digest as two updates, without a Hash object.
  return hash('sha256', `${prevHash}${body.head}${seq}${body.tail}`, 'hex');
}

/**
 * The chain link: sha256 hex of `prevHash` followed by the canonical JSON of the record fields
 * (`lastAt` under the key `last_at`; `count` and `last_at` left out for a single event).
 *
 * @example recordHash(GENESIS_HASH, { seq: 1, at: '2025-01-01T00:00:00.000Z', kind: 'x', user: null,
 *   agent: null, action: null, resource: null, outcome: 'ok', detail: {}, count: 1, lastAt: null })
 */
export function recordHash(prevHash: string, f: HashedFields): string {
  if (!Number.isSafeInteger(f.seq)) throw new TypeError('seq must be a safe integer');
  return chainHash(prevHash, recordBody(f, canonicalJson(f.detail)), f.seq);
}
