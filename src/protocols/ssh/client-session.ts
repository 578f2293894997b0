import type ssh2 from 'ssh2';
import type { SshDeps } from './deps.ts';
import { authorize, connectionResource, denialReason } from '../../enforce/authorize.ts';
import type { Connection } from '../../connections/registry.ts';
import type { Principal } from '../../identity/principal.ts';
import type { TextMasker } from '../../masking/text-masker.ts';
import type { Action } from '../../policy/request.ts';
import { requestFingerprint } from '../../reviews/fingerprint.ts';
import { reviewGate } from '../../reviews/gate.ts';
import { gateCommand } from '../../shell/gate.ts';
import { runUpstream, type ClientChannel } from './exec-channel.ts';
import type { InspectCommandAsync } from '../../shell/inspector.ts';
import { runInteractive } from './interactive.ts';
import { SshRecording } from './recording.ts';
import { connectUpstream, SshUpstreamError } from './upstream.ts';
import { codeOf, sshExitOf, SSH_EXIT, type ErrorCode } from '../../kernel/errors.ts';
import { after } from '../../kernel/clock.ts';

/** The client environment variable carrying a justification for reviews (`SendEnv`). */
export const JUSTIFICATION_ENV = 'GATEHOUSE_JUSTIFICATION';
/** Exit status when the upstream could not be used or the output could not be masked/recorded (the registry's for a gateway failure). */
export const GATEWAY_FAILURE_EXIT = SSH_EXIT.failed;

/** What a session needs from the listener. */
export interface ClientSessionDeps {
  readonly svc: SshDeps;
  readonly inspect: InspectCommandAsync;
  /** Every detector, redact: masks recorded commands and review summaries. */
  readonly scanner: TextMasker;
  readonly upstreamTimeoutMs: number;
}

/** A pseudo-terminal the client asked for on one session channel. */
interface Pty { term: string; cols: number; rows: number; width: number; height: number }

/**
 * The largest terminal the gateway applies: a pty request or window change asking for more is
 * clamped to it (not refused: OpenSSH's client then goes on without a terminal, and a window
 * change has no reply), and the clamped size is what the upstream gets and what is recorded. An
 * unbounded size would let a client record a session no player can draw (a 5000×5000 terminal
 * hangs the console's replay).
 */
export const MAX_PTY_COLS = 1000;
export const MAX_PTY_ROWS = 500;
/** Pixel sizes are only forwarded (never recorded), bounded the same way. */
const MAX_PTY_PIXELS = 65_535;
const bound = (n: number, max: number): number => (Number.isInteger(n) && n > 0 ? Math.min(n, max) : 0);

/** Longest wait (ms) for a closed session's running channel handlers before its close is recorded anyway. */
const CLOSE_WAIT_MS = 5_000;

type Reply = (() => void) | undefined;
const reply = (f: Reply): void => { if (typeof f === 'function') f(); };

/**
 * One authenticated SSH client connection on one Gatehouse connection: one recording session,
 * one upstream SSH connection (opened on the first channel that needs it, shared by the others).
 * Each session channel is served by request type: `exec` → {@link gateCommand} then the upstream;
 * `shell` → `shell.interactive`; the `sftp` subsystem → `shell.transfer`; everything else
 * (other subsystems, X11, agent forwarding) is refused. Port forwarding is refused by the listener.
 */
export class SshClientSession {
  readonly #deps: ClientSessionDeps;
  readonly #principal: Principal;
  readonly #conn: Connection;
  readonly rec: SshRecording;
  #upstream: Promise<ssh2.Client> | undefined;
  readonly #abort = new AbortController();
  #closed = false;
  /** Channel handlers (exec, shell, transfer) still running: the session's close is recorded after the last. */
  #running = 0;
  /** Why the session closed, until its `session.close` is recorded; and the deadline that records it anyway. */
  #closing: { readonly reason: string; cancel: () => void } | undefined;

  constructor(deps: ClientSessionDeps, id: string, principal: Principal, conn: Connection, remote: string | undefined) {
    this.#deps = deps;
    this.#principal = principal;
    this.#conn = conn;
    this.rec = new SshRecording(deps.svc, id, principal, conn, deps.scanner);
    this.rec.event('session.open', { connection: conn.name, remote: remote ?? null, via: principal.via });
  }

  /** Serves one `session` channel request from the client. */
  onSession(session: ssh2.Session): void {
    const env = new Map<string, string>();
    let pty: Pty | undefined;
    const live: { resize?: (p: Pty) => void; signal?: (name: string) => void } = {};
    session.on('env', (accept: Reply, _reject: Reply, info: ssh2.SetEnvInfo) => {
      if (info.key === JUSTIFICATION_ENV && env.size < 16) env.set(info.key, info.val.slice(0, 1000));
      reply(accept);
    });
    session.on('pty', (accept: Reply, _reject: Reply, info: ssh2.PseudoTtyInfo) => {
      pty = { term: info.term, cols: bound(info.cols, MAX_PTY_COLS), rows: bound(info.rows, MAX_PTY_ROWS), width: bound(info.width, MAX_PTY_PIXELS), height: bound(info.height, MAX_PTY_PIXELS) };
      reply(accept);
    });
    session.on('window-change', (accept: Reply, _reject: Reply, info: ssh2.WindowChangeInfo) => {
      if (pty) {
        pty = { ...pty, cols: bound(info.cols, MAX_PTY_COLS), rows: bound(info.rows, MAX_PTY_ROWS), width: bound(info.width, MAX_PTY_PIXELS), height: bound(info.height, MAX_PTY_PIXELS) };
        live.resize?.(pty);
      }
      reply(accept);
    });
    session.on('signal', (accept: Reply, _reject: Reply, info: ssh2.SignalInfo) => { live.signal?.(info.name); reply(accept); });
    session.on('x11', (_accept: Reply, reject: Reply) => { this.#refused('x11'); reply(reject); });
    session.on('auth-agent', (_accept: Reply, reject: Reply) => { this.#refused('agent forwarding'); reply(reject); });
    session.on('exec', (accept: () => ssh2.ServerChannel, _reject: Reply, info: ssh2.ExecInfo) => {
      const channel = accept();
      void this.#track(this.#exec(channel, info.command, env.get(JUSTIFICATION_ENV), pty));
    });
    session.on('shell', (accept: () => ssh2.ServerChannel) => {
      const channel = accept();
      void this.#track(this.#shell(channel, pty, env.get(JUSTIFICATION_ENV), live));
    });
    session.on('subsystem', (accept: () => ssh2.ServerChannel, reject: Reply, info: ssh2.SubsystemInfo) => {
      if (info.name !== 'sftp') { this.#refused(`subsystem ${info.name}`); reply(reject); return; }
      void this.#track(this.#transfer(accept, reject));
    });
  }

  /** A forwarding or other channel type the gateway never serves: recorded, then refused by the caller. */
  refusedForwarding(what: string): void {
    this.#refused(what);
  }

  /**
   * Ends the upstream connection and closes the recording session: its `session.close` (the
   * anchor) once the channel handlers still running — cut by the abort — have recorded their last
   * events (a command's response), so the close stays the session's last event; at the latest
   * after {@link CLOSE_WAIT_MS}.
   */
  close(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    this.#upstream?.then((c) => { c.end(); }, () => undefined);
    if (this.#running === 0) { this.rec.event('session.close', { reason }); return; }
    this.#closing = { reason, cancel: () => undefined };
    this.#closing.cancel = after(this.#deps.svc.clock, CLOSE_WAIT_MS, () => { this.#recordClose(); });
  }

  #recordClose(): void {
    const c = this.#closing;
    if (c === undefined) return;
    this.#closing = undefined;
    c.cancel();
    this.rec.event('session.close', { reason: c.reason });
  }

  /** Runs a channel handler, counted: the last one to finish after the session closed records its close. */
  async #track(handler: Promise<void>): Promise<void> {
    this.#running++;
    try {
      await handler;
    } finally {
      this.#running--;
      if (this.#running === 0) this.#recordClose();
    }
  }

  #refused(what: string): void {
    this.rec.event('decision', { effect: 'deny', request: what, reasons: ['not-supported'] });
  }

  #client(): Promise<ssh2.Client> {
    this.#upstream ??= connectUpstream(this.#conn, { timeoutMs: this.#deps.upstreamTimeoutMs });
    return this.#upstream;
  }

  async #upstreamOr(channel: ssh2.ServerChannel): Promise<ssh2.Client | undefined> {
    try {
      return await this.#client();
    } catch (err) {
      const msg = err instanceof SshUpstreamError ? err.message : 'the upstream connection failed';
      this.#deps.svc.log.warn({ connection: this.#conn.name, reason: err instanceof SshUpstreamError ? err.reason : 'unknown' }, 'ssh upstream connection failed');
      this.rec.event('error', { message: msg });
      refuse(channel, codeOf(err), `gatehouse: ${msg}`);
      return undefined;
    }
  }

  async #exec(channel: ssh2.ServerChannel, raw: string, justification: string | undefined, pty: Pty | undefined): Promise<void> {
    const started = this.#deps.svc.clock.now();
    const signal = channelSignal(channel, this.#abort.signal);
    const g = await gateCommand(this.#deps.svc, this.#deps.inspect, this.#deps.scanner, {
      principal: this.#principal, connection: this.#conn, raw, signal, ...(justification === undefined ? {} : { justification }),
    });
    if (this.rec.on) {
      this.rec.event('request', { kind: 'exec', statement: this.rec.text(g.run ? g.command : raw), ...(g.inspection ? { facts: g.inspection.facts, parsed: g.inspection.ok } : {}) });
      this.rec.event('decision', {
        effect: g.run ? 'allow' : g.status === 'pending' ? 'review' : 'deny', action: 'shell.exec',
        reasons: g.decision?.reasons ?? ['inspection-failed'], ...(g.reviewId === undefined ? {} : { review_id: g.reviewId }),
        ...(g.justification === undefined ? {} : { justification: this.rec.text(g.justification) }),
      });
    }
    if (!g.run) { refuse(channel, g.status === 'pending' ? 'review_required' : 'policy_denied', g.message); return; }
    // A session whose recording is full (max_session_bytes; its request may be what filled it)
    // runs nothing more: refused before the upstream is asked (fail closed).
    if (this.rec.full()) { refuse(channel, 'store_unavailable', FULL); return; }
    const upstream = await this.#upstreamOr(channel);
    if (!upstream) return;
    // A terminal turns the client's input into keystrokes for whatever the command starts: a
    // pager (`less`, `man`, `git log`, `journalctl` on a pty) or editor runs `!cmd` typed into it,
    // and keystrokes cannot be decided (as for `shell`). So an exec gets its pty only when the
    // principal may have an interactive shell; otherwise it runs without a terminal (a pager
    // prints, a password prompt fails), its input still forwarded as plain stdin.
    const term = pty && (await this.#terminalAllowed()) ? pty : undefined;
    const masker = this.#deps.svc.masking.textMasker(this.#conn.name, 'response');
    const out = await runUpstream(upstream, g.command, channel, masker, {
      record: this.rec.on, signal, ...(term ? { pty: { term: term.term, cols: term.cols, rows: term.rows, width: term.width, height: term.height } } : {}),
    });
    this.rec.event('response', {
      exit: out.code ?? null, signal: out.signal ?? null, ms: this.#deps.svc.clock.now() - started,
      stdout: out.stdout.recorded, stderr: out.stderr.recorded, stdout_bytes: out.stdout.bytes, stderr_bytes: out.stderr.bytes,
      masked: out.stdout.masked + out.stderr.masked, ...(out.maskingFailed ? { masking_failed: true } : {}),
    });
    if (out.maskingFailed) { refuse(channel, 'masking_failed', 'gatehouse: the output could not be masked; the rest was withheld'); return; }
    try {
      await this.rec.flush();
    } catch {
      refuse(channel, 'store_unavailable', 'gatehouse: the command could not be recorded; its exit status is withheld');
      return;
    }
    if (out.code !== undefined) finish(channel, undefined, out.code);
    else if (out.signal !== undefined) { channel.exit(out.signal.replace(/^SIG/, ''), false, ''); channel.end(); }
    else refuse(channel, 'upstream_error', 'gatehouse: the upstream ended the command without an exit status');
  }

  /** Whether an exec may have the pty its client asked for: `shell.interactive` allowed outright (no review is held for it). */
  async #terminalAllowed(): Promise<boolean> {
    const d = await authorize(this.#deps.svc, this.#principal, 'shell.interactive', connectionResource(this.#conn), {});
    this.rec.event('decision', { effect: d.effect === 'allow' ? 'allow' : 'deny', action: 'shell.interactive', request: 'pty for exec', reasons: d.reasons });
    return d.effect === 'allow';
  }

  /** Decides a session-wide action (interactive shell, transfer): allow, deny, or a review (typically a jit grant). */
  async #decide(action: Action, summary: string, justification: string | undefined, signal: AbortSignal): Promise<{ ok: true } | { ok: false; code: ErrorCode; message: string }> {
    const resource = connectionResource(this.#conn);
    const d = await authorize(this.#deps.svc, this.#principal, action, resource, {});
    this.rec.event('decision', { effect: d.effect, action, reasons: d.reasons });
    if (d.effect === 'allow') return { ok: true };
    if (d.effect === 'deny') return { ok: false, code: 'policy_denied', message: `gatehouse: ${action} denied by policy (${denialReason(d)})` };
    const svc = this.#deps.svc;
    const g = await reviewGate(svc, { reviews: svc.reviews, holdTimeoutMs: svc.reviewHoldMs, rules: svc.reviewRules }, {
      principal: this.#principal, action, resource: this.#conn.name, facts: {}, decision: d,
      fingerprint: requestFingerprint(['ssh', this.#conn.name, action]), summary, signal,
      ...(justification === undefined ? {} : { justification }),
    });
    this.rec.event('review', { outcome: g.outcome, ...(g.reviewId === undefined ? {} : { review_id: g.reviewId }) });
    if (g.outcome === 'run') return { ok: true };
    if (g.outcome === 'denied') return { ok: false, code: 'policy_denied', message: `gatehouse: ${action} refused: ${g.reason}` };
    return { ok: false, code: 'review_required', message: `gatehouse: approval required: review ${g.reviewId} is pending; connect again once it is approved` };
  }

  async #shell(channel: ssh2.ServerChannel, pty: Pty | undefined, justification: string | undefined, live: { resize?: (p: Pty) => void; signal?: (name: string) => void }): Promise<void> {
    const signal = channelSignal(channel, this.#abort.signal);
    this.rec.event('request', { kind: 'shell', pty: pty !== undefined, ...(pty ? { term: pty.term, cols: pty.cols, rows: pty.rows } : {}) });
    const d = await this.#decide('shell.interactive', `interactive shell on ${this.#conn.name}`, justification, signal);
    if (!d.ok) { refuse(channel, d.code, d.message); return; }
    if (this.rec.full()) { refuse(channel, 'store_unavailable', FULL); return; }
    const upstream = await this.#upstreamOr(channel);
    if (!upstream) return;
    const out = await runInteractive(upstream, channel, this.#deps.svc.masking.textMasker(this.#conn.name, 'response'), this.rec, { pty, live, signal, clock: this.#deps.svc.clock });
    if (out.maskingFailed) { refuse(channel, 'masking_failed', '\r\ngatehouse: the output could not be masked; the session was ended'); return; }
    if (out.full === true) { refuse(channel, 'store_unavailable', `\r\n${FULL}`); return; }
    await this.rec.flush().catch(() => undefined);
    finish(channel, undefined, out.code ?? GATEWAY_FAILURE_EXIT);
  }

  async #transfer(accept: () => ssh2.ServerChannel, reject: Reply): Promise<void> {
    const d = await this.#decide('shell.transfer', `file transfer (sftp/scp) on ${this.#conn.name}`, undefined, this.#abort.signal);
    this.rec.event('request', { kind: 'subsystem', name: 'sftp' });
    if (!d.ok || this.rec.full()) { reply(reject); return; }
    const upstream = await this.#client().catch(() => undefined);
    if (!upstream) { reply(reject); return; }
    upstream.subsys('sftp', (err, up) => {
      if (err) { reply(reject); return; }
      const channel = accept();
      // File transfers are binary: they pass unmasked, which is why shell.transfer is off by default.
      channel.pipe(up).pipe(channel);
      up.once('close', () => { channel.end(); });
      channel.once('close', () => { up.close(); });
    });
  }
}

/** An AbortSignal that fires when the channel closes or the whole client connection goes. */
function channelSignal(channel: ClientChannel, parent: AbortSignal): AbortSignal {
  const ac = new AbortController();
  channel.once('close', () => { ac.abort(); });
  return AbortSignal.any([ac.signal, parent]);
}

/** Ends the channel with error `code`: `message` on stderr, the registry's SSH exit status for the code (126 refused, 255 failed). */
/** Why a command of a session whose recording is full is refused. */
const FULL = 'gatehouse: the session reached recording.max_session_bytes and can no longer be recorded; start a new session (connect again)';

function refuse(channel: ssh2.ServerChannel, code: ErrorCode, message: string): void {
  finish(channel, message, sshExitOf(code));
}

/** Tells the client why (stderr), sends the exit status and ends the channel. */
function finish(channel: ssh2.ServerChannel, message: string | undefined, code: number): void {
  try {
    if (message !== undefined) channel.stderr.write(`${message}\n`);
    channel.exit(code);
    channel.end();
  } catch { /* the client went away */ }
}
