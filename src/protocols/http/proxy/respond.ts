import type { ProxyResponse } from './deps.ts';
import type { Dispatcher } from 'undici';
import { GatehouseError } from '../../../kernel/errors.ts';
import type { TextMasker } from '../../../masking/text-masker.ts';
import { maskResponseJson } from '../../../inspect/prompt/inspect.ts';
import { SseParser, type SseEvent } from '../sse/parser.ts';
import { formatSse } from '../sse/serializer.ts';
import { streamTransform, type WireFormat } from '../providers/index.ts';
import { clientHeaders } from './headers.ts';
import { readAll, writeChunk } from './write.ts';
import { upstreamError } from './upstream.ts';
import type { TextCapture } from './record.ts';
import type { ExactBytesScrubber } from '../../../masking/exact-values.ts';
import { passScrubbed, writeHttpResponse } from './http-response.ts';

/** Largest upstream JSON body the gateway buffers to mask. */
export const RESPONSE_JSON_LIMIT = 32 * 1024 * 1024;

/** What the response writer needs to know about the exchange. */
export interface ResponsePlan {
  readonly kind: 'llm' | 'http';
  readonly format: WireFormat | undefined;
  /**
   * The response masker: the connection's masking rules plus the echo forms of its vaulted
   * secrets (always redacted); undefined only when there are neither.
   */
  readonly masker: TextMasker | undefined;
  /** True when a response masking rule applies (what cannot be inspected is then refused). */
  readonly ruled: boolean;
  /** `connections[].pass_media_types` (http): media types passed unparsed, scrubbed of secrets. */
  readonly passMediaTypes: readonly string[] | undefined;
  /** A byte scrubber for the connection's secrets (bodies passed unparsed); undefined when it holds none. */
  readonly scrubber: () => ExactBytesScrubber | undefined;
  /** Response headers with the connection's secrets (and, outside framing headers, entities) masked. */
  readonly scrubHeaders: (h: Record<string, string | string[]>) => Record<string, string | string[]>;
  readonly capture: TextCapture;
  /** Extra headers (Server-Timing, Gatehouse-Session); called right before the head is written. */
  readonly headers: () => Record<string, string>;
  /**
   * Called once, right before the response's last byte (the end of the body, or the final SSE
   * event): records the response and waits until the recording is durable. A rejection fails
   * the exchange instead of delivering an unrecorded response.
   */
  readonly finish: (outcome: ResponseOutcome) => Promise<void>;
  /**
   * Masks a large buffered body off the event loop with `masker`'s equivalent (an inspection
   * worker; app/inspection-pool.ts), or returns undefined: then mask inline. `llm-json` also
   * reads `usage`. Rejects as the inline path would (SyntaxError, RangeError) or with a
   * GatehouseError when no worker could answer.
   */
  readonly maskOffLoop?: (op: 'llm-json' | 'json' | 'form', text: string) => Promise<{ text: string; usage?: unknown }> | undefined;
}

/** How the response went, for the recording. */
export interface ResponseOutcome {
  usage?: unknown;
  error?: string;
  masked: boolean;
}

const isJson = (ct: string): boolean => /^application\/([\w.+-]*\+)?json\b/i.test(ct);

/**
 * Writes the upstream response to the client, masked per plan. http connections: see
 * `writeHttpResponse`. llm connections: JSON bodies are buffered (bounded) and walked fail-closed;
 * SSE streams go through the provider's stream transform; without a response rule bodies pass,
 * scrubbed of the connection's secrets; other bodies on a masked llm connection are refused.
 * Response headers are scrubbed of the connection's secrets (and masked) on every path.
 * Errors before the head is written throw (→ problem+json); after it, they end the stream with an
 * error event (SSE) or destroy the response.
 */
export async function writeResponse(res: ProxyResponse, up: Dispatcher.ResponseData, plan: ResponsePlan, method: string): Promise<ResponseOutcome> {
  const ct = String(up.headers['content-type'] ?? '').toLowerCase();
  const encoded = up.headers['content-encoding'] !== undefined && up.headers['content-encoding'] !== 'identity';
  const noBody = method === 'HEAD' || up.statusCode === 204 || up.statusCode === 304;
  if (noBody) {
    up.body.resume();
    await finishOrFail(plan, { masked: false });
    res.writeHead(up.statusCode, { ...plan.scrubHeaders(clientHeaders(up.headers, false)), ...plan.headers() });
    res.end();
    return { masked: false };
  }
  if (plan.kind === 'http') return writeHttpResponse(res, up, plan);
  const masker = plan.masker;
  if (ct.startsWith('text/event-stream') && plan.format !== undefined && !encoded) {
    return pipeSse(res, up, plan, plan.format);
  }
  if (masker === undefined || !plan.ruled) return passScrubbed(res, up, plan);
  if (encoded) throw refuse(up, 'an encoded response');
  if (isJson(ct)) {
    let doc: unknown;
    let off: { text: string; usage?: unknown } | undefined;
    try {
      const raw = (await readAll(up.body, RESPONSE_JSON_LIMIT)).toString('utf8');
      // A large body is parsed, masked and serialized on an inspection worker (same walk).
      const pending = plan.maskOffLoop?.('llm-json', raw);
      if (pending !== undefined) off = await pending;
      else doc = JSON.parse(raw);
    } catch (err) {
      // The upstream was reached and answered: what it sent cannot be inspected (not "unreachable").
      if (err instanceof SyntaxError) throw new GatehouseError('uninspectable_media', 'the upstream sent malformed JSON; refused (it cannot be masked)');
      if (err instanceof RangeError) throw new GatehouseError('uninspectable_media', 'the upstream JSON response exceeds the masking limit; refused');
      throw upstreamError(err);
    }
    let usage: unknown = off?.usage;
    if (off === undefined) {
      // The fail-closed walk (values, keys, numbers, payloads, key context; logprobs dropped).
      doc = maskResponseJson(doc, masker);
      if (doc !== null && typeof doc === 'object' && 'usage' in doc) usage = doc.usage;
    }
    const text = off?.text ?? JSON.stringify(doc);
    if (off === undefined) plan.capture.addDocument(text, doc);
    else plan.capture.addDocument(text, undefined);
    await finishOrFail(plan, { masked: true, usage });
    res.writeHead(up.statusCode, { ...plan.scrubHeaders(clientHeaders(up.headers, true)), 'content-length': String(Buffer.byteLength(text)), ...plan.headers() });
    res.end(text);
    return { masked: true, usage };
  }
  throw refuse(up, `a ${ct || 'untyped'} response`);
}

/** `plan.finish` before the head is written: a failed recording becomes a `store_unavailable` problem. */
async function finishOrFail(plan: ResponsePlan, outcome: ResponseOutcome): Promise<void> {
  try {
    await plan.finish(outcome);
  } catch {
    throw new GatehouseError('store_unavailable', 'the exchange could not be recorded; response withheld');
  }
}

/** A response the connection's masking rules cannot be applied to: withheld as `masking_failed` (500), not `internal`. */
function refuse(up: Dispatcher.ResponseData, what: string): GatehouseError {
  up.body.destroy();
  return new GatehouseError('masking_failed', `the upstream sent ${what}, which cannot be masked; refused`);
}

/** Most characters of an SSE stream held from its terminator on (the terminator and what an upstream sends after it). */
const HELD_LIMIT = 256 * 1024;

async function pipeSse(res: ProxyResponse, up: Dispatcher.ResponseData, plan: ResponsePlan, format: WireFormat): Promise<ResponseOutcome> {
  const transform = streamTransform(format, plan.masker, plan.capture.add);
  const parser = new SseParser();
  const outcome: ResponseOutcome = { masked: plan.masker !== undefined };
  // The stream's terminator ([DONE], message_stop, response.completed …) and anything after it
  // are held until the recording is durable.
  let held = '';
  const render = (events: SseEvent[]): string => {
    let out = '';
    for (const ev of events) {
      for (const e of transform.event(ev)) {
        if (e.data.includes('"usage"')) outcome.usage = usageOf(e.data) ?? outcome.usage;
        if (held !== '' || isTerminator(e)) held += formatSse(e);
        else out += formatSse(e);
      }
    }
    // Bounded: an upstream that goes on streaming after its terminator is cut off (fail closed).
    if (held.length > HELD_LIMIT) throw new RangeError('the upstream went on streaming after the end of its stream');
    return out;
  };
  res.writeHead(up.statusCode, { ...plan.scrubHeaders(clientHeaders(up.headers, true)), 'cache-control': 'no-cache', ...plan.headers() });
  res.flushHeaders();
  let stage: 'upstream' | 'masking' = 'upstream';
  try {
    for await (const chunk of up.body) {
      stage = 'masking';
      const out = render(parser.push(chunk as Buffer));
      stage = 'upstream';
      if (out && !(await writeChunk(res, out))) return { ...outcome, error: 'client_closed' };
    }
    stage = 'masking';
    let out = render(parser.end());
    for (const e of transform.end()) {
      if (held !== '' || isTerminator(e)) held += formatSse(e);
      else out += formatSse(e);
    }
    if (out && !(await writeChunk(res, out))) return { ...outcome, error: 'client_closed' };
  } catch (err) {
    const code = stage === 'masking' ? 'masking_failed' : upstreamError(err).code;
    const message = stage === 'masking' ? 'the response could not be masked; stream ended by the gateway' : 'the upstream stream ended abnormally';
    up.body.destroy();
    const failed = { ...outcome, error: code };
    await plan.finish(failed).catch(() => undefined);
    if (!res.destroyed) res.end(formatSse(transform.error(code, message)));
    return failed;
  }
  try {
    await plan.finish(outcome);
  } catch {
    if (!res.destroyed) res.end(formatSse(transform.error('store_unavailable', 'the exchange could not be recorded; stream ended by the gateway')));
    return { ...outcome, error: 'store_unavailable' };
  }
  res.end(held);
  return outcome;
}

const TERMINAL_EVENTS = new Set(['message_stop', 'response.completed', 'response.failed', 'response.incomplete']);

/** Whether an SSE event ends its stream (OpenAI `[DONE]`, Anthropic `message_stop`, Responses API completion). */
function isTerminator(e: SseEvent): boolean {
  return e.data === '[DONE]' || (e.event !== undefined && TERMINAL_EVENTS.has(e.event));
}

function usageOf(data: string): unknown {
  try {
    const v = JSON.parse(data) as Record<string, unknown>;
    const r = v.response as Record<string, unknown> | undefined;
    const m = v.message as Record<string, unknown> | undefined;
    return v.usage ?? r?.usage ?? m?.usage;
  } catch {
    return undefined;
  }
}
