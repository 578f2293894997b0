-- Identity tables: API keys (hashed) and the built-in issuer's signing keys.
-- Runs unchanged on PGlite and PostgreSQL 15+.

-- An API key is `ghk_` + 8-char public id + 32-char secret (base62). Only sha256(full key) is kept
-- (hex); the id is the lookup key. Principal: user, agent, or both (an agent acting for a user).
CREATE TABLE api_keys (
  id            text PRIMARY KEY CHECK (id ~ '^[0-9A-Za-z]{8}$'),
  key_hash      text NOT NULL CHECK (key_hash ~ '^[0-9a-f]{64}$'),
  user_id       text,
  agent_id      text,
  groups        jsonb NOT NULL DEFAULT '[]'::jsonb,
  agent_groups  jsonb NOT NULL DEFAULT '[]'::jsonb,
  description   text,
  created_at    timestamptz NOT NULL,
  created_by    text,
  expires_at    timestamptz,
  revoked_at    timestamptz,
  revoked_by    text,
  last_used_at  timestamptz,
  CHECK (user_id IS NOT NULL OR agent_id IS NOT NULL)
);

CREATE INDEX api_keys_created ON api_keys (created_at DESC);

-- ES256 signing keys of the built-in issuer. private_jwk holds the private JWK as a JSON object,
-- or {"sealed": "v1:…"} (crypto-box, AES-256-GCM) when the issuer is given a master key.
-- At most one key is active; retired keys stay published in the JWKS while tokens they signed
-- may still be valid, then rotation deletes them.
CREATE TABLE signing_keys (
  kid          text PRIMARY KEY,
  private_jwk  jsonb NOT NULL,
  public_jwk   jsonb NOT NULL,
  status       text NOT NULL CHECK (status IN ('active', 'retired')),
  created_at   timestamptz NOT NULL,
  retired_at   timestamptz
);

CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (status) WHERE status = 'active';
