import { createHash } from 'node:crypto';
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
  return createHash('sha256').update(prevHash, 'utf8').update(body, 'utf8').digest('hex');
}

/**
 * Normalizes event data to JSON data (toJSON applied, undefined dropped) and returns its
 * canonical text. Data that cannot be serialized (cycles, BigInt) becomes a marker object,
 * so recording never throws into the data path.
 *
 * @example canonicalData({ b: 1, a: undefined }) === '{"b":1}'
 */
export function canonicalData(data: unknown): string {
  let plain: unknown;
  try {
    plain = JSON.parse(JSON.stringify(data ?? {}) ?? '{}');
  } catch (err) {
    plain = { $unrecordable: err instanceof Error ? err.name : 'error' };
  }
  if (plain === null || typeof plain !== 'object' || Array.isArray(plain)) plain = { value: plain };
  return canonicalJson(plain);
}
