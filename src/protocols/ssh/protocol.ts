/**
 * The SSH protocol's declaration (see src/protocols/contract.ts): the `ssh` connection type
 * (pinned upstream host key), the shell actions and `context.shell`. Pure data. Its listener
 * (`server.ssh`) is still started by the gateway itself (app/gateway.ts, start.ts): it needs the
 * state directory and runs only when an ssh connection exists.
 */
import { defineProtocol, factsDecl } from '../contract.ts';
import { str } from '../../kernel/json-schema.ts';
import { SHELL_ACTIONS, SHELL_CEDAR_TYPE, SHELL_FACTS_DOC, type ShellContext } from './facts.ts';

/** The SSH protocol module. */
export const sshProtocol = defineProtocol({
  name: 'ssh',
  recording: 'ssh',
  connectionTypes: [{
    type: 'ssh',
    summary: 'a host reached over SSH (ssh -p 2222 <connection>@gateway); commands are decided one by one',
    actions: ['shell.exec', 'shell.interactive', 'shell.transfer'],
    urlSchemes: ['ssh'],
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
});
