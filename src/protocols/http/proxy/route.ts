import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { ProxyDeps, ProxyResponse } from './deps.ts';
import { authorize, connectionResource, denialReason } from '../../../enforce/authorize.ts';
import type { Connection } from '../../../connections/registry.ts';
import type { Principal } from '../../../identity/principal.ts';
import { GatehouseError, isGatehouseError } from '../../../kernel/errors.ts';
import { newId } from '../../../kernel/ids.ts';
import type { Facts } from '../../../policy/request.ts';
import type { TextMasker } from '../../../masking/text-masker.ts';
import { readBody } from '../../../http/body.ts';
import { authenticateHttp } from '../../../http/authenticate.ts';
import { wireFormat } from '../providers/index.ts';
import { holdForReview } from './review-hold.ts';
import { isRecording } from '../../../recording/recorder.ts';
import { NO_CAPTURE, maskRecordData, recordEvent, recordedText, TextCapture, maskedExcerpt } from './record.ts';
import { writeResponse } from './respond.ts';
import { EVENT_OVERHEAD_BYTES, JSON_BYTES_PER_CHAR, recordRoom } from '../../../recording/record-room.ts';
import { parseProxyTarget, upstreamPath } from '../../../http/target.ts';
import { nowMs, serverTiming } from './timing.ts';
import { forwardedHeaderTexts, reviewedHeaders, upstreamHeaders } from './headers.ts';
import { redactQuery } from './http-request.ts';
import { withQueryFindings } from './prepare.ts';
import { assertNoQueryOverride } from './method-override.ts';
import { cachedEchoForms, echoScrubber, responseMasker, scrubHeaders } from './credential-echo.ts';
import { exchangeBytes, identityOf, sessionOwner, validSessionHeader, type HttpSession } from '../../../enforce/sessions.ts';
import type { ResponseOutcome } from './respond.ts';
const BODYLESS = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS']);

/**
 * The data path for `/proxy/<connection>/<path>` (llm and http connections):
 * authenticate → read and inspect the whole request → authorize (audited) → egress redaction →
 * forward with the vaulted credential → mask the response inline → record.
 * Returns the metrics route label. Errors before the response head are thrown as GatehouseErrors
 * (problem+json by the listener); `Server-Timing` and `Gatehouse-Session` are set on every answer.
 *
 * @example if ((req.url ?? '').startsWith('/proxy/')) return proxyRoute(svc, req, res);
 */
export function proxyRoute(svc: ProxyDeps, req: IncomingMessage, res: ProxyResponse): Promise<string> {
  return proxyExchange(svc, {
    target: req.url ?? '', method: req.method ?? 'GET', headers: req.headers,
    body: (limit) => readBody(req, limit), authenticate: (conn) => authenticateProxy(svc, req, conn),
  }, res);
}

/** One request for {@link proxyExchange}: from the listener (`proxyRoute`) or in process (`in-process.ts`). */
export interface ProxyRequestIn {
  /** The raw request target, `/proxy/<connection>/<path>[?query]`. */
  readonly target: string;
  readonly method: string;
  readonly headers: IncomingHttpHeaders;
  /** Reads the whole body, failing with `payload_too_large` beyond `limit` bytes. */
  readonly body: (limit: number) => Promise<Buffer>;
  /** Who sends it, once its connection is known (`/proxy`: the bearer credential; in process: the caller's principal). */
  readonly authenticate: (conn: Connection) => Promise<Principal>;
  /**
   * In process only: the caller already holds the session `Gatehouse-Session` names (an MCP tool
   * call's own exchange): the exchange records into it under this number, without resolving it
   * in the session table again (which could rotate the caller's session and open its successor as
   * an `http` session), and reports the characters it recorded to `recorded` instead of releasing.
   */
  readonly held?: { readonly exchange: number; readonly recorded: (chars: number) => void };
}

/**
 * The `/proxy` exchange behind {@link proxyRoute}, for a request from the listener or in process:
 * the same steps, decision and recording either way. Returns the metrics route label.
 */
export async function proxyExchange(svc: ProxyDeps, req: ProxyRequestIn, res: ProxyResponse): Promise<string> {
  const t0 = nowMs();
  const header = req.headers['gatehouse-session'];
  let session = validSessionHeader(header) ? header : newId();
  res.setHeader('gatehouse-session', session);
  res.setHeader('server-timing', serverTiming(0));
  let principal: Principal | undefined;
  let conn: Connection | undefined;
  // The session this exchange holds in the table (released at the end) and the characters of
  // the texts it recorded (for the table's size estimate of the session).
  let held: HttpSession | undefined;
  // The id of the session this exchange records into: `held`'s, or the in-process caller's.
  let heldId: string | undefined;
  let recordedChars = 0;
  let exchange: { exchange: number } | undefined;
  // With recording off, no event is built: no prompt or response excerpt is masked or kept.
  const recording = isRecording(svc.recorder);
  // The exchange's one `exchange` event: its request, decision, review and response (or error)
  // gathered here and recorded once when it ends (docs/design/recording.md, "Data paths").
  const rec: Record<string, unknown> = {};
  let recorded = false;
  // Bytes this exchange reserved in its session's recording (record-room.ts), until its event is recorded.
  let reserved = 0;
  try {
    const target = parseProxyTarget(req.target);
    conn = await svc.connections.get(target.connection);
    if (!conn || (conn.type !== 'llm' && conn.type !== 'http')) throw new GatehouseError('not_found', `no llm or http connection named "${target.connection}"`);
    const connection = conn;
    const kind = conn.type;
    const who = await req.authenticate(connection);
    svc.limits.admitHttp(svc, 'proxy', who, res);
    // The client going away (from here on, also while the exchange waits for admission) aborts
    // the exchange: it leaves the wait, and no body is read nor upstream called for it.
    const ac = new AbortController();
    res.once('close', () => { if (!res.writableFinished) ac.abort(); });
    // Back-pressure: with the recording store behind, the exchange waits (or, the store failing
    // or not catching up within its deadline, is refused) before any work or upstream call.
    if (recording) { const wait = svc.recorder.admit?.(ac.signal); if (wait !== undefined) await wait; }
    if (ac.signal.aborted) throw new GatehouseError('bad_request', 'the client went away before the request was admitted', { client_aborted: true });
    // Sessions group recorded exchanges (and guard them from another principal): the stored id is
    // always one the gateway generated; the header only finds a live session of this principal
    // (or labels a new one). With nothing recorded, the header's id is only echoed.
    // Without a valid header, exchanges continue the principal's default session (rotated).
    if (recording && req.held !== undefined && validSessionHeader(header)) {
      // The caller's own session and exchange (an MCP tool call): not resolved again.
      heldId = header;
      session = header;
      exchange = { exchange: req.held.exchange };
      if (svc.recorder.full?.(session) === true) refuseFull(svc, heldId);
    } else if (recording) {
      held = svc.httpSessions.resolve(header, sessionOwner(who), newId, { ...identityOf('http', who), connection: connection.name });
      heldId = held.id;
      session = held.id;
      exchange = { exchange: held.exchange };
      // A session whose recording is full (max_session_bytes) takes no more exchanges: refused
      // before any work or upstream call (fail closed); a new session (another label) goes on.
      if (svc.recorder.full?.(session) === true) refuseFull(svc, heldId);
    }
    res.setHeader('gatehouse-session', session);
    principal = who;
    const method = req.method.toUpperCase();
    if (recording) Object.assign(rec, exchange, { method });
    if (held?.fresh === true) {
      recordEvent(svc, session, principal, connection.name, 'session.open', {
        transport: 'http', connection: connection.name, ...(held.label === undefined ? {} : { label: held.label }),
        ...(held.previous === undefined ? {} : { previous: held.previous }),
      });
    }
    const raw = BODYLESS.has(method) && req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined
      ? Buffer.alloc(0) : await req.body(svc.config.server.body_limit_bytes);
    // A `_method` parameter would have the upstream run another method than the one decided on
    // (the body's is looked for where the request is prepared: on a worker when it is large).
    assertNoQueryOverride(target.query);
    const scanner = svc.scanner;
    const format = connection.type === 'llm' ? wireFormat(connection.provider ?? 'openai', target.endpoint) : undefined;
    // Large bodies are scanned on an inspection worker, off the event loop (app/inspection-pool.ts).
    const egress = svc.masking.textMasker(connection.name, 'request');
    const prepared = await svc.inspection.prepare({
      conn: connection, method, endpoint: target.endpoint, raw, contentType: req.headers['content-type'] ?? '', format, scanner,
      egress, contentEncoding: req.headers['content-encoding'], bodyLimit: svc.config.server.body_limit_bytes,
    });
    // Egress redaction of the query string too (names and values, form-decoded).
    const query = egress === undefined ? target.query : redactQuery(target.query, egress);
    // The path leaves too: it cannot be rewritten without changing what the upstream routes, so
    // one the request rule would mask is refused.
    const pathText = pathForScan(target.endpoint);
    if (egress !== undefined && egress.scan(pathText).length > 0) throw new GatehouseError('bad_request', 'the request path carries data the masking rules redact; refused');
    const facts: Facts = withQueryFindings(prepared.facts, target.query, scanner, connection.type === 'llm' ? [pathText, ...forwardedHeaderTexts(req.headers)] : []);
    if (recording) {
      const prompt = prepared.prompt === undefined ? undefined : prepared.recordedPrompt ?? maskedExcerpt(prepared.prompt, scanner);
      // The facts count too: their strings are the client's (an LLM request's model, tool names).
      recordedChars += target.endpoint.length + (prompt?.length ?? 0) + jsonChars(facts);
      // The endpoint only now: a path the request rules would mask was refused above, unrecorded.
      // Recorded decoded where its percent-escapes hide what the scanner finds (`bob%40example.com`).
      rec.endpoint = decodedForRecord(target.endpoint, pathText, scanner);
      rec.facts = factsForRecord(facts, scanner);
      if (prompt !== undefined) rec.prompt = prompt;
    }
    const action = connection.type === 'llm' ? 'llm.invoke' : 'http.request';
    const decision = await authorize(svc, principal, action, connectionResource(connection), facts);
    if (recording) Object.assign(rec, { action, effect: decision.effect, reasons: decision.reasons });
    if (decision.effect === 'deny') {
      throw new GatehouseError('policy_denied', `denied by policy: ${denialReason(decision)}`, { reasons: decision.reasons });
    }
    if (recording) {
      // Nothing runs (no review is opened, nothing goes upstream) unless its record fits: the
      // event's request part is reserved in the session's recording against what the session's
      // other running exchanges reserved (record-room.ts).
      recordedChars += jsonChars(decision.reasons);
      reserved = reserveRecord(svc, session, rec, recordedChars);
    }
    const path = upstreamPath(connection.url, target.endpoint, query);
    if (decision.effect === 'review') {
      // Held until approved (then proceeds as allow); denied or still pending → thrown as a 403.
      const reviewId = await holdForReview(svc, {
        principal, action, connection: connection.name, method, upstreamPath: path, endpoint: target.endpoint, raw,
        text: prepared.prompt ?? prepared.body?.toString('utf8'), facts, decision, headers: req.headers,
        forwarded: reviewedHeaders(req.headers, connection), scanner, signal: ac.signal,
      });
      if (recording) rec.review_id = reviewId;
      if (ac.signal.aborted) throw new GatehouseError('bad_request', 'the client went away while the request was held');
    }

    // The decision or review may be what filled the session: then the upstream is not called.
    if (recording && heldId !== undefined && svc.recorder.full?.(session) === true) refuseFull(svc, heldId);
    const tSend = nowMs();
    const up = await svc.upstreams.request(connection, {
      method, path,
      headers: upstreamHeaders(req.headers, connection, egress, prepared), body: prepared.body, signal: ac.signal,
    });
    // Errors of the body surface through its iterator; this keeps a late one (abort) from being unhandled.
    up.body.on('error', () => undefined);
    const tHeaders = nowMs();
    const capture = recording ? new TextCapture() : NO_CAPTURE;
    let answered = false;
    const recordResponse = (outcome: ResponseOutcome): void => {
      answered = true;
      if (!recording) return;
      let text = recordedText(capture, scanner);
      let truncated = capture.truncated;
      // The request's part (and the overhead) was reserved before the upstream call; the response
      // text is cut to what is left beyond it, so the exchange's event is never the one dropped.
      const left = recordRoom(svc.recorder).available(session, reserved) - reserved;
      const max = Math.max(0, Math.floor(left / JSON_BYTES_PER_CHAR));
      if (text.length > max) { text = text.slice(0, max); truncated = true; }
      recordedChars += text.length;
      Object.assign(rec, {
        status: up.statusCode, text, truncated, masked: outcome.masked,
        ...(outcome.usage === undefined ? {} : { usage: boundedUsage(outcome.usage) }), ...(outcome.error === undefined ? {} : { error: outcome.error.slice(0, 64) }),
        timings: { gateway_ms: round(tSend - t0), upstream_headers_ms: round(tHeaders - tSend), total_ms: round(nowMs() - t0) },
      });
      recorded = true;
      recordEvent(svc, session, principal, connection.name, 'exchange', rec);
      recordRoom(svc.recorder).release(session, reserved);
      reserved = 0;
    };
    const rules = svc.masking.textMasker(connection.name, 'response');
    const masker = responseMasker(connection, rules, svc.masking.hashKey);
    const secretsOnly = responseMasker(connection, undefined, svc.masking.hashKey);
    const outcome = await writeResponse(res, up, {
      kind, format, capture, masker, ruled: rules !== undefined, passMediaTypes: connection.pass_media_types,
      scrubber: () => echoScrubber(connection),
      maskOffLoop: (op, text) => svc.inspection.maskResponse(op, text, connection.name, cachedEchoForms(connection)),
      scrubHeaders: (h) => scrubHeaders(h, masker, secretsOnly),
      headers: () => ({ 'server-timing': serverTiming(tSend - t0 + (nowMs() - tHeaders)) }),
      // Durability: the exchange is committed before the client gets the response's last byte.
      finish: async (o) => { recordResponse(o); await svc.recorder.flush?.(session); },
    }, method);
    if (!answered) recordResponse(outcome);
    return `/proxy/${connection.name}`;
  } catch (err) {
    if (!res.headersSent) res.setHeader('server-timing', serverTiming(nowMs() - t0));
    if (recording && conn && principal) {
      // Unauthenticated failures are not recorded (no credential to group them by; they are audited).
      const code = isGatehouseError(err) ? err.code : 'internal';
      if (recorded) {
        // Failed after its event was recorded (the response's end): an error event of its own,
        // in room no running exchange reserved.
        if (recordRoom(svc.recorder).available(session, 0) >= EVENT_OVERHEAD_BYTES) recordEvent(svc, session, principal, conn.name, 'error', { ...exchange, code });
      } else {
        const reviewId = isGatehouseError(err) && typeof err.extra.review_id === 'string' ? err.extra.review_id : undefined;
        if (reviewId !== undefined) rec.review_id = reviewId;
        rec.code = code;
        const ev = fitted(svc, session, rec, recordedChars, reserved);
        // What it records is what the session table counts (not the request it left out).
        if (ev !== rec) recordedChars = ev === undefined ? 0 : jsonChars(ev);
        if (ev !== undefined) recordEvent(svc, session, principal, conn.name, 'exchange', { ...exchange, ...ev });
      }
      // Best effort: an error answer carries no upstream data, so a failed flush does not change it.
      await svc.recorder.flush?.(session).catch(() => undefined);
    }
    throw withSdkError(err);
  } finally {
    if (reserved > 0) recordRoom(svc.recorder).release(session, reserved);
    if (held !== undefined) svc.httpSessions.release(held.id, exchangeBytes(recordedChars));
    else if (heldId !== undefined) req.held?.recorded(recordedChars);
  }
}

/**
 * Refuses an exchange of a session whose recording is full (`recording.max_session_bytes`) before
 * any upstream call (fail closed), and has the table rotate that session at its next exchange.
 */
function refuseFull(svc: Pick<ProxyDeps, 'httpSessions'>, id: string): never {
  svc.httpSessions.filled(id);
  throw new GatehouseError('store_unavailable', 'the session reached recording.max_session_bytes and can no longer be recorded; start a new session', { reason: 'max_session_bytes' });
}

/**
 * Reserves the request part of an exchange's event (`chars` characters of texts and facts, at
 * their largest, plus the overhead; measured exactly when that bound does not fit) in `session`'s
 * recording; refuses the exchange when it does not fit: `payload_too_large` when no session could
 * record it (`recording.max_session_bytes`), else the session is full (it is rotated). Returns the
 * bytes reserved.
 */
function reserveRecord(svc: Pick<ProxyDeps, 'recorder' | 'httpSessions' | 'config' | 'scanner'>, session: string, rec: Record<string, unknown>, chars: number): number {
  const room = recordRoom(svc.recorder);
  // What no session can hold: more than the bound less what a session holds before its first
  // exchange's event (its `session.open`; an MCP session's call events).
  // (at most a quarter of a small bound, so that a small bound still takes ordinary exchanges).
  const max = svc.config.recording.max_session_bytes;
  const limit = max - Math.min(FRESH_SESSION_BYTES, Math.floor(max / 4));
  let bytes = chars * JSON_BYTES_PER_CHAR + EVENT_OVERHEAD_BYTES;
  let r = room.reserve(session, bytes, limit);
  if (r !== 'ok') {
    // The bound is six bytes a character; what the event really takes is usually far less:
    // measured as the recorder will count it (masked: a replacement can be longer than its match).
    bytes = maskedBytes(svc, rec) + EVENT_OVERHEAD_BYTES;
    r = room.reserve(session, bytes, limit);
  }
  if (r === 'never') throw new GatehouseError('payload_too_large', 'the request is too large to be recorded within recording.max_session_bytes; refused');
  if (r === 'full') refuseFull(svc, session);
  return svc.recorder.room === undefined ? 0 : bytes;
}

/**
 * A failed exchange's event as it can be recorded: `rec` when it fits in what the session can
 * still record (beyond other exchanges' reservations), else without its request texts (`prompt`,
 * `facts`: a request refused for its size, or met by a full session), marked `request_omitted`.
 */
function fitted(svc: Pick<ProxyDeps, 'recorder' | 'scanner'>, session: string, rec: Record<string, unknown>, chars: number, reserved: number): Record<string, unknown> | undefined {
  // Its own reservation, if it made one, and the room no running exchange reserved: a failed
  // exchange never takes what another exchange reserved for its event.
  const available = recordRoom(svc.recorder).available(session, reserved);
  if (chars * JSON_BYTES_PER_CHAR + EVENT_OVERHEAD_BYTES <= available) return rec;
  if (maskedBytes(svc, rec) + EVENT_OVERHEAD_BYTES <= available) return rec;
  const { prompt: _p, facts: _f, ...rest } = rec;
  const slim = { ...rest, request_omitted: true };
  // Not even that (a session full to its reservations): not recorded; nothing of it ran upstream,
  // and its decision, if it got one, is in the audit log.
  return maskedBytes(svc, slim) + EVENT_OVERHEAD_BYTES <= available ? slim : undefined;
}

/** UTF-8 bytes of `rec` as the recorder counts them: its JSON once masked as `recordEvent` masks it. */
function maskedBytes(svc: Pick<ProxyDeps, 'scanner'>, rec: Record<string, unknown>): number {
  try {
    return Buffer.byteLength(JSON.stringify(maskRecordData(rec, svc.scanner)), 'utf8');
  } catch {
    return Number.MAX_SAFE_INTEGER; // cannot be measured: does not fit
  }
}

/** Bytes a session may hold before its first exchange's event (its `session.open`, an MCP session's call events): a record larger than the bound less these fits no session. */
const FRESH_SESSION_BYTES = 256 * 1024;

/** Most characters of an upstream's `usage` object recorded as it is; a larger one is recorded as its size only. */
const MAX_USAGE_CHARS = 2048;

/** The response's `usage` (the upstream's) as recorded: itself when small, else a note of its size (it is counted in the overhead). */
function boundedUsage(usage: unknown): unknown {
  const n = jsonChars(usage);
  return n <= MAX_USAGE_CHARS ? usage : { omitted: true, chars: n };
}

/** The characters of `v` as JSON (for the session's size estimate). */
function jsonChars(v: unknown): number {
  try {
    return JSON.stringify(v)?.length ?? 0;
  } catch {
    return 0;
  }
}

/** The endpoint as a reader sees it (percent-escapes decoded where they form UTF-8; else as sent). */
function pathForScan(endpoint: string): string {
  try {
    return decodeURIComponent(endpoint);
  } catch {
    return endpoint;
  }
}

/**
 * `decoded` (the percent-decoded form of `raw`) when the scanner finds something in it, else
 * `raw`: the recording masks every string with the scanner, which does not decode escapes.
 */
function decodedForRecord(raw: string, decoded: string, scanner: TextMasker): string {
  return decoded !== raw && scanner.scan(decoded).length > 0 ? decoded : raw;
}

/** `facts` as recorded: the http path (and its lower-cased form) or the llm endpoint decoded as {@link decodedForRecord} decodes it. */
function factsForRecord(facts: Facts, scanner: TextMasker): Facts {
  const l = facts.llm;
  if (l !== undefined && l.endpoint.includes('%')) facts = { ...facts, llm: { ...l, endpoint: decodedForRecord(l.endpoint, pathForScan(l.endpoint), scanner) } };
  const h = facts.http;
  if (h === undefined || (!h.path.includes('%') && h.path_lower?.includes('%') !== true)) return facts;
  const path = decodedForRecord(h.path, pathForScan(h.path), scanner);
  const lower = h.path_lower === undefined ? undefined : decodedForRecord(h.path_lower, pathForScan(h.path_lower), scanner);
  return { ...facts, http: { ...h, path, ...(lower === undefined ? {} : { path_lower: lower }) } };
}

function authenticateProxy(svc: ProxyDeps, req: IncomingMessage, conn: Connection): Promise<Principal> {
  return authenticateHttp(svc, req, 'proxy', conn.type === 'llm');
}

/**
 * Adds an `error` member ({message, type, code, review_id?}) to the problem, as OpenAI- and
 * Anthropic-style SDKs read it, so that their exceptions carry the reason (e.g. the policy that
 * denied) and the review id.
 */
function withSdkError(err: unknown): unknown {
  if (!isGatehouseError(err)) return err;
  const reviewId = typeof err.extra.review_id === 'string' ? { review_id: err.extra.review_id } : {};
  return new GatehouseError(err.code, err.detail, { ...err.extra, error: { message: err.detail, type: err.code, code: err.code, ...reviewId } }, { cause: err });
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
