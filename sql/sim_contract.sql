--
-- sim_contract: what esi_fdw makes of ESI's description agrees with the
-- simulator's hand-written contract (test/sim/contract.py) for the routes
-- the tests use most: the compiled catalog, and the options and columns of
-- the tables IMPORT FOREIGN SCHEMA creates.  A generator that misreads the
-- description (paging, shape, records key, types, parameters) fails here,
-- although the simulator would agree with it if it read the same catalog.
--
CREATE FOREIGN TABLE sim.contract (
  route text, shape text, paging text, records_key text, scope text, roles text,
  cache_seconds integer, rate_group text
) SERVER esi OPTIONS (route '/_sim/contract');
CREATE FOREIGN TABLE sim.contract_columns (
  route text, "position" integer, name text, type text, field text, param text,
  required boolean
) SERVER esi OPTIONS (route '/_sim/contract_columns');

SELECT count(*) AS routes, count(*) FILTER (WHERE scope IS NULL) AS public,
       count(*) FILTER (WHERE paging <> 'none') AS paged
  FROM sim.contract;

-- the compiled catalog (none listed)
SELECT k.route, k.paging, e.paging AS catalog_paging, k.shape, e.shape AS catalog_shape,
       k.scope, e.scope AS catalog_scope
  FROM sim.contract k LEFT JOIN esi.catalog() e ON e.route = k.route AND e.method = 'GET'
 WHERE e.route IS NULL OR (k.paging, k.shape, k.scope, k.roles, k.cache_seconds, k.rate_group)
       IS DISTINCT FROM (e.paging, e.shape, e.scope, array_to_string(e.roles, ','),
                         e.cache_seconds, e.rate_group)
 ORDER BY 1;

-- the tables IMPORT FOREIGN SCHEMA creates
CREATE SCHEMA contract;
IMPORT FOREIGN SCHEMA "all" FROM SERVER esi INTO contract;
CREATE TEMP VIEW made AS
  SELECT c.oid AS relid, c.relname,
         max(o.option_value) FILTER (WHERE o.option_name = 'route') AS route,
         coalesce(max(o.option_value) FILTER (WHERE o.option_name = 'paging'), 'none') AS paging,
         coalesce(max(o.option_value) FILTER (WHERE o.option_name = 'shape'), 'array') AS shape,
         nullif(max(o.option_value) FILTER (WHERE o.option_name = 'records_key'), '') AS records_key,
         max(o.option_value) FILTER (WHERE o.option_name = 'scope') AS scope
    FROM pg_foreign_table ft
    JOIN pg_class c ON c.oid = ft.ftrelid
    CROSS JOIN LATERAL pg_options_to_table(ft.ftoptions) o
   WHERE c.relnamespace = 'contract'::regnamespace
   GROUP BY c.oid, c.relname;
-- options (none listed)
SELECT k.route, m.relname, k.paging, m.paging AS table_paging, k.shape, m.shape AS table_shape,
       k.records_key, m.records_key AS table_records_key
  FROM sim.contract k LEFT JOIN made m ON m.route = k.route
 WHERE m.route IS NULL
    OR (k.paging, k.shape, k.records_key, k.scope)
       IS DISTINCT FROM (m.paging, m.shape, m.records_key, m.scope)
 ORDER BY 1;
-- columns: name, type, the JSON field each reads, parameters (none listed)
CREATE TEMP VIEW made_columns AS
  SELECT m.route, a.attnum AS "position", a.attname::text AS name,
         format_type(a.atttypid, a.atttypmod) AS type,
         coalesce(max(o.option_value) FILTER (WHERE o.option_name = 'field'),
                  CASE WHEN bool_and(o.option_name IS DISTINCT FROM 'param')
                       THEN a.attname::text END) AS field,
         max(o.option_value) FILTER (WHERE o.option_name = 'param') AS param,
         max(o.option_value) FILTER (WHERE o.option_name = 'param_name') AS param_name,
         coalesce(max(o.option_value) FILTER (WHERE o.option_name = 'param') = 'path'
                  OR max(o.option_value) FILTER (WHERE o.option_name = 'required') = 'true',
                  false) AS required
    FROM made m
    JOIN pg_attribute a ON a.attrelid = m.relid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN LATERAL pg_options_to_table(a.attfdwoptions) o ON true
   GROUP BY m.route, a.attnum, a.attname, a.atttypid, a.atttypmod;
SELECT coalesce(k.route, t.route) AS route, coalesce(k.position, t.position) AS "position",
       k.name, k.type, k.field, k.param, t.name AS table_name, t.type AS table_type,
       t.field AS table_field, t.param AS table_param
  FROM sim.contract_columns k
  FULL JOIN (SELECT * FROM made_columns WHERE route IN (SELECT route FROM sim.contract)) t
    ON t.route = k.route AND t.position = k.position
 WHERE k.route IS NULL OR t.route IS NULL
    OR (k.name, k.type, k.field) IS DISTINCT FROM (t.name, t.type, t.field)
    -- a field sent as another parameter (is_buy_order as order_type) is still a field
    OR (k.param, k.required) IS DISTINCT FROM (t.param, t.required) AND t.param_name IS NULL
 ORDER BY 1, 2;
SELECT count(*) AS columns_compared FROM sim.contract_columns;

SET client_min_messages = warning;
DROP SCHEMA contract CASCADE;
RESET client_min_messages;
DROP FOREIGN TABLE sim.contract, sim.contract_columns;
