import type { Duplex, Writable } from 'node:stream';
import type ssh2 from 'ssh2';
import type { TextMasker } from '../../masking/text-masker.ts';
import { pipeThrough } from './channel-pipe.ts';
import { OutputMasker } from './output-masker.ts';

/** How a command run upstream ended, and what the client received. */
export interface RunOutcome {
  /** Exit status, or undefined when the command ended by a signal or the channel broke. */
  readonly code: number | undefined;
  readonly signal: string | undefined;
  readonly stdout: OutputMasker;
  readonly stderr: OutputMasker;
  /** Set when the output could not be masked: what was held was withheld and the run cut short. */
  readonly maskingFailed: boolean;
}

/** A client-facing channel: stdout, stderr, input (ssh2 ServerChannel or any duplex with `stderr`). */
export type ClientChannel = Duplex & { readonly stderr: Writable };

/**
 * Runs one command on the upstream (`client.exec`) and relays it: the client's input goes upstream
 * unchanged; upstream stdout and stderr go to the client through one {@link OutputMasker} each
 * (masked with `masker`, when the connection has response masking rules), with back-pressure.
 * Resolves when the upstream channel closes (never rejects: an exec error is an outcome with
 * neither code nor signal). The caller sends the exit status and ends the client channel.
 */
export function runUpstream(
  upstream: ssh2.Client, command: string, client: ClientChannel, masker: TextMasker | undefined,
  opts: { readonly pty?: ssh2.PseudoTtyOptions; readonly record: boolean; readonly signal?: AbortSignal },
): Promise<RunOutcome> {
  const stdout = new OutputMasker(masker, { record: opts.record });
  const stderr = new OutputMasker(masker, { record: opts.record });
  return new Promise((resolve) => {
    upstream.exec(command, opts.pty ? { pty: opts.pty } : {}, (err, up) => {
      if (err) { resolve({ code: undefined, signal: undefined, stdout, stderr, maskingFailed: false }); return; }
      let code: number | undefined;
      let signal: string | undefined;
      let maskingFailed = false;
      const fail = (): void => {
        if (maskingFailed) return;
        maskingFailed = true;
        up.close();
      };
      const stops = [
        pipeThrough(up, client, (c) => stdout.push(c), fail),
        pipeThrough(up.stderr, client.stderr, (c) => stderr.push(c), fail),
      ];
      const input = (c: Buffer): void => { up.write(c); };
      client.on('data', input);
      const eof = (): void => { up.end(); };
      client.once('end', eof);
      const abort = (): void => { up.close(); };
      opts.signal?.addEventListener('abort', abort, { once: true });
      up.on('exit', (c: number | null, s?: string) => {
        if (typeof c === 'number') code = c;
        if (typeof s === 'string') signal = s;
      });
      up.once('close', () => {
        for (const stop of stops) stop();
        client.off('data', input);
        client.off('end', eof);
        opts.signal?.removeEventListener('abort', abort);
        if (!maskingFailed) {
          try {
            const a = stdout.end();
            const b = stderr.end();
            if (a.length > 0) client.write(a);
            if (b.length > 0) client.stderr.write(b);
          } catch {
            maskingFailed = true;
          }
        }
        resolve({ code, signal, stdout, stderr, maskingFailed });
      });
    });
  });
}
