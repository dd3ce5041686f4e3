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

-- == operations: health and monitoring ==

-- Health at a glance (issue 18): per target, the expiry of the ESI data
-- its last successful refresh read (so how far behind it is), and whether
-- its failures in a row were announced (src/sql/snapshots.sql:
-- _refresh_write, _refresh_failed, set_auto, the view target_health); the
-- columns are in pre_install.sql too.
ALTER TABLE targets
  ADD COLUMN data_expires_at timestamptz,
  ADD COLUMN failure_announced_at timestamptz;
COMMENT ON COLUMN targets.data_expires_at IS 'the earliest expiry of the ESI replies the last successful refresh read (NULL: none said, or no successful refresh yet)';
COMMENT ON COLUMN targets.failure_announced_at IS 'when the failures in a row reached esi_fdw.refresh_alert_failures and were announced (NOTIFY esi_refresh_failing, a WARNING); cleared by a successful refresh';
UPDATE targets t SET data_expires_at =
  (SELECT l.expires FROM refresh_log l
    WHERE l.target OPERATOR(pg_catalog.=) t.target AND l.outcome OPERATOR(pg_catalog.=) 'ok'
    ORDER BY l.id DESC LIMIT 1);
