-- esi_fdw: the cluster-wide response cache, ESI's limits and per-route statistics
-- (shared memory and, for the cache, files under the data directory: they
-- work in read-only transactions and on a hot standby)
--
-- The current definitions (CREATE OR REPLACE), run by the install script and
-- by every update script that src/sql/build.sh makes: edit them here, never
-- in a built esi_fdw--*.sql.  Tables, columns, policies and other objects
-- that cannot be replaced are in src/sql/pre_install.sql (and an update step
-- in src/sql/updates/); see "The SQL scripts" in doc/development.md.

-- What the cache holds: one row per stored reply (a page, or a 404/403
-- remembered for esi_fdw.negative_cache_ttl).
CREATE OR REPLACE FUNCTION cache_contents(
  OUT route text,
  OUT url text,
  OUT status integer,
  OUT size bigint,
  OUT stored_at timestamptz,
  OUT expires timestamptz,
  OUT last_used timestamptz,
  OUT fresh boolean)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'esi_cache_entries'
LANGUAGE C STRICT VOLATILE;
-- its URLs name what was asked for: superusers and pg_read_all_stats only
REVOKE ALL ON FUNCTION cache_contents() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cache_contents() TO pg_read_all_stats;
-- the cache's rows are shown to members of pg_read_all_stats only
-- (cache_contents() returns none to anyone else)
GRANT EXECUTE ON FUNCTION cache_contents() TO PUBLIC;

CREATE OR REPLACE VIEW cache AS SELECT * FROM cache_contents();
COMMENT ON VIEW cache IS 'Replies in esi_fdw''s cluster-wide response cache';
GRANT SELECT ON cache TO pg_read_all_stats;
GRANT SELECT ON cache TO PUBLIC;

-- Empty the cache; returns the entries removed.
CREATE OR REPLACE FUNCTION cache_clear()
RETURNS bigint
AS 'MODULE_PATHNAME', 'esi_cache_clear'
LANGUAGE C STRICT VOLATILE;
REVOKE ALL ON FUNCTION cache_clear() FROM PUBLIC;

-- Per route: requests sent, cache hits, 304s, errors by status, bytes and
-- time spent on ESI and waiting, since the server started.
CREATE OR REPLACE FUNCTION route_statistics(
  OUT route text,
  OUT requests bigint,
  OUT cache_hits bigint,
  OUT not_modified bigint,
  OUT coalesced bigint,
  OUT errors jsonb,
  OUT bytes bigint,
  OUT esi_ms double precision,
  OUT limit_wait_ms double precision,
  OUT coalesce_wait_ms double precision)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'esi_route_stats'
LANGUAGE C STRICT VOLATILE;

CREATE OR REPLACE VIEW route_stats AS SELECT * FROM route_statistics();
COMMENT ON VIEW route_stats IS 'esi_fdw''s requests to ESI per route, since the server started';
GRANT SELECT ON route_stats TO PUBLIC;

CREATE OR REPLACE FUNCTION route_stats_reset()
RETURNS void
AS 'MODULE_PATHNAME', 'esi_route_stats_reset'
LANGUAGE C STRICT VOLATILE;
REVOKE ALL ON FUNCTION route_stats_reset() FROM PUBLIC;

-- ESI's error limit and rate limits as the cluster last saw them.
CREATE OR REPLACE FUNCTION limit_states(
  OUT base_url text,
  OUT kind text,
  OUT rate_group text,
  OUT token_limit text,
  OUT remaining integer,
  OUT used integer,
  OUT reset_at timestamptz,
  OUT blocked_until timestamptz,
  OUT updated_at timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'esi_limits'
LANGUAGE C STRICT VOLATILE;

CREATE OR REPLACE VIEW limits AS SELECT * FROM limit_states();
COMMENT ON VIEW limits IS 'ESI''s error limit and rate limits as esi_fdw last saw them';
GRANT SELECT ON limits TO PUBLIC;

-- Forget the limit states (ESI's next replies tell them again).
CREATE OR REPLACE FUNCTION limits_reset()
RETURNS void
AS 'MODULE_PATHNAME', 'esi_limits_reset'
LANGUAGE C STRICT VOLATILE;
REVOKE ALL ON FUNCTION limits_reset() FROM PUBLIC;

-- The progress of long work: one row per running scan or refresh, in a
-- backend or a background worker (as pg_stat_progress_*).  Each role sees
-- the rows of the roles whose privileges it has (as pg_stat_activity);
-- members of pg_read_all_stats see every row.
CREATE OR REPLACE FUNCTION _progress(
  OUT pid integer,
  OUT datname text,
  OUT usename text,
  OUT backend_type text,
  OUT target text,
  OUT table_name text,
  OUT route text,
  OUT pages_done bigint,
  OUT pages_total bigint,
  OUT rows bigint,
  OUT bytes bigint,
  OUT requests bigint,
  OUT cache_hits bigint,
  OUT retries bigint,
  OUT wait_kind text,
  OUT wait_event text,
  OUT wait_since timestamptz,
  OUT scan_started timestamptz,
  OUT refresh_started timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'esi_progress'
LANGUAGE C STRICT VOLATILE;

CREATE OR REPLACE VIEW progress AS SELECT * FROM _progress();
COMMENT ON VIEW progress IS 'esi_fdw''s running scans and refreshes: route, pages done of pages known, rows, bytes, retries, what each waits on';
GRANT SELECT ON progress TO PUBLIC;
COMMENT ON FUNCTION _progress() IS 'the rows of esi.progress';
