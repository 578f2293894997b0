import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CliError, type Io } from './args.ts';
import { findConfigPath } from '../config/find-config.ts';
import { loadConfig } from '../config/load.ts';
import { MEMORY_STORE_PATH } from '../config/finalize.ts';
import type { GatehouseConfig } from '../config/types.ts';

/** A small client for the admin API, used by the CLI commands. */
export class ApiClient {
  readonly base: string;
  readonly #token: string;

  constructor(base: string, token: string) {
    this.base = base.replace(/\/+$/, '');
    this.#token = token;
  }

  /**
   * From `GATEHOUSE_URL` and `GATEHOUSE_TOKEN`. Without them: the gateway and the bootstrap admin
   * key of the local configuration, else `http://127.0.0.1:8080`.
   */
  static fromEnv(io: Io): ApiClient {
    const local = localGateway(io);
    const base = nonEmpty(io.env.GATEHOUSE_URL) ?? local.url;
    const token = nonEmpty(io.env.GATEHOUSE_TOKEN) ?? readAdminKey(local.keyFile);
    return new ApiClient(base, token);
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        headers: { authorization: `Bearer ${this.#token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(120_000),
      });
    } catch {
      throw new CliError(`cannot reach the gateway at ${this.base} (is it running? start it with: gatehouse start)`);
    }
    const text = await res.text();
    let data: unknown;
    try {
      data = text.length > 0 ? JSON.parse(text) : {};
    } catch {
      throw new CliError(`unexpected ${res.status} response from ${this.base}${path}`);
    }
    if (!res.ok) {
      const p = data as { code?: string; detail?: string };
      throw new CliError(`${p.code ?? res.status}: ${p.detail ?? res.statusText}`);
    }
    return data as T;
  }
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

/** Where the local configuration says the gateway listens and keeps its admin key. */
function localGateway(io: Io): { url: string; keyFile: string } {
  const fallback = { url: 'http://127.0.0.1:8080', keyFile: join(resolve(io.cwd, '.gatehouse'), 'admin.key') };
  let cfg: GatehouseConfig;
  try {
    cfg = loadConfig({ path: findConfigPath(io.env, io.cwd), env: io.env });
  } catch {
    return fallback;
  }
  const listen = cfg.server.http.listen.replace(/^(0\.0\.0\.0|\[::\]):/, '127.0.0.1:');
  const url = cfg.server.public_url ?? `${cfg.server.tls ? 'https' : 'http'}://${listen}`;
  const keyFile = cfg.store.postgres || cfg.store.embedded.path === MEMORY_STORE_PATH ? fallback.keyFile : join(cfg.store.embedded.path, 'admin.key');
  return { url, keyFile };
}

/** The bootstrap admin key, as written by the first `gatehouse start`. */
function readAdminKey(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    throw new CliError(`no credential: set GATEHOUSE_TOKEN, or run where the gateway's store is (${file} not readable)`);
  }
}
