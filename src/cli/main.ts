import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CliError, UsageError, type Io } from './args.ts';
import { COMMANDS } from './registry.ts';
import { isGatehouseError } from '../kernel/errors.ts';

export { COMMANDS } from './registry.ts';

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
  let usage = '';
  try {
    const command = await cmd.load();
    usage = command.usage;
    if (rest.includes('--help') || rest.includes('-h')) {
      io.out(`${command.summary}\n\nUsage: ${command.usage}`);
      return 0;
    }
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`gatehouse ${cmd.name}: ${err.message}\nUsage: ${usage}`);
      return 2;
    }
    if (err instanceof CliError) {
      io.err(`gatehouse ${cmd.name}: ${err.message}`);
      return err.exitCode;
    }
    if (isPolicyLoadError(err)) {
      for (const e of err.errors) io.err(`${e.file}${e.line === undefined ? '' : `:${e.line}:${e.column ?? 1}`}: ${e.message}`);
      io.err(`gatehouse ${cmd.name}: policy set is invalid (${err.errors.length} error(s))`);
      return 2;
    }
    if (isGatehouseError(err)) {
      io.err(`gatehouse ${cmd.name}: ${err.code}: ${err.detail}`);
      return err.code === 'config_invalid' || err.code === 'policy_invalid' ? 2 : 1;
    }
    if ((err as { code?: unknown }).code === 'ERR_MODULE_NOT_FOUND') {
      io.err(`gatehouse ${cmd.name}: a dependency is missing (${(err as Error).message.split('\n')[0]}); run npm install`);
      return 1;
    }
    io.err(`gatehouse ${cmd.name}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
    return 1;
  }
}

/** PolicyLoadError without importing the policy engine (and Cedar) into every command. */
function isPolicyLoadError(err: unknown): err is Error & { errors: readonly { file: string; line?: number; column?: number; message: string }[] } {
  return err instanceof Error && err.name === 'PolicyLoadError' && Array.isArray((err as { errors?: unknown }).errors);
}

const processIo: Io = {
  out: (line) => { process.stdout.write(`${line}\n`); },
  raw: (text) => { process.stdout.write(text); },
  err: (line) => { process.stderr.write(`${line}\n`); },
  env: process.env,
  cwd: process.cwd(),
};

/**
 * The process entry (bin/gatehouse.mjs): runs the CLI on the real stdout/stderr. A reader that
 * goes away (`gatehouse sessions list | head`, EPIPE) ends the process quietly, never with a
 * stack trace; so does any error that escapes a command: one line, exit 1.
 */
export async function main(argv: readonly string[]): Promise<number> {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      process.stderr.write(`gatehouse: ${err.message.split('\n')[0]}\n`);
      process.exit(1);
    });
  }
  process.on('uncaughtException', (err) => {
    process.stderr.write(`gatehouse: ${err.message.split('\n')[0]}\n`);
    process.exit(1);
  });
  return runCli(argv, processIo);
}

const invoked = process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
if (invoked) {
  process.exitCode = await main(process.argv.slice(2));
}
