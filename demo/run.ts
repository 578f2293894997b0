/**
 * `npm run demo`: Gatehouse protecting a LangChain agent, in one command, with nothing to install.
 * See `npm run demo -- --help` and docs/getting-started.md.
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { DemoAgent } from './lib/agent.ts';
import { Output } from './lib/output.ts';
import { stepReplay } from './lib/replay-step.ts';
import { startDemo, type DemoEnv } from './lib/setup.ts';
import { leaks, stepDelete, stepDrop, stepRead, stepSecret, type StepContext, type StepResult } from './lib/steps.ts';
import { CUSTOMERS } from './lib/seed.ts';
import { startDemoModel } from './lib/demo-model.ts';

const HELP = `npm run demo [-- options]

Starts a demo PostgreSQL database with fake customer records, a local OpenAI-compatible demo
model and the Gatehouse gateway, then runs a LangChain JS agent through the gateway:
  1. it reads customers            -> emails, phones and card numbers come back masked
  2. it tries DROP TABLE           -> blocked, naming the policy
  3. it tries a DELETE             -> held for review, approved by dana (dba), then run once
  4. it sends a prompt with a key  -> the key is redacted before it leaves
and finally replays the recorded sessions. Everything is stopped at the end.

Options:
  -q, --quiet     no pauses between steps; replay at full speed
      --json      end with a one-line JSON summary of every step's outcome
      --verbose   show the gateway's own log (stderr)
      --model-only  only start the scripted demo model (OpenAI-compatible) and wait: point a
                  gateway's openai connection at it to follow docs/getting-started.md offline
      --port N    the demo model's port with --model-only (default 8089)
  -h, --help      this help

Environment:
  DEMO_STEP_DELAY    pause before each step in ms (default 1500; 0 = none)
  DEMO_PG_URL        use this PostgreSQL database instead of the built-in PGlite one; the demo
                     (re)creates a "customers" table there (use an empty database)
  OPENAI_API_KEY     use the OpenAI API instead of the local demo model (the agent's steps stay
                     scripted; the model phrases the answers). Only the gateway holds the key.
  OPENAI_BASE_URL    another OpenAI-compatible API (with OPENAI_API_KEY)
  DEMO_OPENAI_MODEL  model name with OPENAI_API_KEY (default gpt-4o-mini)
  NO_COLOR           no colors

Exit code: 0 when every step had the expected outcome, 1 otherwise (the failing step is named),
2 for a usage error.`;

/** Runs the demo; resolves with the exit code. */
async function main(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Promise<number> {
  let flags: { quiet?: boolean; json?: boolean; verbose?: boolean; help?: boolean; 'model-only'?: boolean; port?: string };
  try {
    flags = parseArgs({
      args: [...argv], strict: true, allowPositionals: false,
      options: {
        quiet: { type: 'boolean', short: 'q' }, json: { type: 'boolean' }, verbose: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
        'model-only': { type: 'boolean' }, port: { type: 'string' },
      },
    }).values;
  } catch (err) {
    process.stderr.write(`demo: ${err instanceof Error ? err.message.split('\n')[0] ?? '' : String(err)}\n\n${HELP}\n`);
    return 2;
  }
  if (flags.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (flags['model-only']) return modelOnly(flags.port);
  const delay = flags.quiet ? 0 : Number(env.DEMO_STEP_DELAY ?? 1500);
  // A reader that goes away (`npm run demo | head`) must not stop the clean-up: stop writing.
  let stdoutGone = false;
  process.stdout.on('error', () => { stdoutGone = true; });
  const out = new Output({
    stepDelayMs: Number.isFinite(delay) && delay > 0 ? delay : 0,
    color: process.stdout.isTTY && env.NO_COLOR === undefined,
    write: (t) => { if (!stdoutGone) process.stdout.write(t); },
  });
  out.title('Gatehouse demo: a LangChain agent behind a zero-trust gateway');
  await out.section('Setting up');
  const demo = await startDemo({ env, logLevel: flags.verbose ? 'info' : 'silent' });
  const stop = (): void => { void demo.close().finally(() => process.exit(130)); };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    describeSetup(out, demo);
    const results = await runSteps(out, demo, flags.quiet ? 1000 : 8);
    const leaked = leaks(out.transcript());
    await out.section('Summary');
    for (const [i, r] of results.entries()) out.line(`${r.ok ? '✓' : '✗'} ${i + 1}`, `${r.title}${r.ok ? '' : ` — FAILED: ${r.failure ?? ''}`}`, r.ok ? 'green' : 'red');
    const ok = results.every((r) => r.ok) && leaked.length === 0;
    if (leaked.length > 0) out.fail(`${leaked.length} seeded email(s) or card number(s) were printed unmasked`);
    const failed = results.find((r) => !r.ok);
    out.raw('');
    out.raw(ok
      ? `  All ${results.length} steps had the expected outcome; no seeded email or card number was printed in clear.\n  Next: docs/getting-started.md — the same with your own agent and data.`
      : `  The demo did not go as expected${failed ? ` at step "${failed.id}" (${failed.title})` : ''}.`);
    if (flags.json) out.raw(JSON.stringify({ demo: 'gatehouse', ok, db: demo.db.kind, model: demo.model.mode, leaked: leaked.length, steps: results }));
    return ok ? 0 : 1;
  } finally {
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
    await demo.close();
  }
}

function describeSetup(out: Output, d: DemoEnv): void {
  out.line('database', `${d.db.kind === 'pglite' ? 'PGlite (PostgreSQL in WebAssembly) served over the wire protocol' : 'PostgreSQL from DEMO_PG_URL'}: ${CUSTOMERS.length} fake customers with names, emails, phones, card numbers`);
  out.line('model', d.model.label);
  out.line('gateway', `${d.gw.http.url} (admin API, /proxy/demo-llm); PostgreSQL listener ${d.gw.listeners.postgres?.host ?? '?'}:${d.gw.listeners.postgres?.port ?? '?'}`);
  out.line('config', 'demo/gatehouse.demo.yaml + demo/policies/demo.cedar; embedded store in a temp dir');
  out.line('identities', `alice via agent "support-agent" (key ${d.agentKeyId}, groups support / agents)\ndana, group dba: approves held writes`);
  out.line('agent', 'LangChain JS: ChatOpenAI → /proxy/demo-llm/v1 with the agent\'s Gatehouse key,\nbindTools([run_sql]); run_sql uses pg → postgres://alice:<agent key>@gateway/crm');
}

async function runSteps(out: Output, d: DemoEnv, replaySpeed: number): Promise<StepResult[]> {
  const session = `demo-${randomUUID()}`;
  if (!d.gw.listeners.postgres) throw new Error('the gateway\'s PostgreSQL listener is not running');
  const agent = await DemoAgent.connect({
    gatewayUrl: d.gw.http.url, postgres: d.gw.listeners.postgres, key: d.agentKey, model: d.model.name, session,
    scriptedTools: d.model.mode === 'openai',
  });
  const c: StepContext = { env: d, agent, out, auditSeq: 0 };
  const results: StepResult[] = [];
  const steps: [string, string, () => Promise<StepResult>][] = [
    ['read', 'Read customer records', () => stepRead(c)],
    ['drop', 'DROP TABLE from the agent', () => stepDrop(c)],
    ['delete', 'DELETE held for review', () => stepDelete(c, d.gw.services.reviewHoldMs)],
    ['secret', 'API key in a prompt', () => stepSecret(c, agent.session ?? session)],
  ];
  try {
    for (const [i, [id, title, run]] of steps.entries()) {
      await out.step(i + 1, steps.length + 1, title);
      results.push(await guarded(out, id, title, run));
    }
  } finally {
    await agent.close(); // ends the agent's database session (which anchors its recording)
  }
  await out.step(steps.length + 1, steps.length + 1, 'Replay the recorded sessions');
  results.push(await guarded(out, 'replay', 'Replay the recorded sessions', () => stepReplay(c, agent.session ?? session, replaySpeed)));
  return results;
}

/** A step that throws fails (named), and the demo goes on with the next one. */
async function guarded(out: Output, id: string, title: string, run: () => Promise<StepResult>): Promise<StepResult> {
  try {
    return await run();
  } catch (err) {
    const failure = err instanceof Error ? err.message.split('\n')[0] ?? '' : String(err);
    out.fail(`step "${id}" failed: ${failure}`);
    return { id, title, ok: false, failure, detail: {} };
  }
}

/** The key the demo model accepts with --model-only (it is a demo: the model holds no data). */
const MODEL_ONLY_KEY = 'demo-model-key';

/** `--model-only`: serves the scripted model until SIGINT/SIGTERM. */
async function modelOnly(portText: string | undefined): Promise<number> {
  const port = Number(portText ?? '8089');
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write('demo: --port must be a port number\n');
    return 2;
  }
  const model = await startDemoModel({ apiKey: MODEL_ONLY_KEY, port });
  process.stdout.write([
    `demo model (scripted, OpenAI-compatible) at ${model.url}/v1 with API key "${MODEL_ONLY_KEY}"`,
    `start a gateway on it:  OPENAI_BASE_URL=${model.url} OPENAI_API_KEY=${MODEL_ONLY_KEY} npm start`,
    'Ctrl-C stops it.',
    '',
  ].join('\n'));
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await model.close();
  return 0;
}

process.exitCode = await main(process.argv.slice(2), process.env).catch((err: unknown) => {
  process.stderr.write(`demo: ${err instanceof Error ? err.message : String(err)}\n`);
  return 1;
});
