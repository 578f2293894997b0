-- Console sign-ins in progress, shared by every replica (issue 21): an OIDC flow (state → PKCE
-- verifier, nonce), a SAML AuthnRequest (request id → relay data), a SAML result waiting for its
-- finish step, and the SAML assertion ids seen (replay cache). A flow is used once: taken with
-- DELETE … RETURNING, so a replayed state or InResponseTo is refused on every replica. Keys are
-- SHA-256 hashes (the state and finish tokens are never kept); the PKCE verifier is sealed with the
-- master key (`sealed`). `client` is the address that started the flow (bounded per address);
-- times are ms since the epoch. Expired rows are swept by the gateway.
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
