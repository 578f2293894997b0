import type { GatehouseConfig } from '../../config/types.ts';
import { ms } from '../../config/types.ts';
import type { SshDeps } from './deps.ts';
import { loadHostKeyFile, loadOrCreateHostKey } from './host-key.ts';
import { shellInspector } from '../../shell/inspector.ts';
import { SshListener } from './listener.ts';

/** Whether the SSH listener runs: an ssh connection in the config file, or `server.ssh.enabled`. */
export function sshListenerWanted(config: GatehouseConfig): boolean {
  return config.server.ssh.enabled || config.connections.some((c) => c.type === 'ssh');
}

/**
 * Starts the SSH listener (`server.ssh`): loads the host key (`server.ssh.host_key`, or the one
 * kept in `stateDir`), the shell inspector, and binds. SSH is its own encrypted transport, so
 * `server.tls` does not apply and a non-loopback address needs no TLS. Resolves with the bound address and a close function.
 *
 * @example const ssh = await startSshListener(services, config, stateDir, { host: '127.0.0.1', port: 0 });
 */
export async function startSshListener(
  deps: SshDeps, config: GatehouseConfig, stateDir: string, at: { host: string; port: number },
): Promise<{ host: string; port: number; hostKey: string; close: () => Promise<void> }> {
  const file = config.server.ssh.host_key;
  const key = file === undefined ? loadOrCreateHostKey(stateDir) : loadHostKeyFile(file);
  const inspect = await shellInspector();
  const listener = new SshListener(deps, {
    host: at.host, port: at.port, hostKey: key.pem, inspect,
    authTimeoutMs: ms(config.server.ssh.auth_timeout),
    upstreamTimeoutMs: 10_000,
  });
  const bound = await listener.start();
  return { ...bound, hostKey: key.publicKey, close: () => listener.close() };
}
