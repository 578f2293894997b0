import type ssh2 from 'ssh2';
import type { Connection } from '../../connections/registry.ts';
import { after, systemClock, type Clock } from '../../kernel/clock.ts';
import type { MaskingRules } from '../../masking/rules.ts';
import type { TextMasker } from '../../masking/text-masker.ts';
import { CommandRunError, type CommandLimits, type CommandRun, type ShellCommandRunner } from '../../shell/runner.ts';
import { OutputMasker } from './output-masker.ts';
import { connectUpstream, SshUpstreamError } from './upstream.ts';

/** How long a stopped command's channel is waited for before the run ends without it (ms). */
const STOP_GRACE_MS = 2_000;

/**
 * The SSH {@link ShellCommandRunner} (MCP's `run_command` on `ssh` connections): one upstream SSH
 * connection per call (pinned host key, vaulted credential: `connectUpstream`), one `exec` without
 * a PTY, stdin closed at once. stdout and stderr each go through an {@link OutputMasker} (the
 * stream masker: no entity survives a chunk boundary); what is kept is the masked text, up to
 * `maxChars` over both streams, after which the channel is closed (`truncated`). The time limit
 * and the caller's abort stop the command too (`timed_out`: TERM, then the channel is closed and
 * not waited for past a short grace). Always ends the upstream connection.
 */
export class SshCommandRunner implements ShellCommandRunner {
  readonly #masking: Pick<MaskingRules, 'textMasker'>;
  readonly #upstreamTimeoutMs: number;
  readonly #clock: Clock;

  /** `deps.clock` runs the command's deadline and stop grace (default: real time). */
  constructor(deps: { readonly masking: Pick<MaskingRules, 'textMasker'>; readonly clock?: Clock }, opts: { readonly upstreamTimeoutMs?: number } = {}) {
    this.#masking = deps.masking;
    this.#clock = deps.clock ?? systemClock;
    this.#upstreamTimeoutMs = opts.upstreamTimeoutMs ?? 10_000;
  }

  async run(conn: Connection, command: string, limits: CommandLimits): Promise<CommandRun> {
    if (conn.type !== 'ssh') throw new CommandRunError('config', `"${conn.name}" is not an ssh connection`);
    let client;
    try {
      client = await connectUpstream(conn, { timeoutMs: this.#upstreamTimeoutMs });
    } catch (err) {
      if (err instanceof SshUpstreamError) throw new CommandRunError(err.reason, err.message);
      throw new CommandRunError('unreachable', `the upstream of "${conn.name}" could not be used`);
    }
    try {
      return await execOnce(client, command, this.#masking.textMasker(conn.name, 'response'), limits, this.#clock);
    } finally {
      client.end();
    }
  }
}

function execOnce(client: ssh2.Client, command: string, masker: TextMasker | undefined, limits: CommandLimits, clock: Clock): Promise<CommandRun> {
  const out = new OutputMasker(masker, { record: false });
  const err = new OutputMasker(masker, { record: false });
  return new Promise((resolve, reject) => {
    client.exec(command, {}, (e, ch) => {
      if (e) { reject(new CommandRunError('exec', `the upstream refused to run the command: ${e.message}`)); return; }
      const kept = { stdout: '', stderr: '' };
      let room = limits.maxChars;
      let truncated = false;
      let timedOut = false;
      let failed = false;
      let settled = false;
      let exit: number | null = null;
      let signal: string | null = null;
      const keep = (which: 'stdout' | 'stderr', b: Buffer): void => {
        if (b.length === 0 || truncated) return;
        const text = b.toString('utf8');
        if (text.length <= room) { kept[which] += text; room -= text.length; return; }
        kept[which] += text.slice(0, room);
        room = 0;
        truncated = true;
        halt();
      };
      const take = (which: 'stdout' | 'stderr', m: OutputMasker) => (chunk: Buffer): void => {
        if (failed || settled) return;
        try { keep(which, m.push(chunk)); } catch { failed = true; halt(); }
      };
      ch.on('data', take('stdout', out));
      ch.stderr.on('data', take('stderr', err));
      ch.end();
      // Stopping: the command is asked to end (TERM) and its channel closed; an upstream that keeps
      // the channel open (OpenSSH waits for the process) is not waited for past STOP_GRACE_MS.
      let grace: (() => void) | undefined;
      const halt = (): void => {
        try { ch.signal('TERM'); } catch { /* the channel is gone */ }
        ch.close();
        grace ??= after(clock, STOP_GRACE_MS, settle, { keepAlive: true });
      };
      const stop = (): void => { timedOut = true; halt(); };
      const cancelTimer = after(clock, limits.timeoutMs, stop, { keepAlive: true });
      limits.signal?.addEventListener('abort', stop, { once: true });
      ch.on('exit', (c: number | null, s?: string) => {
        if (typeof c === 'number') exit = c;
        if (typeof s === 'string') signal = s;
      });
      function settle(): void {
        if (settled) return;
        settled = true;
        cancelTimer();
        grace?.();
        limits.signal?.removeEventListener('abort', stop);
        if (!failed) {
          try {
            keep('stdout', out.end());
            keep('stderr', err.end());
          } catch { failed = true; }
        }
        if (failed) { reject(new CommandRunError('masking_failed', 'the output could not be masked; it was withheld')); return; }
        resolve({
          exit: truncated || timedOut ? null : exit, signal, stdout: kept.stdout, stderr: kept.stderr,
          stdout_bytes: out.bytes, stderr_bytes: err.bytes, masked: out.masked + err.masked, truncated, timed_out: timedOut,
        });
      }
      ch.once('close', settle);
    });
  });
}
