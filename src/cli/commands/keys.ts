import { csv, parse, UsageError, type Command } from '../args.ts';
import { ApiClient } from '../client.ts';
import { table } from '../table.ts';

interface KeyRecord { id: string; user?: string; agent?: string; groups: string[]; agentGroups?: string[]; createdAt: string; expiresAt?: string; revokedAt?: string; description?: string }

export const keysCreate: Command = {
  name: 'keys create',
  summary: 'Create an API key (printed once)',
  usage: 'gatehouse keys create --user <name> [--agent <name>] [--groups a,b] [--agent-groups a,b] [--expires 24h] [--description text] [--json]\n  With only --agent, the key is an agent acting on its own; with both, the agent acts for the user.',
  async run(argv, io) {
    const { values } = parse(argv, {
      user: { type: 'string' }, agent: { type: 'string' }, groups: { type: 'string' }, 'agent-groups': { type: 'string' },
      expires: { type: 'string' }, description: { type: 'string' }, json: { type: 'boolean' },
    });
    if (values.user === undefined && values.agent === undefined) throw new UsageError('--user or --agent is required');
    const created = await ApiClient.fromEnv(io).request<KeyRecord & { key: string }>('POST', '/api/v1/api-keys', {
      user: values.user, agent: values.agent, groups: csv(values.groups), agent_groups: csv(values['agent-groups']),
      expires: values.expires, description: values.description,
    });
    if (values.json) {
      io.out(JSON.stringify({ key: created.key, id: created.id }));
    } else {
      io.out(created.key);
      io.err(`created key ${created.id} for ${describe(created)}; it is shown only once`);
    }
    return 0;
  },
};

export const keysList: Command = {
  name: 'keys list',
  summary: 'List API keys (never their values)',
  usage: 'gatehouse keys list [--json]',
  async run(argv, io) {
    const { values } = parse(argv, { json: { type: 'boolean' } });
    const { items } = await ApiClient.fromEnv(io).request<{ items: KeyRecord[] }>('GET', '/api/v1/api-keys');
    if (values.json) {
      io.out(JSON.stringify(items));
      return 0;
    }
    io.out(table(['ID', 'PRINCIPAL', 'GROUPS', 'CREATED', 'EXPIRES', 'STATUS'], items.map((k) => [
      k.id, describe(k), k.groups.join(','), k.createdAt, k.expiresAt ?? '-', k.revokedAt ? 'revoked' : 'active',
    ])));
    return 0;
  },
};

export const keysRevoke: Command = {
  name: 'keys revoke',
  summary: 'Revoke an API key (effective at once)',
  usage: 'gatehouse keys revoke <id> [--json]',
  async run(argv, io) {
    const { values, positionals } = parse(argv, { json: { type: 'boolean' } });
    const id = positionals[0];
    if (id === undefined || positionals.length > 1) throw new UsageError('give exactly one key id');
    const out = await ApiClient.fromEnv(io).request<{ id: string }>('DELETE', `/api/v1/api-keys/${encodeURIComponent(id)}`);
    io.out(values.json ? JSON.stringify(out) : `revoked ${out.id}`);
    return 0;
  },
};

function describe(k: { user?: string; agent?: string }): string {
  if (k.user && k.agent) return `user ${k.user} via agent ${k.agent}`;
  return k.user ? `user ${k.user}` : `agent ${k.agent ?? '?'}`;
}
