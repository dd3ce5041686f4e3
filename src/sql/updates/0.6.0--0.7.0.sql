-- esi_fdw 0.6.0 -> 0.7.0: the schema steps (tables, columns, indexes,
-- constraints, grants, policies, triggers, drops) of this version, run
-- before the sources (src/sql/*.sql) re-create every function and view.
-- A new table or column here goes into src/sql/pre_install.sql too, in its
-- final shape (test/t/046_upgrade.sh compares a fresh install with an
-- updated one).  A function whose signature or result type changes, or a
-- view whose columns change other than at the end, is dropped here first
-- (DROP FUNCTION / DROP VIEW), then the source creates it again.  Steps
-- that need the new functions go into 0.6.0--0.7.0.post.sql.

-- == tokens: rotated refresh tokens kept until stored ==

-- == structure ==
