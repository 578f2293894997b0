import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { makeIdpKeys, type IdpKeys } from './saml-idp.ts';

/** The part of `samlp` (an IdP implementation from npm, CommonJS without types) used here. */
interface Samlp {
  auth(options: Record<string, unknown>): (req: unknown, res: unknown, next: (err?: unknown) => void) => void;
}
const samlp = createRequire(import.meta.url)('samlp') as Samlp;

export interface SamlpIdp {
  /** Its entity id and SSO URL (served on `localhost`, another site than the gateway's 127.0.0.1). */
  readonly entityId: string;
  readonly ssoUrl: string;
  readonly keys: IdpKeys;
  stop(): Promise<void>;
}

const escHtml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * A SAML identity provider for browser tests, built on `samlp` (not the code under test): `GET
 * /sso` (HTTP-Redirect binding) shows a sign-in page; its form posts the user name to `/sso`,
 * and samlp answers with its auto-submitting form that posts a response with a signed assertion
 * (RSA-SHA256) to the SP's ACS. `users` gives each user's groups.
 */
export async function startSamlpIdp(opts: { acs: () => string; users: Record<string, string[]> }): Promise<SamlpIdp> {
  const keys = makeIdpKeys('samlp-idp');
  let base = '';
  const server: Server = createServer((req, res) => { handle(req, res).catch(() => { res.writeHead(500).end(); }); });
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/sso') { res.writeHead(404).end(); return; }
    if (req.method === 'GET') {
      const req0 = url.searchParams.get('SAMLRequest') ?? '';
      const relay = url.searchParams.get('RelayState') ?? '';
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><html lang="en"><head><title>Test IdP sign-in</title></head><body><main><h1>Test IdP</h1>
<form method="post" action="/sso"><input type="hidden" name="SAMLRequest" value="${escHtml(req0)}"><input type="hidden" name="RelayState" value="${escHtml(relay)}">
<label>User name <input name="username" autocomplete="username"></label> <button type="submit">Sign in at the IdP</button></form></main></body></html>`);
      return;
    }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    const name = form.get('username') ?? '';
    const groups = opts.users[name];
    const query = { SAMLRequest: form.get('SAMLRequest') ?? '', RelayState: form.get('RelayState') ?? '' };
    // An express-like request/response pair, as samlp expects.
    const xreq = { query, body: {}, user: groups === undefined ? undefined : { name, groups } };
    const xres = {
      set: (k: string, v: string) => { res.setHeader(k, v); },
      send: (a: unknown, b?: unknown) => {
        if (typeof a === 'number') { res.writeHead(a, { 'content-type': 'text/plain' }); res.end(typeof b === 'string' ? b : ''); return; }
        res.writeHead(200);
        res.end(String(a));
      },
    };
    samlp.auth({
      issuer: `${base}/metadata`, cert: keys.certPem, key: keys.keyPem,
      signatureAlgorithm: 'rsa-sha256', digestAlgorithm: 'sha256', signResponse: false,
      lifetimeInSeconds: 300, recipient: opts.acs(), destination: opts.acs(),
      getPostURL: (_aud: string, _dom: unknown, _req: unknown, cb: (e: unknown, u: string) => void) => { cb(null, opts.acs()); },
      profileMapper: (user: { name: string; groups: string[] }) => ({
        getClaims: () => ({ groups: user.groups }),
        getNameIdentifier: () => ({ nameIdentifier: user.name, nameIdentifierFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified' }),
      }),
    })(xreq, xres, (err) => { res.writeHead(500, { 'content-type': 'text/plain' }); res.end(String(err)); });
  };
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve); });
  base = `http://localhost:${(server.address() as { port: number }).port}`;
  return {
    entityId: `${base}/metadata`, ssoUrl: `${base}/sso`, keys,
    stop: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => { resolve(); }); }),
  };
}
