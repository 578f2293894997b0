-- Sessions whose close the recording committed and whose anchor in the audit chain
-- (`session.anchor`) may not be written yet. The batch that commits a `session.close` inserts the
-- session's head at that close here, in the same transaction; the recorder deletes the row (in its
-- next batch) once the anchor is appended. A process killed between the commit and the append, or
-- an append that failed, leaves the row: every start, and every replica once a minute, anchors
-- what is left from the head stored here (the head at the close, not the session's current one)
-- unless an anchor already covers it. Without it, such a session verified `anchor-mismatch` for
-- ever: a false tamper report.
CREATE TABLE IF NOT EXISTS recording_anchor_due (
  session text NOT NULL,
  events bigint NOT NULL,
  head_hash text NOT NULL,
  user_id text,
  agent_id text,
  due_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (session, events)
);
