--
-- cache: the cluster-wide response cache, its options, views and
-- functions, in one session (test/t/05* cover sessions, restarts, limits
-- and the hot standby)
--
SET search_path = eve, public;
SET esi_fdw.cache = on;
SELECT esi.cache_clear() >= 0 AS cleared;
SELECT esi.route_stats_reset();

-- the second identical query is answered by the cache: nothing is sent
SELECT * FROM sim.reset;
SELECT count(*) FROM market_orders WHERE region_id = 10000032 AND type_id = 34;
SELECT count(*) FROM market_orders WHERE region_id = 10000032 AND type_id = 34;
SELECT path, query, status FROM sim.log;
SELECT route, url, status, size > 0 AS has_body, fresh, expires > stored_at AS expires_later
  FROM esi.cache WHERE url LIKE '/markets/10000032/orders%' ORDER BY url;
SELECT route, requests, cache_hits, not_modified, errors
  FROM esi.route_stats WHERE route = '/markets/{region_id}/orders';
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
  SELECT count(*) FROM market_orders WHERE region_id = 10000032 AND type_id = 34;

-- a paged result: every page once, then all from the cache, same rows
SELECT * FROM sim.reset;
CREATE TEMP TABLE first_read AS
  SELECT * FROM market_orders WHERE region_id = 10000042;
SELECT count(*) AS pages_sent, count(DISTINCT page) AS distinct_pages FROM sim.log;
SELECT * FROM sim.reset;
SELECT count(*) AS differences FROM (
  (SELECT * FROM market_orders WHERE region_id = 10000042 EXCEPT ALL SELECT * FROM first_read)
  UNION ALL
  (SELECT * FROM first_read EXCEPT ALL SELECT * FROM market_orders WHERE region_id = 10000042)) d;
SELECT count(*) AS sent FROM sim.log;

-- refresh: revalidate with If-None-Match; ESI answers 304, the rows are the same
SELECT * FROM sim.reset;
SET esi_fdw.cache = refresh;
SELECT count(*) FROM market_orders WHERE region_id = 10000032 AND type_id = 34;
SELECT path, query, status, if_none_match IS NOT NULL AS revalidated
  FROM sim.requests ORDER BY seq;
RESET esi_fdw.cache;
SET esi_fdw.cache = on;

-- the table's and the server's cache option: the strictest wins
SELECT * FROM sim.reset;
ALTER FOREIGN TABLE market_orders OPTIONS (ADD cache 'off');
SELECT count(*) FROM market_orders WHERE region_id = 10000032 AND type_id = 34;
ALTER FOREIGN TABLE market_orders OPTIONS (DROP cache);
ALTER SERVER esi OPTIONS (ADD cache 'off');
SELECT count(*) FROM market_orders WHERE region_id = 10000032 AND type_id = 34;
ALTER SERVER esi OPTIONS (DROP cache);
SELECT count(*) FROM market_orders WHERE region_id = 10000032 AND type_id = 34;
SELECT path, query, status FROM sim.log;
ALTER SERVER esi OPTIONS (ADD cache 'sometimes');

-- a 404 is remembered: the same error, and ESI is asked once
SELECT * FROM sim.reset;
SELECT * FROM sim.error_of('SELECT count(*) FROM eve.market_orders WHERE region_id = 12345');
SELECT * FROM sim.error_of('SELECT count(*) FROM eve.market_orders WHERE region_id = 12345');
SELECT path, status FROM sim.log;
SELECT status FROM esi.cache WHERE url LIKE '/markets/12345/%';
SET esi_fdw.negative_cache_ttl = 0;
SELECT state FROM sim.error_of('SELECT count(*) FROM eve.market_orders WHERE region_id = 12346');
SELECT state FROM sim.error_of('SELECT count(*) FROM eve.market_orders WHERE region_id = 12346');
SELECT count(*) AS asked FROM sim.log WHERE path LIKE '/markets/12346/%';
RESET esi_fdw.negative_cache_ttl;

-- a read-only transaction fills and reads the cache (it writes no table)
SELECT * FROM sim.reset;
SET default_transaction_read_only = on;
BEGIN;
SELECT count(*) FROM market_orders WHERE region_id = 10000030 AND type_id = 35;
SELECT count(*) FROM market_orders WHERE region_id = 10000030 AND type_id = 35;
COMMIT;
RESET default_transaction_read_only;
SELECT path, query, status FROM sim.log;

-- the limits as ESI told them
SELECT kind, rate_group, token_limit, remaining IS NOT NULL AS known
  FROM esi.limits WHERE kind = 'error_limit' OR rate_group = 'market-order'
 ORDER BY kind, rate_group;

-- who may empty it
CREATE ROLE esi_cache_user;
GRANT USAGE ON SCHEMA esi TO esi_cache_user;
SET ROLE esi_cache_user;
SELECT count(*) >= 0 AS can_read FROM esi.route_stats;
SELECT count(*) >= 0 AS can_read FROM esi.limits;
-- the cache's rows are for pg_read_all_stats: none here, and no error
SELECT count(*) FROM esi.cache;
SELECT esi.cache_clear();
SELECT esi.limits_reset();
RESET ROLE;
REVOKE USAGE ON SCHEMA esi FROM esi_cache_user;
DROP ROLE esi_cache_user;
SELECT esi.cache_clear() > 0 AS cleared;
SELECT count(*) FROM esi.cache;
