import { parse, type Command } from '../args.ts';
import { loadCliConfig } from './config.ts';
import { configWarnings } from '../../config/semantic.ts';
import { startGateway } from '../../app/gateway.ts';
import { watchPolicies } from '../../policy/watch.ts';
import type { ReloadResult } from '../../policy/engine.ts';

export const start: Command = {
  name: 'start',
  summary: 'Start the gateway',
  usage: 'gatehouse start [--config gatehouse.yaml]\n  Policies reload when their files change or on SIGHUP (the last good set is kept on error); SIGINT/SIGTERM stop gracefully.',
  async run(argv, io) {
    const { values } = parse(argv, { config: { type: 'string' } });
    const { config, path } = loadCliConfig(values.config, io);
    const gw = await startGateway(config, { configPath: path });
    const { log, policy, clock } = gw.services;
    for (const w of configWarnings(config)) log.warn({ path: w.path }, w.message);
    if (gw.adminKeyCreated) {
      io.err(`gatehouse: bootstrap admin key written to ${gw.adminKeyPath ?? '?'} (mode 0600; user "${config.identity.bootstrap.admin_user}", group "${config.identity.bootstrap.admin_group}")`);
    }
    io.err(`gatehouse: listening on ${gw.http.url} (config ${path})`);
    const report = (r: ReloadResult): void => {
      if (r.ok) log.info({ policies: r.count }, 'policies reloaded');
      else log.error({ errors: r.errors }, 'policy reload failed; keeping the last good set');
    };
    const watcher = watchPolicies(policy, report, { clock });
    process.on('SIGHUP', () => { report(policy.reload()); });
    await new Promise<void>((resolve) => {
      const stop = (signal: string): void => {
        log.info({ signal }, 'shutting down');
        watcher.close();
        gw.close().then(resolve, resolve);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    return 0;
  },
};
