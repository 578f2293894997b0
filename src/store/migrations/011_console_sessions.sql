-- Web console sessions, shared by every replica (issue 21): the cookie value is kept only as its
-- SHA-256; times are ms since the epoch. Expired and idle rows are swept by the gateway.
CREATE TABLE IF NOT EXISTS console_sessions (
  token_hash text PRIMARY KEY,
  id text NOT NULL UNIQUE,
  principal jsonb NOT NULL,
  method text NOT NULL,
  csrf text NOT NULL,
  created_at bigint NOT NULL,
  expires_at bigint NOT NULL,
  last_seen_at bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS console_sessions_expires ON console_sessions (expires_at);
