-- The recorder's local journal (docs/design/recording.md): each batch of events commits, in the
-- same statement, the last journal ticket it covers; recovery after a crash replays only what
-- follows. One row per gateway process that journaled; removed once its journal is recovered.
CREATE TABLE recording_journal (
  id       text PRIMARY KEY,
  through  bigint NOT NULL
);
