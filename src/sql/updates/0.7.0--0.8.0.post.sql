-- esi_fdw 0.7.0 -> 0.8.0: the steps that need this version's functions,
-- run after the sources (src/sql/*.sql) re-created them.

-- == logical replication ==
-- every latest-mode snapshot table published already gets its key (the
-- refresh gives one published later its key, esi.publish() at once): the
-- target's key when the rows allow it, else a snapshot_row identity; a
-- table with a replica identity already is kept
SELECT esi._key_latest_tables(true);
