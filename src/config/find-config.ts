import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The example configuration shipped at the package root (used by `npm start`). */
export const EXAMPLE_CONFIG_PATH = fileURLToPath(new URL('../../gatehouse.example.yaml', import.meta.url));

/**
 * Which configuration file to use when `--config` is not given: `GATEHOUSE_CONFIG` (relative to
 * `cwd`), else `./gatehouse.yaml` if it exists, else the shipped `gatehouse.example.yaml`.
 *
 * @example findConfigPath(process.env, process.cwd()) // '/srv/gatehouse.yaml'
 */
export function findConfigPath(env: Readonly<Record<string, string | undefined>>, cwd: string): string {
  const explicit = env.GATEHOUSE_CONFIG;
  if (explicit !== undefined && explicit !== '') return resolve(cwd, explicit);
  const local = resolve(cwd, 'gatehouse.yaml');
  return existsSync(local) ? local : EXAMPLE_CONFIG_PATH;
}
