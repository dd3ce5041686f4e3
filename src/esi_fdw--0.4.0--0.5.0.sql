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

-- ==== end ====
