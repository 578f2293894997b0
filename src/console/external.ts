import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ConsoleSurface } from './surface.ts';

/** Sign-in through an external identity provider (OIDC, SAML): its routes under `/ui/auth/`. */
export interface ExternalSignIn {
  /** What the sign-in page offers: OIDC issuers (by index and name), or the SAML IdP's name. */
  methods(): SignInOffer;
  /** Handles a `/ui/auth/…` route of its own; undefined when the path is not one. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL, console: ConsoleSurface): Promise<string | undefined>;
}

/** What one external sign-in adds to `GET /ui/auth/methods`. */
export interface SignInOffer {
  readonly oidc?: readonly { id: string; name: string }[];
  readonly saml?: { readonly name: string };
}
