import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CliError, UsageError, type Command, type Io } from './args.ts';
import { start } from './commands/start.ts';
import { configValidate } from './commands/config.ts';
import { policyCheck, policyExplain } from './commands/policy.ts';
import { keysCreate, keysList, keysRevoke } from './commands/keys.ts';
import { reviewsList, reviewsApprove, reviewsDeny, reviewsRevoke } from './commands/reviews.ts';
import { sessionsList, sessionsReplay, sessionsExport, sessionsVerify } from './commands/sessions.ts';
import { login, logout } from './commands/login.ts';
import { isGatehouseError } from '../kernel/errors.ts';
import { PolicyLoadError } from '../policy/engine.ts';

/** Every command, registered explicitly, in the order `--help` lists them. */
export const COMMANDS: readonly Command[] = [
  start, configValidate, policyCheck, policyExplain, keysCreate, keysList, keysRevoke,
  reviewsList, reviewsApprove, reviewsDeny, reviewsRevoke,
  sessionsList, sessionsReplay, sessionsExport, sessionsVerify, login, logout,
];

const VERSION = '0.1.0';

function help(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'gatehouse — zero-trust gateway for AI agents',
    '',
    'Usage: gatehouse <command> [options]     (gatehouse <command> --help for its options)',
    '',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Environment:',
    '  GATEHOUSE_URL     gateway for API commands (default http://127.0.0.1:8080)',
    '  GATEHOUSE_TOKEN   credential for API commands (default: the token saved by gatehouse login, else the local bootstrap admin key file)',
    '  GATEHOUSE_OIDC_ISSUER, GATEHOUSE_OIDC_CLIENT_ID, GATEHOUSE_OIDC_AUDIENCE',
    '                    identity provider for gatehouse login when neither flags nor the config name one',
    '  GATEHOUSE_CONFIG  config file (default ./gatehouse.yaml, else gatehouse.example.yaml)',
    '',
    'Exit codes: 0 ok, 1 failure, 2 invalid usage, configuration or policy.',
  ].join('\n');
}

/** Runs the CLI; returns the exit code. Errors print one line, never a stack trace. */
export async function runCli(argv: readonly string[], io: Io): Promise<number> {
  const args = [...argv];
  if (args.length === 0 || args[0] === '--help' || args[0] === '-h' || args[0] === 'help') {
    io.out(help());
    return args.length === 0 ? 2 : 0;
  }
  if (args[0] === '--version' || args[0] === '-v') {
    io.out(VERSION);
    return 0;
  }
  const two = `${args[0]} ${args[1] ?? ''}`;
  const cmd = COMMANDS.find((c) => c.name === two) ?? COMMANDS.find((c) => c.name === args[0]);
  if (!cmd) {
    const group = COMMANDS.filter((c) => c.name.startsWith(`${args[0]} `));
    io.err(group.length > 0
      ? `gatehouse: "${args[0]}" needs a subcommand: ${group.map((c) => c.name.split(' ')[1]).join(', ')}`
      : `gatehouse: unknown command "${args[0]}" (see gatehouse --help)`);
    return 2;
  }
  const rest = args.slice(cmd.name.split(' ').length);
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(`${cmd.summary}\n\nUsage: ${cmd.usage}`);
    return 0;
  }
  try {
    return await cmd.run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`gatehouse ${cmd.name}: ${err.message}\nUsage: ${cmd.usage}`);
      return 2;
    }
    if (err instanceof CliError) {
      io.err(`gatehouse ${cmd.name}: ${err.message}`);
      return err.exitCode;
    }
    if (err instanceof PolicyLoadError) {
      for (const e of err.errors) io.err(`${e.file}${e.line === undefined ? '' : `:${e.line}:${e.column ?? 1}`}: ${e.message}`);
      io.err(`gatehouse ${cmd.name}: policy set is invalid (${err.errors.length} error(s))`);
      return 2;
    }
    if (isGatehouseError(err)) {
      io.err(`gatehouse ${cmd.name}: ${err.code}: ${err.detail}`);
      return err.code === 'config_invalid' || err.code === 'policy_invalid' ? 2 : 1;
    }
    io.err(`gatehouse ${cmd.name}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
    return 1;
  }
}

const processIo: Io = {
  out: (line) => { process.stdout.write(`${line}\n`); },
  err: (line) => { process.stderr.write(`${line}\n`); },
  env: process.env,
  cwd: process.cwd(),
};

const invoked = process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
if (invoked) {
  process.exitCode = await runCli(process.argv.slice(2), processIo);
}
