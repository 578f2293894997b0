import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { ProxyDeps } from './deps.ts';
import { keyBinding, type Principal } from '../../../identity/principal.ts';
import { GatehouseError } from '../../../kernel/errors.ts';
import type { TextMasker } from '../../../masking/text-masker.ts';
import type { Action, Decision, Facts } from '../../../policy/request.ts';
import type { ReviewGateResult } from '../../../reviews/gate.ts';
import { requestFingerprint } from '../../../reviews/fingerprint.ts';
import { maskedExcerpt } from './record.ts';

/** Longest summary shown to approvers (characters, after masking). */
export const SUMMARY_LIMIT = 500;
/** Longest justification taken from the `Gatehouse-Justification` header. */
export const JUSTIFICATION_LIMIT = 1000;

/** One proxied request that policy sent for review. */
export interface HttpReviewInput {
  readonly principal: Principal;
  readonly action: Action;
  readonly connection: string;
  readonly method: string;
  /** The upstream path (with query) the request would be sent to. */
  readonly upstreamPath: string;
  /** The endpoint as the client named it (for the summary). */
  readonly endpoint: string;
  /** The raw client body: its sha256 makes the request exact. */
  readonly raw: Buffer;
  /** The egress-redacted prompt (llm) or body (http) text, if any; masked again for the summary. */
  readonly text: string | undefined;
  readonly facts: Facts;
  readonly decision: Decision;
  readonly headers: IncomingHttpHeaders;
  /** The forwarded client headers (`reviewedHeaders`): part of the fingerprint, shown masked in the summary. */
  readonly forwarded: readonly (readonly [string, string])[];
  /** All-detector masker (the summary never carries a detected entity). */
  readonly scanner: TextMasker;
  /** Aborts the hold when the client goes away. */
  readonly signal: AbortSignal;
}

/** The `Gatehouse-Justification` header, trimmed and bounded; undefined when absent or blank. */
export function justificationHeader(headers: IncomingHttpHeaders): string | undefined {
  const h = headers['gatehouse-justification'];
  const v = (Array.isArray(h) ? h.join(' ') : h)?.trim();
  return v ? v.slice(0, JUSTIFICATION_LIMIT) : undefined;
}

/** Most characters of the summary given to the forwarded headers. */
const SUMMARY_HEADERS_LIMIT = 200;

/**
 * `METHOD endpoint: <masked excerpt> [headers: name: value; …]` cut to {@link SUMMARY_LIMIT}
 * characters; the headers (masked, with escapes decoded) keep their room at the end, so that an
 * approver sees what besides the body the upstream gets.
 */
export function reviewSummary(method: string, endpoint: string, text: string | undefined, scanner: TextMasker, headers: readonly (readonly [string, string])[] = []): string {
  // The path may carry personal data (`/users/bob@example.com`): masked like the body.
  const head = `${method} ${scanner.mask(endpoint.slice(0, SUMMARY_LIMIT)).text}`;
  let tail = '';
  if (headers.length > 0) {
    const joined = headers.map(([n, v]) => `${n}: ${v}`).join('; ').slice(0, SUMMARY_HEADERS_LIMIT * 8);
    const masked = maskedExcerpt(joined, scanner);
    tail = ` [headers: ${masked.length <= SUMMARY_HEADERS_LIMIT ? masked : `${masked.slice(0, SUMMARY_HEADERS_LIMIT - 1)}…`}]`;
  }
  const room = SUMMARY_LIMIT - tail.length;
  if (text === undefined || text === '') return `${head.length <= room ? head : `${head.slice(0, room - 1)}…`}${tail}`;
  const s = `${head}: ${maskedExcerpt(text.slice(0, SUMMARY_LIMIT * 8), scanner)}`;
  return `${s.length <= room ? s : `${s.slice(0, room - 1)}…`}${tail}`;
}

/**
 * Holds a request whose decision is `review` until it is approved (→ resolves; the caller then
 * proceeds exactly as for `allow`), or throws the client's answer: denied → 403 `policy_denied`
 * with the reason and `review_id`; still pending after `reviews.hold_timeout` (or the client went
 * away) → 403 `review_required` with `review_id`; the API key of the credential (or one its token
 * is bound to) revoked while held, or dead when approved → 401 `invalid_credential`. The fingerprint is
 * `['http', connection, method, upstreamPath, sha256(raw body), ...forwarded headers]` (the headers
 * `reviewedHeaders` lists, names lower-cased and sorted): re-sending the same request after
 * approval runs it once; the same body with other headers is another request.
 *
 * @example
 *   if (decision.effect === 'review') await holdForReview(svc, { principal, action, connection: conn.name, … });
 */
export async function holdForReview(svc: Pick<ProxyDeps, 'log' | 'reviewGate' | 'apiKeys'>, input: HttpReviewInput): Promise<string> {
  const bodyHash = createHash('sha256').update(input.raw).digest('hex');
  const justification = justificationHeader(input.headers);
  let summary: string;
  try {
    summary = reviewSummary(input.method, input.endpoint, input.text, input.scanner, input.forwarded);
  } catch {
    throw new GatehouseError('policy_denied', 'denied: the request could not be summarized for review');
  }
  // Revocation means revocation, also while held: the key (or a key the token is bound to) being
  // revoked ends the wait, and the credential is checked again before the request proceeds.
  const bound = keyBinding(input.principal);
  const revoked = new AbortController();
  const off = bound.length === 0 ? undefined : svc.apiKeys.onRevoked((id) => { if (id !== undefined && bound.includes(id)) revoked.abort(); });
  let g: ReviewGateResult;
  try {
    g = await svc.reviewGate.hold({
      principal: input.principal, action: input.action, resource: input.connection, facts: input.facts, decision: input.decision,
      fingerprint: requestFingerprint(['http', input.connection, input.method, input.upstreamPath, bodyHash, ...input.forwarded.flat()]),
      summary, signal: AbortSignal.any([input.signal, revoked.signal]), ...(justification === undefined ? {} : { justification }),
    });
  } finally {
    off?.();
  }
  if (revoked.signal.aborted) throw new GatehouseError('invalid_credential', 'credential revoked while the request was held for review');
  if (g.outcome === 'run') for (const id of bound) await svc.apiKeys.assertLive(id);
  switch (g.outcome) {
    case 'run': return g.reviewId;
    case 'denied':
      throw new GatehouseError('policy_denied', g.reason, { reasons: [g.reason], ...(g.reviewId === undefined ? {} : { review_id: g.reviewId }) });
    case 'timeout':
      throw new GatehouseError('review_required',
        `approval required: review ${g.reviewId} is pending; re-send the request after it is approved`, { review_id: g.reviewId });
  }
}
