import { isGatehouseError } from '../../kernel/errors.ts';

/** Upstream SQLSTATEs worth naming to the client, with what they mean for a Gatehouse user. */
const SQLSTATE_REASONS: Readonly<Record<string, string>> = {
  '28P01': 'the database rejected the credentials of this connection',
  '28000': 'the database does not accept the role of this connection',
  '3D000': 'the database named in the connection URL does not exist',
  '53300': 'the database has too many connections',
  '57P03': 'the database is starting up or shutting down',
};

/**
 * Why the upstream of a PostgreSQL connection could not be reached, in words a client can act on
 * (refused, unresolvable, timed out, credentials rejected …). It names no host, port, role or
 * secret: the gateway log has the details. Used in the `08006` error the client receives instead of
 * a bare "could not connect".
 *
 * @example upstreamFailureReason(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))
 *   // 'the database refused the connection (is it running, and is the connection URL right?)'
 */
export function upstreamFailureReason(err: unknown): string {
  const sqlstate = isGatehouseError(err) ? err.extra.sqlstate : undefined;
  if (typeof sqlstate === 'string' && /^[0-9A-Z]{5}$/.test(sqlstate)) {
    return `${SQLSTATE_REASONS[sqlstate] ?? (sqlstate.startsWith('28') ? 'the database rejected the authentication of this connection' : 'the database refused the session')} (SQLSTATE ${sqlstate})`;
  }
  const codes = new Set<string>();
  const texts: string[] = [];
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') codes.add(code);
    texts.push(e.message);
  }
  const text = texts.join(' ');
  if (codes.has('ECONNREFUSED') || /ECONNREFUSED/.test(text)) return 'the database refused the connection (is it running, and is the connection URL right?)';
  if (codes.has('ENOTFOUND') || codes.has('EAI_AGAIN') || /ENOTFOUND|EAI_AGAIN/.test(text)) return 'the database host name does not resolve';
  if (/timed out|ETIMEDOUT/.test(text)) return 'connecting to the database timed out';
  if (/EHOSTUNREACH|ENETUNREACH/.test(text)) return 'the database host is unreachable';
  if (/ECONNRESET|EPIPE|closed/i.test(text)) return 'the database closed the connection';
  if (/TLS|SSL|certificate/i.test(text)) return 'TLS with the database failed (see sslmode in the connection URL)';
  if (/asks for a password/.test(text)) return 'the database asks for a password and the connection has none (credentials.password)';
  if (/authentication method|SASL/.test(text)) return 'the database asks for an authentication method Gatehouse does not support';
  return 'see the gateway log for the reason';
}
