-- A session's row is updated by every batch that records one of its events (its head, counts and
-- last_at) and once more at its close. With `last_at` indexed, every such update was a new row
-- version with a new entry in each of the five indexes, and PGlite (no autovacuum) kept the dead
-- versions and entries until retention ran VACUUM: ~0.7 KB of the ~2 KB an HTTP exchange cost on
-- disk, and the growth of long PostgreSQL sessions. Without an index on any column an update
-- changes, and with room left on each page, the update is a heap-only tuple (HOT): no index
-- entry, and the page's dead versions are pruned when it is next read, without VACUUM.
-- Retention and the stale-session sweep bound their scans by `opened_at` (a session's last
-- activity is never before its opening), which is indexed.
DROP INDEX IF EXISTS sessions_last;
ALTER TABLE sessions SET (fillfactor = 80);
