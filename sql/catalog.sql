--
-- catalog: every ESI GET route as a foreign table, from the generated catalog
--
CREATE SCHEMA esi_all;
IMPORT FOREIGN SCHEMA "all" FROM SERVER esi INTO esi_all;
-- one table per GET route of ESI's description
SELECT (SELECT count(*) FROM information_schema.foreign_tables
         WHERE foreign_table_schema = 'esi_all') AS tables,
       (SELECT count(*) FROM esi.catalog() WHERE method = 'GET') AS routes;
SELECT count(*) FILTER (WHERE scope IS NULL) AS public,
       count(*) FILTER (WHERE scope IS NOT NULL) AS sso,
       count(*) FILTER (WHERE roles IS NOT NULL) AS with_roles
  FROM esi.catalog() WHERE method = 'GET';
SELECT paging, shape, count(*) FROM esi.catalog() WHERE method = 'GET' GROUP BY 1, 2 ORDER BY 1, 2;

-- groups, LIMIT TO and EXCEPT
CREATE SCHEMA g;
IMPORT FOREIGN SCHEMA industry FROM SERVER esi INTO g;
IMPORT FOREIGN SCHEMA markets EXCEPT (market_orders, market_history, character_orders,
  character_orders_history, corporation_orders, corporation_orders_history,
  market_structure_orders) FROM SERVER esi INTO g;
SELECT foreign_table_name FROM information_schema.foreign_tables
 WHERE foreign_table_schema = 'g' ORDER BY 1;
IMPORT FOREIGN SCHEMA nonsense FROM SERVER esi INTO g;

-- column types follow the description
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
 WHERE c.relnamespace = 'esi_all'::regnamespace AND a.attnum > 0
   AND c.relname IN ('character_assets', 'character_wallet_journal', 'character_wallet',
                     'industry_systems', 'universe_types', 'universe_type_details')
 ORDER BY c.relname, a.attnum;
-- and so do the options that describe the route
SELECT c.relname, ft.ftoptions
  FROM pg_foreign_table ft JOIN pg_class c ON c.oid = ft.ftrelid
 WHERE c.relnamespace = 'esi_all'::regnamespace
   AND c.relname IN ('character_assets', 'freelance_jobs', 'universe_types', 'character_wallet')
 ORDER BY 1;

-- one route of each shape and paging style
SET search_path = esi_all, public;
SELECT * FROM sim.reset;
-- array of objects, no paging
SELECT count(*) AS rows, count(DISTINCT solar_system_id) AS ids,
       bool_and(jsonb_typeof(cost_indices) = 'array') AS nested_is_jsonb
  FROM industry_systems;
-- object
SELECT alliance_id, name FROM alliance_details WHERE alliance_id = 99000006;
-- array of scalars over X-Pages
SELECT count(*), count(DISTINCT type_id) FROM universe_types;
-- cursor paging: walks "before" until an empty page (the simulator has 23 jobs)
SELECT count(*) AS rows, count(DISTINCT id) AS ids FROM freelance_jobs;
SELECT path, query, status FROM sim.log WHERE path LIKE '/freelance-jobs%' ORDER BY seq;
-- routes that need a scope say so
SELECT * FROM character_wallet WHERE character_id = 2112625428;

-- every public route answers through its table: required parameters get a
-- plausible value, the rows decode into the declared column types
CREATE FUNCTION pg_temp.read_public_routes(OUT tbl text, OUT rows bigint, OUT err text)
RETURNS SETOF record LANGUAGE plpgsql AS $$
DECLARE
  r record; c record; conds text; q text;
BEGIN
  FOR r IN SELECT table_name FROM esi.catalog() WHERE scope IS NULL AND method = 'GET' ORDER BY 1 LOOP
    conds := '';
    FOR c IN SELECT a.attname, a.atttypid
               FROM pg_attribute a
              WHERE a.attrelid = format('esi_all.%I', r.table_name)::regclass AND a.attnum > 0
                AND (a.attfdwoptions @> '{param=path}' OR a.attfdwoptions @> '{required=true}')
                AND NOT EXISTS (SELECT FROM unnest(a.attfdwoptions) o WHERE o LIKE 'default=%')
              ORDER BY a.attnum LOOP
      conds := conds || CASE WHEN conds = '' THEN ' WHERE ' ELSE ' AND ' END
        || quote_ident(c.attname) || ' = '
        || CASE c.attname WHEN 'region_id' THEN '10000002' WHEN 'type_id' THEN '34'
                          WHEN 'constellation_id' THEN '20000020' WHEN 'system_id' THEN '30000142'
                          WHEN 'station_id' THEN '60003760'
                          ELSE CASE WHEN c.atttypid = 'text'::regtype THEN '''1''' ELSE '1' END END;
    END LOOP;
    q := format('SELECT count(*) FROM esi_all.%I%s', r.table_name, conds);
    tbl := r.table_name;
    BEGIN
      EXECUTE q INTO rows;
      err := NULL;
    EXCEPTION WHEN OTHERS THEN
      rows := NULL;
      err := SQLSTATE || ' ' || SQLERRM || ' in ' || q;
    END;
    RETURN NEXT;
  END LOOP;
END $$;
CREATE TEMP TABLE public_reads AS SELECT * FROM pg_temp.read_public_routes();
SELECT count(*) AS public_routes, count(*) FILTER (WHERE err IS NULL) AS read_ok,
       count(*) FILTER (WHERE rows > 0) AS with_rows
  FROM public_reads;
SELECT tbl, err FROM public_reads WHERE err IS NOT NULL OR rows = 0;

-- the shapes and walks only SSO routes use, on simulator routes mapped by hand:
-- a bare scalar (like the character wallet balance) ...
CREATE FOREIGN TABLE public.sim_balance (balance double precision)
  SERVER esi OPTIONS (route '/_sim/balance', shape 'value');
SELECT * FROM public.sim_balance;
-- ... and a from_id walk (like wallet transactions): every record once
CREATE FOREIGN TABLE public.sim_transactions (
  transaction_id bigint, date timestamptz, type_id bigint, unit_price double precision,
  quantity integer, is_buy boolean
) SERVER esi OPTIONS (route '/_sim/transactions', paging 'from_id');
SELECT count(*), count(DISTINCT transaction_id), min(transaction_id), max(transaction_id)
  FROM public.sim_transactions;
SELECT sum(quantity) FROM public.sim_transactions;
DROP FOREIGN TABLE public.sim_balance, public.sim_transactions;
