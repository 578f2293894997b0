import { constants, deflateRawSync, inflateRawSync, zstdCompressSync, zstdDecompressSync } from 'node:zlib';
import { Utf8Writer } from './utf8-writer.ts';

/**
 * One chained event as stored: its hashed fields, its data as canonical JSON text, and its links.
 * `hash = eventHash(prevHash, {session, seq, at, type, user, agent}, text)`.
 */
export interface RawEvent {
  readonly seq: number;
  /** ISO-8601 UTC with milliseconds. */
  readonly at: string;
  readonly type: string;
  readonly user: string | null;
  readonly agent: string | null;
  /** Canonical JSON of the data. */
  readonly text: string;
  readonly prevHash: string;
  readonly hash: string;
}

/** Format byte of a batch body written before session 12: raw DEFLATE (level 1) with {@link DICTIONARY}. Still read. */
const V1 = 1;
/** Format byte of a batch body since session 12: one zstd frame (level 1, content checksum) with {@link DICTIONARY} as its raw-content dictionary. */
const V2 = 2;
const ZSTD_PARAMS = { [constants.ZSTD_c_compressionLevel]: 1, [constants.ZSTD_c_checksumFlag]: 1 };
/** Most bytes a batch body may inflate to when read (bounds memory on a forged row). */
const MAX_INFLATED = 64 * 1024 * 1024;

/**
 * A preset dictionary of what every recording repeats (event types, common keys and values):
 * a small body (a quiet gateway commits a few events at a time) compresses
 * against it almost as well as a large one. Fixed for formats v1 and v2: changing it breaks reading old rows.
 */
const DICTIONARY = Buffer.from([
  '"session.open"', '"session.close"', '"request"', '"decision"', '"response"', '"error"', '"review"', '"truncated"',
  '{"actions":["sql.read"],"effect":"allow"}', '{"effect":"allow","reasons":[', '{"action":"llm.invoke","effect":"allow","reasons":["',
  '{"message":"parse","name":"","statement":"SELECT ', '{"message":"bind","name":"","params":["', '"],"portal":""}',
  '{"columns":["', '"],"ms":0,"rows":1,"sample":[["', '"]],"sample_truncated":false,"tag":"SELECT 1"}',
  '{"endpoint":"/v1/chat/completions","facts":{', '"method":"POST","prompt":"{\\"messages\\":[{\\"content\\":\\"',
  '\\",\\"role\\":\\"user\\"}],\\"model\\":\\"', '{"masked":0,"status":200,"text":"{\\"choices\\":[{\\"finish_reason\\":\\"stop\\",\\"index\\":0,\\"message\\":{\\"content\\":\\"',
  '\\",\\"role\\":\\"assistant\\"}}],\\"created\\":', '"timings":{"gateway_ms":', ',"total_ms":', ',"upstream_headers_ms":', '"truncated":false',
  '"usage":{"completion_tokens":', ',"prompt_tokens":', ',"total_tokens":', '{"connection":"', '","transport":"http"}', '{"reason":"evicted"}', '{"pid":',
  '","http",', '","postgres",', 'null,null,"', 'Z",',
].join(''), 'utf8');

/** A stored event and the session it belongs to, as a batch body holds them. */
export interface BodyEvent extends RawEvent {
  readonly session: string;
}

/** The encoder's scratch buffer (encoding is synchronous, so one is enough). */
const lines = new Utf8Writer();

/**
 * Encodes the events of one batch (several sessions; each session's events consecutive and in
 * seq order) as a body: one line per event, `JSON [session, seq, at, type, user, agent, prevHash,
 * hash]`, a tab, the data's canonical JSON (which holds no raw tab or newline), compressed once
 * for the whole batch (format {@link V2}: zstd with the preset dictionary). The lines are written
 * as UTF-8 straight into a scratch buffer, never joined into one string (see Utf8Writer). The
 * body is not trusted on reading: every event is checked against its session's chain by
 * verification.
 */
export function encodeBody(events: readonly BodyEvent[]): Buffer {
  lines.reset();
  for (const e of events) {
    lines.put(JSON.stringify([e.session, e.seq, e.at, e.type, e.user, e.agent, e.prevHash, e.hash]));
    lines.byte(0x09);
    lines.put(e.text);
    lines.byte(0x0a);
  }
  const z = zstdCompressSync(lines.bytes(), { dictionary: DICTIONARY, params: ZSTD_PARAMS });
  const out = Buffer.allocUnsafe(z.length + 1);
  out[0] = V2;
  z.copy(out, 1);
  return out;
}

/** A body in the format written before session 12 (raw DEFLATE): for tests of reading old rows. */
export function encodeBodyV1(events: readonly BodyEvent[]): Buffer {
  let text = '';
  for (const e of events) text += `${JSON.stringify([e.session, e.seq, e.at, e.type, e.user, e.agent, e.prevHash, e.hash])}\t${e.text}\n`;
  const z = deflateRawSync(text, { level: 1, dictionary: DICTIONARY });
  return Buffer.concat([Buffer.of(V1), z]);
}

/** Decodes a batch body; throws on anything that is not a well-formed one. */
export function decodeBody(body: Uint8Array): BodyEvent[] {
  let raw: Buffer;
  if (body[0] === V2) raw = zstdDecompressSync(body.subarray(1), { dictionary: DICTIONARY, maxOutputLength: MAX_INFLATED });
  else if (body[0] === V1) raw = inflateRawSync(body.subarray(1), { dictionary: DICTIONARY, maxOutputLength: MAX_INFLATED });
  else throw new Error('unknown body format');
  const text = raw.toString('utf8');
  const out: BodyEvent[] = [];
  let from = 0;
  while (from < text.length) {
    const nl = text.indexOf('\n', from);
    if (nl < 0) throw new Error('torn body');
    const tab = text.indexOf('\t', from);
    if (tab < 0 || tab > nl) throw new Error('malformed body line');
    const h: unknown = JSON.parse(text.slice(from, tab));
    if (!Array.isArray(h) || h.length !== 8) throw new Error('malformed body line');
    const [session, seq, at, type, user, agent, prevHash, hash] = h as unknown[];
    if (typeof session !== 'string' || !Number.isSafeInteger(seq) || typeof at !== 'string' || typeof type !== 'string' || typeof prevHash !== 'string' ||
      typeof hash !== 'string' || (user !== null && typeof user !== 'string') || (agent !== null && typeof agent !== 'string')) throw new Error('malformed body line');
    out.push({ session, seq: seq as number, at, type, user, agent, text: text.slice(tab + 1, nl), prevHash, hash });
    from = nl + 1;
  }
  return out;
}
