-- Core tables: connections managed through the admin API, and the hash-chained audit log.
-- Runs unchanged on PGlite and PostgreSQL 15+.

CREATE TABLE connections (
  name            text PRIMARY KEY,
  type            text NOT NULL CHECK (type IN ('llm', 'http', 'postgres', 'mcp')),
  provider        text,
  url             text NOT NULL,
  -- crypto-box sealed JSON object of credential name -> value (AES-256-GCM, "v1:" prefix)
  credentials_enc text NOT NULL,
  description     text,
  tags            jsonb NOT NULL DEFAULT '[]'::jsonb,
  created_at      timestamptz NOT NULL,
  updated_at      timestamptz NOT NULL,
  created_by      text
);

-- One row per audit event. hash = sha256(prev_hash || canonical JSON of the record); see src/audit.
-- detail holds ids, kinds and reason codes only, never secrets or payloads.
CREATE TABLE audit_log (
  seq       bigint PRIMARY KEY,
  at        timestamptz NOT NULL,
  kind      text NOT NULL,
  user_id   text,
  agent_id  text,
  action    text,
  resource  text,
  outcome   text NOT NULL,
  detail    jsonb NOT NULL DEFAULT '{}'::jsonb,
  prev_hash text NOT NULL,
  hash      text NOT NULL
);

CREATE INDEX audit_log_kind_seq ON audit_log (kind, seq DESC);

CREATE INDEX audit_log_user_seq ON audit_log (user_id, seq DESC);

-- The chain head, one row. Appenders lock it FOR UPDATE, which serializes appends across replicas;
-- verification compares the last record with it (detects a truncated or extended tail).
CREATE TABLE audit_head (
  id   integer PRIMARY KEY CHECK (id = 1),
  seq  bigint NOT NULL,
  hash text NOT NULL
);

INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
