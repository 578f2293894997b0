import { spawn, type SpawnOptions } from 'node:child_process';

/** What a finished child process printed, and its exit code (-1 when killed by a signal). */
export interface ProcessRun {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/**
 * Runs a command to completion and collects its output (the one way the tests run the CLI, the
 * demo and the examples as a user would).
 *
 * @example const r = await runProcess('bin/gatehouse', ['keys', 'list'], { env: { ...process.env, GATEHOUSE_TOKEN: key } });
 */
export function runProcess(cmd: string, args: readonly string[], opts: SpawnOptions = {}): Promise<ProcessRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, [...args], { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr?.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => { resolve({ code: code ?? -1, out, err }); });
  });
}
