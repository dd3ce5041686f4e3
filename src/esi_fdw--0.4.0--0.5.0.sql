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

-- ==== end ====
