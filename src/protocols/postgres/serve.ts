import type { ListenerStart } from '../contract.ts';
import type { PostgresDeps } from './deps.ts';
import { PostgresListener } from './listener.ts';
import type { PostgresServerConfig } from './protocol.ts';

/**
 * Starts the PostgreSQL listener declared in protocol.ts (`server.postgres`): cleartext
 * passwords are accepted without TLS only on a loopback address or with `allow_insecure_auth`.
 *
 * @example const pg = await startPostgresListener(services, { host: '127.0.0.1', port: 0, loopback: true }, config.server.postgres);
 */
export const startPostgresListener: ListenerStart<PostgresDeps, PostgresServerConfig> = async (deps, at, config) => {
  const listener = new PostgresListener(deps, {
    host: at.host, port: at.port, ...(at.tls ? { tls: at.tls } : {}),
    insecureAuthOk: at.loopback || config.allow_insecure_auth,
    startupTimeoutMs: config.startup_timeout_ms,
    messageTimeoutMs: config.message_timeout_ms,
    maxMessage: config.max_message_size_bytes,
    safeFunctions: config.safe_functions,
  });
  const address = await listener.start();
  return { address, close: () => listener.close() };
};
