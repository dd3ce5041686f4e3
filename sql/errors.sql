--
-- errors: clear messages, SQLSTATEs, no crash, nothing leaked
--
SET search_path = eve, public;
SELECT * FROM sim.reset;

-- a required parameter is missing
SELECT * FROM market_orders;
SELECT * FROM market_orders WHERE type_id = 34;
SELECT count(*) FROM market_history WHERE region_id = 10000002;
SELECT * FROM universe_type_details WHERE name = 'Tritanium';
SELECT state, message FROM sim.error_of('SELECT * FROM eve.market_orders');
-- ... but not when a join supplies it
CREATE TEMP TABLE want (region_id bigint, type_id bigint);
INSERT INTO want VALUES (10000002, 34);
SELECT count(*) AS days FROM want w JOIN market_history h USING (region_id, type_id);
-- nothing was sent for the failed queries
SELECT path, query FROM sim.log;

-- ESI's 4xx: its own text in DETAIL
SELECT * FROM sim.reset;
SELECT count(*) FROM market_orders WHERE region_id = 10000002 AND order_type = 'cheap';
SELECT count(*) FROM market_orders WHERE region_id = 12345;
SELECT count(*) FROM market_history WHERE region_id = 11000001 AND type_id = 34;
SELECT path, query, status FROM sim.log;

-- 420: the error limit is exhausted (and the reset is further away than a
-- scan waits by itself)
SET esi_fdw.max_retry_after = '5s';
SELECT * FROM sim.reset;
SELECT id FROM sim.fault WHERE path = '/markets/10000030/history' AND kind = 'error_limit' AND retry_after = 42 AND count = 1;
SELECT count(*) FROM market_history WHERE region_id = 10000030 AND type_id = 34;
-- every session now holds off until the reset
SELECT state, regexp_replace(message, '\d+ more', 'N more') AS message, detail,
       regexp_replace(hint, '\d+', 'N') AS hint
  FROM sim.error_of('SELECT count(*) FROM eve.market_region_types WHERE region_id = 10000002');
SELECT esi.limits_reset();

-- 5xx that does not stop
SELECT * FROM sim.reset;
SELECT id FROM sim.fault WHERE path = '/markets/10000030/history' AND kind = 'status' AND status = 503 AND count = 0;
SELECT count(*) FROM market_history WHERE region_id = 10000030 AND type_id = 34;
SELECT count(*) AS attempts FROM sim.log;
SET esi_fdw.max_retries = 0;
SELECT count(*) FROM market_history WHERE region_id = 10000030 AND type_id = 34;
RESET esi_fdw.max_retries;

-- malformed JSON names the route
SELECT * FROM sim.reset;
SELECT id FROM sim.fault WHERE path = '/markets/10000030/history' AND kind = 'malformed' AND count = 0;
SELECT * FROM sim.error_of('SELECT count(*) FROM eve.market_history WHERE region_id = 10000030 AND type_id = 34');
-- a truncated body is retried, then reported
SELECT * FROM sim.reset;
SELECT id FROM sim.fault WHERE path = '/markets/10000030/history' AND kind = 'truncate' AND count = 0;
SELECT * FROM sim.error_of('SELECT count(*) FROM eve.market_history WHERE region_id = 10000030 AND type_id = 34');
-- a dropped connection likewise
SELECT * FROM sim.reset;
SELECT id FROM sim.fault WHERE path = '/markets/10000030/history' AND kind = 'reset' AND count = 0;
SELECT count(*) FROM market_history WHERE region_id = 10000030 AND type_id = 34;

-- a slow ESI cannot outlive statement_timeout
SELECT * FROM sim.reset;
SELECT id FROM sim.fault WHERE path = '/markets/10000030/history' AND kind = 'latency' AND ms = 30000 AND count = 0;
SET statement_timeout = '300ms';
SELECT count(*) FROM market_history WHERE region_id = 10000030 AND type_id = 34;
RESET statement_timeout;
SELECT * FROM sim.reset;

-- a value ESI sends that does not fit the column
CREATE FOREIGN TABLE wrong_type (region_id bigint OPTIONS (param 'path'), name integer)
  SERVER esi OPTIONS (route '/universe/regions/{region_id}', shape 'object');
SELECT * FROM wrong_type WHERE region_id = 10000002;
DROP FOREIGN TABLE wrong_type;
-- a reply of another shape than the table says
CREATE FOREIGN TABLE wrong_shape (region_id bigint OPTIONS (param 'path'), name text)
  SERVER esi OPTIONS (route '/universe/regions/{region_id}', shape 'array');
SELECT * FROM wrong_shape WHERE region_id = 10000002;
DROP FOREIGN TABLE wrong_shape;

-- a route that needs an SSO token says which scope
IMPORT FOREIGN SCHEMA assets LIMIT TO (character_assets) FROM SERVER esi INTO public;
SELECT * FROM public.character_assets WHERE character_id = 2112625428;
DROP FOREIGN TABLE public.character_assets;

-- every failure has its SQLSTATE
\x on
SELECT * FROM sim.reset;
SELECT * FROM sim.error_of('SELECT * FROM eve.market_orders WHERE region_id = 10000002 AND order_type = ''x''');
SELECT * FROM sim.error_of('SELECT * FROM eve.market_orders WHERE region_id = 1');
SELECT id FROM sim.fault WHERE path = '/markets/10000030/history' AND kind = 'status' AND status = 504 AND count = 0;
SELECT * FROM sim.error_of('SELECT * FROM eve.market_history WHERE region_id = 10000030 AND type_id = 34');
SELECT * FROM sim.reset;
SELECT id FROM sim.fault WHERE path = '/markets/10000030/history' AND kind = 'error_limit' AND retry_after = 7 AND count = 1;
SELECT * FROM sim.error_of('SELECT * FROM eve.market_history WHERE region_id = 10000030 AND type_id = 34');
SELECT esi.limits_reset();
SELECT id FROM sim.fault WHERE path = '/markets/10000030/history' AND kind = 'malformed' AND count = 1;
SELECT * FROM sim.error_of('SELECT * FROM eve.market_history WHERE region_id = 10000030 AND type_id = 34');
\x off
SELECT * FROM sim.reset;

-- the backend is still fine, and so is the next scan
SELECT count(*) FROM market_history WHERE region_id = 10000030 AND type_id = 34;
