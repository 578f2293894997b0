-- Recording inserts are the store thread's largest cost, and the foreign-key check run for every
-- inserted event (and chunk) was about half of it (PGlite: 19-29 µs per event with the key,
-- 10-12 µs without). The batch writer creates a session in the same statement as its first events,
-- and retention deletes a session's events and chunks in the same statement as the session
-- (src/recording/session-store.ts), so the keys only cost. Integrity of what is kept is the hash
-- chain's job: `sessions verify` walks the events of a session from its head.
ALTER TABLE session_chunks DROP CONSTRAINT IF EXISTS session_chunks_session_id_seq_fkey;
ALTER TABLE session_events DROP CONSTRAINT IF EXISTS session_events_session_id_fkey;
