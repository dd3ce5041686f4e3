--
-- writes: ESI's POST, PUT and DELETE routes as functions (issue 10), the
-- batched lookups and the names remembered (issue 9, item 6).  The writes
-- that act for a character (an EVE SSO login) are in writes_character (every
-- route, its request and the state read back, lost replies, transaction
-- blocks, scope and role errors) and writes_tables (the writable tables).
--
SELECT method, count(*), count(*) FILTER (WHERE scope IS NULL) AS public
  FROM esi.catalog() GROUP BY 1 ORDER BY 1;
SELECT table_name, route, shape FROM esi.catalog()
 WHERE method = 'POST' AND scope IS NULL ORDER BY 1;
-- writes are not executable by PUBLIC; lookups are
CREATE ROLE regress_writes_user;
SELECT c.method, has_function_privilege('regress_writes_user', p.oid, 'EXECUTE') AS may, count(*)
  FROM esi.catalog() c JOIN pg_proc p ON p.proname = c.table_name
   AND p.pronamespace = 'esi'::regnamespace
 WHERE c.method <> 'GET' GROUP BY 1, 2 ORDER BY 1, 2;

SELECT coalesce(max(seq), 0) AS s0 FROM sim.requests \gset
-- the lookups: rows in the order of the input, each id once
SELECT * FROM esi.post_universe_names(ARRAY[30000142, 10000002, 34, 30000142]);
SELECT * FROM esi.post_universe_ids(ARRAY['Tritanium', 'Jita', 'The Forge']);
SELECT * FROM esi.post_character_affiliation(ARRAY[90000002, 90000001]);
SELECT method, path, status FROM sim.requests WHERE seq > :s0 ORDER BY seq;

-- more than 1000 ids: split into requests of 1000, merged in input order
SELECT coalesce(max(seq), 0) AS s1 FROM sim.requests \gset
SELECT count(*) AS n, count(DISTINCT id) AS distinct_ids,
       bool_and(category = 'character') AS characters,
       bool_and(id = 90002499 - (o - 1)) AS in_input_order
  FROM (SELECT *, row_number() OVER () AS o
          FROM esi.post_universe_names(ARRAY(SELECT g::bigint FROM generate_series(90002499, 90000000, -1) g))) r;
SELECT method, path, status, count(*) FROM sim.requests WHERE seq > :s1
 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;

-- ids ESI does not know: a NOTICE names them, the others are answered
SELECT * FROM esi.post_universe_names(ARRAY[30000142, 1999999999, 34, 1999999998]);
SELECT * FROM esi.post_universe_ids(ARRAY['Jita', 'No Such Place']);
SELECT * FROM esi.post_character_affiliation(ARRAY[90000001, 5]);
SELECT * FROM esi.post_universe_names('{}');

-- what the name lookups found is remembered
SELECT id, name, category FROM esi.names WHERE id IN (30000142, 10000002, 34) ORDER BY id;
SELECT count(*) FROM esi.names WHERE id BETWEEN 90000000 AND 90002499;
-- names_of: esi.names first, ESI only for the ids it does not hold
SELECT coalesce(max(seq), 0) AS s2 FROM sim.requests \gset
SELECT * FROM esi.names_of(ARRAY[34, 30000142, 34]);
SELECT count(*) AS requests FROM sim.requests WHERE seq > :s2;
SELECT * FROM esi.names_of(ARRAY[90005000, 34, 1999999997]);
SELECT method, path, status, count(*) FROM sim.requests WHERE seq > :s2 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
SELECT id, name FROM esi.names WHERE id IN (90005000, 1999999997);

-- a write inside a transaction block is refused before anything is sent
SELECT coalesce(max(seq), 0) AS s3 FROM sim.requests \gset
BEGIN;
SELECT esi.post_ui_openwindow_marketdetails(90000001, 34);
ROLLBACK;
-- also in a subtransaction (a PL/pgSQL block with EXCEPTION): its rollback
-- would not undo the write either
DO $$
DECLARE
  hint text;
BEGIN
  BEGIN
    PERFORM esi.post_ui_openwindow_marketdetails(90000001, 34);
  EXCEPTION WHEN active_sql_transaction THEN
    GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
    RAISE NOTICE 'refused: %', hint;
  END;
END $$;
SELECT count(*) AS requests FROM sim.requests WHERE seq > :s3;
-- a NULL where the route needs a value
SELECT esi.post_ui_openwindow_marketdetails(90000001, NULL);
DROP ROLE regress_writes_user;

-- replies are read by the scan's decoder (decode.c), whatever their layout
-- (issue 17): esi_test_call_decode decodes a given reply as the function
-- does, in the reply's order.  POST /universe/ids: an object whose members
-- hold lists of records, the member naming the category (as
-- /universe/names names it; an unknown member is its own category), in
-- the reply's order; an empty or null member holds none, unknown fields
-- and nested values are skipped, absent fields are NULL
CREATE FUNCTION esi_test_call_decode(text, text) RETURNS SETOF record
  AS 'esi_fdw', 'esi_test_call_decode' LANGUAGE C STRICT;
SELECT * FROM esi_test_call_decode('post_universe_ids',
  '{"systems":[{"id":30000142,"name":"Jita"},{"id":30002187,"name":"Amarr"}],
    "characters":[], "agents":null,
    "inventory_types":[{"name":"Tritanium","id":34,"extra":{"a":[1,{"b":null}]}},{"name":"No id"}],
    "wormhole_systems":[{"id":31000005,"name":"Thera"}],
    "factions":[{"id":500001,"name":"Caldari \u0053tate"}],
    "regions" : [ {"id":10000002, "name":"The Forge"} ] }')
  AS t(category text, id bigint, name text);
SELECT * FROM esi_test_call_decode('post_universe_ids', '{}') AS t(category text, id bigint, name text);
-- what is not such an object is refused: broken JSON (HV00A), another
-- layout (HV004), a value that does not fit its column (its type's error)
SELECT * FROM esi_test_call_decode('post_universe_ids', '{"systems":[{"id":30000142,"name":"Jita"}') AS t(category text, id bigint, name text);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM esi_test_call_decode('post_universe_ids', '{"systems":[],"regions":[{"id":1}]} ]') AS t(category text, id bigint, name text);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM esi_test_call_decode('post_universe_ids', '[{"id":30000142,"name":"Jita"}]') AS t(category text, id bigint, name text);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM esi_test_call_decode('post_universe_ids', '{"systems":[],"regions":5}') AS t(category text, id bigint, name text);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM esi_test_call_decode('post_universe_ids', '{"systems":[{"id":"Jita"}]}') AS t(category text, id bigint, name text);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM esi_test_call_decode('post_universe_ids', '{"systems":[30000142]}') AS t(category text, id bigint, name text);
\echo :LAST_ERROR_SQLSTATE
-- POST /route: the list under "route"; other members are skipped (but must
-- be valid JSON), a null or absent route is no rows
SELECT * FROM esi_test_call_decode('post_route', '{"route":[30000142,30000144,30002187]}') AS t(route_id bigint);
SELECT * FROM esi_test_call_decode('post_route', '{"note":{"x":[1,2]},"route":[30000142],"other":"x"}') AS t(route_id bigint);
SELECT count(*) FROM esi_test_call_decode('post_route', '{"route":null}') AS t(route_id bigint);
SELECT count(*) FROM esi_test_call_decode('post_route', '{"routes":[1,2]}') AS t(route_id bigint);
SELECT * FROM esi_test_call_decode('post_route', '{"route":{"a":1}}') AS t(route_id bigint);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM esi_test_call_decode('post_route', '{"other":[1,],"route":[1]}') AS t(route_id bigint);
\echo :LAST_ERROR_SQLSTATE
-- the other layouts: a list of records, one record
SELECT * FROM esi_test_call_decode('post_character_affiliation',
  '[{"character_id":90000001,"corporation_id":1000001,"faction_id":500001},{"character_id":5,"corporation_id":1000002,"alliance_id":99000001}]')
  AS t(alliance_id bigint, character_id bigint, corporation_id bigint, faction_id bigint);
SELECT * FROM esi_test_call_decode('post_character_fittings', '{"fitting_id":7}') AS t(fitting_id bigint);
SELECT * FROM esi_test_call_decode('post_character_fittings', '[{"fitting_id":7}]') AS t(fitting_id bigint);
\echo :LAST_ERROR_SQLSTATE
DROP FUNCTION esi_test_call_decode;
