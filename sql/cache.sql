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
  FROM esi.limits WHERE rate_group = 'market-order'
 ORDER BY kind, rate_group;

-- who may read the statistics and the limits, and who may empty them
CREATE ROLE esi_cache_user;
GRANT USAGE ON SCHEMA esi TO esi_cache_user;
SET ROLE esi_cache_user;
-- every role reads the statistics: exactly this file's requests since its
-- route_stats_reset() (routes other files used stay listed, with zeros).
-- Orders: sent 1 + 25 (10000042) + 1 (304) + 2 (cache off) + 1 (12345) +
-- 2 (12346) + 1 (10000030); served 1 + 1 (EXPLAIN) + 2 x 25 (both sides of
-- the EXCEPT ALL) + 1 + 1 (10000030) + 1 (the remembered 404, an error
-- again: a hit, not a second 404).  sim.reset 7 times, sim.log and
-- sim.requests 8 times.
SELECT route, requests, cache_hits, not_modified, coalesced, errors
  FROM esi.route_stats WHERE requests + cache_hits + not_modified + coalesced > 0
 ORDER BY route;
-- the limits only of the base URLs of servers the role may use: none yet ...
SELECT count(*) AS limit_rows FROM esi.limits;
RESET ROLE;
GRANT USAGE ON FOREIGN SERVER esi TO esi_cache_user;
SET ROLE esi_cache_user;
-- ... then server esi's, the same as the superuser saw above
SELECT count(DISTINCT base_url) AS base_urls FROM esi.limits;
SELECT kind, rate_group, token_limit
  FROM esi.limits WHERE rate_group = 'market-order'
 ORDER BY kind, rate_group;
-- the cache's rows are for pg_read_all_stats: none here, and no error
SELECT count(*) FROM esi.cache;
SELECT esi.cache_clear();
SELECT esi.limits_reset();
RESET ROLE;
REVOKE USAGE ON FOREIGN SERVER esi FROM esi_cache_user;
REVOKE USAGE ON SCHEMA esi FROM esi_cache_user;
DROP ROLE esi_cache_user;
-- what this file stored since its cache_clear(): 1 page of 10000032/34, 25
-- of 10000042, the 404 of region 12345 (12346's was not kept), 1 page of
-- 10000030/35
SELECT esi.cache_clear() AS cleared;
SELECT count(*) FROM esi.cache;
