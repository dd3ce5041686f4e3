-- esi_fdw 0.7.0 -> 0.8.0: the schema steps (tables, columns, indexes,
-- constraints, grants, policies, triggers, drops) of this version, run
-- before the sources (src/sql/*.sql) re-create every function and view.
-- A new table or column here goes into src/sql/pre_install.sql too, in its
-- final shape (test/t/046_upgrade.sh compares a fresh install with an
-- updated one).  A function whose signature or result type changes, or a
-- view whose columns change other than at the end, is dropped here first
-- (DROP FUNCTION / DROP VIEW), then the source creates it again.  Steps
-- that need the new functions go into 0.7.0--0.8.0.post.sql.

-- == logical replication ==
-- esi.asset_diffs gets a key, so that it can be published (esi.untrack()
-- deletes a target's diffs; a table published for deletes needs a replica
-- identity, and a subscriber finds a row by it).  A random uuid, not a
-- sequence: a dump holds all of it, and a role that may insert diffs needs
-- no grant on a sequence.  The latest-mode snapshot tables get theirs in
-- 0.7.0--0.8.0.post.sql (esi._snapshot_replica_identity()).
ALTER TABLE asset_diffs ADD COLUMN id uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY;
COMMENT ON COLUMN asset_diffs.id IS 'the row''s key (its replica identity: the table can be published for logical replication)';
