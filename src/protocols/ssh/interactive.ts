import type ssh2 from 'ssh2';
import { after, type Clock } from '../../kernel/clock.ts';
import type { TextMasker } from '../../masking/text-masker.ts';
import { pipeThrough } from './channel-pipe.ts';
import type { ClientChannel } from './exec-channel.ts';
import { OutputMasker } from './output-masker.ts';
import type { SshRecording } from './recording.ts';

const NOTHING = Buffer.alloc(0);

/** A terminal size. */
export interface TermSize { readonly term: string; readonly cols: number; readonly rows: number; readonly width: number; readonly height: number }

/** Upstream silence (ms) after which held-back terminal output is decided and sent (see OutputMasker.flushIdle). */
export const IDLE_FLUSH_MS = 100;

/** Hooks the session channel calls while the shell runs. */
export interface LiveHooks { resize?: (p: TermSize) => void; signal?: (name: string) => void }

/**
 * Runs an interactive shell upstream (with the client's PTY, or without one) and relays it: the
 * output through an {@link OutputMasker} (masked, recorded as asciicast `o` events), the client's
 * keystrokes unchanged upstream (recorded masked as `i` events), window changes upstream (`r`
 * events with the real size). Keystrokes are not decided one by one: see SECURITY.md.
 * Resolves when the upstream shell ends or the client goes; never rejects.
 */
export function runInteractive(
  upstream: ssh2.Client, channel: ClientChannel, masker: TextMasker | undefined, rec: SshRecording,
  opts: { readonly pty: TermSize | undefined; readonly live: LiveHooks; readonly signal: AbortSignal; readonly clock: Clock },
): Promise<{ code: number | undefined; maskingFailed: boolean; full?: boolean }> {
  const output = new OutputMasker(masker, { record: rec.on });
  const errors = new OutputMasker(masker, { record: rec.on });
  const window = opts.pty ? { term: opts.pty.term, cols: opts.pty.cols, rows: opts.pty.rows, width: opts.pty.width, height: opts.pty.height } : false;
  return new Promise((resolve) => {
    upstream.shell(window, {}, (err, up) => {
      if (err) { resolve({ code: undefined, maskingFailed: false }); return; }
      let code: number | undefined;
      let maskingFailed = false;
      // The session's recording is full (max_session_bytes): what is not recorded any more goes
      // neither way (a keystroke is not sent upstream, output not to the client); the shell ends.
      let full = false;
      const filled = (): boolean => {
        if (!full && rec.full()) { full = true; up.close(); }
        return full;
      };
      const emit = (): void => {
        const o = output.takeRecorded() + errors.takeRecorded();
        if (o.length > 0) rec.event('terminal', { o });
      };
      const fail = (): void => { maskingFailed = true; up.close(); };
      let idle: (() => void) | undefined;
      const flushIdle = (): void => {
        idle = undefined;
        if (maskingFailed) return;
        try {
          const a = output.flushIdle();
          const b = errors.flushIdle();
          emit();
          if (filled()) return;
          if (a.length > 0) channel.write(a);
          if (b.length > 0) channel.stderr.write(b);
        } catch { fail(); }
      };
      const armIdle = (): void => {
        idle?.();
        idle = output.held + errors.held > 0 ? after(opts.clock, IDLE_FLUSH_MS, flushIdle, { keepAlive: true }) : undefined;
      };
      const stops = [
        pipeThrough(up, channel, (c) => { const b = output.push(c); emit(); armIdle(); return filled() ? NOTHING : b; }, fail),
        pipeThrough(up.stderr, channel.stderr, (c) => { const b = errors.push(c); emit(); armIdle(); return filled() ? NOTHING : b; }, fail),
      ];
      const input = (c: Buffer): void => {
        if (rec.on) rec.event('terminal', { i: rec.text(c.toString('utf8')) });
        if (filled()) return;
        up.write(c);
      };
      channel.on('data', input);
      const eof = (): void => { up.end(); };
      channel.once('end', eof);
      opts.live.resize = (p) => {
        up.setWindow(p.rows, p.cols, p.height, p.width);
        rec.event('terminal', { r: `${p.cols}x${p.rows}` });
      };
      opts.live.signal = (name) => { up.signal(name); };
      const abort = (): void => { up.close(); };
      opts.signal.addEventListener('abort', abort, { once: true });
      up.on('exit', (c: number | null) => { if (typeof c === 'number') code = c; });
      up.once('close', () => {
        idle?.();
        for (const stop of stops) stop();
        channel.off('data', input);
        channel.off('end', eof);
        opts.signal.removeEventListener('abort', abort);
        delete opts.live.resize;
        delete opts.live.signal;
        if (!maskingFailed) {
          try {
            const rest = output.end();
            const restErr = errors.end();
            emit();
            if (!filled()) {
              if (rest.length > 0) channel.write(rest);
              if (restErr.length > 0) channel.stderr.write(restErr);
            }
          } catch {
            maskingFailed = true;
          }
        }
        resolve({ code, maskingFailed, ...(full ? { full } : {}) });
      });
    });
  });
}
