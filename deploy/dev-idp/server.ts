/**
 * DEVELOPMENT IDENTITY PROVIDER — FOR TRYING GATEHOUSE ONLY. NEVER EXPOSE IT, NEVER USE IT FOR REAL USERS.
 *
 * An OpenID provider (`oidc-provider`, the certified Node implementation) for the Compose
 * quick-start: anyone who can reach it signs in as any of its listed users, without a password.
 * Keys, sessions and grants are kept in memory (a restart signs everyone out). It offers the
 * device authorization grant (RFC 8628) to one public client, so that `gatehouse login` works,
 * and puts each user's groups in the `groups` claim of its JWT access tokens and id tokens.
 *
 * Environment:
 *   DEV_IDP_ISSUER    issuer URL, which both the gateway and your browser must reach at that very
 *                     address (default http://localhost:9000; the quick-start runs this provider in
 *                     the gateway's network namespace so "localhost" means the same to both)
 *   DEV_IDP_LISTEN    host:port to listen on (default 127.0.0.1:9000)
 *   DEV_IDP_AUDIENCE  the `aud` of access tokens: the gateway's `identity.issuers[].audience`
 *                     (default https://gatehouse.quickstart)
 *   DEV_IDP_CLIENT_ID the public client of `gatehouse login` (default gatehouse-cli)
 *   DEV_IDP_USERS     users and their groups: "alice:developers,bob:dba+developers" (the default
 *                     is "alice:developers,bob:dba")
 *
 * Swap in a real identity provider by registering a public client with the device authorization
 * grant there and pointing `identity.issuers` (issuer, audience, groups_claim, cli_client_id) at it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import process from 'node:process';
import { exportJWK, generateKeyPair, type JWK } from 'jose';

interface Settings {
  readonly issuer: string;
  readonly host: string;
  readonly port: number;
  readonly audience: string;
  readonly clientId: string;
  readonly users: ReadonlyMap<string, readonly string[]>;
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

/** Largest sign-in form body read. */
const MAX_FORM_BYTES = 16 * 1024;
const TOKEN_TTL_S = 8 * 3600;

/** Reads the settings from the environment; a malformed value stops the start with one line. */
export function settingsFrom(env: NodeJS.ProcessEnv): Settings {
  const listen = env.DEV_IDP_LISTEN ?? '127.0.0.1:9000';
  const m = /^(.+):(\d{1,5})$/.exec(listen);
  if (!m) throw new Error(`DEV_IDP_LISTEN must be host:port, got "${listen}"`);
  const users = new Map<string, string[]>();
  for (const item of (env.DEV_IDP_USERS ?? 'alice:developers,bob:dba').split(',')) {
    const [name = '', groups = ''] = item.trim().split(':');
    if (!/^[a-z][a-z0-9._-]{0,63}$/.test(name)) throw new Error(`DEV_IDP_USERS: bad user name "${name}"`);
    users.set(name, groups.split('+').filter((g) => g !== ''));
  }
  return {
    issuer: (env.DEV_IDP_ISSUER ?? 'http://localhost:9000').replace(/\/+$/, ''),
    host: m[1] ?? '127.0.0.1',
    port: Number(m[2]),
    audience: env.DEV_IDP_AUDIENCE ?? 'https://gatehouse.quickstart',
    clientId: env.DEV_IDP_CLIENT_ID ?? 'gatehouse-cli',
    users,
  };
}

async function signingKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  return { ...(await exportJWK(privateKey)), kid: `dev-${randomBytes(6).toString('hex')}`, alg: 'ES256', use: 'sig' };
}

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Starts the provider; resolves once it listens. */
export async function startDevIdp(s: Settings): Promise<{ close(): Promise<void> }> {
  const name: string = 'oidc-provider';
  const Provider = ((await import(name)) as { default: ProviderClass }).default;
  const groupsOf = (id: string): string[] => [...(s.users.get(id) ?? [])];
  const provider = new Provider(s.issuer, {
    clients: [{
      client_id: s.clientId, grant_types: ['urn:ietf:params:oauth:grant-type:device_code'],
      redirect_uris: [], response_types: [], token_endpoint_auth_method: 'none',
    }],
    jwks: { keys: [await signingKey()] },
    clientDefaults: { id_token_signed_response_alg: 'ES256' },
    cookies: { keys: [randomBytes(16).toString('hex')] },
    ttl: { DeviceCode: 600, AccessToken: TOKEN_TTL_S, IdToken: TOKEN_TTL_S, Grant: TOKEN_TTL_S, Session: TOKEN_TTL_S, Interaction: 600 },
    features: {
      devInteractions: { enabled: false },
      deviceFlow: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => s.audience,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, resource: string) => ({
          audience: resource, scope: 'api', accessTokenFormat: 'jwt', accessTokenTTL: TOKEN_TTL_S, jwt: { sign: { alg: 'ES256' } },
        }),
      },
    },
    extraTokenClaims: (_ctx: unknown, token: { accountId?: string }) => ({ groups: groupsOf(token.accountId ?? '') }),
    findAccount: (_ctx: unknown, id: string) => (s.users.has(id) ? { accountId: id, claims: () => ({ sub: id, groups: groupsOf(id) }) } : undefined),
    claims: { openid: ['sub'], groups: ['groups'] },
    conformIdTokenClaims: false,
    interactions: { url: (_ctx: unknown, i: { uid: string }) => `/interaction/${i.uid}` },
  });
  const handler = provider.callback();
  const server = createServer((req, res) => {
    if (req.url?.startsWith('/interaction/')) {
      interaction(provider, s, req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`sign-in failed: ${err instanceof Error ? err.message : String(err)}`);
      });
    } else {
      handler(req, res);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(s.port, s.host, resolve);
  });
  return {
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => { resolve(); }); }),
  };
}

/** The sign-in page (any listed user, no password: development only), then consent for everything asked. */
async function interaction(provider: ProviderInstance, s: Settings, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const details = await provider.interactionDetails(req, res);
  const uid = (req.url ?? '').split('?')[0]?.split('/')[2] ?? '';
  if (details.prompt.name === 'login' && req.method === 'POST') {
    const login = new URLSearchParams(await readBody(req)).get('login') ?? '';
    if (!s.users.has(login)) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end(`unknown user "${login.slice(0, 64)}": this development provider knows ${[...s.users.keys()].join(', ')}`);
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
  } else if (details.prompt.name === 'login') {
    const users = [...s.users].map(([u, g]) => `<li><code>${escapeHtml(u)}</code> (groups: ${escapeHtml(g.join(', ') || 'none')})</li>`).join('');
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(
      '<!DOCTYPE html><title>Gatehouse development sign-in</title>' +
      '<p><strong>Development identity provider — for trying Gatehouse only.</strong> Anyone who can reach it signs in as any user below, without a password.</p>' +
      `<ul>${users}</ul>` +
      `<form id="op.loginForm" method="post" action="/interaction/${encodeURIComponent(uid)}">` +
      '<label>User <input type="text" name="login" autofocus/></label> <button type="submit">Sign-in</button></form>');
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
    if (body.length > MAX_FORM_BYTES) throw new Error('form too large');
  }
  return body;
}

if (import.meta.main) {
  try {
    const s = settingsFrom(process.env);
    const idp = await startDevIdp(s);
    process.stderr.write(`dev-idp: DEVELOPMENT ONLY — issuer ${s.issuer}, listening on ${s.host}:${s.port}, users ${[...s.users.keys()].join(', ')}\n`);
    const stop = (): void => { idp.close().then(() => process.exit(0), () => process.exit(0)); };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  } catch (err) {
    process.stderr.write(`dev-idp: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
