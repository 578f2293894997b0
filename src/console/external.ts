import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ConsoleSurface } from './surface.ts';

/** Sign-in through an external identity provider (OIDC, SAML): its routes under `/ui/auth/`. */
export interface ExternalSignIn {
  /** What the sign-in page offers: OIDC issuers (by index and name), and whether SAML is on. */
  methods(): { oidc: { id: string; name: string }[]; saml: boolean };
  /** Handles a `/ui/auth/…` route of its own; undefined when the path is not one. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL, console: ConsoleSurface): Promise<string | undefined>;
}
