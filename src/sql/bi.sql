-- esi_fdw: views for BI tools (esi.bi_setup)
--
-- The current definitions (CREATE OR REPLACE), run by the install script and
-- by every update script that src/sql/build.sh makes: edit them here, never
-- in a built esi_fdw--*.sql.  Tables, columns, policies and other objects
-- that cannot be replaced are in src/sql/pre_install.sql (and an update step
-- in src/sql/updates/); see "The SQL scripts" in doc/development.md.

-- Views for BI tools over snapshots: esi.bi_setup() imports the foreign
-- tables it needs into <schema>_src, declares its targets with esi.track()
-- (refresh them with CALL esi.refresh()), and creates the views in
-- <schema>.  Calling it again updates the characters and the views.
CREATE OR REPLACE FUNCTION bi_setup(server name DEFAULT 'esi', bi_schema name DEFAULT 'esi_bi',
                         history_types bigint[] DEFAULT '{34,35,36,37,38,39,40,11399}',
                         characters bigint[] DEFAULT NULL)
RETURNS SETOF text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  src name := bi_schema || '_src';
  s text := quote_ident(bi_schema);
  regions bigint[];
  pre text := bi_schema || '_';
  tbl jsonb := '{}';
  t record;
  chars bigint[];
  rel regclass;
  levels text;
BEGIN
  IF NOT EXISTS (SELECT FROM pg_foreign_server fs JOIN pg_foreign_data_wrapper w ON w.oid = fs.srvfdw
                  WHERE fs.srvname = server AND w.fdwname = 'esi_fdw') THEN
    RAISE EXCEPTION 'no esi_fdw server "%"', server USING ERRCODE = '42704',
      HINT = 'CREATE SERVER esi FOREIGN DATA WRAPPER esi_fdw; makes one.';
  END IF;
  EXECUTE format('CREATE SCHEMA IF NOT EXISTS %I', bi_schema);
  EXECUTE format('CREATE SCHEMA IF NOT EXISTS %I', src);
  EXECUTE format('COMMENT ON SCHEMA %I IS %L', bi_schema,
                 format('esi_fdw views for BI tools over snapshots (esi.bi_setup, server %s)', server));
  EXECUTE format('COMMENT ON SCHEMA %I IS %L', src,
                 format('foreign tables that the targets of esi.bi_setup read (schema %s)', bi_schema));

  -- the foreign tables the targets read
  FOR t IN SELECT * FROM (VALUES ('markets', 'market_orders'), ('markets', 'market_prices'),
                                 ('markets', 'market_history'), ('characters', 'character_assets'),
                                 ('characters', 'character_wallet'), ('characters', 'character_wallet_journal'),
                                 ('characters', 'character_industry_jobs')) v(grp, name) LOOP
    IF to_regclass(format('%I.%I', src, t.name)) IS NULL THEN
      EXECUTE format('IMPORT FOREIGN SCHEMA %I LIMIT TO (%I) FROM SERVER %I INTO %I', t.grp, t.name, server, src);
    END IF;
  END LOOP;

  -- the trade hubs: the arbitrage view's stations and the order targets' regions
  EXECUTE format('CREATE TABLE IF NOT EXISTS %s.trade_hubs (location_id bigint PRIMARY KEY, region_id bigint NOT NULL, name text NOT NULL)', s);
  EXECUTE format('COMMENT ON TABLE %s.trade_hubs IS %L', s,
                 'Stations compared by hub_arbitrage; their regions'' orders are tracked (edit, then run esi.bi_setup() again)');
  EXECUTE format($q$INSERT INTO %s.trade_hubs VALUES (60003760, 10000002, 'Jita'), (60008494, 10000043, 'Amarr'),
                   (60011866, 10000032, 'Dodixie'), (60004588, 10000030, 'Rens'), (60005686, 10000042, 'Hek')
                   ON CONFLICT DO NOTHING$q$, s);
  EXECUTE format('SELECT array_agg(DISTINCT region_id ORDER BY region_id) FROM %s.trade_hubs', s) INTO regions;

  -- the targets: declared once, their parameters brought up to date
  FOR t IN SELECT * FROM (VALUES
      ('orders', 'market_orders', jsonb_build_object('region_id', coalesce(regions, '{}')), 'latest', NULL::text[], NULL::text),
      ('prices', 'market_prices', '{}'::jsonb, 'latest', NULL, NULL),
      ('history', 'market_history', jsonb_build_object('region_id', coalesce(regions, '{}'), 'type_id', coalesce(history_types, '{}')),
       'incremental', ARRAY['region_id', 'type_id', 'date'], NULL),
      ('assets', 'character_assets', NULL, 'history', NULL, 'esi-assets.read_assets.v1'),
      ('wallet', 'character_wallet', NULL, 'latest', NULL, 'esi-wallet.read_character_wallet.v1'),
      ('journal', 'character_wallet_journal', NULL, 'incremental', ARRAY['character_id', 'id'], 'esi-wallet.read_character_wallet.v1'),
      ('jobs', 'character_industry_jobs', NULL, 'latest', NULL, 'esi-industry.read_character_jobs.v1')
    ) v(name, ftable, params, mode, key, scope) LOOP
    IF t.scope IS NOT NULL THEN
      -- the characters whose login has the route's scope (or those given)
      chars := coalesce(characters,
                        (SELECT array_agg(c.character_id ORDER BY c.character_id) FROM esi.characters c
                          WHERE c.server_name = server AND t.scope = ANY (c.scopes)),
                        '{}');
      t.params := jsonb_build_object('character_id', chars);
    END IF;
    SELECT x.snapshot_table INTO rel FROM esi.targets x WHERE x.target = pre || t.name;
    IF rel IS NULL THEN
      rel := esi.track(pre || t.name, format('%I.%I', src, t.ftable)::regclass, t.params, t.mode, t.key);
    ELSE
      UPDATE esi.targets x SET params = t.params WHERE x.target = pre || t.name;
    END IF;
    tbl := tbl || jsonb_build_object(t.name, rel::text);
    EXECUTE format('GRANT SELECT ON %s TO PUBLIC', rel);
    IF t.scope IS NOT NULL THEN
      -- each role sees the characters it may use (esi.characters)
      EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', rel);
      IF NOT EXISTS (SELECT FROM pg_policy p WHERE p.polrelid = rel AND p.polname = 'characters') THEN
        EXECUTE format('CREATE POLICY characters ON %s USING (character_id IN (SELECT c.character_id FROM esi.characters c WHERE c.server_name = %L))',
                       rel, server);
      END IF;
      PERFORM esi._secure_partitions(rel);
    END IF;
    RETURN NEXT pre || t.name;
  END LOOP;

  -- the indexes the views use
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s (location_id, type_id, is_buy_order, price)', pre || 'orders_location', tbl->>'orders');
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s (type_id)', pre || 'orders_type', tbl->>'orders');
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s (type_id)', pre || 'prices_type', tbl->>'prices');
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s (type_id, date)', pre || 'history_type', tbl->>'history');
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s (character_id, snapshot_at)', pre || 'assets_character', tbl->>'assets');
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s (character_id)', pre || 'wallet_character', tbl->>'wallet');
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s (character_id, date)', pre || 'journal_character', tbl->>'journal');
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s (character_id, status)', pre || 'jobs_character', tbl->>'jobs');

  -- orders by price level: the best price of each side, the volume and
  -- orders there, and the whole side's volume and orders (%s: a filter)
  levels := format($q$
    SELECT region_id, location_id, type_id,
           max(price) FILTER (WHERE is_buy_order) AS best_bid,
           (array_agg(volume ORDER BY price DESC) FILTER (WHERE is_buy_order))[1] AS bid_volume,
           sum(volume) FILTER (WHERE is_buy_order)::bigint AS bid_depth,
           sum(orders) FILTER (WHERE is_buy_order)::bigint AS bid_orders,
           min(price) FILTER (WHERE NOT is_buy_order) AS best_ask,
           (array_agg(volume ORDER BY price) FILTER (WHERE NOT is_buy_order))[1] AS ask_volume,
           sum(volume) FILTER (WHERE NOT is_buy_order)::bigint AS ask_depth,
           sum(orders) FILTER (WHERE NOT is_buy_order)::bigint AS ask_orders,
           max(snapshot_at) AS snapshot_at
      FROM (SELECT region_id, location_id, type_id, is_buy_order, price,
                   sum(volume_remain)::bigint AS volume, count(*) AS orders, max(snapshot_at) AS snapshot_at
              FROM %s o %%s
             GROUP BY region_id, location_id, type_id, is_buy_order, price) l
     GROUP BY region_id, location_id, type_id$q$, tbl->>'orders');

  EXECUTE format($q$CREATE OR REPLACE VIEW %s.market_best_prices WITH (security_invoker = true) AS
    SELECT b.region_id, rn.name AS region_name, b.location_id, ln.name AS location_name,
           b.type_id, tn.name AS type_name,
           b.best_bid, b.bid_volume, b.bid_depth, b.bid_orders,
           b.best_ask, b.ask_volume, b.ask_depth, b.ask_orders, b.snapshot_at
      FROM (%s) b
      LEFT JOIN esi.names rn ON rn.id = b.region_id
      LEFT JOIN esi.names ln ON ln.id = b.location_id
      LEFT JOIN esi.names tn ON tn.id = b.type_id$q$, s, format(levels, ''));
  EXECUTE format('COMMENT ON VIEW %s.market_best_prices IS %L', s,
    'Per region, station and type: the best bid (highest buy order) and ask (lowest sell order), the volume at that price, and each side''s depth (all its volume) and orders; from the orders snapshot');

  EXECUTE format($q$CREATE OR REPLACE VIEW %s.market_spread WITH (security_invoker = true) AS
    SELECT region_id, region_name, location_id, location_name, type_id, type_name, best_bid, best_ask,
           best_ask - best_bid AS spread,
           100 * (best_ask - best_bid) / ((best_ask + best_bid) / 2) AS spread_pct,
           bid_volume, ask_volume, snapshot_at
      FROM %s.market_best_prices
     WHERE best_bid IS NOT NULL AND best_ask IS NOT NULL$q$, s, s);
  EXECUTE format('COMMENT ON VIEW %s.market_spread IS %L', s,
    'Per region, station and type with both sides: best ask minus best bid, and that spread in percent of their midpoint');

  EXECUTE format($q$CREATE OR REPLACE VIEW %1$s.hub_arbitrage WITH (security_invoker = true) AS
    WITH fees AS (
      SELECT coalesce(nullif(current_setting('esi_fdw.broker_fee', true), '')::float8, 0.03) AS broker_fee,
             coalesce(nullif(current_setting('esi_fdw.sales_tax', true), '')::float8, 0.075) AS sales_tax),
    hub AS (
      SELECT h.name AS hub, b.* FROM (%2$s) b JOIN %1$s.trade_hubs h ON h.location_id = b.location_id)
    SELECT f.hub AS buy_hub, f.location_id AS buy_location_id, t.hub AS sell_hub, t.location_id AS sell_location_id,
           f.type_id, tn.name AS type_name,
           f.best_ask AS buy_price, f.ask_volume AS buy_volume,
           t.best_bid AS sell_bid, t.bid_volume AS sell_bid_volume,
           t.best_bid * (1 - x.sales_tax) - f.best_ask AS instant_profit,
           CASE WHEN t.best_bid IS NOT NULL THEN least(f.ask_volume, t.bid_volume) END AS instant_volume,
           t.best_ask AS sell_ask,
           t.best_ask * (1 - x.sales_tax - x.broker_fee) - f.best_ask AS order_profit,
           x.broker_fee, x.sales_tax, least(f.snapshot_at, t.snapshot_at) AS snapshot_at
      FROM hub f JOIN hub t ON t.type_id = f.type_id AND t.location_id <> f.location_id
      CROSS JOIN fees x
      LEFT JOIN esi.names tn ON tn.id = f.type_id
     WHERE f.best_ask IS NOT NULL
       AND (t.best_bid * (1 - x.sales_tax) > f.best_ask
            OR t.best_ask * (1 - x.sales_tax - x.broker_fee) > f.best_ask)$q$,
    s, format(levels, format('WHERE o.location_id IN (SELECT location_id FROM %s.trade_hubs)', s)));
  EXECUTE format('COMMENT ON VIEW %s.hub_arbitrage IS %L', s,
    'Buy at one trade hub''s best ask, sell at another''s: instant_profit sells into its best bid (less esi_fdw.sales_tax), order_profit lists at its best ask (less sales tax and esi_fdw.broker_fee); per unit, before hauling; only rows where one is positive');

  EXECUTE format($q$CREATE OR REPLACE VIEW %s.price_history WITH (security_invoker = true) AS
    SELECT h.region_id, rn.name AS region_name, h.type_id, tn.name AS type_name, h.date,
           h.average, h.highest, h.lowest, h.volume, h.order_count, h.average * h.volume AS isk_volume
      FROM %s h
      LEFT JOIN esi.names rn ON rn.id = h.region_id
      LEFT JOIN esi.names tn ON tn.id = h.type_id$q$, s, tbl->>'history');
  EXECUTE format('COMMENT ON VIEW %s.price_history IS %L', s,
    'Daily market history per region and type (ESI''s /markets/{region_id}/history, kept beyond its window); isk_volume = average * volume');

  EXECUTE format($q$CREATE OR REPLACE VIEW %1$s.character_net_worth WITH (security_invoker = true) AS
    SELECT c.character_id, cn.name AS character_name,
           coalesce(a.assets_value, 0) AS assets_value, w.balance AS wallet_balance,
           coalesce(a.assets_value, 0) + coalesce(w.balance, 0) AS net_worth,
           coalesce(a.items, 0) AS items, coalesce(a.unpriced_items, 0) AS unpriced_items,
           a.snapshot_at AS assets_snapshot_at, w.snapshot_at AS wallet_snapshot_at
      FROM (SELECT character_id FROM %2$s WHERE snapshot_at = (SELECT max(snapshot_at) FROM %2$s)
            UNION SELECT character_id FROM %3$s) c
      LEFT JOIN (
        SELECT s.character_id,
               sum(s.quantity * coalesce(p.average_price, p.adjusted_price)) FILTER (WHERE NOT coalesce(s.is_blueprint_copy, false)) AS assets_value,
               count(*) AS items,
               count(*) FILTER (WHERE coalesce(s.is_blueprint_copy, false) OR coalesce(p.average_price, p.adjusted_price) IS NULL) AS unpriced_items,
               max(s.snapshot_at) AS snapshot_at
          FROM %2$s s LEFT JOIN %4$s p ON p.type_id = s.type_id
         WHERE s.snapshot_at = (SELECT max(snapshot_at) FROM %2$s)
         GROUP BY s.character_id) a ON a.character_id = c.character_id
      LEFT JOIN %3$s w ON w.character_id = c.character_id
      LEFT JOIN esi.names cn ON cn.id = c.character_id$q$, s, tbl->>'assets', tbl->>'wallet', tbl->>'prices');
  EXECUTE format('COMMENT ON VIEW %s.character_net_worth IS %L', s,
    'Per character: the latest asset snapshot valued at ESI''s average price (adjusted price when none; blueprint copies and unpriced types count 0, see unpriced_items) plus the wallet balance');

  EXECUTE format($q$CREATE OR REPLACE VIEW %s.wallet_daily WITH (security_invoker = true) AS
    SELECT d.character_id, cn.name AS character_name, d.day, d.ref_type, d.income, d.spending, d.net, d.entries
      FROM (SELECT character_id, (date AT TIME ZONE 'UTC')::date AS day, ref_type,
                   coalesce(sum(amount) FILTER (WHERE amount > 0), 0) AS income,
                   coalesce(-sum(amount) FILTER (WHERE amount < 0), 0) AS spending,
                   coalesce(sum(amount), 0) AS net, count(*) AS entries
              FROM %s GROUP BY 1, 2, 3) d
      LEFT JOIN esi.names cn ON cn.id = d.character_id$q$, s, tbl->>'journal');
  EXECUTE format('COMMENT ON VIEW %s.wallet_daily IS %L', s,
    'Wallet journal per character, day (UTC) and ref_type: income (sum of credits), spending (sum of debits, positive), net and entries');

  EXECUTE format($q$CREATE OR REPLACE VIEW %s.industry_jobs_active WITH (security_invoker = true) AS
    SELECT j.character_id, cn.name AS character_name, j.job_id, j.activity_id,
           CASE j.activity_id WHEN 1 THEN 'manufacturing' WHEN 3 THEN 'time efficiency research'
                WHEN 4 THEN 'material efficiency research' WHEN 5 THEN 'copying'
                WHEN 7 THEN 'reverse engineering' WHEN 8 THEN 'invention'
                WHEN 9 THEN 'reactions' WHEN 11 THEN 'reactions' END AS activity,
           j.blueprint_type_id, bn.name AS blueprint_name, j.product_type_id, pn.name AS product_name,
           j.runs, j.facility_id, j.start_date, j.end_date,
           greatest(j.end_date - now(), interval '0') AS time_left,
           j.end_date <= now() AS finished,
           j.snapshot_at
      FROM %s j
      LEFT JOIN esi.names cn ON cn.id = j.character_id
      LEFT JOIN esi.names bn ON bn.id = j.blueprint_type_id
      LEFT JOIN esi.names pn ON pn.id = j.product_type_id
     WHERE j.status = 'active'$q$, s, tbl->>'jobs');
  EXECUTE format('COMMENT ON VIEW %s.industry_jobs_active IS %L', s,
    'Industry jobs whose status was active at the last snapshot, with the time left until end_date (0 when past: finished)');

  EXECUTE format($q$CREATE OR REPLACE VIEW %s.asset_changes WITH (security_invoker = true) AS
    SELECT d.owner_id AS character_id, cn.name AS character_name, d.item_id, d.type_id, tn.name AS type_name,
           d.change, d.old_quantity, d.new_quantity,
           d.old_location_id, oln.name AS old_location_name, d.old_location_flag,
           d.new_location_id, nln.name AS new_location_name, d.new_location_flag,
           d.old_snapshot_at, d.new_snapshot_at
      FROM esi.asset_diffs d
      LEFT JOIN esi.names cn ON cn.id = d.owner_id
      LEFT JOIN esi.names tn ON tn.id = d.type_id
      LEFT JOIN esi.names oln ON oln.id = d.old_location_id
      LEFT JOIN esi.names nln ON nln.id = d.new_location_id
     WHERE d.target = %L$q$, s, pre || 'assets');
  EXECUTE format('COMMENT ON VIEW %s.asset_changes IS %L', s,
    'Per item, what changed between consecutive asset snapshots of the characters (esi.asset_diffs), with names');

  EXECUTE format($q$CREATE OR REPLACE VIEW %s.asset_changes_net WITH (security_invoker = true) AS
    SELECT r.owner_id AS character_id, cn.name AS character_name, r.location_id, ln.name AS location_name,
           r.type_id, tn.name AS type_name, r.net_quantity, r.old_snapshot_at, r.new_snapshot_at
      FROM esi.asset_changes_rollup r
      LEFT JOIN esi.names cn ON cn.id = r.owner_id
      LEFT JOIN esi.names ln ON ln.id = r.location_id
      LEFT JOIN esi.names tn ON tn.id = r.type_id
     WHERE r.target = %L$q$, s, pre || 'assets');
  EXECUTE format('COMMENT ON VIEW %s.asset_changes_net IS %L', s,
    'Net asset quantity changes per character, location and type between consecutive snapshots (esi.asset_changes_rollup), with names');

  -- readable by every role; the views read with the reader's rights
  EXECUTE format('GRANT USAGE ON SCHEMA %I, %I TO PUBLIC', bi_schema, src);
  EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I, %I TO PUBLIC', bi_schema, src);
END;
$$;
COMMENT ON FUNCTION bi_setup(name, name, bigint[], bigint[]) IS 'Views for BI tools over snapshots: imports the foreign tables into <schema>_src, declares the targets (returned: refresh them with CALL esi.refresh()) and creates the views in <schema>';
REVOKE ALL ON FUNCTION bi_setup(name, name, bigint[], bigint[]) FROM PUBLIC;
