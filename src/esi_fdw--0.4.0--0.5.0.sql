/* esi_fdw 0.4.0 -> 0.5.0: background refresh, names, views for BI tools, ESI's write routes */

\echo Use "ALTER EXTENSION esi_fdw UPDATE TO '0.5.0'" to load this file. \quit

-- A fresh install runs esi_fdw--0.4.0.sql and then this script.

-- ==== section: names remembered from POST /universe/names and /universe/ids ====
-- Every id ESI named, so that views join ids to names without asking ESI
-- again (filled by the name lookup functions).
CREATE TABLE names (
  id bigint PRIMARY KEY,
  name text NOT NULL,
  category text NOT NULL,
  fetched_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE names IS 'Names of EVE ids as ESI gave them (POST /universe/names, /universe/ids); filled by the name lookups';
GRANT SELECT ON names TO PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('names', '');

-- ==== section: background refresh (workers) ====

-- ==== section: write routes (POST/PUT/DELETE) ====

-- ==== section: views for BI tools ====

-- ==== section: bulk load ====
-- A query's rows written into a table the way COPY FROM writes them
-- (multi-row batches, indexes updated batch by batch), for refreshes: e.g.
--   SELECT esi._bulk_insert('esi_snapshots.forge',
--     'SELECT *, now() FROM market_orders WHERE region_id = 10000002');
-- Columns are matched by position (the query's i-th column fills the
-- table's i-th), cast by assignment; the table's remaining columns get their
-- defaults.  The query runs with the caller's rights and INSERT on the table
-- is checked, so it bypasses nothing and stays callable by anyone.  Plain
-- tables only (a partition, not its partitioned parent), without triggers
-- on INSERT or row-level security; no ON CONFLICT: a duplicate key is an
-- error, so incremental targets keep INSERT ... ON CONFLICT DO NOTHING.
CREATE FUNCTION _bulk_insert(dest regclass, query text)
RETURNS bigint
LANGUAGE C VOLATILE STRICT
AS 'MODULE_PATHNAME', 'esi_bulk_insert';
COMMENT ON FUNCTION _bulk_insert(regclass, text) IS 'Run a query and write its rows into a plain table as COPY FROM does (by position); returns the rows written';

-- Asset diffs, faster (the same rows as 0.4.0's): the full join keeps only
-- the items that differ before each is turned into its one to three change
-- rows (0.4.0 built the three candidate rows of every item, a million
-- nested loops for a million items), and a one-off statement is not worth
-- JIT compiling.
CREATE OR REPLACE FUNCTION _asset_diffs(target text, snap regclass, owner_column text, new_at timestamptz)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
DECLARE
  old_at timestamptz;
  n bigint;
BEGIN
  EXECUTE format('SELECT max(snapshot_at) FROM %s WHERE snapshot_at < $1', snap)
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
              FROM (SELECT * FROM %2$s WHERE snapshot_at = $2) o
              FULL JOIN (SELECT * FROM %2$s WHERE snapshot_at = $3) n
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
     WHERE k.change IS NOT NULL$q$, owner_column, snap)
    USING target, old_at, new_at;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n > 0 THEN
    PERFORM pg_notify('esi_asset_diffs', json_build_object('target', target,
      'old_snapshot_at', old_at, 'snapshot_at', new_at, 'diffs', n)::text);
  END IF;
  RETURN n;
END;
$$;

-- ==== end ====
