import type { ProxyResponse } from './deps.ts';
import { after, systemClock } from '../../../kernel/clock.ts';
import type { Dispatcher } from 'undici';
import { GatehouseError } from '../../../kernel/errors.ts';
import { StreamMasker } from '../../../masking/stream-masker.ts';
import type { TextMasker } from '../../../masking/text-masker.ts';
import { SseParser } from '../sse/parser.ts';
import { EscapeNormalizer, LineSplitter, MarkupNormalizer, MarkupSections, maskForm, maskJsonLine, maskJsonText } from './body-mask.ts';
import { SseMasker } from './sse-mask.ts';
import { charsetDecoder, DecodeError, decodeStream, decodeText, TextDecoding } from './decode.ts';
import { clientHeaders } from './headers.ts';
import { bodyKind, contentCodings, mediaAllowed, parseMediaType, utf8ContentType, type BodyKind } from './media.ts';
import type { ResponseOutcome, ResponsePlan } from './respond.ts';
import { upstreamError } from './upstream.ts';
import { readAll, writeChunk } from './write.ts';

/** Largest upstream body the gateway buffers to mask (JSON, form data). */
export const BUFFERED_LIMIT = 32 * 1024 * 1024;
/** Longest NDJSON line. */
export const LINE_LIMIT = 4 * 1024 * 1024;

/** One step of a streamed body: a decoded chunk in, what may be sent out. */
interface Pipe {
  push(chunk: Uint8Array): string | Uint8Array;
  end(): string | Uint8Array;
  /**
   * What it holds back settled now (a pipe that holds output until more input comes): called
   * when the upstream has sent nothing for {@link IDLE_FLUSH_MS} while it holds something.
   */
  idle?: { holding(): boolean; flush(): string };
}

/**
 * How long an SSE stream may stay silent before the events held back for masking (a value may
 * continue in the next event) are settled and sent: a stream of sparse notifications is not held
 * until its next one. A value split across events further apart than this is masked per part.
 */
export const IDLE_FLUSH_MS = 250;

/**
 * The response of an `http` connection. What can be read is decoded (content coding, then
 * charset, a BOM winning) and masked with `plan.masker` (rules + the connection's secrets):
 * JSON and form data whole (bounded), NDJSON line by line, XML/HTML (references decoded) and
 * plain text stream-masked, SSE event by event (`SseMasker`: values joined across events). Anything else is refused with 502
 * `uninspectable_media` when a response rule applies, unless the connection's
 * `pass_media_types` lists it; what passes unparsed is scrubbed of the connection's secrets at
 * byte level. Without a response rule nothing is refused or re-encoded: the body (its content
 * coding undone) is only scrubbed of the connection's secrets, in UTF-8 and UTF-16.
 */
export async function writeHttpResponse(res: ProxyResponse, up: Dispatcher.ResponseData, plan: ResponsePlan): Promise<ResponseOutcome> {
  const masker = plan.masker;
  if (masker === undefined) return pipeBody(res, up, plan, up.body, raw(), false, clientHeaders(up.headers, false));
  const media = parseMediaType(up.headers['content-type']);
  const codings = contentCodings(up.headers['content-encoding']);
  const allowed = mediaAllowed(media.type, plan.passMediaTypes);
  if (codings === undefined) throw refuse(up, `content coding "${String(up.headers['content-encoding'])}"`);
  const source = decodeStream(up.body, codings);
  // Without a response rule there is nothing to mask but the secrets: the bytes pass unchanged
  // (no charset or syntax can make the answer fail), scrubbed in UTF-8 and UTF-16 alike.
  if (!plan.ruled) return pipeBody(res, up, plan, source, scrub(plan), false, clientHeaders(up.headers, codings.length > 0));
  const kind: BodyKind = bodyKind(media.type);
  const decoder = kind === 'opaque' ? undefined : charsetDecoder(kind === 'sse' ? 'utf-8' : media.charset);
  if (kind === 'opaque' || decoder === undefined) {
    if (plan.ruled && !allowed) {
      // An empty body (a 201 or a DELETE's answer without a type) carries nothing to inspect.
      const empty = await isEmpty(source).catch((err: unknown) => { throw upstreamError(err); });
      if (!empty) throw refuse(up, kind === 'opaque' ? `a ${media.type || 'untyped'} response` : `text in charset "${media.charset ?? ''}"`);
      return pipeBody(res, up, plan, [], raw(), false, clientHeaders(up.headers, codings.length > 0));
    }
    return pipeBody(res, up, plan, source, scrub(plan), false, clientHeaders(up.headers, codings.length > 0));
  }
  const headers = { ...clientHeaders(up.headers, true), 'content-type': utf8ContentType(media) };
  if (kind === 'json' || kind === 'form') {
    let text: string;
    try {
      const body = decodeText(await readAll(source, BUFFERED_LIMIT), decoder);
      // A large body is masked on an inspection worker (same code), off the event loop.
      const off = body.trim() === '' ? undefined : plan.maskOffLoop?.(kind, body);
      text = body.trim() === '' ? body : off !== undefined ? (await off).text : kind === 'json' ? maskJsonText(body, masker) : maskForm(body, masker);
    } catch (err) {
      up.body.destroy();
      if (err instanceof SyntaxError) throw new GatehouseError('uninspectable_media', 'the upstream sent malformed JSON; refused (it cannot be masked)');
      if (err instanceof RangeError) throw new GatehouseError('uninspectable_media', 'the upstream response exceeds the masking limit');
      if (err instanceof DecodeError) throw new GatehouseError('uninspectable_media', `the upstream response cannot be inspected: ${err.message}`);
      throw upstreamError(err);
    }
    plan.capture.add(text);
    await finishBeforeHead(plan);
    res.writeHead(up.statusCode, { ...plan.scrubHeaders(headers), 'content-length': String(Buffer.byteLength(text)), ...plan.headers() });
    res.end(text);
    return { masked: true };
  }
  if (kind === 'ndjson') return pipeBody(res, up, plan, source, ndjsonPipe(decoder, masker), true, headers);
  if (kind === 'sse') return pipeBody(res, up, plan, source, ssePipe(masker), true, { ...headers, 'cache-control': 'no-cache' });
  // Text and markup: references and escapes a reader could undo are decoded before masking.
  // Markup: comments dropped and CDATA written as character data first (MarkupSections), so
  // that the text a parser joins around them is contiguous for the masker.
  const sections = kind === 'markup' ? new MarkupSections() : undefined;
  const markup = kind === 'markup' ? new MarkupNormalizer() : undefined;
  const escapes = new EscapeNormalizer();
  const pre = (s: string, end: boolean): string => {
    const u = sections === undefined ? s : end ? sections.push(s) + sections.end() : sections.push(s);
    const t = markup === undefined ? u : end ? markup.push(u) + markup.end() : markup.push(u);
    return end ? escapes.push(t) + escapes.end() : escapes.push(t);
  };
  return pipeBody(res, up, plan, source, textPipe(decoder, pre, masker), true, headers);
}

/**
 * True when `source` ends without a byte (reading stops at the first non-empty chunk; the caller
 * then refuses the response and destroys the body).
 */
async function isEmpty(source: AsyncIterable<Uint8Array>): Promise<boolean> {
  for await (const chunk of source) if (chunk.length > 0) return false;
  return true;
}

function refuse(up: Dispatcher.ResponseData, what: string): GatehouseError {
  up.body.destroy();
  return new GatehouseError('uninspectable_media', `the upstream sent ${what}, which the gateway cannot inspect; refused (a connection may list media types to pass in pass_media_types)`);
}

async function finishBeforeHead(plan: ResponsePlan): Promise<void> {
  try {
    await plan.finish({ masked: true });
  } catch {
    throw new GatehouseError('store_unavailable', 'the exchange could not be recorded; response withheld');
  }
}

function raw(): Pipe {
  return { push: (c) => c, end: () => new Uint8Array(0) };
}

/** Bytes passed unparsed, scrubbed of the connection's secrets (raw when it holds none). */
export function scrub(plan: ResponsePlan): Pipe {
  const s = plan.scrubber();
  return s === undefined ? raw() : { push: (c) => s.push(c), end: () => s.end() };
}

function textPipe(decoder: TextDecoder, pre: (s: string, end: boolean) => string, masker: TextMasker): Pipe {
  const dec = new TextDecoding(decoder);
  const sm = new StreamMasker(masker);
  return {
    push: (c) => sm.push(pre(dec.push(c), false)),
    end: () => sm.push(pre(dec.end(), true)) + sm.end(),
  };
}

function ndjsonPipe(decoder: TextDecoder, masker: TextMasker): Pipe {
  const dec = new TextDecoding(decoder);
  const lines = new LineSplitter(LINE_LIMIT);
  const mask = (ls: string[]): string => ls.map((l) => maskJsonLine(l, masker)).join('');
  return {
    push: (c) => mask(lines.push(dec.push(c))),
    end: () => mask([...lines.push(dec.end()), lines.end()]),
  };
}

function ssePipe(masker: TextMasker): Pipe {
  const parser = new SseParser();
  const events = new SseMasker(masker);
  return {
    push: (c) => events.push(parser.push(Buffer.from(c))),
    end: () => events.push(parser.end()) + events.end(),
    idle: { holding: () => events.holding, flush: () => events.end() },
  };
}

/**
 * Streams `source` through `pipe` to the client with backpressure. The recording is made
 * durable before the last byte; any failure after the head destroys the response (the client
 * sees a truncated body, never unmasked bytes).
 */
async function pipeBody(res: ProxyResponse, up: Dispatcher.ResponseData, plan: ResponsePlan, source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, pipe: Pipe, masked: boolean, headers: Record<string, string | string[]>): Promise<ResponseOutcome> {
  res.writeHead(up.statusCode, { ...plan.scrubHeaders(headers), ...plan.headers() });
  let stage: 'upstream' | 'masking' = 'upstream';
  try {
    for await (const chunk of idleFlushed(source, pipe)) {
      stage = 'masking';
      const out = chunk === IDLE ? pipe.idle!.flush() : pipe.push(chunk);
      stage = 'upstream';
      if (out.length > 0) {
        if (typeof out === 'string') plan.capture.add(out);
        else if (plan.capture.text.length < 4096) plan.capture.add(Buffer.from(out).toString('utf8', 0, Math.min(out.length, 4096)));
        if (!(await writeChunk(res, out))) return { masked, error: 'client_closed' };
      }
    }
    stage = 'masking';
    const rest = pipe.end();
    if (rest.length > 0) {
      if (typeof rest === 'string') plan.capture.add(rest);
      if (!(await writeChunk(res, rest))) return { masked, error: 'client_closed' };
    }
  } catch (err) {
    up.body.destroy();
    res.destroy();
    const error = stage === 'masking' || err instanceof DecodeError ? 'masking_failed' : upstreamError(err).code;
    await plan.finish({ masked, error }).catch(() => undefined);
    return { masked, error };
  }
  try {
    await plan.finish({ masked });
  } catch {
    res.destroy();
    return { masked, error: 'store_unavailable' };
  }
  res.end();
  return { masked };
}

/** A tick of {@link idleFlushed}: the upstream was silent for {@link IDLE_FLUSH_MS} while the pipe held output. */
const IDLE = Symbol('idle');

/**
 * The chunks of `source`, and {@link IDLE} whenever the upstream stays silent for
 * {@link IDLE_FLUSH_MS} while `pipe` holds output back (a pipe without `idle`: the chunks only).
 */
async function* idleFlushed(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, pipe: Pipe): AsyncGenerator<Uint8Array | typeof IDLE> {
  const idle = pipe.idle;
  if (idle === undefined || !(Symbol.asyncIterator in source)) { yield* source; return; }
  const it = source[Symbol.asyncIterator]();
  let next = it.next();
  try {
    for (;;) {
      let r: IteratorResult<Uint8Array> | typeof IDLE;
      if (idle.holding()) {
        let cancel: (() => void) | undefined;
        const tick = new Promise<typeof IDLE>((resolve) => { cancel = after(systemClock, IDLE_FLUSH_MS, () => { resolve(IDLE); }); });
        try { r = await Promise.race([next, tick]); } finally { cancel?.(); }
      } else {
        r = await next;
      }
      if (r === IDLE) { yield IDLE; continue; } // the read stays pending: awaited again
      if (r.done === true) return;
      next = it.next();
      yield r.value;
    }
  } finally {
    // An early exit (the client left, a failure): the upstream body is destroyed by the caller.
    void next.catch(() => undefined);
  }
}

/**
 * A body passed unparsed (llm connections without a response rule, and their non-JSON bodies):
 * content codings undone and the bytes scrubbed of the connection's secrets; raw when it holds
 * none. A content coding that cannot be decoded is refused when there are secrets to find.
 */
export async function passScrubbed(res: ProxyResponse, up: Dispatcher.ResponseData, plan: ResponsePlan): Promise<ResponseOutcome> {
  const scrubber = plan.scrubber();
  if (scrubber === undefined) return pipeBody(res, up, plan, up.body, raw(), false, clientHeaders(up.headers, false));
  const codings = contentCodings(up.headers['content-encoding']);
  if (codings === undefined) throw refuse(up, `content coding "${String(up.headers['content-encoding'])}"`);
  return pipeBody(res, up, plan, decodeStream(up.body, codings), { push: (c) => scrubber.push(c), end: () => scrubber.end() }, false, clientHeaders(up.headers, codings.length > 0));
}
