--
-- paging: every page once, concurrently, one version only, retries
--
SET search_path = eve, public;
SELECT * FROM sim.reset;

-- the Forge-sized region: hundreds of pages of 1000 orders
SELECT count(*), count(DISTINCT order_id), min(region_id), max(region_id)
  FROM market_orders WHERE region_id = 10000002;
SELECT count(*) AS requests, count(DISTINCT page) AS pages, min(page), max(page),
       bool_and(status = 200) AS all_ok, bool_and(query LIKE 'order_type=all&page=%') AS same_query
  FROM sim.requests;
-- over at most esi_fdw.max_connections keep-alive connections, reused by the next scan
SELECT count(*) FROM market_orders WHERE region_id = 10000030;
SELECT count(DISTINCT conn) <= 8 AS few_connections, count(*) AS requests FROM sim.requests;

-- pages are really in flight at the same time, up to max_connections: with
-- 150 ms of latency per page, the simulator's log (when each request came
-- and when its answer was written) shows how many overlapped
CREATE FOREIGN TABLE sim.request_times (
  seq bigint, path text, page integer, status integer, conn integer,
  started timestamptz, finished timestamptz
) SERVER esi OPTIONS (route '/_sim/requests');
CREATE FUNCTION sim.max_in_flight(route_path text) RETURNS bigint LANGUAGE sql AS $$
  -- at each request's start: the requests started by then and not yet answered
  SELECT max((SELECT count(*) FROM sim.request_times b
               WHERE b.path = route_path AND b.started <= a.started
                 AND b.finished > a.started))
    FROM sim.request_times a WHERE a.path = route_path
$$;
SELECT * FROM sim.reset;
SELECT id FROM sim.fault WHERE path = '/markets/10000042/orders' AND kind = 'latency' AND ms = 150
   AND count = 0;
SET esi_fdw.max_connections = 4;
SELECT count(*) FROM market_orders WHERE region_id = 10000042;
SELECT count(*) AS requests, bool_and(finished > started) AS timed,
       sim.max_in_flight('/markets/10000042/orders') AS max_in_flight
  FROM sim.request_times;
SELECT * FROM sim.reset;
SELECT id FROM sim.fault WHERE path = '/markets/10000042/orders' AND kind = 'latency' AND ms = 150
   AND count = 0;
SET esi_fdw.max_connections = 2;
SELECT count(*) FROM market_orders WHERE region_id = 10000042;
SELECT sim.max_in_flight('/markets/10000042/orders') AS max_in_flight;
RESET esi_fdw.max_connections;

-- any number of connections gives the same rows
SELECT * FROM sim.reset;
SET esi_fdw.max_connections = 1;
SELECT count(*), sum(volume_remain) FROM market_orders WHERE region_id = 10000042;
SET esi_fdw.max_connections = 32;
SELECT count(*), sum(volume_remain) FROM market_orders WHERE region_id = 10000042;
RESET esi_fdw.max_connections;
SELECT count(*) AS requests FROM sim.log;

-- compression off: the same rows, no Accept-Encoding; every column of every
-- row inflated by esi_fdw is the same as without gzip (EXCEPT ALL both ways)
SELECT * FROM sim.reset;
CREATE TEMP TABLE orders_gzip AS SELECT * FROM market_orders WHERE region_id = 10000042;
SELECT DISTINCT accept_encoding FROM sim.requests;
ALTER SERVER esi OPTIONS (ADD compression 'off');
SELECT * FROM sim.reset;
SELECT count(*), sum(volume_remain) FROM market_orders WHERE region_id = 10000042;
SELECT DISTINCT accept_encoding FROM sim.requests;
CREATE TEMP TABLE orders_plain AS SELECT * FROM market_orders WHERE region_id = 10000042;
SELECT (SELECT count(*) FROM orders_gzip) AS rows,
       (SELECT count(*) FROM (TABLE orders_gzip EXCEPT ALL TABLE orders_plain) a) AS only_gzip,
       (SELECT count(*) FROM (TABLE orders_plain EXCEPT ALL TABLE orders_gzip) b) AS only_plain;
DROP TABLE orders_gzip, orders_plain;
ALTER SERVER esi OPTIONS (DROP compression);

-- a 5xx burst is retried, the scan completes
SELECT * FROM sim.reset;
SELECT id FROM sim.fault WHERE path = '/markets/10000042/orders' AND page = 3 AND kind = 'status'
   AND status = 502 AND count = 2;
SELECT count(*) FROM market_orders WHERE region_id = 10000042;
SELECT page, status, count(*) FROM sim.requests WHERE page = 3 GROUP BY 1, 2 ORDER BY 2;

-- so is a connection reset
SELECT * FROM sim.reset;
SELECT id FROM sim.fault WHERE path = '/markets/10000042/orders' AND page = 5 AND kind = 'reset' AND count = 1;
SELECT count(*) FROM market_orders WHERE region_id = 10000042;
SELECT count(*) AS page_5_served FROM sim.requests WHERE page = 5;

-- 429 with Retry-After: the scan waits as told, then completes
SELECT * FROM sim.reset;
SELECT id FROM sim.fault WHERE path = '/markets/10000042/orders' AND page = 2 AND kind = 'rate_limit'
   AND retry_after = 1 AND count = 1;
SELECT count(*) FROM market_orders WHERE region_id = 10000042;
SELECT status, count(*) FROM sim.requests WHERE page = 2 GROUP BY 1 ORDER BY 1;
-- unless ESI asks for a longer wait than esi_fdw.max_retry_after
SELECT * FROM sim.reset;
SELECT id FROM sim.fault WHERE path = '/markets/10000042/orders' AND page = 2 AND kind = 'rate_limit'
   AND retry_after = 600 AND count = 2;
SELECT count(*) FROM market_orders WHERE region_id = 10000042;
-- ... and then every session holds off the group for that long: the next
-- scan fails at once, sending nothing
SELECT * FROM sim.reset;
SELECT state, regexp_replace(message, '\d+ more', 'N more') AS message, detail,
       regexp_replace(hint, '\d+', 'N') AS hint
  FROM sim.error_of('SELECT count(*) FROM eve.market_orders WHERE region_id = 10000042');
-- (pages the first scan had in flight when it failed may reach the
-- simulator late; a new scan would start with page 1)
SELECT count(*) AS sent FROM sim.log WHERE page = 1;
SELECT esi.limits_reset();

-- ESI refreshed the data mid-crawl: never mix two versions
SELECT * FROM sim.reset;
SELECT id FROM sim.fault WHERE path = '/markets/10000042/orders' AND page = 7 AND kind = 'xpages' AND count = 0;
\x on
SELECT * FROM sim.error_of('SELECT count(*) FROM eve.market_orders WHERE region_id = 10000042');
\x off
SELECT * FROM sim.reset;
-- the next read is consistent again
SELECT count(*) FROM market_orders WHERE region_id = 10000042;
