import { GatehouseError } from '../kernel/errors.ts';

/**
 * One problem in a configuration file.
 * `path` is a JSON Pointer into the document (`/connections/0/type`; `""` for the whole file or a
 * YAML syntax error). `line` is 1-based, when the YAML source locates it. Messages never contain
 * a configured value (they may contain key names, variable names and file paths).
 */
export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
  readonly line?: number;
}

/**
 * Thrown by `loadConfig` with every problem found (code `config_invalid`).
 *
 * @example
 *   try { loadConfig({ path }) } catch (e) { if (e instanceof ConfigError) console.error(formatConfigErrors(e)); }
 */
export class ConfigError extends GatehouseError {
  readonly errors: readonly ConfigIssue[];
  /** The config file, when loaded from a path. */
  readonly file: string | undefined;

  constructor(errors: readonly ConfigIssue[], file?: string) {
    const first = errors[0];
    const summary = first === undefined ? 'invalid configuration'
      : `${errors.length} configuration error${errors.length === 1 ? '' : 's'}; first: ${first.path === '' ? '' : `${first.path}: `}${first.message}`;
    super('config_invalid', summary, { errors: errors.length });
    this.name = 'ConfigError';
    this.errors = Object.freeze([...errors]);
    this.file = file;
  }
}

/**
 * One line per error: `<file>:<line>: <path>: <message>` (file defaults to `gatehouse.yaml`,
 * `:<line>` omitted when unknown, `<path>: ` omitted for whole-file errors).
 *
 * @example formatConfigErrors(e) === 'gatehouse.yaml:12: /connections/0/type: must be one of llm, http, postgres, mcp'
 */
export function formatConfigErrors(err: ConfigError): string {
  const file = err.file ?? 'gatehouse.yaml';
  return err.errors
    .map((e) => `${file}${e.line === undefined ? '' : `:${e.line}`}: ${e.path === '' ? '' : `${e.path}: `}${e.message}`)
    .join('\n');
}
