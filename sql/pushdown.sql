--
-- pushdown: conditions become ESI parameters; every one is rechecked locally
--
SET search_path = eve, public;
SELECT * FROM sim.reset;

-- constants
SELECT count(*) FROM market_orders WHERE region_id = 10000032 AND type_id = 34;
-- booleans map onto order_type
SELECT count(*) FROM market_orders WHERE region_id = 10000032 AND type_id = 34 AND is_buy_order;
SELECT count(*) FROM market_orders WHERE region_id = 10000032 AND type_id = 34 AND is_buy_order = false;
SELECT count(*) FROM market_orders WHERE region_id = 10000032 AND type_id = 34 AND order_type = 'buy';
SELECT path, query FROM sim.log;

-- IN lists and = ANY fan out into one request per value (per combination)
SELECT * FROM sim.reset;
SELECT region_id, type_id, count(*) FROM market_orders
 WHERE region_id IN (10000002, 10000043) AND type_id = ANY (ARRAY[34, 35, 34])
 GROUP BY 1, 2 ORDER BY 1, 2;
SELECT path, query FROM sim.log ORDER BY path, query;
-- so do ORs of equalities on one parameter
SELECT * FROM sim.reset;
SELECT count(*) FROM market_orders
 WHERE (region_id = 10000032 OR region_id IN (10000030, 10000032)) AND type_id = 34;
SELECT path, query FROM sim.log ORDER BY path, query;

-- conditions that cannot all hold: no request at all
SELECT * FROM sim.reset;
SELECT count(*) FROM market_orders WHERE region_id = 10000002 AND region_id = 10000043;
SELECT count(*) FROM market_orders WHERE region_id = 10000002 AND type_id = 34
   AND is_buy_order AND order_type = 'sell';
SELECT count(*) FROM market_orders WHERE region_id IN (10000002, 10000043) AND region_id = 10000030;
SELECT count(*) AS requests FROM sim.log;

-- ESI may ignore a parameter (order_type without type_id): the local
-- recheck keeps the answer right
SELECT * FROM sim.reset;
SELECT bool_and(is_buy_order) AS all_buy, count(*) AS buy_orders
  FROM market_orders WHERE region_id = 10000030 AND is_buy_order;
SELECT DISTINCT query FROM sim.log WHERE page = 1 OR page IS NULL;

-- parameters of a prepared statement, custom and generic plans
SELECT * FROM sim.reset;
PREPARE best(bigint, bigint) AS
  SELECT min(price) FROM market_orders WHERE region_id = $1 AND type_id = $2 AND NOT is_buy_order;
EXECUTE best(10000002, 34);
SET plan_cache_mode = force_generic_plan;
EXECUTE best(10000043, 34);
PREPARE many(bigint[]) AS
  SELECT count(DISTINCT region_id) FROM market_orders WHERE region_id = ANY ($1) AND type_id = 34;
EXECUTE many(ARRAY[10000002, 10000043, 10000032]);
RESET plan_cache_mode;
SELECT path, query FROM sim.log ORDER BY path, query;

-- a join supplies the parameters: one request per outer row, never a full scan
CREATE TEMP TABLE hubs (name text, region_id bigint, type_id bigint);
INSERT INTO hubs VALUES ('Jita', 10000002, 34), ('Amarr', 10000043, 34),
                        ('Dodixie', 10000032, 44992), ('Rens', 10000030, 44992);
ANALYZE hubs;
SELECT * FROM sim.reset;
EXPLAIN (COSTS OFF)
SELECT h.name, min(o.price) FROM hubs h
  JOIN market_orders o ON o.region_id = h.region_id AND o.type_id = h.type_id
 WHERE NOT o.is_buy_order GROUP BY h.name;
SELECT h.name, min(o.price) AS best_sell FROM hubs h
  JOIN market_orders o ON o.region_id = h.region_id AND o.type_id = h.type_id
 WHERE NOT o.is_buy_order GROUP BY h.name ORDER BY h.name;
SELECT path, query FROM sim.log ORDER BY path, query;

-- LATERAL works the same way
SELECT * FROM sim.reset;
SELECT h.name, x.n FROM hubs h,
  LATERAL (SELECT count(*) AS n FROM market_history m
            WHERE m.region_id = h.region_id AND m.type_id = h.type_id) x
 ORDER BY h.name;
SELECT count(*) AS requests FROM sim.log;

-- LIMIT stops further requests when no condition is left to check locally
SELECT * FROM sim.reset;
SELECT count(*) FROM (SELECT * FROM market_orders WHERE region_id = 10000002 LIMIT 10) s;
SELECT path, query FROM sim.log;
SELECT * FROM sim.reset;
SELECT count(*) FROM (SELECT * FROM market_orders WHERE region_id = 10000002 LIMIT 2500) s;
SELECT count(*) AS requests, count(*) < 20 AS few FROM sim.log;
-- with a condition left to check, pages are read until it is satisfied
SELECT * FROM sim.reset;
SELECT count(*) FROM (SELECT * FROM market_orders WHERE region_id = 10000002
                        AND price > 1000000000 LIMIT 3) s;
SELECT count(*) < 411 AS stopped_early FROM sim.log;
