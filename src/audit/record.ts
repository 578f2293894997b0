import { GatehouseError } from '../kernel/errors.ts';
import { deepFreeze } from '../kernel/freeze.ts';
import { bodyParts, canonicalJson, type BodyParts, type HashedFields } from './chain.ts';

/**
 * One event to record. `kind` is free-form (`auth.failure`, `policy.decision`, `admin.mutation`,
 * `identity.key_created`, …). **Never put secrets, credentials, prompts, rows or bodies in
 * `detail`**: pass ids, kinds, reason codes and counts only. The log is append-only and kept
 * forever; it cannot be redacted later without breaking the chain.
 */
export interface AuditInput {
  readonly kind: string;
  readonly user?: string;
  readonly agent?: string;
  readonly action?: string;
  readonly resource?: string;
  readonly outcome: string;
  readonly detail?: Readonly<Record<string, unknown>>;
}

/** A stored event with its place in the chain. */
export interface AuditRecord {
  readonly seq: number;
  /** ISO-8601 UTC, millisecond precision. */
  readonly at: string;
  readonly kind: string;
  readonly user?: string;
  readonly agent?: string;
  readonly action?: string;
  readonly resource?: string;
  readonly outcome: string;
  readonly detail: Readonly<Record<string, unknown>>;
  /**
   * How many identical consecutive decisions this record stands for: 1 for a single event; more
   * for a run of decisions identical in everything but their time, `at` being the first one's
   * time and `lastAt` the last one's. Covered by the hash.
   */
  readonly count: number;
  /** The last decision's time of a run (ISO-8601 UTC); absent for a single event. */
  readonly lastAt?: string;
  readonly prevHash: string;
  readonly hash: string;
}

/** The shape of an `audit_log` row as both drivers return it. */
export interface AuditRow {
  seq: number | string;
  at: Date | string;
  kind: string;
  user_id: string | null;
  agent_id: string | null;
  action: string | null;
  resource: string | null;
  outcome: string;
  detail: Record<string, unknown> | null;
  prev_hash: string;
  hash: string;
  count: number | string;
  last_at: Date | string | null;
}

export const AUDIT_COLUMNS = 'seq, at, kind, user_id, agent_id, action, resource, outcome, detail, prev_hash, hash, count, last_at';

/** Upper bound of one record's canonical JSON (fields + detail). */
export const MAX_RECORD_CHARS = 16 * 1024;
/** Upper bound of each text field (kind, outcome, user, agent, action, resource). */
const MAX_FIELD_CHARS = 2048;

/**
 * One event about to be appended (everything but its seq and run), with its canonical JSON
 * prepared: `detailText` (stored as is) and `parts` (the record's JSON but its time, run and seq;
 * the batch writer hashes `bodyAt(parts, at, count, lastAt)` once the seq is known). Equal parts
 * mean equal content (see `sameParts`).
 */
export interface PendingFields extends Omit<HashedFields, 'seq' | 'count' | 'lastAt'> {
  readonly detailText: string;
  readonly parts: BodyParts;
}

/**
 * Validates and normalizes an input: `detail` goes through a JSON round trip so what is hashed is
 * exactly what `jsonb` stores and returns. Throws `GatehouseError('internal')` for input no audit
 * record can hold (oversized, NUL characters, empty kind/outcome) — a caller bug, so it fails closed.
 */
export function prepareInput(e: AuditInput, nowMs: number): PendingFields {
  const at = isoTime(nowMs);
  const known = e.detail === undefined ? undefined : stable.get(e.detail);
  // A stable detail remembers the last record it was prepared for: the same labels again (a data
  // path deciding the same statement) reuse its checked JSON around the time stamp.
  const last = known?.last;
  if (known !== undefined && last !== undefined && last.kind === e.kind && last.outcome === e.outcome && last.user === e.user &&
    last.agent === e.agent && last.action === e.action && last.resource === e.resource) {
    return { ...last.fields, at, detail: known.detail, detailText: known.detailText, parts: last.parts };
  }
  label('kind', e.kind, true);
  label('outcome', e.outcome, true);
  const { detail, detailText } = known ?? normalizeDetail(e.detail);
  const fields = {
    kind: e.kind, outcome: e.outcome,
    user: optional('user', e.user), agent: optional('agent', e.agent),
    action: optional('action', e.action), resource: optional('resource', e.resource),
  };
  const parts = bodyParts(fields, detailText);
  const text = `${parts.pre}${parts.mid}${parts.post}${parts.tail}`;
  // With its time (a run adds its count and last time, < 64 characters, on top of the bound).
  if (text.length + at.length + 2 > MAX_RECORD_CHARS) {
    throw new GatehouseError('internal', `audit record exceeds ${MAX_RECORD_CHARS} characters`);
  }
  // PostgreSQL text and jsonb cannot hold U+0000; refuse here rather than fail a whole batch.
  if (text.includes('\\u0000')) throw new GatehouseError('internal', 'audit record contains a NUL character');
  if (known !== undefined) {
    known.last = { kind: e.kind, outcome: e.outcome, user: e.user, agent: e.agent, action: e.action, resource: e.resource, fields, parts };
  }
  return { ...fields, at, detail, detailText, parts };
}

let lastMs = NaN;
let lastIso = '';

/** `new Date(ms).toISOString()`, remembered for the last millisecond (busy paths repeat it). */
function isoTime(ms: number): string {
  if (ms !== lastMs) {
    lastIso = new Date(ms).toISOString(); // throws RangeError for an invalid time, as before
    lastMs = ms;
  }
  return lastIso;
}

/** The detail as `jsonb` will hold it (a JSON round trip) and its canonical JSON. */
function normalizeDetail(d: AuditInput['detail']): { detail: Record<string, unknown>; detailText: string } {
  const detail: unknown = JSON.parse(JSON.stringify(d ?? {}));
  if (detail === null || typeof detail !== 'object' || Array.isArray(detail)) {
    throw new GatehouseError('internal', 'audit detail must be a JSON object');
  }
  return { detail: detail as Record<string, unknown>, detailText: canonicalJson(detail) };
}

/** A stable detail's last record labels, with their checked fields and JSON (see prepareInput). */
interface LastUse {
  readonly kind: string;
  readonly outcome: string;
  readonly user: string | undefined;
  readonly agent: string | undefined;
  readonly action: string | undefined;
  readonly resource: string | undefined;
  readonly fields: Omit<HashedFields, 'seq' | 'detail' | 'at' | 'count' | 'lastAt'>;
  readonly parts: BodyParts;
}

/** Details made by {@link stableDetail}, normalized once. */
const stable = new WeakMap<object, { detail: Record<string, unknown>; detailText: string; last?: LastUse }>();

/**
 * Freezes `detail` (deeply) and normalizes it once, so that every record carrying this very
 * object skips the JSON round trip and canonicalization (a data path records the same few details
 * per decision again and again). Throws like `prepareInput` for a detail no record can hold.
 *
 * @example
 *   const detail = stableDetail({ reasons: ['read-only'], via: 'api-key' });
 *   audit.enqueue({ kind: 'policy.decision', outcome: 'allow', detail }); // normalized once
 */
export function stableDetail<T extends Readonly<Record<string, unknown>>>(detail: T): T {
  const normalized = normalizeDetail(detail);
  deepFreeze(detail);
  deepFreeze(normalized.detail);
  stable.set(detail, { detail: normalized.detail, detailText: normalized.detailText });
  return detail;
}

function label(name: string, v: unknown, required: boolean): void {
  if (typeof v !== 'string' || (required && v.length === 0) || v.length > MAX_FIELD_CHARS) {
    throw new GatehouseError('internal', `audit ${name} must be a ${required ? 'non-empty ' : ''}string of at most ${MAX_FIELD_CHARS} characters`);
  }
}

function optional(name: string, v: string | undefined): string | null {
  if (v === undefined) return null;
  label(name, v, false);
  return v;
}

/** The public record for hashed fields plus chain links. */
export function toRecord(f: HashedFields, prevHash: string, hash: string): AuditRecord {
  return {
    seq: f.seq, at: f.at, kind: f.kind, outcome: f.outcome, detail: f.detail, count: f.count, prevHash, hash,
    ...(f.lastAt === null ? {} : { lastAt: f.lastAt }),
    ...(f.user === null ? {} : { user: f.user }),
    ...(f.agent === null ? {} : { agent: f.agent }),
    ...(f.action === null ? {} : { action: f.action }),
    ...(f.resource === null ? {} : { resource: f.resource }),
  };
}

/** The hashed fields of a stored row, normalized the same way as at append time. */
export function rowFields(r: AuditRow): HashedFields {
  return {
    seq: Number(r.seq), at: new Date(r.at).toISOString(), kind: r.kind,
    user: r.user_id, agent: r.agent_id, action: r.action, resource: r.resource,
    outcome: r.outcome, detail: r.detail ?? {},
    count: Number(r.count), lastAt: r.last_at === null ? null : new Date(r.last_at).toISOString(),
  };
}

/** A stored row as a public record. */
export function fromRow(r: AuditRow): AuditRecord {
  return toRecord(rowFields(r), r.prev_hash, r.hash);
}
