import { BodyReader } from './body-reader.ts';
import { ProtocolError } from './errors.ts';

/** Backend (server → client) message type bytes. */
export const BE = {
  auth: 0x52, backendKeyData: 0x4b, bindComplete: 0x32, closeComplete: 0x33, commandComplete: 0x43,
  copyData: 0x64, copyDone: 0x63, copyInResponse: 0x47, copyOutResponse: 0x48, copyBothResponse: 0x57,
  dataRow: 0x44, emptyQuery: 0x49, error: 0x45, functionCallResponse: 0x56, negotiateProtocol: 0x76,
  noData: 0x6e, notice: 0x4e, notification: 0x41, parameterDescription: 0x74, parameterStatus: 0x53,
  parseComplete: 0x31, portalSuspended: 0x73, readyForQuery: 0x5a, rowDescription: 0x54,
} as const;

const KNOWN_BACKEND: ReadonlySet<number> = new Set(Object.values(BE));

/** True for a type byte a server may send. */
export function isBackendType(type: number): boolean {
  return KNOWN_BACKEND.has(type);
}

/** One column of a RowDescription. */
export interface FieldDescription {
  readonly name: string;
  readonly tableOid: number;
  readonly attnum: number;
  readonly typeOid: number;
  readonly typeSize: number;
  readonly typeMod: number;
  /** 0 text, 1 binary (0 in a Describe-statement answer: not known yet). */
  readonly format: number;
}

export function parseRowDescription(body: Buffer): FieldDescription[] {
  const r = new BodyReader(body);
  const n = r.count16(19);
  const fields: FieldDescription[] = [];
  for (let i = 0; i < n; i++) {
    fields.push({
      name: r.cstring(), tableOid: r.uint32(), attnum: r.int16(), typeOid: r.uint32(),
      typeSize: r.int16(), typeMod: r.int32(), format: r.int16(),
    });
  }
  r.end();
  return fields;
}

/** The values of a DataRow (null = SQL NULL), as slices of the message. */
export function parseDataRow(body: Buffer): (Buffer | null)[] {
  const r = new BodyReader(body);
  const n = r.count16(4);
  const values: (Buffer | null)[] = [];
  for (let i = 0; i < n; i++) {
    const len = r.int32();
    if (len < -1) throw new ProtocolError('invalid column length');
    values.push(len === -1 ? null : r.bytes(len));
  }
  r.end();
  return values;
}

/** ErrorResponse / NoticeResponse fields by code letter (`C` SQLSTATE, `M` message …). */
export function parseErrorFields(body: Buffer): Map<string, string> {
  const r = new BodyReader(body);
  const fields = new Map<string, string>();
  for (;;) {
    const code = r.byte();
    if (code === 0) break;
    fields.set(String.fromCharCode(code), r.cstring());
  }
  r.end();
  return fields;
}

/** ParameterStatus: name and value. */
export function parseParameterStatus(body: Buffer): { readonly name: string; readonly value: string } {
  const r = new BodyReader(body);
  const name = r.cstring();
  const value = r.cstring();
  r.end();
  return { name, value };
}

/** BackendKeyData: process id and secret key. */
export function parseBackendKeyData(body: Buffer): { readonly pid: number; readonly secret: number } {
  const r = new BodyReader(body);
  const pid = r.int32();
  const secret = r.int32();
  r.end();
  return { pid, secret };
}

/** ReadyForQuery: `I` idle, `T` in a transaction, `E` in a failed transaction. */
export function parseReadyForQuery(body: Buffer): number {
  if (body.length !== 1) throw new ProtocolError('ReadyForQuery must carry one byte');
  const s = body[0]!;
  if (s !== 0x49 && s !== 0x54 && s !== 0x45) throw new ProtocolError('invalid transaction status');
  return s;
}

/** NotificationResponse: pid, channel, payload. */
export function parseNotification(body: Buffer): { readonly pid: number; readonly channel: string; readonly payload: string } {
  const r = new BodyReader(body);
  const pid = r.int32();
  const channel = r.cstring();
  const payload = r.cstring();
  r.end();
  return { pid, channel, payload };
}

/** CommandComplete: the command tag (`SELECT 3`, `INSERT 0 1` …). */
export function parseCommandComplete(body: Buffer): string {
  const r = new BodyReader(body);
  const tag = r.cstring();
  r.end();
  return tag;
}

/** Authentication request ('R'): the code and the rest of the body. */
export function parseAuth(body: Buffer): { readonly code: number; readonly data: Buffer } {
  const r = new BodyReader(body);
  const code = r.int32();
  return { code, data: r.bytes(r.remaining) };
}

/**
 * {@link parseDataRow}'s checks without its allocations (a slice per value): the hot path
 * forwards most rows as received and only needs to know they are well formed. Same errors.
 */
function checkDataRow(body: Buffer): void {
  if (body.length < 2) throw new ProtocolError('message is truncated');
  const n = body.readInt16BE(0);
  if (n < 0 || n * 4 > body.length - 2) throw new ProtocolError(`invalid count ${n}`);
  let pos = 2;
  for (let i = 0; i < n; i++) {
    if (pos + 4 > body.length) throw new ProtocolError('message is truncated');
    const len = body.readInt32BE(pos);
    pos += 4;
    if (len < -1) throw new ProtocolError('invalid column length');
    if (len > 0) {
      if (pos + len > body.length) throw new ProtocolError('message is truncated');
      pos += len;
    }
  }
  if (pos !== body.length) throw new ProtocolError('unexpected bytes at the end of a message');
}

/** {@link parseRowDescription}'s checks without building the field objects. Same errors. */
function checkRowDescription(body: Buffer): void {
  if (body.length < 2) throw new ProtocolError('message is truncated');
  const n = body.readInt16BE(0);
  if (n < 0 || n * 19 > body.length - 2) throw new ProtocolError(`invalid count ${n}`);
  let pos = 2;
  for (let i = 0; i < n; i++) {
    const end = body.indexOf(0, pos);
    if (end < 0) throw new ProtocolError('unterminated string');
    pos = end + 1 + 18; // table oid, attnum, type oid, size, modifier, format
    if (pos > body.length) throw new ProtocolError('message is truncated');
  }
  if (pos !== body.length) throw new ProtocolError('unexpected bytes at the end of a message');
}

/** A body that is exactly one NUL-terminated string ({@link parseCommandComplete}'s checks, without decoding it). */
function checkCString(body: Buffer): void {
  const end = body.indexOf(0);
  if (end < 0) throw new ProtocolError('unterminated string');
  if (end + 1 !== body.length) throw new ProtocolError('unexpected bytes at the end of a message');
}

/** Validates the body of a backend message whose structure the proxy relies on. */
export function validateBackend(type: number, body: Buffer): void {
  switch (type) {
    case BE.rowDescription: checkRowDescription(body); return;
    case BE.dataRow: checkDataRow(body); return;
    case BE.error: case BE.notice: parseErrorFields(body); return;
    case BE.parameterStatus: parseParameterStatus(body); return;
    case BE.backendKeyData: parseBackendKeyData(body); return;
    case BE.readyForQuery: parseReadyForQuery(body); return;
    case BE.notification: parseNotification(body); return;
    case BE.commandComplete: checkCString(body); return;
    case BE.auth: parseAuth(body); return;
    default:
      if (!isBackendType(type)) throw new ProtocolError(`unknown message type 0x${type.toString(16)}`);
  }
}
