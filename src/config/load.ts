import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError, type ConfigIssue } from './config-error.ts';
import { finalizeConfig } from './finalize.ts';
import { unitIssues } from './numbers.ts';
import { CONFIG_SCHEMA } from './schema.ts';
import { interpolateTree } from './interpolate.ts';
import { protectExpressions } from './placeholders.ts';
import { checkAfterDefaults, checkBeforeDefaults } from './semantic.ts';
import type { GatehouseConfig } from './types.ts';
import { fromPointer, validateAgainstSchema, type Locate } from './validate.ts';
import { parseYaml } from './yaml-source.ts';

export { ConfigError, formatConfigErrors, type ConfigIssue } from './config-error.ts';

/** Largest configuration file read. */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

export interface LoadConfigOptions {
  /** The YAML file. Relative paths inside it resolve against its directory. */
  readonly path?: string;
  /** YAML text to use instead of reading `path` (`path` then only names the file in errors). */
  readonly text?: string;
  /** Variables for `${VAR}`; default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Directory for relative paths; default the file's directory, else the working directory. */
  readonly baseDir?: string;
}

/**
 * Loads `gatehouse.yaml`: parse (duplicate keys rejected; `${…}` set aside first so it may appear
 * unquoted, even in flow maps) → interpolate `${…}` in string values →
 * validate against CONFIG_SCHEMA with defaults → semantic checks → durations and sizes to
 * milliseconds and bytes (`session_idle: 15m` → `session_idle_ms: 900000`, see numbers.ts) →
 * resolve relative paths → wrap secrets in `Secret` → deep-freeze. Throws `ConfigError` listing every problem (JSON-Pointer
 * paths, lines when known). An empty document yields all defaults.
 *
 * @example
 *   const config = loadConfig({ path: 'gatehouse.yaml' });
 *   config.connections[0]?.credentials.api_key?.reveal();
 */
export function loadConfig(opts: LoadConfigOptions = {}): GatehouseConfig {
  const file = opts.path;
  const text = opts.text ?? (file === undefined ? '' : readConfigFile(file));
  const baseDir = resolve(opts.baseDir ?? (file === undefined ? process.cwd() : dirname(resolve(file))));

  const expressions = protectExpressions(text);
  const source = parseYaml(expressions.text);
  if (source.value === undefined) throw new ConfigError(source.issues, file);

  const interpolationIssues: ConfigIssue[] = [];
  const doc = interpolateTree(source.value, { env: opts.env ?? process.env, baseDir }, interpolationIssues, expressions.restore);
  const before = checkBeforeDefaults(doc, source.locate);
  // A value whose interpolation failed is "" now; do not also report what the schema thinks of it.
  const failed = new Set(interpolationIssues.map((i) => i.path));
  const schema = validateAgainstSchema(doc, source.locate).filter((i) => !failed.has(i.path));
  const after = [...checkAfterDefaults(doc, source.locate), ...unitIssues(doc, CONFIG_SCHEMA, source.locate)];

  const issues = [...interpolationIssues.map((i) => withLine(i, source.locate)), ...before, ...schema, ...after];
  if (issues.length > 0) throw new ConfigError(sortByLine(issues), file);
  return finalizeConfig(doc as Record<string, unknown>, baseDir);
}

function readConfigFile(file: string): string {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw new ConfigError([{ path: '', message: `cannot read the configuration file (${codeOf(err)})` }], file);
  }
  try {
    const size = fstatSync(fd).size;
    if (size > MAX_CONFIG_BYTES) throw new ConfigError([{ path: '', message: `file is larger than ${MAX_CONFIG_BYTES} bytes` }], file);
    const buf = Buffer.alloc(size);
    let off = 0;
    while (off < size) {
      const n = readSync(fd, buf, off, size - off, off);
      if (n === 0) break;
      off += n;
    }
    return buf.toString('utf8', 0, off);
  } finally {
    closeSync(fd);
  }
}

function codeOf(err: unknown): string {
  return err !== null && typeof err === 'object' && 'code' in err ? String(err.code) : 'unreadable';
}

function withLine(i: ConfigIssue, locate: Locate): ConfigIssue {
  const line = locate(fromPointer(i.path));
  return line === undefined ? i : { ...i, line };
}

function sortByLine(issues: ConfigIssue[]): ConfigIssue[] {
  return issues
    .map((issue, n) => ({ issue, n }))
    .sort((a, b) => (a.issue.line ?? Infinity) - (b.issue.line ?? Infinity) || a.n - b.n)
    .map((x) => x.issue);
}
