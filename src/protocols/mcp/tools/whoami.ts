import { z } from 'zod';
import { envelope } from '../results.ts';
import { defineTool } from '../tool-runner.ts';

const output = envelope({
  kind: z.enum(['user', 'agent']),
  user: z.string().describe('The principal: a user, or an agent acting on its own'),
  groups: z.array(z.string()),
  agent: z.object({ id: z.string(), groups: z.array(z.string()) }).optional().describe('The agent acting for the user, if any'),
  via: z.enum(['api_key', 'gatehouse_jwt', 'oidc', 'saml']).describe('How the credential was verified'),
  session: z.string().describe('The recording session these calls belong to'),
});

/** `whoami`: the caller as policy sees it. */
export const whoamiTool = defineTool({
  name: 'whoami',
  title: 'Who am I',
  description: 'Tells who the gateway thinks you are: your user (or agent) name, your groups, the agent acting for the user if any, '
    + 'how your credential was verified, and the recording session of your calls. Use it first when an action is denied, to see which identity policy evaluated.',
  input: z.object({}),
  output,
  annotations: { readOnlyHint: true, openWorldHint: false },
  run: (env) => {
    const p = env.caller.principal;
    const data = {
      kind: p.kind, user: p.id, groups: [...p.groups], via: p.via, session: env.session.id,
      ...(p.agent ? { agent: { id: p.agent.id, groups: [...p.agent.groups] } } : {}),
    };
    const who = p.agent ? `${p.kind} ${p.id} (agent ${p.agent.id} acting for them)` : `${p.kind} ${p.id}`;
    return Promise.resolve({ kind: 'ok', data, text: `${who}; groups: ${p.groups.join(', ') || '(none)'}; via ${p.via}; session ${env.session.id}` });
  },
});
