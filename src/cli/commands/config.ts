import { resolve } from 'node:path';
import { parse, CliError, type Command, type Io } from '../args.ts';
import { findConfigPath } from '../../config/find-config.ts';
import { loadConfig } from '../../config/load.ts';
import { ConfigError, formatConfigErrors } from '../../config/config-error.ts';
import type { GatehouseConfig } from '../../config/types.ts';
import { configWarnings } from '../../config/semantic.ts';

/** Loads the config named by --config / GATEHOUSE_CONFIG / defaults; invalid config → exit 2. */
export function loadCliConfig(flag: string | undefined, io: Io): { config: GatehouseConfig; path: string } {
  const path = flag === undefined ? findConfigPath(io.env, io.cwd) : resolve(io.cwd, flag);
  try {
    return { config: loadConfig({ path, env: io.env }), path };
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err(formatConfigErrors(err));
      throw new CliError(`${path}: configuration is invalid (${err.errors.length} error(s))`, 2, 'config_invalid');
    }
    throw err;
  }
}

export const configValidate: Command = {
  name: 'config validate',
  summary: 'Validate a gatehouse.yaml against the published JSON Schema',
  usage: 'gatehouse config validate [--config gatehouse.yaml] [--json]',
  async run(argv, io) {
    const { values } = parse(argv, { config: { type: 'string' }, json: { type: 'boolean' } });
    const { config, path } = loadCliConfig(values.config, io);
    const warnings = configWarnings(config);
    for (const w of warnings) io.err(`${path}: warning: ${w.path}: ${w.message}`);
    io.out(values.json ? JSON.stringify({ ok: true, config: path, connections: config.connections.length }) : `ok: ${path} is valid (${config.connections.length} connections)`);
    return Promise.resolve(0);
  },
};
