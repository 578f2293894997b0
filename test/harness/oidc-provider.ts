import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK } from 'jose';

/**
 * A real OpenID provider (`oidc-provider` v9, the certified Node implementation) on 127.0.0.1 for
 * identity tests. One confidential client gets JWT access tokens by `client_credentials`; resource
 * indicators choose the audience; `groups` is added to every token. Plain http on loopback is what
 * oidc-provider allows outside production (it only insists on https behind a production deployment).
 * With `device`, a public client also gets the RFC 8628 device authorization grant, and the harness
 * plays the user at the provider's own verification pages ({@link OidcProviderHarness.approveDevice}).
 */
export interface OidcProviderHarness {
  /** `http://127.0.0.1:<port>`: the issuer identifier, also the discovery base. */
  readonly issuer: string;
  /** The client id, which oidc-provider puts in `sub` of client_credentials tokens. */
  readonly clientId: string;
  /** A JWT access token for `resource` (default: the audience given at start). */
  getToken(resource?: string): Promise<string>;
  /** Puts a new signing key first (new tokens use it) and keeps the old one published. */
  rotateKeys(): Promise<void>;
  /** How many times the JWKS was fetched so far. */
  jwksRequests(): number;
  /**
   * Plays the user in a browser (cookies, redirects, the provider's own forms): opens
   * `verificationUriComplete`, confirms the code, signs in as `user` and consents. Needs `device`.
   */
  approveDevice(verificationUriComplete: string, user: string): Promise<void>;
  /** Opens `verificationUriComplete` and presses the provider's "Abort": the grant ends in `access_denied`. */
  denyDevice(verificationUriComplete: string): Promise<void>;
  stop(): Promise<void>;
}

/** The device authorization grant (RFC 8628) for one public client, e.g. the gatehouse CLI. */
export interface DeviceFlowOptions {
  /** The public client's id (`token_endpoint_auth_method: none`). */
  readonly clientId: string;
  /** `jwt` (default): access tokens for the audience are JWTs; `opaque`: they are not (clients then use the id_token). */
  readonly accessTokenFormat?: 'jwt' | 'opaque';
  /** Lifetime of a device code (`expires_in`), default 600 s. */
  readonly codeTtlS?: number;
}

interface InteractionDetails {
  readonly prompt: { readonly name: string; readonly details: { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> } };
  readonly params: Record<string, unknown>;
  readonly session?: { readonly accountId: string };
  readonly grantId?: string;
}
interface GrantInstance {
  addOIDCScope(scope: string): void;
  addOIDCClaims(claims: string[]): void;
  addResourceScope(resource: string, scope: string): void;
  save(): Promise<string>;
}
interface ProviderInstance {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>;
  interactionFinished(req: IncomingMessage, res: ServerResponse, result: Record<string, unknown>, opts: { mergeWithLastSubmission: boolean }): Promise<void>;
  readonly Grant: { new (init: { accountId: string; clientId: string }): GrantInstance; find(id: string): Promise<GrantInstance | undefined> };
}
type ProviderClass = new (issuer: string, configuration: Record<string, unknown>) => ProviderInstance;

/** oidc-provider ships no type declarations: load it through a narrow local interface. */
async function loadProvider(): Promise<ProviderClass> {
  const name: string = 'oidc-provider';
  const mod = (await import(name)) as { default: ProviderClass };
  return mod.default;
}

/**
 * A per-provider in-memory store for oidc-provider's models (the same thing its built-in dev adapter
 * does, without the start-up warning). Sessions are also found by `uid` and device codes by
 * `userCode` (the device flow's lookups); expiry is left to oidc-provider, which checks `exp` itself.
 */
function memoryAdapter(): new (model: string) => object {
  const data = new Map<string, Record<string, unknown>>();
  const byIndex = new Map<string, string>();
  const indexKeys = (model: string, payload: Record<string, unknown>): string[] => [
    ...(model === 'Session' && typeof payload.uid === 'string' ? [`Session:uid:${payload.uid}`] : []),
    ...(typeof payload.userCode === 'string' ? [`${model}:userCode:${payload.userCode}`] : []),
  ];
  return class {
    readonly #model: string;
    constructor(model: string) { this.#model = model; }
    upsert = (id: string, payload: Record<string, unknown>): Promise<void> => {
      data.set(`${this.#model}:${id}`, payload);
      for (const k of indexKeys(this.#model, payload)) byIndex.set(k, id);
      return Promise.resolve();
    };
    find = (id: string): Promise<Record<string, unknown> | undefined> => Promise.resolve(data.get(`${this.#model}:${id}`));
    findByUid = (uid: string): Promise<Record<string, unknown> | undefined> => this.#byIndex(`Session:uid:${uid}`);
    findByUserCode = (code: string): Promise<Record<string, unknown> | undefined> => this.#byIndex(`${this.#model}:userCode:${code}`);
    consume = (id: string): Promise<void> => {
      const v = data.get(`${this.#model}:${id}`);
      if (v) v.consumed = Math.floor(Date.now() / 1000);
      return Promise.resolve();
    };
    destroy = (id: string): Promise<void> => {
      const v = data.get(`${this.#model}:${id}`);
      if (v) for (const k of indexKeys(this.#model, v)) byIndex.delete(k);
      data.delete(`${this.#model}:${id}`);
      return Promise.resolve();
    };
    revokeByGrantId = (): Promise<void> => Promise.resolve();
    #byIndex(key: string): Promise<Record<string, unknown> | undefined> {
      const id = byIndex.get(key);
      return Promise.resolve(id === undefined ? undefined : data.get(`${this.#model}:${id}`));
    }
  };
}

async function signingKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  return { ...(await exportJWK(privateKey)), kid: `k-${randomBytes(6).toString('hex')}`, alg: 'ES256', use: 'sig' };
}

/**
 * Starts the provider.
 *
 * @example
 *   const op = await startOidcProvider({ audience: 'https://gatehouse.test', groups: ['dev'] });
 *   const token = await op.getToken();
 *   await op.stop();
 *
 * @example
 *   const op = await startOidcProvider({ audience: 'https://gatehouse.test', groups: ['dev'], device: { clientId: 'gatehouse-cli' } });
 *   // … the client asks for a device code and shows verification_uri_complete …
 *   await op.approveDevice(verificationUriComplete, 'alice');
 */
export async function startOidcProvider(opts: {
  audience: string; groups: string[]; clientId?: string; tokenTtlS?: number; device?: DeviceFlowOptions;
  /** A public web client (authorization code + PKCE) with a loopback redirect URI (any port, RFC 8252 §7.3). */
  authCode?: { clientId: string; redirectPath: string };
}): Promise<OidcProviderHarness> {
  const Provider = await loadProvider();
  const clientId = opts.clientId ?? 'svc-reporting';
  const clientSecret = randomBytes(24).toString('hex');
  const { device, authCode } = opts;
  const interactive = device !== undefined || authCode !== undefined;
  let jwksHits = 0;
  let provider: ProviderInstance | undefined;
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const server = createServer((req, res) => {
    if (req.url?.split('?')[0] === '/jwks') jwksHits++;
    if (interactive && provider && req.url?.startsWith('/interaction/')) {
      interaction(provider, req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`interaction failed: ${err instanceof Error ? err.message : String(err)}`);
      });
    } else if (handler) handler(req, res);
    else res.writeHead(503).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const adapter = memoryAdapter();
  const build = (keys: JWK[]): ProviderInstance => new Provider(issuer, {
    adapter,
    clients: [{
      client_id: clientId, client_secret: clientSecret, grant_types: ['client_credentials'],
      redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_post',
    }, ...(device ? [{
      client_id: device.clientId, grant_types: ['urn:ietf:params:oauth:grant-type:device_code'],
      redirect_uris: [], response_types: [], token_endpoint_auth_method: 'none',
    }] : []), ...(authCode ? [{
      client_id: authCode.clientId, application_type: 'native', grant_types: ['authorization_code'],
      redirect_uris: [`http://127.0.0.1${authCode.redirectPath}`], response_types: ['code'], token_endpoint_auth_method: 'none',
    }] : [])],
    jwks: { keys },
    clientDefaults: { id_token_signed_response_alg: 'ES256' },
    cookies: { keys: [randomBytes(16).toString('hex')] },
    ttl: { ClientCredentials: opts.tokenTtlS ?? 600, ...(device ? deviceTtls(device, opts.tokenTtlS ?? 600) : {}),
      ...(authCode ? { AuthorizationCode: 60, IdToken: opts.tokenTtlS ?? 600, Grant: 3600, Session: 3600, Interaction: 600 } : {}) },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      ...(device ? { deviceFlow: { enabled: true } } : {}),
      resourceIndicators: {
        enabled: true,
        defaultResource: () => opts.audience,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, resource: string) => ({
          audience: resource, scope: 'api', accessTokenFormat: device?.accessTokenFormat ?? 'jwt', accessTokenTTL: opts.tokenTtlS ?? 600,
          jwt: { sign: { alg: 'ES256' } },
        }),
      },
    },
    extraTokenClaims: () => ({ groups: [...opts.groups] }),
    ...(interactive ? {
      // Users of the device flow: any login is accepted; the id_token carries `groups` too.
      findAccount: (_ctx: unknown, id: string) => ({ accountId: id, claims: () => ({ sub: id, groups: [...opts.groups] }) }),
      claims: { openid: ['sub'], groups: ['groups'] },
      conformIdTokenClaims: false,
      interactions: { url: (_ctx: unknown, i: { uid: string }) => `/interaction/${i.uid}` },
    } : {}),
  });

  let keys = [await signingKey()];
  provider = build(keys);
  handler = provider.callback();

  const needsDevice = (): void => {
    if (!device) throw new Error('startOidcProvider: pass `device` to use the device flow');
  };

  return {
    issuer,
    clientId,
    async getToken(resource = opts.audience) {
      const res = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, resource, scope: 'api' }),
      });
      const body = (await res.json()) as { access_token?: string; error?: string; error_description?: string };
      if (res.status !== 200 || typeof body.access_token !== 'string') {
        throw new Error(`oidc-provider token request failed: ${res.status} ${body.error ?? ''} ${body.error_description ?? ''}`);
      }
      return body.access_token;
    },
    async rotateKeys() {
      keys = [await signingKey(), ...keys];
      provider = build(keys);
      handler = provider.callback();
    },
    jwksRequests: () => jwksHits,
    async approveDevice(verificationUriComplete, user) {
      needsDevice();
      await approveDeviceAs(verificationUriComplete, user);
    },
    async denyDevice(verificationUriComplete) {
      needsDevice();
      const b = new Browser();
      const confirm = await openDeviceConfirmation(b, verificationUriComplete);
      const aborted = await b.submit(confirm.url, confirm.action, { ...confirm.fields, abort: 'yes' });
      if (!aborted.text.includes('interrupted')) throw new Error(`device flow: abort was not acknowledged: HTTP ${aborted.status}: ${snippet(aborted.text)}`);
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    },
  };
}

/**
 * Plays the user of a device authorization grant in a minimal browser (cookies, redirects, the
 * provider's own forms): opens `verificationUriComplete`, confirms the code, submits the sign-in
 * form (`id="op.loginForm"`, field `login`) as `user`, and expects oidc-provider's success page.
 * Works against any provider with those pages: this harness, and deploy/dev-idp.
 */
export async function approveDeviceAs(verificationUriComplete: string, user: string): Promise<void> {
  const b = new Browser();
  const confirm = await openDeviceConfirmation(b, verificationUriComplete);
  const login = await b.submit(confirm.url, confirm.action, confirm.fields);
  const loginForm = formOf(login.text, 'op.loginForm');
  if (!loginForm) throw new Error(`device flow: expected the login form, got HTTP ${login.status}: ${snippet(login.text)}`);
  const done = await b.submit(login.url, loginForm.action, { ...loginForm.fields, login: user });
  if (done.status !== 200 || !done.text.includes('Sign-in Success')) throw new Error(`device flow: sign-in did not succeed: HTTP ${done.status}: ${snippet(done.text)}`);
}

/**
 * Plays the user of an authorization code flow in a minimal browser: opens `authorizationUrl` (at
 * the provider), signs in as `user` at the provider's login form, and returns the URL the provider
 * then redirects the browser to outside itself (the client's redirect URI with `code` and `state`),
 * without following it — the test decides where that request goes. Needs `authCode`.
 */
export async function authorizeAs(authorizationUrl: string, user: string): Promise<URL> {
  const b = new Browser(new URL(authorizationUrl).origin);
  const page = await b.get(authorizationUrl);
  const loginForm = formOf(page.text, 'op.loginForm');
  if (!loginForm) throw new Error(`authorization code: expected the login form, got HTTP ${page.status}: ${snippet(page.text)}`);
  const done = await b.submit(page.url, loginForm.action, { ...loginForm.fields, login: user });
  if (new URL(done.url).origin === new URL(authorizationUrl).origin) throw new Error(`authorization code: no redirect to the client: HTTP ${done.status}: ${snippet(done.text)}`);
  return new URL(done.url);
}

function deviceTtls(device: DeviceFlowOptions, tokenTtlS: number): Record<string, number> {
  return { DeviceCode: device.codeTtlS ?? 600, AccessToken: tokenTtlS, IdToken: tokenTtlS, Grant: 3600, Session: 3600, Interaction: 600 };
}

/**
 * The harness's sign-in pages (oidc-provider leaves interactions to the deployment): a login form
 * that accepts any user name, then consent granted for everything asked (a first-party CLI).
 */
async function interaction(provider: ProviderInstance, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const details = await provider.interactionDetails(req, res);
  const uid = (req.url ?? '').split('?')[0]!.split('/')[2] ?? '';
  if (details.prompt.name === 'login' && req.method === 'POST') {
    const login = new URLSearchParams(await readBody(req)).get('login');
    if (!login) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('login is required');
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
  } else if (details.prompt.name === 'login') {
    res.writeHead(200, { 'content-type': 'text/html' }).end(
      `<!DOCTYPE html><title>Sign-in</title><form id="op.loginForm" method="post" action="/interaction/${encodeURIComponent(uid)}">` +
      '<input type="text" name="login"/><button type="submit">Sign-in</button></form>');
  } else if (details.prompt.name === 'consent') {
    const clientId = String(details.params.client_id);
    const grant = details.grantId ? await provider.Grant.find(details.grantId) : undefined;
    const g = grant ?? new provider.Grant({ accountId: details.session?.accountId ?? '', clientId });
    const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = details.prompt.details;
    if (missingOIDCScope) g.addOIDCScope(missingOIDCScope.join(' '));
    if (missingOIDCClaims) g.addOIDCClaims(missingOIDCClaims);
    for (const [resource, scope] of Object.entries(missingResourceScopes ?? {})) g.addResourceScope(resource, scope.join(' '));
    await provider.interactionFinished(req, res, { consent: { grantId: await g.save() } }, { mergeWithLastSubmission: true });
  } else {
    res.writeHead(501, { 'content-type': 'text/plain' }).end(`prompt ${details.prompt.name} is not implemented`);
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) {
    body += String(chunk);
    if (body.length > 64 * 1024) throw new Error('body too large');
  }
  return body;
}

/** GETs the verification page (it auto-posts the user code) and posts it: returns the confirm form. */
async function openDeviceConfirmation(b: Browser, verificationUriComplete: string): Promise<{ url: string; action: string; fields: Record<string, string> }> {
  const page = await b.get(verificationUriComplete);
  const autoPost = formOf(page.text);
  if (!autoPost) throw new Error(`device flow: no form at the verification page: HTTP ${page.status}: ${snippet(page.text)}`);
  const confirmPage = await b.submit(page.url, autoPost.action, autoPost.fields);
  const confirm = formOf(confirmPage.text, 'op.deviceConfirmForm');
  if (!confirm) throw new Error(`device flow: no confirm form: HTTP ${confirmPage.status}: ${snippet(confirmPage.text)}`);
  return { url: confirmPage.url, ...confirm };
}

/** The first form (or the one with `id`) of a page: its action and hidden fields. */
function formOf(html: string, id?: string): { action: string; fields: Record<string, string> } | undefined {
  const forms = [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)];
  const form = forms.find((f) => id === undefined || attr(f[1] ?? '', 'id') === id);
  if (!form) return undefined;
  const fields: Record<string, string> = {};
  for (const input of (form[2] ?? '').matchAll(/<input\b([^>]*)>/g)) {
    const name = attr(input[1] ?? '', 'name');
    if (name !== undefined && attr(input[1] ?? '', 'type') === 'hidden') fields[name] = attr(input[1] ?? '', 'value') ?? '';
  }
  return { action: attr(form[1] ?? '', 'action') ?? '', fields };
}

function attr(tag: string, name: string): string | undefined {
  const m = new RegExp(`\\b${name}="([^"]*)"`).exec(tag);
  return m?.[1]?.replace(/&quot;/g, '"').replace(/&#39;/g, '\'').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

const snippet = (text: string): string => text.replace(/\s+/g, ' ').slice(0, 300);

/** Just enough of a browser for the provider's pages: a cookie jar and manual redirects. */
class Browser {
  readonly #cookies = new Map<string, string>();
  /** When set, a redirect to another origin is not followed: it is returned as `url` (status 3xx, no text). */
  readonly #stayOn: string | undefined;

  constructor(stayOn?: string) { this.#stayOn = stayOn; }

  get(url: string): Promise<{ url: string; status: number; text: string }> {
    return this.#go(url, { method: 'GET' });
  }

  submit(page: string, action: string, fields: Record<string, string>): Promise<{ url: string; status: number; text: string }> {
    return this.#go(new URL(action, page).href, {
      method: 'POST', body: new URLSearchParams(fields).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
  }

  async #go(start: string, init: { method: string; body?: string; headers?: Record<string, string> }): Promise<{ url: string; status: number; text: string }> {
    let url = start;
    let req = init;
    for (let hop = 0; hop < 10; hop++) {
      const cookie = [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
      const res = await fetch(url, {
        method: req.method, redirect: 'manual',
        headers: { ...req.headers, ...(cookie ? { cookie } : {}) },
        ...(req.body === undefined ? {} : { body: req.body }),
      });
      for (const c of res.headers.getSetCookie()) {
        const [pair = '', ...attrs] = c.split(';');
        const eq = pair.indexOf('=');
        const name = pair.slice(0, eq).trim();
        const expired = pair.slice(eq + 1) === '' || attrs.some((a) => /^\s*expires=Thu, 01 Jan 1970/i.test(a));
        if (expired) this.#cookies.delete(name);
        else this.#cookies.set(name, pair.slice(eq + 1));
      }
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        await res.body?.cancel();
        url = new URL(location, url).href;
        if (this.#stayOn !== undefined && new URL(url).origin !== this.#stayOn) return { url, status: res.status, text: '' };
        req = { method: 'GET' };
        continue;
      }
      return { url, status: res.status, text: await res.text() };
    }
    throw new Error(`device flow: too many redirects from ${start}`);
  }
}
