/** The shapes the recording subsystem stores and returns (API and CLI use them as JSON). */

/** Effects a decision event can have; a session remembers which of them it saw. */
export type DecisionEffect = 'allow' | 'deny' | 'review';

/** One recorded session: the head of its chain plus a searchable summary. */
export interface SessionInfo {
  readonly id: string;
  readonly protocol: string;
  readonly user?: string;
  readonly agent?: string;
  readonly connection?: string;
  /** ISO-8601 UTC. */
  readonly openedAt: string;
  readonly lastAt: string;
  readonly closedAt?: string;
  /** Recorded payload bytes (UTF-8 of each event's canonical data). */
  readonly bytes: number;
  /** Number of events; also the seq of the head. */
  readonly events: number;
  readonly headHash: string;
  /** Some events were not recorded (size cap, full queue, failed write); see the `truncated` events. */
  readonly truncated: boolean;
  /** Events not recorded. */
  readonly dropped: number;
  /** Which decision effects occurred in the session. */
  readonly decisions: readonly DecisionEffect[];
}

/** One recorded event, as stored and chained. `type` is a RecordEvent type or `truncated`. */
export interface StoredEvent {
  readonly session: string;
  readonly seq: number;
  /** ISO-8601 UTC, millisecond precision. */
  readonly at: string;
  readonly type: string;
  readonly user?: string;
  readonly agent?: string;
  readonly data: Readonly<Record<string, unknown>>;
  readonly prevHash: string;
  readonly hash: string;
}

/** Result of {@link verifySession}: intact with its event count, or the first bad seq and why. */
export type SessionVerifyResult =
  | { readonly ok: true; readonly events: number }
  | { readonly ok: false; readonly seq: number; readonly reason: 'changed' | 'missing' | 'inserted' | 'anchor-mismatch' };

/** Filters for listing sessions; newest first. */
export interface SessionFilter {
  readonly user?: string;
  readonly agent?: string;
  readonly connection?: string;
  /** Sessions with activity at or after this time (ms since the epoch). */
  readonly since?: number;
  /** Sessions opened before this time (ms since the epoch). */
  readonly until?: number;
  /** Sessions in which a decision had this effect. */
  readonly decision?: DecisionEffect;
  /** Paging: sessions opened strictly before this time (ms), i.e. the last `openedAt` of the previous page. */
  readonly before?: number;
  /** Default 50, at most 1000. */
  readonly limit?: number;
}
