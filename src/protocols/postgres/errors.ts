import { sqlstateOf, type ErrorCode, type Sqlstate } from '../../kernel/errors.ts';
import { MessageWriter } from './writer.ts';

/** SQLSTATEs Gatehouse sends: the error registry's (`kernel/errors.ts`), re-exported for the PostgreSQL path. */
export { SQLSTATE, type Sqlstate } from '../../kernel/errors.ts';

/**
 * A violation of the wire protocol by the peer. The session answers with ErrorResponse 08P01
 * (to a client) and closes.
 */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  /** The registry code (08P01 on the wire). */
  readonly code = 'bad_request' satisfies ErrorCode;
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

/**
 * What a PostgreSQL client is told went wrong: a registry code, rendered as its SQLSTATE
 * (`ERROR_CODES[code].sqlstate`), or as `sqlstate` when the call site knows a more specific one
 * (`42601` for a syntax error, `26000` for an unknown prepared statement …).
 */
export interface PgErrorCode {
  readonly code: ErrorCode;
  readonly sqlstate?: Sqlstate;
}

/** Fields of an ErrorResponse/NoticeResponse we send. */
export interface ErrorFields extends PgErrorCode {
  readonly message: string;
  readonly severity?: 'ERROR' | 'FATAL';
  readonly detail?: string;
  readonly hint?: string;
  /** 1-based character position in the statement text ('P'). */
  readonly position?: number;
}

/**
 * Serializes an ErrorResponse ('E'); its SQLSTATE comes from the error registry (or the typed override).
 *
 * @example
 *   socket.write(errorResponse({ code: 'policy_denied', message: 'denied by policy: agents-no-writes' })) // 42501
 *   socket.write(errorResponse({ code: 'bad_request', sqlstate: SQLSTATE.syntaxError, message, position }))
 */
export function errorResponse(f: ErrorFields): Buffer {
  const w = new MessageWriter();
  const severity = f.severity ?? 'ERROR';
  w.byte(0x53).cstring(severity); // S
  w.byte(0x56).cstring(severity); // V (non-localized)
  w.byte(0x43).cstring(sqlstateOf(f.code, f.sqlstate)); // C
  w.byte(0x4d).cstring(f.message); // M
  if (f.detail !== undefined) w.byte(0x44).cstring(f.detail); // D
  if (f.hint !== undefined) w.byte(0x48).cstring(f.hint); // H
  if (f.position !== undefined) w.byte(0x50).cstring(String(f.position)); // P
  w.byte(0);
  return w.frame(0x45);
}
