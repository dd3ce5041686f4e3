/* esi_fdw 0.1.0 -> 0.2.0 */

\echo Use "ALTER EXTENSION esi_fdw UPDATE TO '0.2.0'" to load this file. \quit

-- 0.2.0: the cluster-wide response cache, ESI's limits and per-route
-- statistics (all kept in shared memory and, for the cache, in files under
-- the data directory: they work in read-only transactions and on a hot
-- standby).

-- What the cache holds: one row per stored reply (a page, or a 404/403
-- remembered for esi_fdw.negative_cache_ttl).
CREATE FUNCTION cache_contents(
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

CREATE VIEW cache AS SELECT * FROM cache_contents();
COMMENT ON VIEW cache IS 'Replies in esi_fdw''s cluster-wide response cache';
-- its URLs name what was asked for: superusers and pg_read_all_stats only
REVOKE ALL ON FUNCTION cache_contents() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cache_contents() TO pg_read_all_stats;
GRANT SELECT ON cache TO pg_read_all_stats;

-- Empty the cache; returns the entries removed.
CREATE FUNCTION cache_clear()
RETURNS bigint
AS 'MODULE_PATHNAME', 'esi_cache_clear'
LANGUAGE C STRICT VOLATILE;
REVOKE ALL ON FUNCTION cache_clear() FROM PUBLIC;

-- Per route: requests sent, cache hits, 304s, errors by status, bytes and
-- time spent on ESI and waiting, since the server started.
CREATE FUNCTION route_statistics(
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

CREATE VIEW route_stats AS SELECT * FROM route_statistics();
COMMENT ON VIEW route_stats IS 'esi_fdw''s requests to ESI per route, since the server started';
GRANT SELECT ON route_stats TO PUBLIC;

CREATE FUNCTION route_stats_reset()
RETURNS void
AS 'MODULE_PATHNAME', 'esi_route_stats_reset'
LANGUAGE C STRICT VOLATILE;
REVOKE ALL ON FUNCTION route_stats_reset() FROM PUBLIC;

-- ESI's error limit and rate limits as the cluster last saw them.
CREATE FUNCTION limit_states(
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

CREATE VIEW limits AS SELECT * FROM limit_states();
COMMENT ON VIEW limits IS 'ESI''s error limit and rate limits as esi_fdw last saw them';
GRANT SELECT ON limits TO PUBLIC;

-- Forget the limit states (ESI's next replies tell them again).
CREATE FUNCTION limits_reset()
RETURNS void
AS 'MODULE_PATHNAME', 'esi_limits_reset'
LANGUAGE C STRICT VOLATILE;
REVOKE ALL ON FUNCTION limits_reset() FROM PUBLIC;
