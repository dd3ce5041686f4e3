--
-- planner: joins that supply parameters, EXPLAIN of scans inside subqueries,
-- rescans, and the probes BI tools send
--
SET search_path = eve, public;

--
-- A join on a parameter that is neither required nor in ESI's reply gives
-- the same rows as the IN list of the same values.  freelance_jobs takes an
-- optional corporation_id; rows carry the value that was sent.
--
CREATE SCHEMA fl;
IMPORT FOREIGN SCHEMA freelance LIMIT TO (freelance_jobs) FROM SERVER esi INTO fl;
CREATE TEMP TABLE corps (corporation_id bigint);
INSERT INTO corps VALUES (98000001), (98000002), (98000003);
ANALYZE corps;

SELECT * FROM sim.reset;
CREATE TEMP TABLE by_in AS
  SELECT * FROM fl.freelance_jobs WHERE corporation_id IN (98000001, 98000002, 98000003);
SELECT count(*) AS rows, count(DISTINCT corporation_id) AS corporations FROM by_in;

-- the join: a nested loop sends each outer row's value, never the bare route
EXPLAIN (COSTS OFF)
SELECT f.* FROM corps c JOIN fl.freelance_jobs f ON f.corporation_id = c.corporation_id;
SELECT * FROM sim.reset;
CREATE TEMP TABLE by_join AS
  SELECT f.* FROM corps c JOIN fl.freelance_jobs f ON f.corporation_id = c.corporation_id;
-- one walk per outer row, each starting with that row's value
SELECT query FROM sim.log WHERE query NOT LIKE '%before=%' ORDER BY query;

-- LATERAL, flattened into the join and kept as a subquery
SELECT * FROM sim.reset;
CREATE TEMP TABLE by_lateral AS
  SELECT f.* FROM corps c,
    LATERAL (SELECT * FROM fl.freelance_jobs f WHERE f.corporation_id = c.corporation_id) f;
CREATE TEMP TABLE by_lateral_subquery AS
  SELECT f.* FROM corps c,
    LATERAL (SELECT * FROM fl.freelance_jobs f WHERE f.corporation_id = c.corporation_id OFFSET 0) f;
SELECT query, count(*) AS walks FROM sim.log WHERE query NOT LIKE '%before=%'
 GROUP BY query ORDER BY query;

-- identical rows, both ways
SELECT (SELECT count(*) FROM (TABLE by_join EXCEPT ALL TABLE by_in) x) AS join_not_in,
       (SELECT count(*) FROM (TABLE by_in EXCEPT ALL TABLE by_join) x) AS in_not_join,
       (SELECT count(*) FROM (TABLE by_lateral EXCEPT ALL TABLE by_in) x) AS lateral_not_in,
       (SELECT count(*) FROM (TABLE by_in EXCEPT ALL TABLE by_lateral) x) AS in_not_lateral,
       (SELECT count(*) FROM (TABLE by_lateral_subquery EXCEPT ALL TABLE by_in) x) AS subquery_not_in,
       (SELECT count(*) FROM (TABLE by_in EXCEPT ALL TABLE by_lateral_subquery) x) AS in_not_subquery;

-- an outer join keeps the rows of the outer side the same way
SELECT count(*) = (SELECT count(*) FROM by_in) AS same_rows
  FROM corps c LEFT JOIN fl.freelance_jobs f ON f.corporation_id = c.corporation_id;

-- without a condition on the column the scan still reads the route, the
-- column is NULL (no value was sent)
SELECT count(*) AS rows, bool_and(corporation_id IS NULL) AS all_null
  FROM fl.freelance_jobs;
-- ... and so it is where the join cannot send it (the table is the outer side)
SELECT count(*) AS rows, bool_and(c.corporation_id IS NULL) AS none_matched
  FROM fl.freelance_jobs f LEFT JOIN corps c ON f.corporation_id = c.corporation_id;

-- a plan that would read the table without the value is an error, not 0 rows
SET enable_nestloop = off;
\x on
SELECT * FROM sim.error_of($$SELECT f.* FROM corps c JOIN fl.freelance_jobs f
                              ON f.corporation_id = c.corporation_id$$);
\x off
RESET enable_nestloop;
SELECT state FROM sim.error_of($$SELECT * FROM fl.freelance_jobs f1
                                 JOIN fl.freelance_jobs f2 USING (corporation_id)$$);

--
-- EXPLAIN VERBOSE of a parameterized scan: the $n are the outer columns,
-- wherever the scan is (setrefs adjusts what EXPLAIN shows)
--
CREATE TEMP TABLE hubs (name text, region_id bigint, type_id bigint);
INSERT INTO hubs VALUES ('Jita', 10000002, 34), ('Amarr', 10000043, 34);
ANALYZE hubs;
-- a CTE that is not flattened
EXPLAIN (VERBOSE, COSTS OFF)
WITH best AS MATERIALIZED (
  SELECT h.name, min(o.price) FROM hubs h
    JOIN market_orders o ON o.region_id = h.region_id AND o.type_id = h.type_id
   GROUP BY 1)
SELECT * FROM best;
SELECT * FROM sim.reset;
WITH best AS MATERIALIZED (
  SELECT h.name, min(o.price) FROM hubs h
    JOIN market_orders o ON o.region_id = h.region_id AND o.type_id = h.type_id
   GROUP BY 1)
SELECT name, min FROM best ORDER BY name;
SELECT path, bool_and(query LIKE '%type_id=34%') AS type_34 FROM sim.log GROUP BY path ORDER BY path;
-- a sub-select in the SELECT list
EXPLAIN (VERBOSE, COSTS OFF)
SELECT h.name, (SELECT min(o.price) FROM market_orders o
                 WHERE o.region_id = h.region_id AND o.type_id = h.type_id) AS best
  FROM hubs h;
-- a LATERAL subquery
EXPLAIN (VERBOSE, COSTS OFF)
SELECT h.name, x.days FROM hubs h,
  LATERAL (SELECT count(*) AS days FROM market_history m
            WHERE m.region_id = h.region_id AND m.type_id = h.type_id) x;
-- a plain nested loop
EXPLAIN (VERBOSE, COSTS OFF)
SELECT h.name, o.price FROM hubs h
  JOIN market_orders o ON o.region_id = h.region_id AND o.type_id = h.type_id;

--
-- Rescans: requests and parameter values live in a context reset per rescan;
-- a rescan sending the same requests replays the rows already read.
--
-- mem_at(i) records the backend's memory in a setting at outer rows 200 and
-- 2000 of the nested loops below.
CREATE FUNCTION pg_temp.mem_at(i int) RETURNS int LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  IF i IN (200, 2000) THEN
    PERFORM set_config('esi_test.mem_' || i,
                       (SELECT sum(total_bytes)::text FROM pg_backend_memory_contexts), false);
  END IF;
  RETURN i;
END $$;
-- the planner's own cache (Memoize) would hide the scan's
SET enable_memoize = off;

-- 2000 outer rows, 5 type ids, 400 rows in a row each
SELECT * FROM sim.reset;
EXPLAIN (COSTS OFF)
SELECT count(*) FROM (SELECT pg_temp.mem_at(i) AS i, 34 + (i - 1) / 400 AS type_id
                        FROM generate_series(1, 2000) i OFFSET 0) o
  JOIN market_history m ON m.region_id = 10000002 AND m.type_id = o.type_id;
SELECT count(*), sum(m.volume) AS volume
  FROM (SELECT pg_temp.mem_at(i) AS i, 34 + (i - 1) / 400 AS type_id
          FROM generate_series(1, 2000) i OFFSET 0) o
  JOIN market_history m ON m.region_id = 10000002 AND m.type_id = o.type_id;
-- one request per distinct type ...
SELECT path, query FROM sim.log;
-- ... memory flat from the 200th outer row to the 2000th ...
SELECT current_setting('esi_test.mem_2000')::bigint
       - current_setting('esi_test.mem_200')::bigint < 256 * 1024 AS memory_flat;
-- ... and the replayed rows are the rows ESI sends: each day of each type 400 times
CREATE TEMP TABLE direct AS
  SELECT type_id, date, volume FROM market_history
   WHERE region_id = 10000002 AND type_id IN (34, 35, 36, 37, 38);
CREATE TEMP TABLE nl AS
  SELECT o.type_id, m.date, m.volume
    FROM (SELECT 34 + (i - 1) / 400 AS type_id FROM generate_series(1, 2000) i OFFSET 0) o
    JOIN market_history m ON m.region_id = 10000002 AND m.type_id = o.type_id;
SELECT count(*) AS direct_rows,
       (SELECT count(*) FROM (SELECT * FROM nl EXCEPT ALL
                              SELECT d.* FROM direct d, generate_series(1, 400)) x) AS nl_not_direct,
       (SELECT count(*) FROM (SELECT d.* FROM direct d, generate_series(1, 400) EXCEPT ALL
                              SELECT * FROM nl) x) AS direct_not_nl
  FROM direct;
DROP TABLE nl;

-- every outer row a different type: a request per row, memory still flat
SELECT * FROM sim.reset;
SELECT count(*) AS rows, min(t.name) AS first_name, max(t.name) AS last_name
  FROM (SELECT pg_temp.mem_at(i) AS i, 34 + i % 2 AS type_id
          FROM generate_series(1, 2000) i OFFSET 0) o
  JOIN universe_type_details t ON t.type_id = o.type_id;
SELECT count(*) AS requests FROM sim.log;
SELECT current_setting('esi_test.mem_2000')::bigint
       - current_setting('esi_test.mem_200')::bigint < 256 * 1024 AS memory_flat;
RESET enable_memoize;

-- a from_id walk (like wallet transactions: 120 records, 50 a page)
CREATE FOREIGN TABLE public.sim_transactions (
  transaction_id bigint, quantity integer
) SERVER esi OPTIONS (route '/_sim/transactions', paging 'from_id');
-- a rescan in the middle of a walk starts a fresh one: both walks give
-- the same 60 records
SELECT count(*) AS records, count(DISTINCT transaction_id) AS distinct_records,
       count(*) FILTER (WHERE n = 2) AS in_both
  FROM (SELECT t.transaction_id, count(*) AS n
          FROM (VALUES (1), (2)) v(x),
               LATERAL (SELECT transaction_id FROM public.sim_transactions
                         WHERE v.x > 0 LIMIT 60) t
         GROUP BY 1) s;
-- a correlated subquery stopping at its match: each rescan replays the
-- records read so far and goes on with the walk, so the walk's pages
-- are fetched once however many rows look into it
CREATE FUNCTION pg_temp.http_requests(q text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  line text;
  n bigint := 0;
BEGIN
  FOR line IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || q LOOP
    IF line ~ 'ESI HTTP Requests: ' THEN
      n := n + substring(line FROM 'ESI HTTP Requests: (\d+)')::bigint;
    END IF;
  END LOOP;
  RETURN n;
END $$;
SELECT pg_temp.http_requests($$
SELECT v.i, (SELECT t.transaction_id FROM public.sim_transactions t
              WHERE t.transaction_id = 5000001000 + 7 * v.i LIMIT 1)
  FROM (VALUES (100), (30), (110), (5), (200)) v(i)$$)
     = pg_temp.http_requests('SELECT count(*) FROM public.sim_transactions') AS one_walk,
       pg_temp.http_requests('SELECT count(*) FROM public.sim_transactions') > 2 AS several_pages;
SELECT v.i, (SELECT t.transaction_id FROM public.sim_transactions t
              WHERE t.transaction_id = 5000001000 + 7 * v.i LIMIT 1) AS found
  FROM (VALUES (100), (30), (110), (5), (200)) v(i);
DROP FOREIGN TABLE public.sim_transactions;

--
-- The probes BI tools send: no rows, no error, no request
--
SELECT * FROM sim.reset;
SELECT * FROM market_orders LIMIT 0;
SELECT count(*) FROM market_orders LIMIT 0;
SELECT * FROM market_orders WHERE false;
SELECT * FROM market_orders WHERE 1 = 0;
SELECT * FROM market_orders WHERE false LIMIT 0;
CREATE VIEW public.orders_view AS SELECT * FROM market_orders;
SELECT * FROM public.orders_view LIMIT 0;
SELECT * FROM public.orders_view WHERE 1 = 0;
PREPARE probe(bigint) AS SELECT * FROM market_orders LIMIT $1;
EXECUTE probe(0);
SET plan_cache_mode = force_generic_plan;
EXECUTE probe(0);
-- the generic plan cannot know the LIMIT: a scan that runs still needs its value
SELECT state, message FROM sim.error_of('EXECUTE probe(5)');
RESET plan_cache_mode;
SELECT state, message FROM sim.error_of('EXECUTE probe(5)');
DEALLOCATE probe;
-- EXPLAIN says what is missing
EXPLAIN (COSTS OFF) SELECT * FROM market_orders LIMIT 0;
-- a LIMIT other than 0 still fails when the query is planned
SELECT state, message FROM sim.error_of('EXPLAIN SELECT * FROM market_orders LIMIT 1');
DROP VIEW public.orders_view;
SELECT count(*) AS requests FROM sim.log;

-- both probes on every table of the catalog
CREATE SCHEMA everything;
IMPORT FOREIGN SCHEMA "all" FROM SERVER esi INTO everything;
SELECT * FROM sim.reset;
CREATE FUNCTION pg_temp.probe_all(OUT tables int, OUT rows bigint)
LANGUAGE plpgsql AS $$
DECLARE
  t regclass;
  n bigint;
BEGIN
  tables := 0;
  rows := 0;
  FOR t IN SELECT c.oid FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
            WHERE s.nspname = 'everything' AND c.relkind = 'f' ORDER BY c.relname
  LOOP
    EXECUTE format('SELECT * FROM %s LIMIT 0', t);
    GET DIAGNOSTICS n = ROW_COUNT;
    rows := rows + n;
    EXECUTE format('SELECT * FROM %s WHERE 1 = 0', t);
    GET DIAGNOSTICS n = ROW_COUNT;
    rows := rows + n;
    tables := tables + 1;
  END LOOP;
END $$;
SELECT tables = (SELECT count(*) FROM esi.catalog() WHERE method = 'GET') AS every_table, rows
  FROM pg_temp.probe_all();
SELECT count(*) AS requests FROM sim.log;
SET client_min_messages = warning;
DROP SCHEMA everything CASCADE;
DROP SCHEMA fl CASCADE;
RESET client_min_messages;

-- EXISTS in the select list: PostgreSQL also plans a hashed form of the
-- sublink, whose scan lacks the correlated parameters; it is never run, so
-- it must not fail the query
SELECT * FROM sim.reset;
SELECT h.t, EXISTS (SELECT 1 FROM eve.market_history m
                    WHERE m.region_id = h.r AND m.type_id = h.t) AS traded
  FROM (VALUES (10000002::bigint, 34::bigint), (10000002, 35)) h(r, t) ORDER BY 1;
SELECT count(*) AS requests FROM sim.log;
-- a subquery that really lacks the parameter still fails, when it runs
SELECT state, message FROM sim.error_of($$SELECT (SELECT count(*) FROM eve.market_history WHERE type_id = 34)$$);
