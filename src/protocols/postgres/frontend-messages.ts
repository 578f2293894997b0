import { BodyReader } from './body-reader.ts';
import { ProtocolError } from './errors.ts';

/** Frontend (client → server) message type bytes. */
export const FE = {
  bind: 0x42, close: 0x43, describe: 0x44, execute: 0x45, flush: 0x48, functionCall: 0x46,
  copyData: 0x64, copyDone: 0x63, copyFail: 0x66, parse: 0x50, password: 0x70, query: 0x51,
  sync: 0x53, terminate: 0x58,
} as const;

const KNOWN_FRONTEND: ReadonlySet<number> = new Set(Object.values(FE));

/** True for a type byte a client may send after startup. */
export function isFrontendType(type: number): boolean {
  return KNOWN_FRONTEND.has(type);
}

export const PROTOCOL_3 = 196608;
export const SSL_REQUEST = 80877103;
export const GSSENC_REQUEST = 80877104;
export const CANCEL_REQUEST = 80877102;

/** A startup-phase message. */
export type StartupMessage =
  | { readonly kind: 'startup'; readonly params: ReadonlyMap<string, string> }
  | { readonly kind: 'ssl' }
  | { readonly kind: 'gssenc' }
  | { readonly kind: 'cancel'; readonly pid: number; readonly secret: number };

/** Most startup parameters accepted (PostgreSQL has no limit but the packet size). */
const MAX_STARTUP_PARAMS = 64;

/** Parses an untyped startup-phase message body (after the length). */
export function parseStartup(body: Buffer): StartupMessage {
  const r = new BodyReader(body);
  const code = r.int32();
  if (code === SSL_REQUEST) { r.end(); return { kind: 'ssl' }; }
  if (code === GSSENC_REQUEST) { r.end(); return { kind: 'gssenc' }; }
  if (code === CANCEL_REQUEST) {
    const pid = r.int32();
    const secret = r.int32();
    r.end();
    return { kind: 'cancel', pid, secret };
  }
  if (code !== PROTOCOL_3) throw new ProtocolError(`unsupported protocol version ${code >> 16}.${code & 0xffff}`);
  const params = new Map<string, string>();
  for (;;) {
    const key = r.cstring();
    if (key === '') break;
    if (params.size >= MAX_STARTUP_PARAMS) throw new ProtocolError('too many startup parameters');
    params.set(key, r.cstring());
  }
  r.end();
  return { kind: 'startup', params };
}

/** Query ('Q'): the SQL text. */
export function parseQuery(body: Buffer): string {
  const r = new BodyReader(body);
  const sql = r.cstring();
  r.end();
  return sql;
}

/** Parse ('P'). */
export interface ParseMessage {
  readonly name: string; readonly sql: string; readonly paramTypes: number;
  /** The declared parameter type OIDs (0: the server infers it). */
  readonly typeOids: readonly number[];
}
export function parseParse(body: Buffer): ParseMessage {
  const r = new BodyReader(body);
  const name = r.cstring();
  const sql = r.cstring();
  const paramTypes = r.count16(4);
  const oids = r.bytes(paramTypes * 4);
  r.end();
  const typeOids: number[] = [];
  for (let i = 0; i < paramTypes; i++) typeOids.push(oids.readUInt32BE(i * 4));
  return { name, sql, paramTypes, typeOids };
}

/** Bind ('B'): portal, statement, parameters (null = SQL NULL) and result format codes. */
export interface BindMessage {
  readonly portal: string;
  readonly statement: string;
  readonly paramFormats: readonly number[];
  readonly params: readonly (Buffer | null)[];
  readonly resultFormats: readonly number[];
}
export function parseBind(body: Buffer): BindMessage {
  const r = new BodyReader(body);
  const portal = r.cstring();
  const statement = r.cstring();
  const nf = r.count16(2);
  const paramFormats: number[] = [];
  for (let i = 0; i < nf; i++) paramFormats.push(r.int16());
  const np = r.count16(4);
  const params: (Buffer | null)[] = [];
  for (let i = 0; i < np; i++) {
    const len = r.int32();
    if (len < -1) throw new ProtocolError('invalid parameter length');
    params.push(len === -1 ? null : r.bytes(len));
  }
  const nr = r.count16(2);
  const resultFormats: number[] = [];
  for (let i = 0; i < nr; i++) resultFormats.push(r.int16());
  r.end();
  return { portal, statement, paramFormats, params, resultFormats };
}

/** Describe ('D') or Close ('C'): `S`tatement or `P`ortal and its name. */
export interface TargetMessage { readonly target: 'S' | 'P'; readonly name: string }
export function parseTarget(body: Buffer): TargetMessage {
  const r = new BodyReader(body);
  const t = r.byte();
  const name = r.cstring();
  r.end();
  if (t !== 0x53 && t !== 0x50) throw new ProtocolError('Describe/Close target must be S or P');
  return { target: t === 0x53 ? 'S' : 'P', name };
}

/** Execute ('E'): portal and row limit (0 = all). */
export function parseExecute(body: Buffer): { readonly portal: string; readonly maxRows: number } {
  const r = new BodyReader(body);
  const portal = r.cstring();
  const maxRows = r.int32();
  r.end();
  return { portal, maxRows };
}

/** PasswordMessage ('p') as a cleartext password. */
export function parsePassword(body: Buffer): string {
  const r = new BodyReader(body);
  const pw = r.cstring();
  r.end();
  return pw;
}

/**
 * Validates the body of any frontend message (so a malformed one is a protocol violation before
 * anything is forwarded). Types without structure here are checked for their fixed size.
 */
export function validateFrontend(type: number, body: Buffer): void {
  switch (type) {
    case FE.query: parseQuery(body); return;
    case FE.parse: parseParse(body); return;
    case FE.bind: parseBind(body); return;
    case FE.describe: case FE.close: parseTarget(body); return;
    case FE.execute: parseExecute(body); return;
    case FE.sync: case FE.flush: case FE.terminate: case FE.copyDone:
      if (body.length !== 0) throw new ProtocolError('message must be empty');
      return;
    case FE.copyFail: parseQuery(body); return;
    case FE.copyData: return;
    case FE.functionCall: case FE.password: return;
    default: throw new ProtocolError(`unknown message type 0x${type.toString(16)}`);
  }
}
