import { csv, parse, CliError, UsageError, type Command } from '../args.ts';
import { ApiClient } from '../client.ts';
import type { PolicyEngine } from '../../policy/engine.ts';
import { table } from '../table.ts';

export const policyCheck: Command = {
  name: 'policy check',
  summary: 'Validate the Cedar policies of the configuration against the schema',
  usage: 'gatehouse policy check [--config gatehouse.yaml] [--json]',
  async run(argv, io) {
    const { values } = parse(argv, { config: { type: 'string' }, json: { type: 'boolean' } });
    // Loaded here, not at the top: `policy explain` (an API command) needs none of them.
    const [{ loadCliConfig }, { PolicyEngine, PolicyLoadError }, { ReviewRules }] = await Promise.all([
      import('./config.ts'), import('../../policy/engine.ts'), import('../../policy/review-rules.ts'),
    ]);
    const { config, path } = loadCliConfig(values.config, io);
    let engine: PolicyEngine;
    try {
      engine = PolicyEngine.fromFiles(config.policies.files, { adminGroup: config.identity.bootstrap.admin_group });
      new ReviewRules(config.reviews.rules);
    } catch (err) {
      if (err instanceof PolicyLoadError) {
        for (const e of err.errors) io.err(`${e.file}${e.line === undefined ? '' : `:${e.line}:${e.column ?? 1}`}: ${e.message}`);
        throw new CliError(`policy check failed: ${err.errors.length} error(s)`, 2, 'policy_invalid');
      }
      throw err;
    }
    const policies = engine.policies();
    if (values.json) {
      io.out(JSON.stringify({ ok: true, config: path, policies }));
      return 0;
    }
    io.out(table(['ID', 'EFFECT', 'FILE'], policies.map((p) => [p.id, p.effect, p.builtin ? '(built-in)' : p.file])));
    io.out(`ok: ${policies.length} policies valid against the Gatehouse Cedar schema`);
    return 0;
  },
};

interface Explanation { effect: string; reasons: string[]; action?: string; actions?: string[]; errors?: string[]; review_rule?: string | null; policies?: { id: string; file?: string; text?: string }[] }

export const policyExplain: Command = {
  name: 'policy explain',
  summary: 'Show the decision for a request and the policies that produced it',
  usage: 'gatehouse policy explain --principal <user> [--groups a,b] [--agent <name>] [--agent-groups a,b] --action <action> [--connection <name>] [--sql "…"] [--json]\n'
    + '  With --sql the statement decides the SQL actions, as on the data path (DELETE is sql.write); --action may then be left out.',
  async run(argv, io) {
    const { values } = parse(argv, {
      principal: { type: 'string' }, groups: { type: 'string' }, agent: { type: 'string' }, 'agent-groups': { type: 'string' },
      action: { type: 'string' }, connection: { type: 'string' }, sql: { type: 'string' }, json: { type: 'boolean' },
    });
    if (values.principal === undefined) throw new UsageError('--principal is required');
    if (values.action === undefined && values.sql === undefined) throw new UsageError('--action is required (or --sql)');
    const out = await ApiClient.fromEnv(io).request<Explanation>('POST', '/api/v1/policy/explain', {
      principal: values.principal, groups: csv(values.groups), agent: values.agent, agent_groups: csv(values['agent-groups']),
      action: values.action, connection: values.connection, sql: values.sql,
    });
    if (values.json) {
      io.out(JSON.stringify(out));
      return 0;
    }
    io.out(`decision: ${out.effect.toUpperCase()}`);
    io.out(`reasons:  ${out.reasons.join(', ') || '(none)'}`);
    const derived = out.actions ?? [];
    if (values.sql !== undefined && derived.length > 0 && (values.action === undefined || derived.join() !== values.action)) {
      io.out(`actions:  ${derived.join(', ')} (from --sql${values.action !== undefined && !derived.includes(values.action) ? `; not ${values.action}` : ''})`);
    }
    if (out.review_rule) io.out(`review:   rule "${out.review_rule}" requires approval first`);
    for (const e of out.errors ?? []) io.out(`error:    ${e}`);
    for (const p of out.policies ?? []) {
      io.out(`\n# ${p.id}${p.file ? ` (${p.file})` : ''}`);
      if (p.text) io.out(p.text.trim());
    }
    return 0;
  },
};
