-- Runs of identical decisions: an allowed decision identical to the one enqueued just before it
-- (every field but its time) is counted into that record while it waits for its batch, so a data
-- path deciding the same statement again and again writes one audit row per group-commit interval
-- instead of one per decision (see src/audit/audit-log.ts, `enqueue`). `count` is how many
-- decisions the row stands for (1 for every single event, and for every row written before this
-- migration); `last_at` the last one's time (`at` is the first's), NULL for a single event. Both
-- are covered by the record hash when the row is a run; a single event hashes as before, so an
-- existing chain verifies unchanged. Adding a column with a constant default rewrites no rows.
ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS count integer NOT NULL DEFAULT 1;
ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS last_at timestamptz;
-- The kind and user indexes stay: they keep `GET /api/v1/audit?kind=…&user=…` an index scan on a
-- large log, and with runs a repetitive data path no longer pays them per decision
-- (bench/audit-store.ts, docs/PERFORMANCE.md "Session 12: audit runs").
