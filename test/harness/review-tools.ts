import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { runProcess, type ProcessRun } from './run.ts';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/gatehouse', import.meta.url));

/** The outcome of one CLI run. */
export type CliRun = ProcessRun;

/**
 * Runs `bin/gatehouse <args>` as a user would, against a running gateway
 * (`GATEHOUSE_URL`/`GATEHOUSE_TOKEN`).
 *
 * @example const r = await gatehouseCli(['reviews', 'approve', id], t.url, bobKey);
 */
export function gatehouseCli(args: readonly string[], url: string, token: string): Promise<CliRun> {
  return runProcess(BIN, args, { env: { ...process.env, GATEHOUSE_CONFIG: '', GATEHOUSE_URL: url, GATEHOUSE_TOKEN: token } });
}

/** A review as `reviews list --json` prints it (the fields the tests read). */
export interface ListedReview { readonly id: string; readonly status: string; readonly rule: string; readonly summary: string; readonly justification?: string }

/**
 * Polls `fetchList` until a review matching `pick` shows up (or `timeoutMs` passes).
 *
 * @example const r = await waitForReview(() => listReviews(t, bobKey), (r) => r.status === 'pending');
 */
export async function waitForReview(fetchList: () => Promise<readonly ListedReview[]>, pick: (r: ListedReview) => boolean, timeoutMs = 20_000): Promise<ListedReview> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = (await fetchList()).find(pick);
    if (found) return found;
    if (Date.now() > deadline) throw new Error('no matching review appeared');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * A real `psql` process: commands go to its stdin as a user would type them; stdout and stderr
 * are read as they arrive.
 *
 * @example
 *   const p = Psql.start({ host, port, database: 'crm', password: key });
 *   p.send('DELETE FROM customers;'); await p.waitFor(/DELETE \d+/);
 */
export class Psql {
  readonly #child: ChildProcessWithoutNullStreams;
  out = '';
  err = '';
  readonly #waiters = new Set<() => void>();
  readonly exited: Promise<number>;

  private constructor(child: ChildProcessWithoutNullStreams) {
    this.#child = child;
    const wake = (): void => { for (const w of this.#waiters) w(); };
    child.stdout.on('data', (d: Buffer) => { this.out += d.toString(); wake(); });
    child.stderr.on('data', (d: Buffer) => { this.err += d.toString(); wake(); });
    this.exited = new Promise((resolve) => child.on('close', (code) => { wake(); resolve(code ?? -1); }));
  }

  static start(o: { host: string; port: number; database: string; password: string; user?: string }): Psql {
    const child = spawn('psql', ['-X', '-h', o.host, '-p', String(o.port), '-U', o.user ?? 'agent', '-d', o.database], {
      env: { ...process.env, PGPASSWORD: o.password, PGSSLMODE: 'disable', PGCONNECT_TIMEOUT: '10', PGAPPNAME: 'psql-e2e' },
    });
    return new Psql(child);
  }

  /** Writes one line to psql's stdin. */
  send(line: string): void {
    this.#child.stdin.write(`${line}\n`);
  }

  /** Resolves with the combined output once `re` matches stdout (or stderr when `stream` says so). */
  waitFor(re: RegExp, stream: 'out' | 'err' = 'out', timeoutMs = 30_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const text = stream === 'out' ? this.out : this.err;
        if (re.test(text)) { done(); resolve(text); }
      };
      const timer = setTimeout(() => { done(); reject(new Error(`psql: ${re} not seen; stdout=${JSON.stringify(this.out)} stderr=${JSON.stringify(this.err)}`)); }, timeoutMs);
      const done = (): void => { clearTimeout(timer); this.#waiters.delete(check); };
      this.#waiters.add(check);
      check();
    });
  }

  /** Ends stdin (psql exits) and waits for the process. */
  async close(): Promise<number> {
    this.#child.stdin.end();
    const t = setTimeout(() => this.#child.kill('SIGKILL'), 10_000);
    try { return await this.exited; } finally { clearTimeout(t); }
  }
}
