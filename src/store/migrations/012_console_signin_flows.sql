-- Console sign-ins shared by every replica (issue 21), written only after the identity provider
-- has answered: nothing is stored when a sign-in starts (/start). A sign-in in progress is a token
-- sealed with the master key that the browser and the IdP carry (the OIDC state, the SAML
-- AuthnRequest ID). Rows, by kind: oidc_used / saml_used (a state or request id already used, a
-- one-time marker until the token expires, so a replay is refused on every replica), saml_done (a
-- verified SAML sign-in waiting for its finish step or the CLI's code exchange, taken once with
-- DELETE ... RETURNING) and saml_assertion (an assertion id seen: the replay cache). Kinds oidc and
-- saml (flows stored at /start by the first design) are no longer written; left-over rows expire
-- and are swept. Keys are SHA-256 hashes (a state, request id or finish token is never kept);
-- sealed holds a value sealed with the master key when a caller gives one (none does today);
-- client is kept for the first design's rows and written empty; times are ms since the epoch.
-- Each kind is bounded in all, and expired rows are swept by the gateway (src/console/signin-flows.ts).
CREATE TABLE IF NOT EXISTS console_signin_flows (
  kind text NOT NULL,
  key_hash text NOT NULL,
  client text NOT NULL,
  data jsonb NOT NULL,
  sealed text,
  created_at bigint NOT NULL,
  expires_at bigint NOT NULL,
  PRIMARY KEY (kind, key_hash)
);
CREATE INDEX IF NOT EXISTS console_signin_flows_expires ON console_signin_flows (expires_at);
CREATE INDEX IF NOT EXISTS console_signin_flows_client ON console_signin_flows (client, kind);
