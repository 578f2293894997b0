-- Recording v2: the chained events of one batch (group commit) are stored together, compressed
-- once, in one `recording_bodies` row (or a few, of about 256 KiB of payload each:
-- src/recording/segment.ts); `session_segments` says where each session's events are: one small
-- row per session and body (a run of consecutive seqs). Instead of a row, index entries and WAL
-- records per event. The chain is unchanged: every event keeps its seq, prev_hash and hash in the
-- body, and verification walks them as before. session_events/session_chunks stay readable for
-- what was recorded before this migration.
CREATE TABLE recording_bodies (
  id    bigserial PRIMARY KEY,
  body  bytea NOT NULL
);

-- The body is compressed already: no second compression attempt.
ALTER TABLE recording_bodies ALTER COLUMN body SET STORAGE EXTERNAL;

CREATE TABLE session_segments (
  session_id  text NOT NULL,
  first_seq   bigint NOT NULL,
  last_seq    bigint NOT NULL,
  body_id     bigint NOT NULL,
  PRIMARY KEY (session_id, first_seq)
);
