--
-- catalog: every ESI GET route as a foreign table, from the generated catalog
--
CREATE SCHEMA esi_all;
IMPORT FOREIGN SCHEMA "all" FROM SERVER esi INTO esi_all;
-- one table per GET route of ESI's description
SELECT (SELECT count(*) FROM information_schema.foreign_tables
         WHERE foreign_table_schema = 'esi_all') AS tables,
       (SELECT count(*) FROM esi.catalog()) AS routes;
SELECT count(*) FILTER (WHERE scope IS NULL) AS public,
       count(*) FILTER (WHERE scope IS NOT NULL) AS sso,
       count(*) FILTER (WHERE roles IS NOT NULL) AS with_roles
  FROM esi.catalog();
SELECT paging, shape, count(*) FROM esi.catalog() GROUP BY 1, 2 ORDER BY 1, 2;

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
SELECT count(*) > 0 AS rows, count(*) = count(solar_system_id) AS ids,
       bool_and(jsonb_typeof(cost_indices) = 'array') AS nested_is_jsonb
  FROM industry_systems;
-- object
SELECT alliance_id, name IS NOT NULL AS named FROM alliance_details WHERE alliance_id = 99000006;
-- array of scalars over X-Pages
SELECT count(*), count(DISTINCT type_id) FROM universe_types;
-- cursor paging: walks "before" until an empty page
SELECT count(*) > 0 AS rows FROM freelance_jobs;
SELECT path, query, status FROM sim.log WHERE path LIKE '/freelance-jobs%' ORDER BY seq;
-- routes that need a scope say so
SELECT * FROM character_wallet WHERE character_id = 2112625428;

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
