import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { loadConfig } from '../../src/config/load.ts';
import { startGateway, type Gateway } from '../../src/app/gateway.ts';
import { createLogger } from '../../src/kernel/log.ts';
import { startPgliteServer } from './pglite-server.ts';
import { startDemoModel, DEMO_MODEL_NAME, type DemoModel } from './demo-model.ts';
import { DEMO_TABLE_COMMENT, seedSql } from './seed.ts';

/** The demo's configuration file (its `${DEMO_…}` values are filled in by {@link startDemo}). */
export const DEMO_CONFIG = fileURLToPath(new URL('../gatehouse.demo.yaml', import.meta.url));
/** The key the local demo model expects: only the gateway holds it (it is in no client). */
const MODEL_KEY = 'demo-model-upstream-key-held-by-gatehouse';

/** The demo database, and a direct connection to it for the demo's own checks. */
export interface DemoDb {
  readonly kind: 'pglite' | 'postgres';
  /** Upstream URL without its password (the gateway vaults the password). */
  readonly url: string;
  readonly password: string;
  /** Runs SQL directly on the database, bypassing the gateway (for the demo's checks only). */
  query(sql: string, params?: readonly unknown[]): Promise<Record<string, unknown>[]>;
  stop(): Promise<void>;
}

/** Which model answers: the local scripted one, or OpenAI (any OpenAI-compatible API). */
export interface ModelChoice {
  readonly mode: 'scripted' | 'openai';
  /** Model name the agent asks for. */
  readonly name: string;
  /** Human-readable description. */
  readonly label: string;
}

/** Everything the demo started; `close()` stops all of it. */
export interface DemoEnv {
  readonly db: DemoDb;
  readonly model: ModelChoice;
  /** The local demo model (undefined with OpenAI). */
  readonly demoModel: DemoModel | undefined;
  readonly gw: Gateway;
  readonly stateDir: string;
  readonly adminKey: string;
  /** Alice's key for the agent "support-agent" acting for her (groups support / agents). */
  readonly agentKey: string;
  readonly agentKeyId: string;
  /** Dana's key (group dba): the approver. */
  readonly danaKey: string;
  /** fetch against the gateway's admin API with `token` (default the admin key); `T` is the caller's view of the JSON. */
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- a typed view of the API's JSON; the demo's checks verify the values
  api<T>(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; json: T }>;
  close(): Promise<void>;
}

/** Options of {@link startDemo}; environment variables come in through `env`. */
export interface DemoSetupOptions {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Gateway log level (default silent: the demo prints its own story). */
  readonly logLevel?: string;
}

/**
 * Starts the demo database (PGlite over the wire protocol, or `DEMO_PG_URL`), the model (the
 * local scripted demo model, or OpenAI when `OPENAI_API_KEY` is set), and the gateway in-process
 * with demo/gatehouse.demo.yaml on an embedded store in a temp dir; then creates the agent's and
 * the approver's keys through the admin API. On any failure what was started is stopped.
 *
 * @example
 *   const env = await startDemo({ env: process.env });
 *   try { … } finally { await env.close(); }
 */
export async function startDemo(opts: DemoSetupOptions): Promise<DemoEnv> {
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async (): Promise<void> => {
    for (const c of closers.splice(0).reverse()) await c().catch(() => undefined);
  };
  try {
    const db = await startDemoDb(opts.env.DEMO_PG_URL);
    closers.push(() => db.stop());
    const openaiKey = opts.env.OPENAI_API_KEY ?? '';
    const demoModel = openaiKey === '' ? await startDemoModel({ apiKey: MODEL_KEY }) : undefined;
    if (demoModel) closers.push(() => demoModel.close());
    const base = (opts.env.OPENAI_BASE_URL ?? '').replace(/\/+$/, '').replace(/\/v1$/, '');
    const model: ModelChoice = demoModel
      ? { mode: 'scripted', name: DEMO_MODEL_NAME, label: `scripted OpenAI-compatible demo model at ${demoModel.url}` }
      : { mode: 'openai', name: opts.env.DEMO_OPENAI_MODEL ?? 'gpt-4o-mini', label: `${opts.env.DEMO_OPENAI_MODEL ?? 'gpt-4o-mini'} at ${base || 'https://api.openai.com'} (OPENAI_API_KEY)` };

    const stateDir = mkdtempSync(join(tmpdir(), 'gatehouse-demo-'));
    closers.push(() => { rmSync(stateDir, { recursive: true, force: true }); return Promise.resolve(); });
    const config = loadConfig({
      path: DEMO_CONFIG,
      env: {
        DEMO_STATE_DIR: stateDir,
        DEMO_CRM_URL: db.url,
        DEMO_CRM_PASSWORD: db.password,
        DEMO_LLM_PROVIDER: demoModel || base !== '' ? 'openai-compatible' : 'openai',
        DEMO_LLM_URL: demoModel?.url ?? (base || 'https://api.openai.com'),
        DEMO_LLM_API_KEY: demoModel ? MODEL_KEY : openaiKey,
      },
    });
    const gw = await startGateway(config, { configPath: DEMO_CONFIG, log: createLogger({ level: opts.logLevel ?? 'silent' }) });
    closers.push(() => gw.close());
    const adminKey = readFileSync(join(stateDir, 'admin.key'), 'utf8').trim();
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- as DemoEnv.api
    const api = async <T>(method: string, path: string, body?: unknown, token = adminKey): Promise<{ status: number; json: T }> => {
      const res = await fetch(gw.http.url + path, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(60_000),
      });
      const text = await res.text();
      return { status: res.status, json: (text === '' ? {} : JSON.parse(text)) as T };
    };
    const agent = await api<{ key: string; id: string }>('POST', '/api/v1/api-keys', {
      user: 'alice', groups: ['support'], agent: 'support-agent', agent_groups: ['agents'], expires: '2h',
      description: 'demo: the support agent acting for alice',
    });
    const dana = await api<{ key: string; id: string }>('POST', '/api/v1/api-keys', { user: 'dana', groups: ['dba'], expires: '2h', description: 'demo: approver' });
    if (agent.status !== 201 || dana.status !== 201) throw new Error(`creating the demo keys failed (HTTP ${agent.status}, ${dana.status})`);
    return {
      db, model, demoModel, gw, stateDir, adminKey, api,
      agentKey: agent.json.key, agentKeyId: agent.json.id, danaKey: dana.json.key,
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/**
 * The demo CRM: PGlite served over the wire protocol, or the database named by `pgUrl`. In a
 * real database the demo only replaces a `customers` table it created itself (marked by a
 * comment); it refuses to touch any other.
 */
export async function startDemoDb(pgUrl: string | undefined): Promise<DemoDb> {
  if (pgUrl === undefined || pgUrl === '') {
    const up = await startPgliteServer(seedSql());
    return {
      kind: 'pglite', url: up.url, password: '',
      query: async (sql, params) => (await up.db.query<Record<string, unknown>>(sql, params ? [...params] : undefined)).rows,
      stop: () => up.stop(),
    };
  }
  const client = new pg.Client({ connectionString: pgUrl });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const existing = await client.query<{ comment: string | null }>("SELECT obj_description(to_regclass('public.customers'), 'pg_class') AS comment WHERE to_regclass('public.customers') IS NOT NULL");
    const found = existing.rows[0];
    if (found !== undefined && found.comment !== DEMO_TABLE_COMMENT) {
      throw new Error('DEMO_PG_URL: that database already has a customers table the demo did not create; give the demo an empty database (createdb gatehouse_demo)');
    }
    await client.query(seedSql());
  } catch (err) {
    await client.end();
    throw err;
  }
  const u = new URL(pgUrl);
  const password = decodeURIComponent(u.password);
  u.password = '';
  return {
    kind: 'postgres', url: u.toString(), password,
    query: async (sql, params) => (await client.query<Record<string, unknown>>(sql, params ? [...params] : undefined)).rows,
    stop: () => client.end(),
  };
}
