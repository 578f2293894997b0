-- An HTTP/MCP session is mostly one exchange: opened by one recorder batch and closed by a later
-- one (when the owner table evicts it or it idles out). Its `sessions` row was inserted by the
-- first batch and updated by the close, mostly not as a heap-only update (the close batch updates
-- every row of the pages its sessions were inserted on), so the row cost two heap versions and
-- two entries in each of its four indexes, and the close a second `session_segments` row: ~1 KB
-- of the ~1.5 KB such an exchange cost on disk. Since this migration:
-- - an open exchange-grouped session (protocols http, mcp) lives in `sessions_open` (same columns,
--   only its primary key indexed, 30 % of each page free for its heap-only updates); the close
--   moves it into `sessions`, written once with its final head. The embedded store vacuums
--   `sessions_open` every few dozen batches (PGlite has no autovacuum), so what its rows and dead
--   versions take is bounded by the open sessions, not by the sessions ever recorded.
-- - its first run of events (the batch that opened it, when they are in one body) and, once moved,
--   the run of the batch that closed it are pointed at from its row instead of `session_segments`
--   rows: `open_last`/`open_body` (seqs 1 to open_last, in that body), `tail_first`/`tail_body`
--   (seqs tail_first to event_count). Other runs are segment rows as before.
-- Connection-bound sessions (PostgreSQL, SSH) stay in `sessions` while open (their row is updated
-- by every batch as a heap-only update, migration 010). Readers see both tables; verification is
-- unchanged (the chain is authoritative). See docs/design/recording.md.
CREATE TABLE IF NOT EXISTS sessions_open (
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
  truncated    boolean NOT NULL DEFAULT false,
  capped       boolean NOT NULL DEFAULT false,
  dropped      bigint NOT NULL DEFAULT 0,
  had_allow    boolean NOT NULL DEFAULT false,
  had_deny     boolean NOT NULL DEFAULT false,
  had_review   boolean NOT NULL DEFAULT false,
  open_last    bigint,
  open_body    bigint
) WITH (fillfactor = 70);

ALTER TABLE sessions ADD COLUMN IF NOT EXISTS open_last bigint;

ALTER TABLE sessions ADD COLUMN IF NOT EXISTS open_body bigint;

ALTER TABLE sessions ADD COLUMN IF NOT EXISTS tail_first bigint;

ALTER TABLE sessions ADD COLUMN IF NOT EXISTS tail_body bigint;
