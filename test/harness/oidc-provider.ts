import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK } from 'jose';

/**
 * A real OpenID provider (`oidc-provider` v9, the certified Node implementation) on 127.0.0.1 for
 * identity tests. One confidential client gets JWT access tokens by `client_credentials`; resource
 * indicators choose the audience; `groups` is added to every token. Plain http on loopback is what
 * oidc-provider allows outside production (it only insists on https behind a production deployment).
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
  stop(): Promise<void>;
}

interface ProviderInstance { callback(): (req: IncomingMessage, res: ServerResponse) => void }
type ProviderClass = new (issuer: string, configuration: Record<string, unknown>) => ProviderInstance;

/** oidc-provider ships no type declarations: load it through a narrow local interface. */
async function loadProvider(): Promise<ProviderClass> {
  const name: string = 'oidc-provider';
  const mod = (await import(name)) as { default: ProviderClass };
  return mod.default;
}

/**
 * A per-provider in-memory store for oidc-provider's models (the same thing its built-in dev adapter
 * does, without the start-up warning). Client-credentials tokens are JWTs, so it stays tiny.
 */
function memoryAdapter(): new (model: string) => object {
  const data = new Map<string, Record<string, unknown>>();
  return class {
    readonly #model: string;
    constructor(model: string) { this.#model = model; }
    upsert = (id: string, payload: Record<string, unknown>): Promise<void> => { data.set(`${this.#model}:${id}`, payload); return Promise.resolve(); };
    find = (id: string): Promise<Record<string, unknown> | undefined> => Promise.resolve(data.get(`${this.#model}:${id}`));
    findByUid = (): Promise<undefined> => Promise.resolve(undefined);
    findByUserCode = (): Promise<undefined> => Promise.resolve(undefined);
    consume = (id: string): Promise<void> => {
      const v = data.get(`${this.#model}:${id}`);
      if (v) v.consumed = Math.floor(Date.now() / 1000);
      return Promise.resolve();
    };
    destroy = (id: string): Promise<void> => { data.delete(`${this.#model}:${id}`); return Promise.resolve(); };
    revokeByGrantId = (): Promise<void> => Promise.resolve();
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
 */
export async function startOidcProvider(opts: { audience: string; groups: string[]; clientId?: string; tokenTtlS?: number }): Promise<OidcProviderHarness> {
  const Provider = await loadProvider();
  const clientId = opts.clientId ?? 'svc-reporting';
  const clientSecret = randomBytes(24).toString('hex');
  let jwksHits = 0;
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const server = createServer((req, res) => {
    if (req.url?.split('?')[0] === '/jwks') jwksHits++;
    if (handler) handler(req, res);
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
    }],
    jwks: { keys },
    clientDefaults: { id_token_signed_response_alg: 'ES256' },
    cookies: { keys: [randomBytes(16).toString('hex')] },
    ttl: { ClientCredentials: opts.tokenTtlS ?? 600 },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => opts.audience,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, resource: string) => ({
          audience: resource, scope: 'api', accessTokenFormat: 'jwt', accessTokenTTL: opts.tokenTtlS ?? 600,
          jwt: { sign: { alg: 'ES256' } },
        }),
      },
    },
    extraTokenClaims: () => ({ groups: [...opts.groups] }),
  });

  let keys = [await signingKey()];
  handler = build(keys).callback();

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
      handler = build(keys).callback();
    },
    jwksRequests: () => jwksHits,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    },
  };
}
