-- Session recording: one row per session (an index over its chain), the hash-chained events, and
-- the chunks of large payloads. Runs unchanged on PGlite and PostgreSQL 15+. See docs/design/recording.md.

-- The session head: event_count and head_hash are the last event's seq and hash. user/agent/
-- connection/protocol and the decision flags are a searchable summary; the chain is authoritative.
CREATE TABLE sessions (
  id           text PRIMARY KEY,
  protocol     text NOT NULL,
  user_id      text,
  agent_id     text,
  connection   text,
  opened_at    timestamptz NOT NULL,
  last_at      timestamptz NOT NULL,
  closed_at    timestamptz,
  bytes        bigint NOT NULL DEFAULT 0,
  event_count  bigint NOT NULL DEFAULT 0,
  head_hash    text NOT NULL,
  -- true once any event of the session was not recorded (size cap, full queue, failed write)
  truncated    boolean NOT NULL DEFAULT false,
  -- true once max_session_bytes was reached: later events are dropped (and counted)
  capped       boolean NOT NULL DEFAULT false,
  dropped      bigint NOT NULL DEFAULT 0,
  had_allow    boolean NOT NULL DEFAULT false,
  had_deny     boolean NOT NULL DEFAULT false,
  had_review   boolean NOT NULL DEFAULT false
);

CREATE INDEX sessions_opened ON sessions (opened_at DESC, id DESC);

CREATE INDEX sessions_last ON sessions (last_at);

CREATE INDEX sessions_user ON sessions (user_id, opened_at DESC);

CREATE INDEX sessions_agent ON sessions (agent_id, opened_at DESC);

-- hash = sha256(prev_hash || canonical JSON {agent, at, data, seq, session, type, user}).
-- data is jsonb, or NULL with the canonical JSON text in `chunks` rows of session_chunks.
CREATE TABLE session_events (
  session_id  text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  seq         bigint NOT NULL,
  at          timestamptz NOT NULL,
  type        text NOT NULL,
  user_id     text,
  agent_id    text,
  data        jsonb,
  chunks      integer NOT NULL DEFAULT 0,
  bytes       integer NOT NULL,
  prev_hash   text NOT NULL,
  hash        text NOT NULL,
  PRIMARY KEY (session_id, seq)
);

CREATE TABLE session_chunks (
  session_id  text NOT NULL,
  seq         bigint NOT NULL,
  idx         integer NOT NULL,
  body        text NOT NULL,
  PRIMARY KEY (session_id, seq, idx),
  FOREIGN KEY (session_id, seq) REFERENCES session_events (session_id, seq) ON DELETE CASCADE
);

-- Finds a session's anchors in the global audit chain.
CREATE INDEX audit_log_session_anchor ON audit_log ((detail ->> 'session'), seq) WHERE kind = 'session.anchor';
