import { REGISTRY, type ProtocolSet } from '../protocols/registry.ts';

/*
 * The Cedar schema, derived from the protocol registry: the gateway's own part (entities, the
 * context every request carries, the review and admin actions) is written here; each registered
 * protocol adds its context records (`context.sql`) and its actions. Published as
 * src/policy/schema.cedarschema by scripts/gen-cedar-schema.ts (a test keeps it in sync).
 */

const HEAD = `// Gatehouse Cedar schema (no namespace). Every policy file is validated against it at load
// (\`gatehouse policy check\`); requests are validated against it before each decision.
// Generated from the protocol registry (src/protocols/registry.ts) by scripts/gen-cedar-schema.ts:
// edit the protocols' declarations or src/policy/cedar-schema.ts, not this file.
//
// The entities of a request are built by the gateway: the principal (User or Agent) with its
// groups as parents, the acting agent (when an agent acts for a user) with its groups, the
// Group entities, and the resource: a Connection, or Gateway::"gatehouse" for \`admin\`.

// A group of users and agents, from the credential (API key groups, JWT groups claim).
entity Group;

// A human or service account. For an agent acting for a user, the user is the principal and
// the agent is described in \`context.agent\`.
entity User in [Group];

// An AI agent acting on its own behalf (its own API key or client-credentials token).
entity Agent in [Group];
`;

const CONTEXT_HEAD = `// The request context, shared by every action. Optional records are present only when the
// protocol extracted those facts: test with \`context has sql && context.sql...\`.
type Context = {
  // The agent acting for the user principal (token exchange: \`act.sub\`), with its groups.
  agent?: {
    id: String,
    groups: Set<String>,
  },
  // How the credential was verified: "api_key" | "gatehouse_jwt" | "oidc".
  via: String,
  // Evaluation time, UTC. Like every context value, each attribute is sent to Cedar only when
  // some loaded policy (or review condition) reads it: decisions are cached by exactly what
  // Cedar sees, so \`epoch\`, read by no shipped policy, does not make every request unique.
  time: {
    // Hour of the day, 0..23.
    hour: Long,
    // Day of the week, 0 = Sunday .. 6 = Saturday.
    weekday: Long,
    // Seconds since the Unix epoch.
    epoch: Long,
  },
`;

const SESSION = `// A recorded session (the resource of \`session.view\`). A session is \`in\` the user it was
// recorded under: \`resource in principal\` holds for one's own sessions.
entity Session in [User] = {
  // The user it was recorded under (absent for an agent acting on its own).
  owner?: String,
  // The agent that acted, if any.
  agent?: String,
  // The connection it used (absent when it used none, e.g. an MCP session's tool list).
  connection?: String,
  // The protocol: "postgres" | "http" | "llm" | "mcp" | "ssh".
  protocol: String,
};
`;

const SESSION_VIEW = `// Seeing a recorded session: listing it, its events, verification and export (admin API and
// console). The built-in policy permits it to the admin group (every session) and to a session's
// owner (its own); a reviewer is not an auditor unless a policy says so.
action "session.view" appliesTo {
  principal: [User, Agent],
  resource: [Session],
  context: Context,
};
`;

const ADMIN = `// Administering the gateway (admin API, key management, policy explain).
action "admin" appliesTo {
  principal: [User, Agent],
  resource: [Gateway],
  context: Context,
};
`;

const comment = (text: string, indent = ''): string => text.split('\n').map((l) => `${indent}// ${l}`).join('\n');

/**
 * The Cedar schema text (human format) for the protocols of `set`.
 *
 * @example cedar.checkParseSchema(cedarSchemaFor()) // { type: 'success' }
 */
export function cedarSchemaFor(set: ProtocolSet = REGISTRY): string {
  const types = set.connectionTypes.map((t) => `"${t}"`).join(' | ');
  // Each connection type's declared attributes (`provider` of llm): optional, absent on other types.
  const attributes = set.resourceAttributes.map((a) => `${comment(`For ${a.type} connections: ${a.doc}`, '  ')}\n  ${a.name}?: String,\n`).join('');
  const connection = `// A configured upstream, reached through one of the registered protocols.
entity Connection = {
  // The connection name from the configuration (e.g. "crm", "openai").
  name: String,
  // The connection type: ${types}.
  type: String,
${attributes}  // Free-form labels from the configuration (e.g. "prod", "pii").
  tags: Set<String>,
};

// The gateway itself: the resource of the \`admin\` action (and of actions that may name no
// connection, such as \`mcp.call\`). Only Gateway::"gatehouse" exists.
entity Gateway;

${SESSION}`;
  const records = set.facts.map(([key, d]) => `${comment(d.doc, '  ')}\n  ${key}?: ${d.cedarType},\n`).join('');
  const onConnection = set.actions.filter((a) => a.doc === undefined && a.resources.length === 1 && a.resources[0] === 'Connection');
  const dataPlane = [...onConnection.map((a) => `"${a.name}"`), '"review.approve"'];
  const lines: string[] = [];
  for (let i = 0; i < dataPlane.length; i += 6) lines.push(dataPlane.slice(i, i + 6).join(', '));
  const own = set.actions.filter((a) => !onConnection.includes(a)).map((a) => `${comment(a.doc ?? `The ${a.name} action.`)}
action "${a.name}" appliesTo {
  principal: [User, Agent],
  resource: [${a.resources.join(', ')}],
  context: Context,
};
`).join('\n');
  return `${HEAD}
${connection}
${CONTEXT_HEAD}${records}};

// Data-plane actions on a connection, and approving reviews of requests on a connection.
action ${lines.join(',\n       ')} appliesTo {
  principal: [User, Agent],
  resource: [Connection],
  context: Context,
};

${own}${own === '' ? '' : '\n'}${SESSION_VIEW}
${ADMIN}`;
}

/** Context attributes that are optional in the schema (review conditions get `context has x &&` guards). */
export function optionalContext(set: ProtocolSet = REGISTRY): ReadonlySet<string> {
  return new Set(['agent', ...set.facts.map(([key]) => key)]);
}
