--
-- setup: the extension, a server pointed at the ESI simulator, the market
-- and universe tables, and foreign tables over the simulator's control
-- routes (the wrapper maps any route by hand, including these).
--
\getenv esi_url ESI_SIM_URL
CREATE EXTENSION esi_fdw;
-- These files check the exact requests each query sends, so they run with
-- the response cache off (this session and every later one in this
-- database); the cache itself is tested by sql/cache.sql and test/t/05*.
SET esi_fdw.cache = off;
DO $$ BEGIN
  EXECUTE format('ALTER DATABASE %I SET esi_fdw.cache = off', current_database());
END $$;
CREATE SERVER esi FOREIGN DATA WRAPPER esi_fdw
  OPTIONS (base_url :'esi_url', user_agent 'esi_fdw regression tests (dev@example.com)');
CREATE SCHEMA eve;
IMPORT FOREIGN SCHEMA markets FROM SERVER esi INTO eve;
IMPORT FOREIGN SCHEMA universe LIMIT TO (universe_regions, universe_region_details, universe_types, universe_type_details)
  FROM SERVER esi INTO eve;
SELECT foreign_table_name FROM information_schema.foreign_tables
 WHERE foreign_table_schema = 'eve' ORDER BY 1;

-- the simulator's request log: what the extension asked for
CREATE SCHEMA sim;
CREATE FOREIGN TABLE sim.requests (
  seq bigint, method text, path text, query text, page integer, status integer,
  bytes bigint, if_none_match text, accept_encoding text, user_agent text,
  compat_date text, "authorization" boolean, conn integer
) SERVER esi OPTIONS (route '/_sim/requests');
CREATE FOREIGN TABLE sim.reset (reset boolean) SERVER esi OPTIONS (route '/_sim/reset');
CREATE FOREIGN TABLE sim.fault (
  path text OPTIONS (param 'query'),
  kind text OPTIONS (param 'query'),
  page integer OPTIONS (param 'query'),
  count integer OPTIONS (param 'query'),
  ms integer OPTIONS (param 'query'),
  status integer OPTIONS (param 'query'),
  retry_after integer OPTIONS (param 'query'),
  id bigint
) SERVER esi OPTIONS (route '/_sim/fault');
CREATE FOREIGN TABLE sim.config (
  latency_ms integer OPTIONS (param 'query', field 'latency_ms'),
  error_limit integer OPTIONS (param 'query', field 'error_limit')
) SERVER esi OPTIONS (route '/_sim/config');

-- requests since the last reset, without the control routes
CREATE VIEW sim.log AS
  SELECT seq, path, query, page, status FROM sim.requests ORDER BY seq;

-- tests do not need to wait out real back-off delays (in whichever database
-- pg_regress runs them: test/t/100_tls_front.sh uses its own)
DO $$ BEGIN
  EXECUTE format('ALTER DATABASE %I SET esi_fdw.retry_delay = ''10ms''', current_database());
END $$;

-- an error as data: SQLSTATE, message, DETAIL (wall-clock dates, byte offsets
-- and sizes masked), HINT
CREATE FUNCTION sim.error_of(q text,
  OUT state text, OUT message text, OUT detail text, OUT hint text)
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  state := '00000';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                          detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
  detail := regexp_replace(detail, '[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT',
                           '<date>', 'g');
  -- positions and sizes depend on the simulator's exact bytes, not on the wrapper
  detail := regexp_replace(detail, 'at byte \d+ of \d+, near ".*"\.$', 'at byte <n> of <len>, near <text>.');
  detail := regexp_replace(detail, '\d+ bytes remaining', '<n> bytes remaining', 'g');
END $$;
-- the tests refresh snapshots by hand (or not at all): no background refresh
-- in the regression database
DO $$ BEGIN
  EXECUTE format('ALTER DATABASE %I SET esi_fdw.auto_refresh = off', current_database());
END $$;
