-- esi_fdw: asset diffs: what changed between two snapshots of a history target
--
-- The current definitions (CREATE OR REPLACE), run by the install script and
-- by every update script that src/sql/build.sh makes: edit them here, never
-- in a built esi_fdw--*.sql.  Tables, columns, policies and other objects
-- that cannot be replaced are in src/sql/pre_install.sql (and an update step
-- in src/sql/updates/); see "The SQL scripts" in doc/development.md.

-- asset diffs between the snapshot at new_at and the one before it: the
-- full join keeps only the items that differ before each is turned into its
-- one to three change rows; a one-off statement is not worth JIT compiling.
-- cond: the rows of one target in a group's shared table.
CREATE OR REPLACE FUNCTION _asset_diffs(target text, snap regclass, owner_column text, new_at timestamptz,
                             cond text DEFAULT 'true')
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
DECLARE
  old_at timestamptz;
  n bigint;
BEGIN
  EXECUTE format('SELECT max(snapshot_at) FROM %s WHERE snapshot_at < $1 AND (%s)', snap, cond)
    INTO old_at USING new_at;
  IF old_at IS NULL THEN
    RETURN 0;                 -- the first snapshot: nothing to compare with
  END IF;
  -- OFFSET 0: the items that differ, computed before the LATERAL
  EXECUTE format($q$
    INSERT INTO esi.asset_diffs
    SELECT $1, coalesce(d.n_owner, d.o_owner), coalesce(d.n_item, d.o_item), coalesce(d.n_type, d.o_type),
           k.change, d.o_quantity, d.n_quantity, d.o_location_id, d.n_location_id,
           d.o_location_flag, d.n_location_flag, $2, $3
      FROM (SELECT o.%1$I AS o_owner, n.%1$I AS n_owner, o.item_id AS o_item, n.item_id AS n_item,
                   o.type_id AS o_type, n.type_id AS n_type, o.quantity AS o_quantity, n.quantity AS n_quantity,
                   o.location_id AS o_location_id, n.location_id AS n_location_id,
                   o.location_flag AS o_location_flag, n.location_flag AS n_location_flag
              FROM (SELECT * FROM %2$s WHERE snapshot_at = $2 AND (%3$s)) o
              FULL JOIN (SELECT * FROM %2$s WHERE snapshot_at = $3 AND (%3$s)) n
                ON n.%1$I = o.%1$I AND n.item_id = o.item_id
             WHERE o.item_id IS NULL OR n.item_id IS NULL
                OR o.quantity IS DISTINCT FROM n.quantity
                OR o.location_id IS DISTINCT FROM n.location_id
                OR o.location_flag IS DISTINCT FROM n.location_flag
            OFFSET 0) d,
      LATERAL (VALUES
        (CASE WHEN d.o_item IS NULL THEN 'ADDED' WHEN d.n_item IS NULL THEN 'REMOVED' END),
        (CASE WHEN d.o_item IS NOT NULL AND d.n_item IS NOT NULL
               AND d.o_quantity IS DISTINCT FROM d.n_quantity THEN 'QUANTITY_CHANGED' END),
        (CASE WHEN d.o_item IS NOT NULL AND d.n_item IS NOT NULL
               AND (d.o_location_id IS DISTINCT FROM d.n_location_id
                    OR d.o_location_flag IS DISTINCT FROM d.n_location_flag) THEN 'LOCATION_CHANGED' END)
      ) AS k(change)
     WHERE k.change IS NOT NULL$q$, owner_column, snap, cond)
    USING target, old_at, new_at;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n > 0 THEN
    PERFORM pg_notify('esi_asset_diffs', json_build_object('target', target,
      'old_snapshot_at', old_at, 'snapshot_at', new_at, 'diffs', n)::text);
  END IF;
  RETURN n;
END;
$$;

-- Net quantity per owner, location and type between consecutive snapshots:
-- each changed item takes its old quantity from its old location and puts
-- its new one at its new location, so stacking, splitting and moves net out.
-- Read with the reader's rights (security_invoker), so that asset_diffs'
-- policies apply.
CREATE OR REPLACE VIEW asset_changes_rollup WITH (security_invoker = true) AS
  SELECT target, owner_id, location_id, type_id, old_snapshot_at, new_snapshot_at,
         sum(delta)::bigint AS net_quantity
    FROM (SELECT DISTINCT ON (target, owner_id, item_id, new_snapshot_at)
                 target, owner_id, item_id, type_id, old_snapshot_at, new_snapshot_at,
                 old_location_id, new_location_id, old_quantity, new_quantity
            FROM asset_diffs
           ORDER BY target, owner_id, item_id, new_snapshot_at) d,
         LATERAL (VALUES (d.old_location_id, -d.old_quantity),
                         (d.new_location_id, d.new_quantity)) AS v(location_id, delta)
   WHERE v.delta IS NOT NULL
   GROUP BY target, owner_id, location_id, type_id, old_snapshot_at, new_snapshot_at
  HAVING sum(delta) <> 0;
COMMENT ON VIEW asset_changes_rollup IS 'Net asset quantity changes per owner, location and type between consecutive snapshots (non-zero only)';
GRANT SELECT ON asset_changes_rollup TO PUBLIC;
