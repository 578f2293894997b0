import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { CliError, type Io } from './args.ts';
import { isErrorCode } from '../kernel/errors.ts';
import { localGateway } from './local-gateway.ts';

/** A small client for the admin API, used by the CLI commands. */
export class ApiClient {
  readonly base: string;
  readonly #token: string;

  constructor(base: string, token: string) {
    this.base = base.replace(/\/+$/, '');
    this.#token = token;
  }

  /**
   * From `GATEHOUSE_URL` (else the gateway of the local configuration, else `http://127.0.0.1:8080`)
   * and the first credential found: `GATEHOUSE_TOKEN`, then the token saved by `gatehouse login`
   * while it has not expired, then the bootstrap admin key of the local store.
   *
   * @example const { items } = await ApiClient.fromEnv(io).request<{ items: unknown[] }>('GET', '/api/v1/reviews');
   */
  static fromEnv(io: Io): ApiClient {
    let local: { url: string; keyFile: string } | undefined;
    const localConfig = (): { url: string; keyFile: string } => (local ??= localGateway(io));
    const base = nonEmpty(io.env.GATEHOUSE_URL) ?? localConfig().url;
    const explicit = nonEmpty(io.env.GATEHOUSE_TOKEN);
    if (explicit !== undefined) return new ApiClient(base, explicit);
    const login = readLoginToken(io.env, Date.now());
    return new ApiClient(base, login.token ?? readAdminKey(localConfig().keyFile, login.note));
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
      throw new CliError(`cannot reach the gateway at ${this.base} (is it running? start it with: gatehouse start)`, 1, 'upstream_unreachable');
    }
    const text = await res.text();
    let data: unknown;
    try {
      data = text.length > 0 ? JSON.parse(text) : {};
    } catch {
      throw new CliError(`unexpected ${res.status} response from ${this.base}${path}`, 1, 'upstream_error');
    }
    if (!res.ok) {
      const p = data as { code?: string; detail?: string };
      throw new CliError(`${p.code ?? res.status}: ${p.detail ?? res.statusText}`, 1, isErrorCode(p.code) ? p.code : 'upstream_error');
    }
    return data as T;
  }
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

/** The bootstrap admin key, as written by the first `gatehouse start`. */
function readAdminKey(file: string, loginNote: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    throw new CliError(`no credential: ${loginNote}run \`gatehouse login\` or set GATEHOUSE_TOKEN (or run where the gateway's store is: ${file} is not readable)`, 1, 'unauthenticated');
  }
}

/** What `gatehouse login` saves (the token file is JSON, mode 0600). */
export interface SavedLogin {
  readonly issuer: string;
  readonly client_id: string;
  /** Which token of the grant was kept: the access token when it is a JWT for the gateway's audience, else the id_token. */
  readonly token_type: 'access_token' | 'id_token';
  readonly token: string;
  readonly user: string;
  /** ISO 8601; the token's own `exp`. */
  readonly expires_at: string;
}

/** Largest token file read; a saved login is a few kilobytes. */
const MAX_TOKEN_FILE_BYTES = 64 * 1024;
/** A saved token this close to its expiry is not used (the request could outlive it). */
const EXPIRY_MARGIN_MS = 30_000;

/**
 * Where `gatehouse login` keeps its token: `$XDG_CONFIG_HOME/gatehouse/token.json`, else
 * `~/.config/gatehouse/token.json` (a relative XDG_CONFIG_HOME is ignored, as the XDG spec says).
 *
 * @example loginTokenPath({ XDG_CONFIG_HOME: '/home/ann/.config' }) // '/home/ann/.config/gatehouse/token.json'
 */
export function loginTokenPath(env: Readonly<Record<string, string | undefined>>): string {
  const xdg = nonEmpty(env.XDG_CONFIG_HOME);
  const base = xdg !== undefined && isAbsolute(xdg) ? xdg : join(nonEmpty(env.HOME) ?? homedir(), '.config');
  return join(base, 'gatehouse', 'token.json');
}

/**
 * The saved login token if there is one that has not expired; otherwise `note` says why not (it is
 * put in front of the "no credential" message). A token file that others may read, or that is not
 * a saved login, is refused with a CliError rather than skipped.
 */
export function readLoginToken(env: Readonly<Record<string, string | undefined>>, now: number): { token?: string; note: string } {
  const path = loginTokenPath(env);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return { note: '' };
  }
  let text: string;
  try {
    const st = fstatSync(fd);
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
      throw new CliError(`${path} may be read by others (mode ${(st.mode & 0o777).toString(8)}): remove it or run \`gatehouse login\` again`);
    }
    if (!st.isFile() || st.size > MAX_TOKEN_FILE_BYTES) throw new CliError(`${path} is not a saved login: remove it or run \`gatehouse login\` again`);
    const buf = Buffer.alloc(st.size);
    const n = readSync(fd, buf, 0, st.size, 0);
    text = buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
  const saved = parseSavedLogin(text);
  if (!saved) throw new CliError(`${path} is not a saved login: remove it or run \`gatehouse login\` again`);
  const expiresAt = Date.parse(saved.expires_at);
  if (!(expiresAt - EXPIRY_MARGIN_MS > now)) return { note: `the login of ${saved.user} expired at ${saved.expires_at}; ` };
  return { token: saved.token, note: '' };
}

function parseSavedLogin(text: string): SavedLogin | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  const strings = ['issuer', 'client_id', 'token', 'user', 'expires_at'].every((k) => typeof o[k] === 'string' && o[k] !== '');
  return strings && (o.token_type === 'access_token' || o.token_type === 'id_token') ? o as unknown as SavedLogin : undefined;
}
