import { hash } from 'node:crypto';
import { canonicalJson } from '../audit/chain.ts';

/** `prev_hash` of a session's first event, and the head hash of an empty session. */
export const SESSION_GENESIS = '0'.repeat(64);

/** The hashed fields of an event besides its data (which is hashed as canonical JSON text). */
export interface EventMeta {
  readonly session: string;
  readonly seq: number;
  /** ISO-8601 UTC with milliseconds. */
  readonly at: string;
  readonly type: string;
  readonly user: string | null;
  readonly agent: string | null;
}

/**
 * The link of a session chain: sha256 hex of `prevHash` followed by the canonical JSON of
 * `{agent, at, data, seq, session, type, user}`. `dataText` must already be canonical JSON
 * (see {@link canonicalData}); it is spliced in verbatim, so the whole body is canonical.
 *
 * @example eventHash(SESSION_GENESIS, { session: 's1', seq: 1, at: '2025-01-01T00:00:00.000Z', type: 'session.open', user: null, agent: null }, '{}')
 */
export function eventHash(prevHash: string, m: EventMeta, dataText: string): string {
  const body = `{"agent":${JSON.stringify(m.agent)},"at":${JSON.stringify(m.at)},"data":${dataText},` +
    `"seq":${m.seq},"session":${JSON.stringify(m.session)},"type":${JSON.stringify(m.type)},"user":${JSON.stringify(m.user)}}`;
  return hash('sha256', prevHash + body, 'hex');
}

/**
 * Normalizes event data to JSON data (toJSON applied, undefined dropped) and returns its
 * canonical text. Data that cannot be serialized (cycles, BigInt) becomes a marker object,
 * so recording never throws into the data path.
 *
 * @example canonicalData({ b: 1, a: undefined }) === '{"b":1}'
 */
export function canonicalData(data: unknown): string {
  // Plain data (what the data paths record) is serialized in one pass; anything else (toJSON,
  // Dates, class instances, BigInt, cycles, deep nesting) takes the JSON round trip.
  try {
    if (isPlainObject(data)) {
      // Most events are built with their keys already in order: then canonical JSON is exactly
      // what JSON.stringify writes (same key order, same escapes, undefined members dropped,
      // non-finite numbers as null), and the native serializer builds it.
      if (sortedPlain(data, 0)) return JSON.stringify(data);
      // Otherwise a copy with its keys in order, serialized natively: one pass of the native
      // serializer instead of a string per value joined into ropes (~5x faster for a recorded
      // HTTP exchange). Integer-like keys cannot be put in order this way (below).
      const copy = sortedCopy(data, 0);
      if (copy !== FALLBACK) return JSON.stringify(copy);
      const text = plainCanonical(data, 0);
      if (text !== FALLBACK && text !== undefined) return text;
    }
  } catch {
    // A throwing getter or proxy: the round trip decides what is recorded.
  }
  return roundTripCanonical(data);
}

/**
 * The definition {@link canonicalData} keeps to: a JSON round trip (toJSON applied, undefined
 * dropped; non-objects wrapped as `{value}`, what cannot be serialized marked), then canonical JSON.
 */
export function roundTripCanonical(data: unknown): string {
  let plain: unknown;
  try {
    plain = JSON.parse(JSON.stringify(data ?? {}) ?? '{}');
  } catch (err) {
    plain = { $unrecordable: err instanceof Error ? err.name : 'error' };
  }
  if (plain === null || typeof plain !== 'object' || Array.isArray(plain)) plain = { value: plain };
  return canonicalJson(plain);
}

const FALLBACK = Symbol('fallback');
const MAX_PLAIN_DEPTH = 64;

/** An array JSON.stringify writes element by element: the plain prototype and no `toJSON` of its own. */
function plainArray(v: unknown[]): boolean {
  return Object.getPrototypeOf(v) === Array.prototype && typeof (v as { toJSON?: unknown }).toJSON !== 'function';
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return (proto === Object.prototype || proto === null) && typeof (v as { toJSON?: unknown }).toJSON !== 'function';
}

/**
 * Whether `JSON.stringify(v)` is already its canonical JSON: plain data only (strings, numbers,
 * booleans, null, undefined/functions/symbols that JSON drops or writes as null, plain arrays and
 * objects without toJSON) whose every object lists its own keys in ascending code-unit order (the
 * order canonical JSON sorts them into, and the order JSON.stringify walks them). Anything else
 * (a BigInt, a Date, a class instance, deeper than the plain limit) answers false.
 */
function sortedPlain(v: unknown, depth: number): boolean {
  switch (typeof v) {
    case 'string': case 'number': case 'boolean': case 'undefined': case 'function': case 'symbol': return true;
    case 'bigint': return false;
    default: break;
  }
  if (v === null) return true;
  if (depth >= MAX_PLAIN_DEPTH) return false;
  if (Array.isArray(v)) {
    if (!plainArray(v)) return false;
    for (let i = 0; i < v.length; i++) if (!sortedPlain(v[i], depth + 1)) return false;
    return true;
  }
  if (!isPlainObject(v)) return false;
  const keys = Object.keys(v);
  for (let i = 0; i < keys.length; i++) {
    if (i > 0 && !(keys[i - 1]! < keys[i]!)) return false;
    if (!sortedPlain(v[keys[i]!], depth + 1)) return false;
  }
  return true;
}

/** An array index ("0", "7", "4294967294"): JavaScript lists such keys first, in numeric order. */
const ARRAY_INDEX = /^(?:0|[1-9][0-9]{0,9})$/;

/**
 * A copy of plain data in which every object lists its keys in canonical (code-unit) order, so
 * that `JSON.stringify` of the copy is its canonical JSON; FALLBACK when `v` holds anything that
 * is not plain data, or an object with an array-index key (JavaScript enumerates those before the
 * others, in numeric order, whatever the insertion order). Objects are copied with a null
 * prototype, so a `__proto__` member stays a member. Leaves are shared, not copied.
 */
function sortedCopy(v: unknown, depth: number): unknown {
  if (v === null || typeof v !== 'object') return typeof v === 'bigint' ? FALLBACK : v;
  if (depth >= MAX_PLAIN_DEPTH) return FALLBACK;
  if (Array.isArray(v)) {
    if (!plainArray(v)) return FALLBACK;
    const out: unknown[] = new Array<unknown>(v.length);
    for (let i = 0; i < v.length; i++) {
      const x = sortedCopy(v[i], depth + 1);
      if (x === FALLBACK) return FALLBACK;
      out[i] = x;
    }
    return out;
  }
  if (!isPlainObject(v)) return FALLBACK;
  const keys = Object.keys(v).sort();
  const out = Object.create(null) as Record<string, unknown>;
  for (const key of keys) {
    if (ARRAY_INDEX.test(key) && Number(key) < 4_294_967_295) return FALLBACK;
    const x = sortedCopy(v[key], depth + 1);
    if (x === FALLBACK) return FALLBACK;
    out[key] = x;
  }
  return out;
}

/**
 * `canonicalJson(JSON.parse(JSON.stringify(v)))` for plain data, in one pass: undefined when
 * JSON.stringify would omit the value (undefined, functions, symbols), FALLBACK when `v` holds
 * anything that is not plain data.
 */
function plainCanonical(v: unknown, depth: number): string | undefined | typeof FALLBACK {
  switch (typeof v) {
    case 'string': return JSON.stringify(v);
    case 'number': return Number.isFinite(v) ? JSON.stringify(v) : 'null';
    case 'boolean': return v ? 'true' : 'false';
    case 'undefined': case 'function': case 'symbol': return undefined;
    case 'bigint': return FALLBACK;
    default: break;
  }
  if (v === null) return 'null';
  if (depth >= MAX_PLAIN_DEPTH) return FALLBACK;
  if (Array.isArray(v)) {
    if (!plainArray(v)) return FALLBACK;
    const items: string[] = [];
    for (let i = 0; i < v.length; i++) {
      const t = plainCanonical(v[i], depth + 1);
      if (t === FALLBACK) return FALLBACK;
      items.push(t ?? 'null');
    }
    return `[${items.join(',')}]`;
  }
  if (!isPlainObject(v)) return FALLBACK;
  const parts: string[] = [];
  for (const key of Object.keys(v).sort()) {
    const t = plainCanonical(v[key], depth + 1);
    if (t === FALLBACK) return FALLBACK;
    if (t !== undefined) parts.push(`${JSON.stringify(key)}:${t}`);
  }
  return `{${parts.join(',')}}`;
}
