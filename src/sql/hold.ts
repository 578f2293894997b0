import type { TextMasker } from '../masking/text-masker.ts';
import type { Principal } from '../identity/principal.ts';
import type { ReviewGate } from '../reviews/gate.ts';
import { requestFingerprint } from '../reviews/fingerprint.ts';
import type { Verdict } from './guard.ts';

/** A verdict that needs reviews before the statement may run. */
export type ReviewVerdict = Extract<Verdict, { effect: 'review' }>;

/** Longest summary shown to approvers (characters, after masking). */
export const SUMMARY_LIMIT = 500;
/** Longest justification kept from `SET gatehouse.justification`. */
export const JUSTIFICATION_LIMIT = 1000;
/**
 * What a held statement resolves to: run it, or refuse it — `denied` (a reviewer denied it, or it
 * could not be summarized), `pending` (the review is still pending after the hold), `cancelled`
 * (the client cancelled the hold; the review stays pending). Each protocol renders a refusal in
 * its own wire format (PostgreSQL: SQLSTATE 42501, or 57014 when cancelled).
 */
export type SqlHoldResult =
  | { readonly run: true; readonly reviewIds: readonly string[] }
  | { readonly run: false; readonly refusal: 'denied' | 'pending' | 'cancelled'; readonly message: string; readonly reviewId?: string };

/** Everything a hold needs besides the statement. */
export interface SqlHoldContext {
  readonly svc: { readonly reviewGate: Pick<ReviewGate, 'hold'>; readonly scanner: TextMasker };
  /** How long to hold before answering pending (default: `reviews.hold_timeout`). */
  readonly holdMs?: number;
  readonly principal: Principal;
  readonly connection: string;
  /** From `SET gatehouse.justification` in this session. */
  readonly justification: string | undefined;
  /** Aborted on CancelRequest or when the client goes away. */
  readonly signal: AbortSignal;
  /** True when the abort came from a CancelRequest (the client gets 57014, as PostgreSQL sends). */
  readonly cancelled: () => boolean;
}

const SET_RE = /^\s*SET\s+(?:SESSION\s+)?gatehouse\.justification\s*(?:=|\bTO\b)\s*(?:'((?:[^']|'')*)'|(DEFAULT))\s*;?\s*$/is;
const RESET_RE = /^\s*RESET\s+gatehouse\.justification\s*;?\s*$/i;

/**
 * Recognizes a simple Query that is exactly `SET [SESSION] gatehouse.justification = '<text>'`
 * (or `TO`, `DEFAULT`) or `RESET gatehouse.justification`: the session keeps the text (bounded)
 * and answers `SET`/`RESET` itself; the statement never reaches the upstream. Anything else
 * (including the SET inside a multi-statement query) → undefined.
 *
 * @example justificationCommand("SET gatehouse.justification = 'ticket 42'") // → { tag: 'SET', value: 'ticket 42' }
 */
export function justificationCommand(sql: string): { readonly tag: 'SET' | 'RESET'; readonly value: string | undefined } | undefined {
  if (sql.length > JUSTIFICATION_LIMIT * 2 + 100) return undefined;
  if (RESET_RE.test(sql)) return { tag: 'RESET', value: undefined };
  const m = SET_RE.exec(sql);
  if (!m) return undefined;
  const text = m[1]?.replaceAll("''", "'").trim();
  return { tag: 'SET', value: text ? text.slice(0, JUSTIFICATION_LIMIT) : undefined };
}

/** A prepared statement an `EXECUTE` of the held statement may run: its text and declared parameter types. */
export interface ExecutedDefinition { readonly sql: string; readonly types: readonly number[] }

/**
 * What, besides its text and parameter bytes, decides what a held statement runs on the server
 * (PostgreSQL wire protocol): each parameter's format code (0 text, 1 binary: the same bytes are
 * another value), the parameter types the Parse declared, and every definition the gateway tracks
 * for each prepared statement name its `EXECUTE`s run (in order; nested `EXECUTE`s too).
 */
export interface StatementBinding {
  /** One format code per parameter (the Bind's codes expanded). */
  readonly formats: readonly number[];
  /** The parameter type OIDs the Parse declared (0: inferred by the server). */
  readonly types: readonly number[];
  readonly executes: readonly { readonly name: string; readonly definitions: readonly ExecutedDefinition[] }[];
}

/**
 * The masked statement (and masked parameters) for approvers, cut to {@link SUMMARY_LIMIT}; with a
 * binding, what each executed name may be, binary parameters in hex (marked binary) and the
 * declared parameter types.
 */
export function statementSummary(ctx: Pick<SqlHoldContext, 'svc'>, sql: string, params: readonly (Buffer | null)[] | undefined, binding?: StatementBinding): string {
  const scanner = ctx.svc.scanner;
  const masked = (s: string): string => scanner.mask(s.slice(0, SUMMARY_LIMIT * 8)).text.replace(/\s+/g, ' ').trim();
  let text = masked(sql);
  for (const e of binding?.executes ?? []) {
    const defs = e.definitions.map((d) => `${masked(d.sql)}${d.types.some((t) => t !== 0) ? ` (parameter types ${JSON.stringify(d.types)})` : ''}`);
    text += ` -- ${JSON.stringify(e.name)} is ${defs.length === 1 ? defs[0]! : `one of: ${defs.map((d) => `[${d}]`).join(' ')}`}`;
  }
  if (params && params.length > 0) {
    const shown = params.slice(0, 20).map((p, i) => {
      if (p === null) return 'NULL';
      if (binding?.formats[i] === 1) return `binary 0x${p.subarray(0, 100).toString('hex')}`;
      return scanner.mask(p.subarray(0, 200).toString('utf8')).text;
    });
    text += ` -- params: ${JSON.stringify(shown)}`;
  }
  if (binding?.types.some((t) => t !== 0)) text += ` -- parameter types: ${JSON.stringify(binding.types)}`;
  return text.length <= SUMMARY_LIMIT ? text : `${text.slice(0, SUMMARY_LIMIT - 1)}…`;
}

/**
 * Holds one statement for every review its verdict needs (all must let it run, in order) via
 * {@link reviewGate}. The fingerprint of each is `['postgres', connection, sql, params, action]`
 * (params hex-encoded, so binary ones are exact), plus the {@link StatementBinding} when given (the
 * wire protocol: formats, declared types, what each executed name may be): re-running the same
 * statement with the same parameters, bound the same way, after approval runs it once. Never
 * rejects (the gate fails closed).
 *
 * @example
 *   const r = await holdStatement(ctx, verdict, 'DELETE FROM t', undefined);
 *   if (!r.run) refuse(r.refusal, r.message);
 */
export async function holdStatement(
  ctx: SqlHoldContext, v: ReviewVerdict, sql: string, params: readonly (Buffer | null)[] | undefined, binding?: StatementBinding,
): Promise<SqlHoldResult> {
  let summary: string;
  try {
    summary = statementSummary(ctx, sql, params, binding);
  } catch {
    return { run: false, refusal: 'denied', message: 'Gatehouse denied the statement: it could not be summarized for review' };
  }
  const paramsJson = JSON.stringify((params ?? []).map((p) => (p === null ? null : p.toString('hex'))));
  const key = binding === undefined ? [] : [JSON.stringify({ formats: binding.formats, types: binding.types, executes: binding.executes })];
  const { svc } = ctx;
  const ids: string[] = [];
  for (const need of v.reviews) {
    const g = await svc.reviewGate.hold({
      principal: ctx.principal, action: need.action, resource: ctx.connection, facts: { sql: v.facts }, decision: need.decision,
      fingerprint: requestFingerprint(['postgres', ctx.connection, sql, paramsJson, need.action, ...key]),
      summary, signal: ctx.signal, ...(ctx.justification === undefined ? {} : { justification: ctx.justification }),
    }, ctx.holdMs);
    if (g.outcome === 'run') { ids.push(g.reviewId); continue; }
    if (g.outcome === 'denied') return { run: false, refusal: 'denied', message: g.reason, ...(g.reviewId === undefined ? {} : { reviewId: g.reviewId }) };
    if (ctx.cancelled()) {
      return { run: false, refusal: 'cancelled', reviewId: g.reviewId, message: `canceling statement due to user request (review ${g.reviewId} stays pending)` };
    }
    return {
      run: false, refusal: 'pending', reviewId: g.reviewId,
      message: `approval required: review ${g.reviewId} is pending; re-run the statement after it is approved`,
    };
  }
  return { run: true, reviewIds: ids };
}
