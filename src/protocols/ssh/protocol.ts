/**
 * The SSH protocol's declaration (see src/protocols/contract.ts): the `ssh` connection type
 * (pinned upstream host key), the shell actions, `context.shell` and the listener
 * (`server.ssh`, started by runtime.ts only when an ssh connection exists or `enabled`). Pure data.
 */
import { defineProtocol, factsDecl, listenerDecl } from '../contract.ts';
import { bool, duration, listen, path, str } from '../../kernel/json-schema.ts';
import { SHELL_ACTIONS, SHELL_CEDAR_TYPE, SHELL_FACTS_DOC, type ShellContext } from './facts.ts';

/** `server.ssh` after load: durations in milliseconds (config/numbers.ts). */
export interface SshServerConfig {
  readonly listen: string;
  readonly enabled: boolean;
  readonly auth_timeout_ms: number;
  /** An OpenSSH private key file (absolute after load); absent: the key kept in the state directory. */
  readonly host_key?: string;
}

/** The SSH protocol module. */
export const sshProtocol = defineProtocol({
  name: 'ssh',
  recording: 'ssh',
  connectionTypes: [{
    type: 'ssh',
    summary: 'a host reached over SSH (ssh -p 2222 <connection>@gateway); commands are decided one by one',
    actions: ['shell.exec', 'shell.interactive', 'shell.transfer'],
    urlSchemes: ['ssh'],
    mcpTool: 'run_command',
    urlPattern: '^ssh://[^@/:]+@[^@/]+(:[0-9]{1,5})?/?$',
    credentials: {
      password: { description: 'SSH password.' },
      private_key: { description: 'ssh: the OpenSSH or PEM private key Gatehouse logs in with upstream (usually "${file:path}").' },
      passphrase: { description: 'ssh: passphrase of an encrypted private_key.' },
    },
    fields: {
      host_key: str('ssh connections (required): the upstream server\'s public host key, as in known_hosts or ssh-keyscan output without the host name ("ssh-ed25519 AAAA…"). A server presenting another key is refused; nothing is trusted on first use.', { pattern: '^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521|rsa-sha2-256|rsa-sha2-512) [A-Za-z0-9+/]+={0,2}( .*)?$', maxLength: 16384 }),
    },
    required: ['host_key'],
  }],
  actions: SHELL_ACTIONS,
  facts: {
    shell: factsDecl<ShellContext>({
      doc: SHELL_FACTS_DOC,
      cedarType: SHELL_CEDAR_TYPE,
      toContext: (f) => Object.fromEntries(Object.entries(f).map(([k, v]) => [k, typeof v === 'boolean' ? v : [...v]])),
    }),
  },
  listener: listenerDecl<SshServerConfig>({
    description: 'SSH listener (clients run commands on ssh connections: ssh -p 2222 <connection>@gateway). It starts when a connection in this file has type ssh, or with enabled: true (for ssh connections created through the API). SSH is its own transport: server.tls does not apply; the host key is generated once and kept in the store directory (ssh_host_ed25519_key), unless host_key names one.',
    config: {
      listen: listen('Address the SSH listener binds.', '127.0.0.1:2222'),
      host_key: path('The listener\'s host key: an OpenSSH private key file (e.g. ssh-keygen -t ed25519), relative to this file, read at start and never written. Give every replica the same file (a Kubernetes Secret) so that clients see one host key whichever replica they reach. Default: generated once in the store directory.', { minLength: 1 }),
      enabled: bool('Start the SSH listener even when no connection in this file has type ssh.', false),
      auth_timeout: duration('Time a client has to authenticate before it is disconnected.', '30s'),
    },
    load: (section) => section as unknown as SshServerConfig,
    wanted: (section, connectionTypes) => section.enabled || connectionTypes.has('ssh'),
    ownTransport: true,
  }),
  principalLimits: {
    ssh_sessions: { surface: 'ssh', description: 'Concurrent SSH client connections (each holds its own upstream SSH connection); beyond it the client is told why on stderr (exit 126) and disconnected.', default: 16 },
  },
  runtime: () => import('./runtime.ts'),
});
