import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, openSync, closeSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
// Real time on purpose: the device-code poll interval and the SAML browser wait are a client
// process waiting for a person (the CLI has no gateway clock; the lint's timer rule allows src/cli).
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeJwt, type JWTPayload } from 'jose';
import { CliError, parse, UsageError, type Command, type Io } from '../args.ts';
import { loginTokenPath, type SavedLogin } from '../client.ts';
import { localGateway } from '../local-gateway.ts';
import { findConfigPath } from '../../config/find-config.ts';
import { loadConfig } from '../../config/load.ts';
import type { IssuerConfig } from '../../config/types.ts';
import { fetchJsonObject } from '../../identity/bounded-fetch.ts';
import { isGatehouseError } from '../../kernel/errors.ts';

const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
/** Largest device authorization or token response read. */
const MAX_RESPONSE_BYTES = 64 * 1024;
/** Each HTTP exchange with the identity provider. */
const REQUEST_TIMEOUT_MS = 10_000;
/** RFC 8628 §3.2: the default polling interval; `slow_down` adds 5 s (§3.5). */
const DEFAULT_INTERVAL_S = 5;
const SLOW_DOWN_S = 5;
const MAX_INTERVAL_S = 60;
/** We never wait longer than this, whatever `expires_in` says. */
const MAX_WAIT_S = 3600;

/** Which issuer, client and audience `gatehouse login` uses. */
interface Target { issuer: string; clientId: string; audiences: string[]; userClaim: string }
interface DeviceAuthorization { deviceCode: string; userCode: string; verificationUri: string; verificationUriComplete?: string; expiresInS: number; intervalS: number }

export const login: Command = {
  name: 'login',
  summary: 'Sign in with your identity provider (OIDC device flow, or SAML through the gateway); API commands then use the token',
  usage: 'gatehouse login [--issuer <url>] [--client-id <id>] [--audience <aud>] [--scope "openid groups"] [--no-browser] [--json]\n' +
    '       gatehouse login --saml [--gateway <url>] [--no-browser] [--json]\n' +
    '  --saml signs in through the gateway\'s SAML identity provider (identity.saml) in the browser; the gateway\n' +
    '  then issues its own token (loopback redirect to this command, code bound to a PKCE verifier). --gateway\n' +
    '  defaults to GATEHOUSE_URL, else the local configuration\'s gateway.\n' +
    '  Issuer, client id and audience default to the first of identity.issuers in the local config (its cli_client_id),\n' +
    '  else GATEHOUSE_OIDC_ISSUER, GATEHOUSE_OIDC_CLIENT_ID and GATEHOUSE_OIDC_AUDIENCE. The access token is kept when it is\n' +
    '  a JWT for that audience, else the id_token. Saved (mode 0600) to $XDG_CONFIG_HOME/gatehouse/token.json.',
  async run(argv, io) {
    const { values, positionals } = parse(argv, {
      issuer: { type: 'string' }, 'client-id': { type: 'string' }, audience: { type: 'string' }, scope: { type: 'string' },
      'no-browser': { type: 'boolean' }, json: { type: 'boolean' }, saml: { type: 'boolean' }, gateway: { type: 'string' },
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0] ?? ''}"`);
    if (values.saml) return samlLogin(values, io);
    if (values.gateway !== undefined) throw new UsageError('--gateway goes with --saml');
    const target = resolveTarget(values, io);
    const endpoints = await discover(target.issuer);
    const auth = await requestDeviceCode(endpoints.deviceAuthorization, target.clientId, values.scope ?? 'openid');

    io.err(`To sign in, open ${auth.verificationUri} and enter the code: ${auth.userCode}`);
    if (auth.verificationUriComplete !== undefined) io.err(`  (or open ${auth.verificationUriComplete})`);
    io.err(`Waiting for the sign-in at ${target.issuer} (the code expires in ${auth.expiresInS >= 120 ? `${Math.round(auth.expiresInS / 60)} min` : `${auth.expiresInS} s`})…`);
    if (!values['no-browser']) openBrowser(auth.verificationUriComplete ?? auth.verificationUri);

    const tokens = await pollForTokens(endpoints.token, target.clientId, auth);
    const saved = chooseToken(tokens, target);
    const path = loginTokenPath(io.env);
    writePrivateFile(path, `${JSON.stringify(saved, null, 2)}\n`);
    if (values.json) io.out(JSON.stringify({ saved: path, expires_at: saved.expires_at, user: saved.user }));
    else io.out(`logged in as ${saved.user} (${saved.token_type === 'access_token' ? 'access token' : 'id token'}, expires ${saved.expires_at}); saved to ${path}`);
    return 0;
  },
};

export const logout: Command = {
  name: 'logout',
  summary: 'Forget the token saved by gatehouse login',
  usage: 'gatehouse logout [--json]',
  run(argv, io) {
    const { values } = parse(argv, { json: { type: 'boolean' } });
    const path = loginTokenPath(io.env);
    let removed = true;
    try {
      rmSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new CliError(`cannot remove ${path}: ${(err as Error).message}`);
      removed = false;
    }
    if (values.json) io.out(JSON.stringify({ removed: removed ? path : null }));
    else io.out(removed ? `removed ${path}` : 'not logged in');
    return Promise.resolve(0);
  },
};

/** Longest wait for the browser to come back to the loopback listener (the gateway's flow lifetime). */
const SAML_WAIT_MS = 10 * 60_000;

/**
 * `gatehouse login --saml`: a loopback listener on 127.0.0.1, the browser sent to the gateway's
 * SAML start with the listener's port, a random state and the S256 challenge of a verifier; the
 * gateway verifies the IdP's assertion, redirects the browser here with a one-time code, and
 * exchanges code + verifier for a Gatehouse token (RFC 8252 / RFC 7636 shape).
 */
async function samlLogin(values: { gateway?: string | undefined; 'no-browser'?: boolean | undefined; json?: boolean | undefined }, io: Io): Promise<number> {
  const raw = values.gateway ?? (io.env.GATEHOUSE_URL === '' ? undefined : io.env.GATEHOUSE_URL) ?? localGateway(io).url;
  const gateway = trimSlash(checkUrl(raw, 'the gateway URL').href);
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const state = randomBytes(18).toString('base64url');
  let settle: (r: { code?: string; error?: string }) => void = () => undefined;
  const arrived = new Promise<{ code?: string; error?: string }>((resolve) => { settle = resolve; });
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== '/callback') { res.writeHead(404).end(); return; }
    const ok = url.searchParams.get('state') === state && (url.searchParams.get('code') ?? '') !== '';
    res.writeHead(ok ? 200 : 400, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
    res.end(ok ? 'Signed in to Gatehouse. You can close this tab and return to the terminal.\n' : 'This sign-in was not started by this gatehouse login.\n');
    if (ok) settle({ code: url.searchParams.get('code')! });
  });
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(0, '127.0.0.1', resolve); });
  const port = (server.address() as { port: number }).port;
  const timer = setTimeout(() => { settle({ error: 'timeout' }); }, SAML_WAIT_MS);
  try {
    const start = new URL(`${gateway}/ui/auth/saml/start`);
    start.search = new URLSearchParams({ cli_port: String(port), cli_challenge: challenge, cli_state: state }).toString();
    io.err(`To sign in, open ${start.href}`);
    io.err(`Waiting for the SAML sign-in through ${gateway} (up to 10 min)…`);
    if (!values['no-browser']) openBrowser(start.href);
    const got = await arrived;
    if (got.code === undefined) throw new CliError('the sign-in was not completed in time; run gatehouse login --saml again');
    let res: Response;
    try {
      res = await fetch(`${gateway}/ui/auth/saml/token`, {
        method: 'POST', redirect: 'manual', signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ code: got.code, code_verifier: verifier }),
      });
    } catch {
      throw new CliError(`cannot reach the gateway at ${gateway}`);
    }
    const text = await res.text();
    if (text.length > MAX_RESPONSE_BYTES) throw new CliError('the gateway sent an oversized response');
    let body: Record<string, unknown> = {};
    try { body = JSON.parse(text) as Record<string, unknown>; } catch { /* reported below */ }
    const token = body.access_token;
    const user = body.user;
    const expiresIn = body.expires_in;
    if (res.status !== 200 || typeof token !== 'string' || typeof user !== 'string' || typeof expiresIn !== 'number') {
      const detail = typeof body.detail === 'string' ? body.detail.replace(/[^\x20-\x7e]/g, '?').slice(0, 200) : `HTTP ${res.status}`;
      throw new CliError(`the gateway refused the sign-in: ${detail}`);
    }
    const saved: SavedLogin = {
      issuer: gateway, client_id: 'saml', token_type: 'access_token', token, user,
      expires_at: new Date(Date.now() + expiresIn * 1000).toISOString(),
    };
    const path = loginTokenPath(io.env);
    writePrivateFile(path, `${JSON.stringify(saved, null, 2)}\n`);
    if (values.json) io.out(JSON.stringify({ saved: path, expires_at: saved.expires_at, user: saved.user }));
    else io.out(`logged in as ${saved.user} (SAML, gateway token, expires ${saved.expires_at}); saved to ${path}`);
    return 0;
  } finally {
    clearTimeout(timer);
    server.close();
    server.closeAllConnections();
  }
}

/** Flags, else the local config's first issuer, else the environment. */
function resolveTarget(values: { issuer?: string | undefined; 'client-id'?: string | undefined; audience?: string | undefined }, io: Io): Target {
  let configured: readonly IssuerConfig[] = [];
  try {
    configured = loadConfig({ path: findConfigPath(io.env, io.cwd), env: io.env }).identity.issuers;
  } catch {
    // No usable local configuration: flags and environment only.
  }
  const env = (k: string): string | undefined => (io.env[k] === '' ? undefined : io.env[k]);
  const issuer = values.issuer ?? configured[0]?.issuer ?? env('GATEHOUSE_OIDC_ISSUER');
  if (issuer === undefined) throw new UsageError('no issuer: pass --issuer, add identity.issuers to gatehouse.yaml, or set GATEHOUSE_OIDC_ISSUER');
  checkUrl(issuer, 'the issuer');
  const entry = configured.find((i) => trimSlash(i.issuer) === trimSlash(issuer));
  const clientId = values['client-id'] ?? entry?.cli_client_id ?? env('GATEHOUSE_OIDC_CLIENT_ID');
  if (clientId === undefined) throw new UsageError('no client id: pass --client-id, set cli_client_id on the issuer in gatehouse.yaml, or set GATEHOUSE_OIDC_CLIENT_ID');
  const aud = values.audience ?? entry?.audience ?? env('GATEHOUSE_OIDC_AUDIENCE');
  return { issuer, clientId, audiences: aud === undefined ? [] : typeof aud === 'string' ? [aud] : [...aud], userClaim: entry?.user_claim ?? 'sub' };
}

const trimSlash = (u: string): string => u.replace(/\/+$/, '');

/** Identity provider URLs: https, or plain http on loopback only (tests, local providers). */
function checkUrl(raw: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CliError(`${what} is not a URL`);
  }
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) throw new CliError(`${what} must use https (plain http only on loopback): ${url.origin}`);
  return url;
}

/** OIDC discovery: the issuer must name itself; both endpoints must be https. */
async function discover(issuer: string): Promise<{ deviceAuthorization: string; token: string }> {
  let doc: Record<string, unknown>;
  try {
    doc = await fetchJsonObject(`${trimSlash(issuer)}/.well-known/openid-configuration`, REQUEST_TIMEOUT_MS);
  } catch (err) {
    throw new CliError(`cannot read the OpenID configuration of ${issuer}: ${isGatehouseError(err) ? err.detail : 'request failed'}`);
  }
  if (typeof doc.issuer !== 'string' || trimSlash(doc.issuer) !== trimSlash(issuer)) throw new CliError(`${issuer}: its discovery document names another issuer`);
  const device = doc.device_authorization_endpoint;
  const token = doc.token_endpoint;
  if (typeof device !== 'string') throw new CliError(`${issuer} does not offer the device authorization grant (no device_authorization_endpoint)`);
  if (typeof token !== 'string') throw new CliError(`${issuer}: its discovery document has no token_endpoint`);
  return { deviceAuthorization: checkUrl(device, 'device_authorization_endpoint').href, token: checkUrl(token, 'token_endpoint').href };
}

/** RFC 8628 §3.1–3.2. */
async function requestDeviceCode(endpoint: string, clientId: string, scope: string): Promise<DeviceAuthorization> {
  const { status, body } = await postForm(endpoint, { client_id: clientId, scope });
  if (status !== 200) throw new CliError(`the identity provider refused the device authorization request: ${oauthError(body, status)}`);
  const { device_code: deviceCode, user_code: userCode, verification_uri: uri, verification_uri_complete: complete, expires_in: expiresIn, interval } = body;
  if (typeof deviceCode !== 'string' || deviceCode === '' || typeof userCode !== 'string' || !/^[\x21-\x7e]{1,64}$/.test(userCode) ||
      typeof uri !== 'string' || typeof expiresIn !== 'number' || !(expiresIn > 0)) {
    throw new CliError('the identity provider sent a malformed device authorization response');
  }
  return {
    deviceCode, userCode,
    verificationUri: pageUrl(uri),
    ...(typeof complete === 'string' ? { verificationUriComplete: pageUrl(complete) } : {}),
    expiresInS: Math.min(expiresIn, MAX_WAIT_S),
    intervalS: typeof interval === 'number' && interval >= 1 ? Math.min(interval, MAX_INTERVAL_S) : DEFAULT_INTERVAL_S,
  };
}

/** A page we print (and may open): http(s) only, re-serialized so no control character reaches the terminal. */
function pageUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CliError('the identity provider sent a malformed verification URI');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new CliError('the identity provider sent a verification URI that is not http(s)');
  return url.href;
}

/**
 * RFC 8628 §3.4–3.5: polls the token endpoint every `interval` seconds until the user finishes,
 * refuses, or the device code expires (`expires_in` is also our own deadline).
 */
async function pollForTokens(endpoint: string, clientId: string, auth: DeviceAuthorization): Promise<Record<string, unknown>> {
  const deadline = Date.now() + auth.expiresInS * 1000;
  let interval = auth.intervalS;
  for (;;) {
    await sleep(interval * 1000);
    const { status, body } = await postForm(endpoint, { grant_type: DEVICE_CODE_GRANT, device_code: auth.deviceCode, client_id: clientId });
    if (status === 200) return body;
    switch (body.error) {
      case 'authorization_pending':
        break;
      case 'slow_down':
        interval = Math.min(interval + SLOW_DOWN_S, MAX_INTERVAL_S);
        break;
      case 'expired_token':
        throw new CliError('the code expired before the sign-in was completed; run gatehouse login again');
      case 'access_denied':
        throw new CliError('the sign-in was denied at the identity provider (access_denied)');
      default:
        throw new CliError(`the identity provider refused the token request: ${oauthError(body, status)}`);
    }
    if (Date.now() >= deadline) throw new CliError('the code expired before the sign-in was completed; run gatehouse login again');
  }
}

/**
 * The token the gateway accepts: the access token if it is a JWT from this issuer whose `aud`
 * names the gateway's audience (what the gateway's issuer entry accepts); otherwise the id_token,
 * whose audience is the client id (the gateway then needs the CLI client id among the issuer's
 * audiences). Its `iss` and `exp` are checked here; the signature is the gateway's to verify.
 */
function chooseToken(tokens: Record<string, unknown>, target: Target): SavedLogin {
  const access = jwtClaims(tokens.access_token);
  const forGateway = access !== undefined && audienceOf(access).some((a) => target.audiences.includes(a));
  const token = forGateway ? tokens.access_token : tokens.id_token;
  const claims = forGateway ? access : jwtClaims(tokens.id_token);
  if (typeof token !== 'string' || claims === undefined) {
    throw new CliError(`the identity provider returned no token the gateway can verify (no JWT access token for ${target.audiences.join(', ') || 'a known audience'}, no id_token)`);
  }
  if (typeof claims.iss !== 'string' || trimSlash(claims.iss) !== trimSlash(target.issuer)) throw new CliError('the token names another issuer; it was not saved');
  if (typeof claims.exp !== 'number' || claims.exp * 1000 <= Date.now()) throw new CliError('the token has no expiry or has already expired; it was not saved');
  const user = claims[target.userClaim] ?? claims.sub;
  if (typeof user !== 'string' || user === '') throw new CliError(`the token has no "${target.userClaim}" claim; it was not saved`);
  return {
    issuer: target.issuer, client_id: target.clientId, token_type: forGateway ? 'access_token' : 'id_token', token,
    user, expires_at: new Date(claims.exp * 1000).toISOString(),
  };
}

function jwtClaims(token: unknown): JWTPayload | undefined {
  if (typeof token !== 'string' || token.split('.').length !== 3) return undefined;
  try {
    return decodeJwt(token);
  } catch {
    return undefined;
  }
}

const audienceOf = (c: JWTPayload): string[] => (typeof c.aud === 'string' ? [c.aud] : Array.isArray(c.aud) ? c.aud : []);

/** `error` (and a short, printable `error_description`) of an OAuth error response. */
function oauthError(body: Record<string, unknown>, status: number): string {
  const printable = (v: unknown, n: number): string | undefined => (typeof v === 'string' ? v.replace(/[^\x20-\x7e]/g, '?').slice(0, n) : undefined);
  const error = printable(body.error, 64) ?? `HTTP ${status}`;
  const detail = printable(body.error_description, 200);
  return detail === undefined ? error : `${error} (${detail})`;
}

/** POSTs a form and reads at most MAX_RESPONSE_BYTES of JSON object back. */
async function postForm(url: string, form: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST', redirect: 'manual', signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams(form),
    });
  } catch {
    throw new CliError(`cannot reach the identity provider at ${new URL(url).origin}`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (res.body) {
    for await (const chunk of res.body as ReadableStream<Uint8Array>) {
      size += chunk.byteLength;
      if (size > MAX_RESPONSE_BYTES) throw new CliError('the identity provider sent an oversized response');
      chunks.push(chunk);
    }
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    body = undefined;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new CliError(`unexpected HTTP ${res.status} response from ${new URL(url).origin}`);
  return { status: res.status, body: body as Record<string, unknown> };
}

/** Writes `text` to `path` with mode 0600 (directory 0700), atomically: a temp file, then rename. */
function writePrivateFile(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = join(dirname(path), `.token-${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  try {
    chmodSync(tmp, 0o600);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** Best effort: the verification page in the user's browser. A missing opener is not an error. */
function openBrowser(url: string): void {
  const [cmd, args] = process.platform === 'darwin' ? ['open', [url]]
    : process.platform === 'win32' ? ['rundll32', ['url.dll,FileProtocolHandler', url]]
      : ['xdg-open', [url]];
  try {
    const child = spawn(cmd, args, { stdio: 'ignore', detached: true });
    child.on('error', () => undefined);
    child.unref();
  } catch {
    // No browser here: the printed URL is enough.
  }
}
