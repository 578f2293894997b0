-- Type-specific fields of API-created connections that are not secrets (ssh: host_key; http:
-- pass_media_types), as a JSON object. Before, they were accepted by the API's validation and
-- then dropped, so an API-created ssh connection had no pinned host key and was always refused.
ALTER TABLE connections ADD COLUMN IF NOT EXISTS fields jsonb NOT NULL DEFAULT '{}'::jsonb;
-- The connection type is checked against the protocol registry by the repository (a new protocol
-- is a registration, not a migration); the original CHECK listed only the first four types, so an
-- ssh connection could not be created through the API at all.
ALTER TABLE connections DROP CONSTRAINT IF EXISTS connections_type_check;
