--
-- explain: what the scan will ask ESI, without asking
--
SET search_path = eve, public;
SELECT * FROM sim.reset;
EXPLAIN (COSTS OFF) SELECT * FROM market_orders WHERE region_id = 10000002;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT price FROM market_orders WHERE region_id = 10000002 AND type_id IN (34, 35) AND is_buy_order;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT * FROM market_orders WHERE region_id = 10000002 LIMIT 10;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT * FROM market_orders WHERE region_id = 10000002 AND type_id = 34 AND type_id = 35;
PREPARE p(bigint) AS SELECT count(*) FROM market_history WHERE region_id = 10000002 AND type_id = $1;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE p(34);
RESET plan_cache_mode;
CREATE TEMP TABLE hubs (region_id bigint, type_id bigint);
INSERT INTO hubs VALUES (10000002, 34), (10000043, 34);
ANALYZE hubs;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT o.price FROM hubs h JOIN market_orders o ON o.region_id = h.region_id AND o.type_id = h.type_id;
-- plain EXPLAIN never contacts ESI
SELECT count(*) AS requests FROM sim.log;

-- EXPLAIN ANALYZE adds what happened
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT count(*) FROM market_orders WHERE region_id = 10000042;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT count(*) FROM market_orders WHERE region_id = 10000042 AND type_id IN (34, 35);
SELECT * FROM sim.fault WHERE path = '/markets/10000030/history' AND kind = 'status' AND status = 503 AND count = 1;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT count(*) FROM market_history WHERE region_id = 10000030 AND type_id = 34;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, FORMAT JSON)
SELECT count(*) FROM market_history WHERE region_id = 10000030 AND type_id = 35;
