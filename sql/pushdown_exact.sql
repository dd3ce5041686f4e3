--
-- pushdown_exact: a pushed condition gives exactly the rows of the same
-- condition checked locally, each ESI request goes out once, parameter text
-- does not depend on session settings, fan-out is bounded, and path values
-- cannot address another route
--
SET search_path = eve, public;

-- The Forge's orders for Tritanium with no condition but the required ones:
-- the baseline every condition below is checked against locally
-- (order_type reads its default, 'all')
CREATE TEMP TABLE forge34 AS
  SELECT * FROM (SELECT * FROM market_orders
                  WHERE region_id = 10000002 AND type_id = 34 OFFSET 0) s;
SELECT count(*), count(*) FILTER (WHERE is_buy_order) AS buy,
       count(DISTINCT order_id) AS orders, min(order_type), max(order_type)
  FROM forge34;

-- pushed(pushed_where, local_where): runs the query with pushed_where pushed
-- to ESI, then compares its rows with forge34 filtered locally by
-- local_where, column by column (order_type apart: it reads what was asked
-- for, shown in order_types); lists the requests it made (first pages) and
-- whether every page went out only once
CREATE FUNCTION pg_temp.pushed(pushed_where text, local_where text DEFAULT NULL,
  OUT pushed bigint, OUT local bigint, OUT only_pushed bigint, OUT only_local bigint,
  OUT order_types text, OUT requests text, OUT each_once boolean)
LANGUAGE plpgsql SET client_min_messages = warning AS $$
BEGIN
  PERFORM * FROM sim.reset;
  DROP TABLE IF EXISTS pg_temp.got;
  EXECUTE 'CREATE TEMP TABLE got AS SELECT * FROM eve.market_orders WHERE ' || pushed_where;
  SELECT coalesce(string_agg(path || '?' || regexp_replace(query, '&page=1$', ''), ' ' ORDER BY path, query)
                  FILTER (WHERE page = 1 OR page IS NULL), 'none'),
         count(*) = count(DISTINCT (path, query))
    INTO requests, each_once FROM sim.log;
  DROP TABLE IF EXISTS pg_temp.want;
  EXECUTE 'CREATE TEMP TABLE want AS SELECT * FROM forge34 WHERE '
          || coalesce(local_where, pushed_where);
  SELECT count(*), string_agg(DISTINCT order_type, ',') INTO pushed, order_types FROM got;
  SELECT count(*) INTO local FROM want;
  SELECT count(*) INTO only_pushed FROM
    (SELECT to_jsonb(g) - 'order_type' FROM got g
     EXCEPT ALL SELECT to_jsonb(w) - 'order_type' FROM want w) x;
  SELECT count(*) INTO only_local FROM
    (SELECT to_jsonb(w) - 'order_type' FROM want w
     EXCEPT ALL SELECT to_jsonb(g) - 'order_type' FROM got g) x;
END $$;

-- EXPLAIN shows what goes out: 'all' meets buy in buy
EXPLAIN (COSTS OFF) SELECT * FROM market_orders
 WHERE region_id = 10000002 AND type_id = 34 AND order_type = 'all' AND is_buy_order;
EXPLAIN (COSTS OFF) SELECT * FROM market_orders
 WHERE region_id = 10000002 AND type_id IN (34, 34.0) AND is_buy_order IN (true, false);

\x on
-- two columns feed order_type: values meet per parameter, each request once
SELECT * FROM pg_temp.pushed($$region_id = 10000002 AND type_id = 34
                                AND order_type IN ('buy', 'sell')$$, 'true');
SELECT * FROM pg_temp.pushed($$region_id = 10000002 AND type_id = 34
                                AND is_buy_order IN (true, false)$$);
SELECT * FROM pg_temp.pushed($$region_id = 10000002 AND type_id = 34
                                AND (is_buy_order OR NOT is_buy_order)$$);
SELECT * FROM pg_temp.pushed($$region_id = 10000002 AND type_id = 34
                                AND is_buy_order = ANY ('{true,true,false}')$$);
-- 'all' is no filter: it meets buy in buy, and the rows still read 'all'
SELECT * FROM pg_temp.pushed($$region_id = 10000002 AND type_id = 34
                                AND order_type = 'all' AND is_buy_order$$);
SELECT * FROM pg_temp.pushed($$region_id = 10000002 AND type_id = 34
                                AND order_type IN ('all', 'buy')$$);
SELECT * FROM pg_temp.pushed($$region_id = 10000002 AND type_id = 34
                                AND order_type IN ('all', 'buy') AND is_buy_order$$);
SELECT * FROM pg_temp.pushed($$region_id = 10000002 AND type_id = 34
                                AND order_type = 'all'$$);
-- a column whose own condition names buy or sell reads it
SELECT * FROM pg_temp.pushed($$region_id = 10000002 AND type_id = 34
                                AND order_type = 'buy' AND is_buy_order$$, 'is_buy_order');
SELECT * FROM pg_temp.pushed($$region_id = 10000002 AND type_id = 34
                                AND order_type IN ('buy', 'sell') AND NOT is_buy_order$$,
                             'NOT is_buy_order');
SELECT * FROM pg_temp.pushed($$region_id = 10000002 AND type_id = 34
                                AND order_type = 'sell' AND is_buy_order$$, 'false');
SELECT * FROM pg_temp.pushed($$region_id = 10000002 AND type_id = 34
                                AND is_buy_order AND NOT is_buy_order$$);
-- an OR across the two columns is not pushed: checked locally, rows read 'all'
SELECT * FROM pg_temp.pushed($$region_id = 10000002 AND type_id = 34
                                AND (order_type = 'sell' OR is_buy_order)$$);
-- equal values are one value: 34.0 is 34, 34.5 is no type at all
SELECT * FROM pg_temp.pushed($$region_id = 10000002 AND type_id IN (34, 34.0)$$);
SELECT * FROM pg_temp.pushed($$region_id IN (10000002, 10000002.0, 10000002.5)
                                AND type_id IN (34, 34.00, 34.5)$$);
SELECT * FROM pg_temp.pushed($$region_id = 10000002 AND type_id = 34.5$$);
\x off

-- run-time values (a generic plan) are canonicalized the same way
SET plan_cache_mode = force_generic_plan;
PREPARE by_types(numeric[], boolean[]) AS
  SELECT count(*), count(DISTINCT order_id), string_agg(DISTINCT order_type, ',')
    FROM market_orders
   WHERE region_id = 10000002 AND type_id = ANY ($1) AND is_buy_order = ANY ($2);
SELECT * FROM sim.reset;
EXECUTE by_types('{34, 34.0, 34.5, NULL}', '{true, false, true}');
SELECT regexp_replace(query, '&page=\d+$', '') AS request, count(*) AS pages
  FROM sim.log GROUP BY 1 ORDER BY 1;
SELECT * FROM sim.reset;
EXECUTE by_types('{34.5}', '{true}');
SELECT count(*) AS requests FROM sim.log;
DEALLOCATE by_types;
RESET plan_cache_mode;
-- a parameter column of a domain type compares as its base type
CREATE DOMAIN pg_temp.type_id AS bigint;
CREATE FOREIGN TABLE history_dom (
  region_id bigint OPTIONS (param 'path'),
  type_id pg_temp.type_id OPTIONS (param 'query', required 'true'),
  date date, volume bigint
) SERVER esi OPTIONS (route '/markets/{region_id}/history');
SELECT * FROM sim.reset;
SELECT count(*), count(DISTINCT type_id) FROM history_dom
 WHERE region_id = 10000002 AND type_id IN (34, 35.0) AND type_id = ANY ('{34,35}'::pg_temp.type_id[]);
SELECT path, query FROM sim.log ORDER BY query;
DROP FOREIGN TABLE history_dom;

--
-- Parameter text is the same whatever DateStyle, TimeZone and
-- extra_float_digits say: dates YYYY-MM-DD, timestamptz ISO 8601 in UTC,
-- floats the shortest exact text, numerics without trailing zeros
--
CREATE FOREIGN TABLE fmt_probe (
  d date OPTIONS (param 'query'),
  ts timestamptz OPTIONS (param 'query'),
  t timestamp OPTIONS (param 'query'),
  f float8 OPTIONS (param 'query'),
  r real OPTIONS (param 'query'),
  n numeric OPTIONS (param 'query'),
  i integer OPTIONS (param 'query'),
  b boolean OPTIONS (param 'query'),
  region_id bigint
) SERVER esi OPTIONS (route '/universe/regions', shape 'values');
CREATE FUNCTION pg_temp.probe() RETURNS TABLE (rows bigint, ok boolean)
LANGUAGE sql AS $$
  SELECT count(*), bool_and(d = '2024-01-02' AND ts = '2024-01-02 03:04:05.25+00'
                            AND t = '2024-01-02 03:04:05' AND f = 1.2345
                            AND r = 0.1::real AND n = 1.50 AND i = 7 AND b)
    FROM fmt_probe
   WHERE d = '2024-01-02' AND ts = '2024-01-02 03:04:05.25+00'
     AND t = '2024-01-02 03:04:05' AND f = 1.2345 AND r = 0.1::real
     AND n = 1.50 AND i IN (7, 7.0, 5000000000) AND b
$$;
PREPARE probe_generic(date, timestamptz, timestamp, float8, real, numeric, integer) AS
  SELECT count(*) FROM fmt_probe
   WHERE d = $1 AND ts = $2 AND t = $3 AND f = $4 AND r = $5 AND n = $6 AND i = $7 AND b;
SELECT * FROM sim.reset;
SELECT * FROM pg_temp.probe();
SET plan_cache_mode = force_generic_plan;
EXECUTE probe_generic('2024-01-02', '2024-01-02 03:04:05.25+00', '2024-01-02 03:04:05',
                      1.2345, 0.1, 1.50, 7);
RESET plan_cache_mode;
SET DateStyle = 'SQL, DMY';
SET TimeZone = 'Pacific/Auckland';
SET extra_float_digits = -15;
SELECT * FROM pg_temp.probe();
SET plan_cache_mode = force_generic_plan;
EXECUTE probe_generic('02/01/2024', '2024-01-02 16:04:05.25 NZDT', '02/01/2024 03:04:05',
                      1.2345, 0.1, 1.50, 7);
RESET plan_cache_mode;
RESET DateStyle;
RESET TimeZone;
RESET extra_float_digits;
-- four queries, one URL
SELECT count(*) AS requests, count(DISTINCT query) AS urls, min(query) AS query FROM sim.log;
DEALLOCATE probe_generic;
-- "real = 0.1" compares with the double 0.1, which no real equals
SELECT * FROM sim.reset;
SELECT count(*) FROM fmt_probe WHERE r = 0.1;
SELECT count(*) AS requests FROM sim.log;
SELECT count(*) FROM (SELECT * FROM fmt_probe WHERE r = 0.1::real OFFSET 0) s WHERE r = 0.1;

--
-- esi_fdw.max_requests: the product of the parameters' value counts is
-- checked before any request is built
--
SHOW esi_fdw.max_requests;
CREATE FUNCTION pg_temp.in_list(n int, quoted boolean DEFAULT false) RETURNS text
LANGUAGE sql AS $$
  SELECT string_agg(CASE WHEN quoted THEN quote_literal('t' || g) ELSE g::text END, ',')
    FROM generate_series(1, n) g
$$;
-- 1000 x 1000 x 10 combinations fail at once, before anything is sent
SELECT * FROM sim.reset;
SELECT state, message, detail, hint FROM sim.error_of(format(
  'SELECT count(*) FROM eve.market_orders WHERE region_id IN (%s) AND type_id IN (%s) AND order_type IN (%s)',
  pg_temp.in_list(1000), pg_temp.in_list(1000), pg_temp.in_list(10, true)));
-- EXPLAIN shows the count and the first ten requests, and builds no more
CREATE FUNCTION pg_temp.explain_requests(q text, OUT shown int, OUT tail text)
LANGUAGE plpgsql AS $$
DECLARE
  line text;
BEGIN
  FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
    IF line ~ 'ESI Requests:' THEN
      shown := (SELECT count(*) FROM regexp_matches(line, 'GET /', 'g'));
      tail := substring(line FROM '\.\.\. \(.*$');
    END IF;
  END LOOP;
END $$;
SELECT * FROM pg_temp.explain_requests(format(
  'SELECT * FROM eve.market_orders WHERE region_id IN (%s) AND type_id IN (%s) AND order_type IN (%s)',
  pg_temp.in_list(1000), pg_temp.in_list(1000), pg_temp.in_list(10, true)));
SELECT * FROM pg_temp.explain_requests(
  'SELECT * FROM eve.market_orders WHERE region_id IN (1, 2, 3) AND type_id IN (34, 35, 36, 37)');
SET esi_fdw.max_requests = 11;
SELECT * FROM pg_temp.explain_requests(
  'SELECT * FROM eve.market_orders WHERE region_id IN (1, 2, 3) AND type_id IN (34, 35, 36, 37)');
SELECT state, message, detail, hint FROM sim.error_of(
  'SELECT * FROM eve.market_orders WHERE region_id IN (1, 2, 3) AND type_id IN (34, 35, 36, 37)');
RESET esi_fdw.max_requests;
-- values known only at run time are counted before any request too
SET plan_cache_mode = force_generic_plan;
PREPARE fan(bigint[], bigint[]) AS
  SELECT count(*) FROM market_orders WHERE region_id = ANY ($1) AND type_id = ANY ($2);
SELECT state, message, detail, hint FROM sim.error_of(format('EXECUTE fan(%L, %L)',
  ARRAY(SELECT generate_series(1, 200)), ARRAY(SELECT generate_series(1, 100))));
DEALLOCATE fan;
RESET plan_cache_mode;
SELECT count(*) AS requests FROM sim.log;
SET esi_fdw.max_requests = 0;
SET esi_fdw.max_requests = 1000001;

-- long lists de-duplicate and intersect by value: 20000 run-time values
-- with two distinct ones, and 20000 constants meeting three
SELECT * FROM sim.reset;
SELECT count(*), count(DISTINCT order_id), count(DISTINCT type_id)
  FROM market_orders
 WHERE region_id = ANY (ARRAY(SELECT 10000002 FROM generate_series(1, 20000)))
   AND type_id = ANY (ARRAY(SELECT 34 + g % 2 FROM generate_series(1, 20000) g));
SELECT regexp_replace(query, '&page=\d+$', '') AS request, count(*) AS pages
  FROM sim.log GROUP BY 1 ORDER BY 1;
SELECT count(*) FROM (SELECT * FROM market_orders
                       WHERE region_id = 10000002 AND type_id IN (34, 35) OFFSET 0) s;
SELECT * FROM sim.reset;
DO $$
DECLARE
  n bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM eve.market_orders WHERE region_id = 10000002'
                 ' AND type_id IN (%s) AND type_id IN (34, 35, 0, 20001)',
                 pg_temp.in_list(20000)) INTO n;
  RAISE NOTICE 'rows: %', n;
END $$;
SELECT regexp_replace(query, '&page=\d+$', '') AS request, count(*) AS pages
  FROM sim.log GROUP BY 1 ORDER BY 1;

--
-- path values: every byte but the unreserved ones is percent-encoded, and
-- a value that would address another route ('', '.', '..') is refused
--
CREATE FOREIGN TABLE echo (
  word text OPTIONS (param 'path'),
  q text OPTIONS (param 'query'),
  value text
) SERVER esi OPTIONS (route '/echo/{word}', shape 'value');
SELECT * FROM sim.reset;
SELECT state FROM sim.error_of($$SELECT * FROM echo WHERE word = 'a/b?c#d%e f.'$$);
SELECT state FROM sim.error_of($$SELECT * FROM echo WHERE word = 'x' AND q = 'a&b=c#d/e?f%+'$$);
SELECT path, query, status FROM sim.log;
SELECT * FROM sim.reset;
SELECT state, message, detail, hint FROM sim.error_of($$SELECT * FROM echo WHERE word = '..'$$);
SELECT state, message FROM sim.error_of($$SELECT * FROM echo WHERE word IN ('a', '.')$$);
SELECT state, message FROM sim.error_of($$SELECT * FROM echo WHERE word = ''$$);
-- '...' is an ordinary segment
SELECT state FROM sim.error_of($$SELECT * FROM echo WHERE word = '...'$$);
SELECT path, query, status FROM sim.log;

--
-- ESI ignores order_type without type_id ("we always return both buy and
-- sell orders"): every row is checked against the order_type it was asked
-- for, so asking for buy and sell separately still gives each order once
--
CREATE TEMP TABLE r42 AS
  SELECT * FROM (SELECT * FROM eve.market_orders WHERE region_id = 10000042 OFFSET 0) s;
SELECT count(*) AS orders, count(DISTINCT order_id) AS distinct_ids FROM r42;
SELECT * FROM sim.reset;
SELECT count(*) = (SELECT count(*) FROM r42) AS same_count,
       count(DISTINCT order_id) = count(*) AS each_once
  FROM eve.market_orders WHERE region_id = 10000042 AND order_type IN ('buy', 'sell');
SELECT regexp_replace(query, '&page=\d+$', '') AS request, count(*) AS pages
  FROM sim.log GROUP BY 1 ORDER BY 1;
-- each side is exactly the rows checked locally
SELECT (SELECT count(*) FROM (
          SELECT order_id, order_type FROM eve.market_orders
           WHERE region_id = 10000042 AND order_type IN ('buy', 'sell')
          EXCEPT ALL
          SELECT order_id, CASE WHEN is_buy_order THEN 'buy' ELSE 'sell' END FROM r42) d) AS extra,
       (SELECT count(*) FROM (
          SELECT order_id, CASE WHEN is_buy_order THEN 'buy' ELSE 'sell' END FROM r42
          EXCEPT ALL
          SELECT order_id, order_type FROM eve.market_orders
           WHERE region_id = 10000042 AND order_type IN ('buy', 'sell')) d) AS missing;
SELECT count(*) = (SELECT count(*) FROM r42 WHERE is_buy_order) AS buy_rows
  FROM eve.market_orders WHERE region_id = 10000042 AND order_type = 'buy';
SELECT count(*) = (SELECT count(*) FROM r42 WHERE NOT is_buy_order) AS sell_rows
  FROM eve.market_orders WHERE region_id = 10000042 AND NOT is_buy_order AND order_type = 'sell';

-- a text value goes out as UTF-8 whatever the database's encoding (this
-- file also runs in a LATIN1 database): é is %C3%A9
SELECT * FROM sim.reset;
SELECT state FROM sim.error_of($$SELECT * FROM echo WHERE word = 'x' AND q = chr(233) || 'x'$$);
SELECT path, query FROM sim.log;
