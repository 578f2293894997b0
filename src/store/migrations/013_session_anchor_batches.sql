-- Sessions closed by the same recorder batch are anchored in the audit chain by one record
-- (`kind = 'session.anchor'`, `detail = {sessions: [ids], heads: [head hashes], events: [counts]}`,
-- up to 100 sessions) instead of one record each: the per-session record, its row and its four
-- index entries were ~650 B of the ~2 KB an HTTP exchange that is its own session cost on disk,
-- and an audit append each. This index finds the records naming a session
-- (`detail -> 'sessions' @> '["<id>"]'`); a batch that closes one session still writes the
-- per-session record, found through `audit_log_session_anchor` (migration 003).
CREATE INDEX IF NOT EXISTS audit_log_session_anchors ON audit_log USING gin ((detail -> 'sessions') jsonb_path_ops) WHERE kind = 'session.anchor';
