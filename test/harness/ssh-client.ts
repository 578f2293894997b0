import ssh2 from 'ssh2';

/** What one command returned through an SSH exec. */
export interface ExecResult { readonly stdout: string; readonly stderr: string; readonly code: number | null; readonly signal?: string }

/**
 * Connects the `ssh2` client to the gateway (user = connection name, password = Gatehouse key).
 *
 * @example const c = await sshConnect(port, 'web01', key); const r = await sshExec(c, 'ls'); c.end();
 */
export function sshConnect(port: number, connection: string, credential: string, opts: { readonly keyboard?: boolean } = {}): Promise<ssh2.Client> {
  const c = new ssh2.Client();
  return new Promise((resolve, reject) => {
    c.once('ready', () => { resolve(c); });
    c.once('error', reject);
    if (opts.keyboard) {
      c.on('keyboard-interactive', (_name, _instr, _lang, prompts, finish) => { finish(prompts.map(() => credential)); });
    }
    c.connect({
      host: '127.0.0.1', port, username: connection, readyTimeout: 20_000,
      ...(opts.keyboard ? { tryKeyboard: true } : { password: credential }),
    });
  });
}

/** Runs one command (optionally with environment variables the client sends) and collects its output. */
export function sshExec(c: ssh2.Client, command: string, opts: { readonly env?: Record<string, string>; readonly onData?: (s: string) => void } = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    c.exec(command, opts.env ? { env: opts.env } : {}, (err, stream) => {
      if (err) { reject(err); return; }
      let stdout = '';
      let stderr = '';
      let code: number | null = null;
      let signal: string | undefined;
      stream.on('data', (d: Buffer) => { stdout += d.toString(); opts.onData?.(d.toString()); });
      stream.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
      stream.on('exit', (c2: number | null, s?: string) => { code = c2; if (s) signal = s; });
      stream.on('close', () => { resolve({ stdout, stderr, code, ...(signal ? { signal } : {}) }); });
    });
  });
}
