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

-- EXPLAIN ANALYZE adds what happened.  The byte count is not the simulator's
-- exact page size but an invariant: the bytes of the 2xx replies the
-- simulator logged for the statement (the helper prints "= 2xx bytes
-- logged", or the two numbers when they differ), and more than 0.
CREATE FUNCTION sim.explain_analyze(q text, fmt text DEFAULT 'text') RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
  since bigint;
  logged bigint;
  lines text[] := '{}';
  line text;
  shown text;
BEGIN
  SELECT coalesce(max(seq), 0) INTO since FROM sim.requests;
  FOR line IN EXECUTE format('EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, FORMAT %s) %s',
                             fmt, q) LOOP
    lines := lines || line;
  END LOOP;
  SELECT coalesce(sum(bytes) FILTER (WHERE status BETWEEN 200 AND 299), 0) INTO logged
    FROM sim.requests WHERE seq > since;
  FOREACH line IN ARRAY lines LOOP
    shown := substring(line FROM '"?ESI Bytes"?: (\d+)');
    IF shown IS NOT NULL THEN
      line := regexp_replace(line, '("?ESI Bytes"?: )\d+',
        '\1' || CASE WHEN shown::bigint = logged AND logged > 0 THEN '= 2xx bytes logged'
                      ELSE shown || ' (logged: ' || logged || ')' END);
    END IF;
    RETURN NEXT line;
  END LOOP;
END $$;
SELECT * FROM sim.explain_analyze('SELECT count(*) FROM market_orders WHERE region_id = 10000042');
SELECT * FROM sim.explain_analyze(
  'SELECT count(*) FROM market_orders WHERE region_id = 10000042 AND type_id IN (34, 35)');
SELECT * FROM sim.fault WHERE path = '/markets/10000030/history' AND kind = 'status' AND status = 503 AND count = 1;
SELECT * FROM sim.explain_analyze(
  'SELECT count(*) FROM market_history WHERE region_id = 10000030 AND type_id = 34');
SELECT * FROM sim.explain_analyze(
  'SELECT count(*) FROM market_history WHERE region_id = 10000030 AND type_id = 35', 'json');
