import { MessageWriter } from './writer.ts';

/** SQLSTATE codes Gatehouse itself sends (PostgreSQL appendix A). */
export const SQLSTATE = {
  /** Protocol violation: malformed, oversized or unexpected messages. */
  protocolViolation: '08P01',
  /** Could not reach or authenticate to the upstream server. */
  connectionFailure: '08006',
  /** Client may not connect this way (no TLS for a cleartext password, unknown connection). */
  invalidAuthorization: '28000',
  /** The Gatehouse credential was rejected. */
  invalidPassword: '28P01',
  /** Denied by policy, or approval required (the message names the reason). */
  insufficientPrivilege: '42501',
  /** Unsupported protocol feature (replication, GSSAPI, old protocol versions). */
  featureNotSupported: '0A000',
  /** The principal already holds `limits.per_principal.postgres_sessions` sessions. */
  tooManyConnections: '53300',
  /** The gateway failed internally (masking or catalog lookup): fail closed. */
  internalError: 'XX000',
  /** A syntax error found by the parser (answered in place of the server, never forwarded). */
  syntaxError: '42601',
} as const;

/**
 * A violation of the wire protocol by the peer. The session answers with ErrorResponse 08P01
 * (to a client) and closes.
 */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

/** A message longer than the configured limit (or with an impossible length) was announced. */
export class MessageLengthError extends ProtocolError {
  /** The announced size in bytes. */
  readonly size: number;
  /** The limit it exceeds (undefined: shorter than any message can be). */
  readonly limit: number | undefined;
  /** Announced in the startup phase (before the StartupMessage was read). */
  readonly startup: boolean;

  constructor(size: number, limit: number | undefined, startup: boolean) {
    super(limit === undefined ? `invalid message length ${size}` : `message of ${size} bytes exceeds the limit of ${limit} bytes`);
    this.size = size;
    this.limit = limit;
    this.startup = startup;
  }
}

/** Fields of an ErrorResponse/NoticeResponse we send. */
export interface ErrorFields {
  readonly code: string;
  readonly message: string;
  readonly severity?: 'ERROR' | 'FATAL';
  readonly detail?: string;
  readonly hint?: string;
  /** 1-based character position in the statement text ('P'). */
  readonly position?: number;
}

/**
 * Serializes an ErrorResponse ('E').
 *
 * @example
 *   socket.write(errorResponse({ code: SQLSTATE.insufficientPrivilege, message: 'denied by policy: agents-no-writes' }))
 */
export function errorResponse(f: ErrorFields): Buffer {
  const w = new MessageWriter();
  const severity = f.severity ?? 'ERROR';
  w.byte(0x53).cstring(severity); // S
  w.byte(0x56).cstring(severity); // V (non-localized)
  w.byte(0x43).cstring(f.code); // C
  w.byte(0x4d).cstring(f.message); // M
  if (f.detail !== undefined) w.byte(0x44).cstring(f.detail); // D
  if (f.hint !== undefined) w.byte(0x48).cstring(f.hint); // H
  if (f.position !== undefined) w.byte(0x50).cstring(String(f.position)); // P
  w.byte(0);
  return w.frame(0x45);
}
