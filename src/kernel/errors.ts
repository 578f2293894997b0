/**
 * SQLSTATE codes Gatehouse itself sends to PostgreSQL clients (PostgreSQL appendix A). The error
 * registry names one per code; a PostgreSQL call site may name a more specific one of these (a
 * typed override), never a free string.
 */
export const SQLSTATE = {
  /** Protocol violation: malformed, oversized or unexpected messages. */
  protocolViolation: '08P01',
  /** Could not reach or authenticate to the upstream server. */
  connectionFailure: '08006',
  /** Client may not connect this way (no TLS for a cleartext password, unknown connection, revoked credential). */
  invalidAuthorization: '28000',
  /** The Gatehouse credential was rejected. */
  invalidPassword: '28P01',
  /** Denied by policy, or approval required (the message names the reason). */
  insufficientPrivilege: '42501',
  /** Unsupported protocol feature (replication, GSSAPI, old protocol versions, a value that cannot be masked). */
  featureNotSupported: '0A000',
  /** The principal already holds `limits.per_principal.postgres_sessions` sessions. */
  tooManyConnections: '53300',
  /** The gateway failed internally (masking or catalog lookup): fail closed. */
  internalError: 'XX000',
  /** A syntax error found by the parser (answered in place of the server, never forwarded). */
  syntaxError: '42601',
  /** A Bind of a prepared statement the gateway never saw defined. */
  invalidSqlStatementName: '26000',
  /** No postgres connection of the database name the client asked for. */
  invalidCatalogName: '3D000',
  /** The statement was cancelled (a review cancelled while it was held) or timed out. */
  queryCanceled: '57014',
  /** A named object does not exist. */
  undefinedObject: '42704',
  /** Too many requests at once, a resource limit (PostgreSQL class 53). */
  insufficientResources: '53000',
  /** The gateway is not ready, or shutting down. */
  cannotConnectNow: '57P03',
  /** The configuration or policy set is invalid. */
  configFileError: 'F0000',
} as const;

/** A SQLSTATE Gatehouse may send. */
export type Sqlstate = (typeof SQLSTATE)[keyof typeof SQLSTATE];

/** JSON-RPC 2.0 error codes (`/mcp` protocol faults). */
export const JSONRPC = { parseError: -32700, invalidRequest: -32600, serverError: -32000 } as const;

/** A JSON-RPC error code Gatehouse may send. */
export type JsonRpcCode = (typeof JSONRPC)[keyof typeof JSONRPC];

/**
 * SSH exit statuses Gatehouse sends when it ends a command itself (stderr names the reason):
 * `refused` (126, "cannot execute", the shell's own code) when the gateway refused the command,
 * `failed` (255, what OpenSSH's client uses for its own failures) when the gateway could not
 * carry it out (masking, recording or the upstream failed).
 */
export const SSH_EXIT = { refused: 126, failed: 255 } as const;

/** An SSH exit status Gatehouse may send. */
export type SshExit = (typeof SSH_EXIT)[keyof typeof SSH_EXIT];

/** How one code is rendered on each protocol. */
interface ErrorEntry {
  /** HTTP status (problem+json on the HTTP surfaces). */
  readonly status: number;
  readonly title: string;
  /** SQLSTATE of the PostgreSQL `ErrorResponse` (a call site may name a more specific {@link Sqlstate}). */
  readonly sqlstate: Sqlstate;
  /** JSON-RPC error code on `/mcp` (tool failures are `isError` results naming the code instead). */
  readonly jsonrpc: JsonRpcCode;
  /** Exit status of an SSH command the gateway ends with this error (the detail goes to stderr). */
  readonly sshExit: SshExit;
}

const S = SQLSTATE;
const R = JSONRPC;
const X = SSH_EXIT;

/**
 * The one registry of error codes. Every error a client, operator or CLI user sees carries a
 * stable `code` from this table, with its rendering on each protocol: HTTP status (problem+json),
 * SQLSTATE (PostgreSQL), JSON-RPC code (MCP) and SSH exit status. `docs/errors.md` lists the same
 * codes and renderings (a test checks both agree).
 *
 * @example
 *   throw new GatehouseError('not_found', `no connection named "${name}"`);
 */
export const ERROR_CODES = {
  bad_request: { status: 400, title: 'Bad request', sqlstate: S.protocolViolation, jsonrpc: R.invalidRequest, sshExit: X.refused },
  invalid_json: { status: 400, title: 'Malformed JSON body', sqlstate: S.protocolViolation, jsonrpc: R.invalidRequest, sshExit: X.refused },
  validation_failed: { status: 400, title: 'Request failed validation', sqlstate: S.protocolViolation, jsonrpc: R.invalidRequest, sshExit: X.refused },
  unauthenticated: { status: 401, title: 'Authentication required', sqlstate: S.invalidAuthorization, jsonrpc: R.serverError, sshExit: X.refused },
  invalid_credential: { status: 401, title: 'Credential is invalid, expired or revoked', sqlstate: S.invalidPassword, jsonrpc: R.serverError, sshExit: X.refused },
  invalid_token: { status: 401, title: 'Token is invalid', sqlstate: S.invalidPassword, jsonrpc: R.serverError, sshExit: X.refused },
  policy_denied: { status: 403, title: 'Denied by policy', sqlstate: S.insufficientPrivilege, jsonrpc: R.serverError, sshExit: X.refused },
  review_required: { status: 403, title: 'Approval required', sqlstate: S.insufficientPrivilege, jsonrpc: R.serverError, sshExit: X.refused },
  host_not_allowed: { status: 421, title: 'Host header not allowed', sqlstate: S.invalidAuthorization, jsonrpc: R.serverError, sshExit: X.refused },
  origin_not_allowed: { status: 403, title: 'Origin not allowed', sqlstate: S.invalidAuthorization, jsonrpc: R.serverError, sshExit: X.refused },
  csrf_failed: { status: 403, title: 'Missing or wrong CSRF token', sqlstate: S.invalidAuthorization, jsonrpc: R.serverError, sshExit: X.refused },
  not_found: { status: 404, title: 'Not found', sqlstate: S.undefinedObject, jsonrpc: R.serverError, sshExit: X.refused },
  method_not_allowed: { status: 405, title: 'Method not allowed', sqlstate: S.featureNotSupported, jsonrpc: R.serverError, sshExit: X.refused },
  conflict: { status: 409, title: 'Conflict', sqlstate: S.insufficientPrivilege, jsonrpc: R.serverError, sshExit: X.refused },
  read_only: { status: 409, title: 'Resource is defined in the configuration file and is read-only', sqlstate: S.insufficientPrivilege, jsonrpc: R.serverError, sshExit: X.refused },
  payload_too_large: { status: 413, title: 'Body exceeds the size limit', sqlstate: S.protocolViolation, jsonrpc: R.serverError, sshExit: X.refused },
  unsupported_media_type: { status: 415, title: 'Unsupported media type', sqlstate: S.featureNotSupported, jsonrpc: R.serverError, sshExit: X.refused },
  too_many_requests: { status: 429, title: 'Too many concurrent requests for this principal', sqlstate: S.tooManyConnections, jsonrpc: R.serverError, sshExit: X.refused },
  inspection_unavailable: { status: 503, title: 'Inspection could not run; the request was refused', sqlstate: S.insufficientPrivilege, jsonrpc: R.serverError, sshExit: X.refused },
  unsupported_grant_type: { status: 400, title: 'Unsupported grant type', sqlstate: S.protocolViolation, jsonrpc: R.invalidRequest, sshExit: X.refused },
  invalid_grant: { status: 400, title: 'Invalid grant', sqlstate: S.protocolViolation, jsonrpc: R.invalidRequest, sshExit: X.refused },
  invalid_client: { status: 401, title: 'Invalid client', sqlstate: S.invalidPassword, jsonrpc: R.serverError, sshExit: X.refused },
  internal: { status: 500, title: 'Internal error', sqlstate: S.internalError, jsonrpc: R.serverError, sshExit: X.failed },
  masking_failed: { status: 500, title: 'Masking failed; the response was withheld', sqlstate: S.internalError, jsonrpc: R.serverError, sshExit: X.failed },
  config_invalid: { status: 500, title: 'Configuration is invalid', sqlstate: S.configFileError, jsonrpc: R.serverError, sshExit: X.failed },
  policy_invalid: { status: 500, title: 'Policy set is invalid', sqlstate: S.configFileError, jsonrpc: R.serverError, sshExit: X.failed },
  upstream_unreachable: { status: 502, title: 'Upstream unreachable', sqlstate: S.connectionFailure, jsonrpc: R.serverError, sshExit: X.failed },
  upstream_error: { status: 502, title: 'The upstream answered with an error', sqlstate: S.connectionFailure, jsonrpc: R.serverError, sshExit: X.failed },
  uninspectable_media: { status: 502, title: 'The upstream response cannot be inspected; refused', sqlstate: S.featureNotSupported, jsonrpc: R.serverError, sshExit: X.failed },
  store_unavailable: { status: 503, title: 'Store unavailable', sqlstate: S.internalError, jsonrpc: R.serverError, sshExit: X.failed },
  not_ready: { status: 503, title: 'Not ready', sqlstate: S.cannotConnectNow, jsonrpc: R.serverError, sshExit: X.failed },
  upstream_timeout: { status: 504, title: 'Upstream timed out', sqlstate: S.queryCanceled, jsonrpc: R.serverError, sshExit: X.failed },
} as const satisfies Record<string, ErrorEntry>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** True when `s` is a registered code. */
export function isErrorCode(s: unknown): s is ErrorCode {
  return typeof s === 'string' && Object.hasOwn(ERROR_CODES, s);
}

/** The LLM-API-compatible error object the `/proxy` LLM routes add to any problem (OpenAI's `error`). */
interface LlmErrorObject {
  readonly message: string;
  readonly type: string;
  readonly code: string;
  readonly review_id?: string;
}

/**
 * The extra members each code may carry (they become problem+json members on HTTP). A code absent
 * here carries none of its own; every code may carry `error` (the LLM-compatible body).
 */
interface ExtrasByCode {
  /** `client_aborted`: the client went away; nothing is answered or audited as a refusal. */
  bad_request: { readonly client_aborted?: true };
  /** `retry_after`: seconds (also the `Retry-After` header). */
  too_many_requests: { readonly retry_after?: number };
  /** `status_now`: the review's current status. */
  conflict: { readonly status_now?: string };
  /** `reasons`: the policy reasons; `review_id`: a review that was denied, revoked or cancelled. */
  policy_denied: { readonly reasons?: readonly string[]; readonly review_id?: string };
  /** `review_id`: the pending review to wait for. */
  review_required: { readonly review_id: string };
  /** `allow`: the allowed methods (also the `Allow` header). */
  method_not_allowed: { readonly allow?: readonly string[] };
  /** `errors`: each failed rule, with its JSON path. */
  validation_failed: { readonly errors?: readonly { readonly path: string; readonly message: string }[] };
  /** `errors`: how many problems the configuration has (the first is in the detail). */
  config_invalid: { readonly errors?: number };
  /** `errors`: each problem, with its policy file, line and column. */
  policy_invalid: { readonly errors?: readonly { readonly file: string; readonly line?: number; readonly column?: number; readonly message: string }[] };
  /** `sqlstate`: the SQLSTATE a PostgreSQL upstream refused the session with (never sent to clients as is). */
  upstream_unreachable: { readonly sqlstate?: string };
  /** `reason`: `max_session_bytes` when the session's recording is full (start a new session); absent when the store failed. */
  store_unavailable: { readonly reason?: 'max_session_bytes' };
}

/** Every code may carry the LLM-compatible `error` object. */
interface CommonExtras { readonly error?: LlmErrorObject }

type AllExtras = ExtrasByCode[keyof ExtrasByCode];
type KeysOf<U> = U extends unknown ? keyof U : never;
type ValueOf<U, K extends PropertyKey> = U extends unknown ? (K extends keyof U ? Exclude<U[K], undefined> : never) : never;

/** Every extra member of any code, all optional: what a reader of an error of unknown code may find. */
export type AnyErrorExtras = { readonly [K in KeysOf<AllExtras>]?: ValueOf<AllExtras, K> } & CommonExtras;

/**
 * The extras of code `C`. For one known code, its own members; for the whole union (a code not
 * known statically, e.g. re-thrown), every member optional.
 */
export type ErrorExtras<C extends ErrorCode> = [ErrorCode] extends [C]
  ? AnyErrorExtras
  : (C extends keyof ExtrasByCode ? ExtrasByCode[C] : unknown) & CommonExtras;

/** The optional extras argument: required for a code whose extras have a required member. */
type ExtrasArg<C extends ErrorCode> = object extends ErrorExtras<C> ? [extra?: ErrorExtras<C>, options?: ErrorOptions] : [extra: ErrorExtras<C>, options?: ErrorOptions];

/** An error with a stable code, an HTTP status, and a detail safe to show to the caller. */
export class GatehouseError<C extends ErrorCode = ErrorCode> extends Error {
  readonly code: C;
  readonly status: number;
  readonly detail: string;
  readonly extra: Readonly<ErrorExtras<C>> & AnyErrorExtras;

  constructor(code: C, detail?: string, ...[extra, options]: ExtrasArg<C>) {
    const entry: ErrorEntry = ERROR_CODES[code];
    super(detail ?? entry.title, options);
    this.name = 'GatehouseError';
    this.code = code;
    this.status = entry.status;
    this.detail = detail ?? entry.title;
    this.extra = (extra ?? {}) as Readonly<ErrorExtras<C>> & AnyErrorExtras;
  }
}

/** True when `err` is a GatehouseError, optionally with the given code. */
export function isGatehouseError<C extends ErrorCode = ErrorCode>(err: unknown, code?: C): err is GatehouseError<C> {
  return err instanceof GatehouseError && (code === undefined || err.code === code);
}

/**
 * An internal error class (a protocol's own, thrown and caught inside the gateway) that names the
 * registry code it surfaces as at the protocol edge. Such classes keep their own type for
 * `instanceof`; the edge renders {@link codeOf} the error.
 */
export interface CodedError extends Error {
  readonly code: ErrorCode;
}

/**
 * The registry code of any thrown value: a GatehouseError's or a {@link CodedError}'s own code;
 * anything else (a bug, a Node system error whose `code` is `ECONNRESET` …) is `internal`.
 *
 * @example codeOf(new MaskingError('…')) // 'masking_failed'
 */
export function codeOf(err: unknown): ErrorCode {
  if (err instanceof Error && 'code' in err && isErrorCode(err.code)) return err.code;
  return 'internal';
}

/**
 * The SQLSTATE of `code` on the PostgreSQL wire: the registry's, or `override` when the call site
 * knows a more specific one (e.g. `42601` syntax error for a `bad_request`).
 *
 * @example sqlstateOf('too_many_requests') // '53300'
 */
export function sqlstateOf(code: ErrorCode, override?: Sqlstate): Sqlstate {
  return override ?? ERROR_CODES[code].sqlstate;
}

/** The JSON-RPC error code of `code` on `/mcp`. */
export function jsonRpcCodeOf(code: ErrorCode): JsonRpcCode {
  return ERROR_CODES[code].jsonrpc;
}

/** The exit status an SSH command the gateway ends with `code` gets. */
export function sshExitOf(code: ErrorCode): SshExit {
  return ERROR_CODES[code].sshExit;
}

/** The message of any thrown value, for logs and one-line CLI errors. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
