/**
 * The SSH protocol's runtime (see `ProtocolRuntime` in src/protocols/contract.ts), loaded by the
 * composition root through the declaration in protocol.ts: the listener, and the command runner
 * MCP's run_command uses for ssh connections. The SSH library (ssh2, ~2.5 MB of heap and ~16 MB
 * resident) is loaded only when the listener starts or a command first runs on an ssh connection.
 */
import type { ListenerStart } from '../contract.ts';
import type { MaskingRules } from '../../masking/rules.ts';
import type { ShellCommandRunner } from '../../shell/runner.ts';
import { offLoopShellInspector } from '../../shell/inspector.ts';
import type { Clock } from '../../kernel/clock.ts';
import { lazyRetrying } from '../../kernel/lazy.ts';
import type { SshDeps } from './deps.ts';
import type { SshServerConfig } from './protocol.ts';

/**
 * Starts the SSH listener (`server.ssh`): loads the host key (`server.ssh.host_key`, or the one
 * kept in the state directory), the shell inspector, and binds. SSH is its own encrypted
 * transport (`ownTransport`), so `server.tls` does not apply and a non-loopback address needs no
 * TLS. Its `info` carries the gateway's public host key (`hostKey`, "ssh-ed25519 AAAA…").
 *
 * @example const ssh = await startListener(services, { host: '127.0.0.1', port: 0, loopback: true }, config.server.ssh, { stateDir });
 */
export const startListener: ListenerStart<SshDeps, SshServerConfig> = async (deps, at, config, env) => {
  const [{ loadHostKeyFile, loadOrCreateHostKey }, { SshListener }] = await Promise.all([import('./host-key.ts'), import('./listener.ts')]);
  const key = config.host_key === undefined ? loadOrCreateHostKey(env.stateDir) : loadHostKeyFile(config.host_key);
  const inspect = await offLoopShellInspector(deps.inspection);
  const listener = new SshListener(deps, {
    host: at.host, port: at.port, hostKey: key.pem, inspect,
    authTimeoutMs: config.auth_timeout_ms,
    upstreamTimeoutMs: 10_000,
  });
  const address = await listener.start();
  return { address, info: { hostKey: key.publicKey }, close: () => listener.close() };
};

/** The command runner of ssh connections (MCP's run_command), loaded on its first command. */
export function shellRunner(deps: { readonly masking: Pick<MaskingRules, 'textMasker'>; readonly clock: Clock }): ShellCommandRunner {
  const runner = lazyRetrying(async () => new (await import('./command-runner.ts')).SshCommandRunner(deps));
  return { run: async (conn, command, limits) => (await runner()).run(conn, command, limits) };
}
