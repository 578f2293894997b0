import { setTimeout as sleep } from 'node:timers/promises';

/** Width of the label column. */
const LABEL = 14;
/** Most characters of output kept for {@link Output.transcript} (the demo prints far less). */
const MAX_TRANSCRIPT = 4 * 1024 * 1024;

/** Where the demo writes and how it paces itself. */
export interface OutputOptions {
  /** Pause before each step, in ms (0 in tests and with --quiet). */
  readonly stepDelayMs: number;
  /** Colors (a terminal, and NO_COLOR unset). */
  readonly color: boolean;
  readonly write: (text: string) => void;
}

type Tone = 'bold' | 'dim' | 'green' | 'red' | 'yellow' | 'cyan';
const CODES: Record<Tone, [number, number]> = { bold: [1, 22], dim: [2, 22], green: [32, 39], red: [31, 39], yellow: [33, 39], cyan: [36, 39] };

/**
 * The demo's terminal output: a title, a header per step, labelled lines ("agent", "Gatehouse",
 * "model" …) with multi-line values indented under their label, and a ✓ / ✗ verdict per step.
 * Every value it prints has already been through the gateway (masked) or is the demo's own fake
 * data shown on purpose.
 *
 * @example
 *   const out = new Output({ stepDelayMs: 0, color: false, write: (t) => process.stdout.write(t) });
 *   out.step(1, 4, 'Read customer records'); out.line('agent', 'run_sql(SELECT …)');
 */
export class Output {
  readonly #o: OutputOptions;
  #transcript = '';

  constructor(o: OutputOptions) {
    this.#o = o;
  }

  /** Text in a tone (plain without colors). */
  tone(t: Tone, text: string): string {
    const [on, off] = CODES[t];
    return this.#o.color ? `\u001b[${on}m${text}\u001b[${off}m` : text;
  }

  raw(text: string): void {
    this.#o.write(`${text}\n`);
    if (this.#transcript.length < MAX_TRANSCRIPT) this.#transcript += `${text}\n`;
  }

  /** Everything written so far (up to 4 MiB), for the demo's own checks. */
  transcript(): string {
    return this.#transcript;
  }

  title(text: string): void {
    this.raw(this.tone('bold', text));
    this.raw(this.tone('dim', '='.repeat(Math.min(78, text.length))));
  }

  /** A step header, after the step pause. */
  async step(n: number, total: number, title: string): Promise<void> {
    if (this.#o.stepDelayMs > 0) await sleep(this.#o.stepDelayMs);
    const head = `-- Step ${n}/${total}: ${title} `;
    this.raw('');
    this.raw(this.tone('bold', head + '-'.repeat(Math.max(4, 78 - head.length))));
  }

  /** A section header without a number (set-up, replay, summary). */
  async section(title: string): Promise<void> {
    if (this.#o.stepDelayMs > 0) await sleep(this.#o.stepDelayMs);
    const head = `-- ${title} `;
    this.raw('');
    this.raw(this.tone('bold', head + '-'.repeat(Math.max(4, 78 - head.length))));
  }

  /** `label   text`, further lines of `text` indented under it. */
  line(label: string, text: string, t?: Tone): void {
    const pad = ' '.repeat(LABEL + 2);
    const [first = '', ...rest] = text.split('\n');
    const l = `  ${label.padEnd(LABEL)}`;
    this.raw(`${this.tone('cyan', l)}${t ? this.tone(t, first) : first}`);
    for (const r of rest) this.raw(`${pad}${t ? this.tone(t, r) : r}`);
  }

  ok(text: string): void {
    this.raw(`  ${this.tone('green', `✓ ${text}`)}`);
  }

  fail(text: string): void {
    this.raw(`  ${this.tone('red', `✗ ${text}`)}`);
  }
}

/**
 * Rows as an aligned text table (values shown as received; long cells cut at `maxCell`).
 *
 * @example textTable([{ id: 1, email: '[EMAIL]' }]) // "id | email\n---+--------\n1  | [EMAIL]"
 */
export function textTable(rows: readonly Readonly<Record<string, unknown>>[], maxCell = 48): string {
  const first = rows[0];
  if (first === undefined) return '(no rows)';
  const cols = Object.keys(first);
  const cell = (v: unknown): string => {
    const s = v === null || v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v);
    return s.length > maxCell ? `${s.slice(0, maxCell - 1)}…` : s;
  };
  const body = rows.map((r) => cols.map((c) => cell(r[c])));
  const widths = cols.map((c, i) => Math.max(c.length, ...body.map((b) => b[i]!.length)));
  const fmt = (cells: readonly string[]): string => cells.map((s, i) => s.padEnd(widths[i]!)).join(' | ').trimEnd();
  return [fmt(cols), widths.map((w) => '-'.repeat(w)).join('-+-'), ...body.map(fmt)].join('\n');
}
