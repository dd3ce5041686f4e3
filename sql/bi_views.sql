--
-- bi_views: the views of esi.bi_setup() on known data.  Rows go straight
-- into the snapshot tables (no refresh: nothing is asked of ESI); each view
-- is compared with an independent computation and with values worked out
-- by hand.
--
SET client_min_messages = warning;
SELECT t FROM esi.bi_setup() t ORDER BY 1;
RESET client_min_messages;
-- no character logged in: the characters' targets read nothing
SELECT target, params FROM esi.targets WHERE target LIKE 'esi_bi_%' ORDER BY 1;
-- every view has a comment
SELECT c.relname, obj_description(c.oid, 'pg_class') IS NOT NULL AS commented
  FROM pg_class c WHERE c.relnamespace = 'esi_bi'::regnamespace AND c.relkind = 'v' ORDER BY 1;
-- the indexes the views use
SELECT indexrelid::regclass FROM pg_index
 WHERE indrelid::regclass::text LIKE 'esi_snapshots.esi_bi_%' AND indexrelid::regclass::text LIKE '%\_%\_%'
   AND NOT indisunique ORDER BY indexrelid::regclass::text;

INSERT INTO esi.names (id, name, category) VALUES (34, 'Tritanium', 'inventory_type'), (35, 'Pyerite', 'inventory_type'),
  (60003760, 'Jita IV - Moon 4 - Caldari Navy Assembly Plant', 'station'),
  (60008494, 'Amarr VIII (Oris) - Emperor Family Academy', 'station'),
  (10000002, 'The Forge', 'region'), (1001, 'Test Pilot', 'character')
ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, category = EXCLUDED.category;

-- orders: Jita and Amarr, Tritanium on both sides, Pyerite sold in Jita only
INSERT INTO esi_snapshots.esi_bi_orders (region_id, type_id, is_buy_order, location_id, order_id, price, volume_remain, snapshot_at)
VALUES (10000002, 34, true, 60003760, 1, 5.00, 100, '2026-01-01 12:00Z'),
       (10000002, 34, true, 60003760, 2, 5.00, 50, '2026-01-01 12:00Z'),
       (10000002, 34, true, 60003760, 3, 4.90, 1000, '2026-01-01 12:00Z'),
       (10000002, 34, false, 60003760, 4, 5.50, 200, '2026-01-01 12:00Z'),
       (10000002, 34, false, 60003760, 5, 5.60, 300, '2026-01-01 12:00Z'),
       (10000002, 35, false, 60003760, 6, 10.00, 5, '2026-01-01 12:00Z'),
       (10000043, 34, true, 60008494, 7, 6.50, 70, '2026-01-01 12:00Z'),
       (10000043, 34, false, 60008494, 8, 7.00, 10, '2026-01-01 12:00Z'),
       (10000043, 34, false, 60008494, 9, 7.20, 15, '2026-01-01 12:00Z');
SELECT region_name, location_id, type_name, best_bid, bid_volume, bid_depth, bid_orders,
       best_ask, ask_volume, ask_depth, ask_orders
  FROM esi_bi.market_best_prices ORDER BY location_id, type_id;
-- the same, computed otherwise: each side's best order by DISTINCT ON
WITH best AS (
  SELECT DISTINCT ON (region_id, location_id, type_id, is_buy_order)
         region_id, location_id, type_id, is_buy_order, price
    FROM esi_snapshots.esi_bi_orders
   ORDER BY region_id, location_id, type_id, is_buy_order, CASE WHEN is_buy_order THEN -price ELSE price END),
side AS (
  SELECT b.region_id, b.location_id, b.type_id, b.is_buy_order, b.price,
         (SELECT sum(volume_remain) FROM esi_snapshots.esi_bi_orders o
           WHERE (o.region_id, o.location_id, o.type_id, o.is_buy_order, o.price) = (b.region_id, b.location_id, b.type_id, b.is_buy_order, b.price)) AS at_best,
         (SELECT sum(volume_remain) FROM esi_snapshots.esi_bi_orders o
           WHERE (o.region_id, o.location_id, o.type_id, o.is_buy_order) = (b.region_id, b.location_id, b.type_id, b.is_buy_order)) AS depth,
         (SELECT count(*) FROM esi_snapshots.esi_bi_orders o
           WHERE (o.region_id, o.location_id, o.type_id, o.is_buy_order) = (b.region_id, b.location_id, b.type_id, b.is_buy_order)) AS n
    FROM best b),
expected AS (
  SELECT coalesce(b.region_id, a.region_id) AS region_id, coalesce(b.location_id, a.location_id) AS location_id,
         coalesce(b.type_id, a.type_id) AS type_id, b.price AS best_bid, b.at_best AS bid_volume, b.depth AS bid_depth,
         b.n AS bid_orders, a.price AS best_ask, a.at_best AS ask_volume, a.depth AS ask_depth, a.n AS ask_orders
    FROM (SELECT * FROM side WHERE is_buy_order) b
    FULL JOIN (SELECT * FROM side WHERE NOT is_buy_order) a USING (region_id, location_id, type_id)),
got AS (
  SELECT region_id, location_id, type_id, best_bid, bid_volume, bid_depth, bid_orders,
         best_ask, ask_volume, ask_depth, ask_orders FROM esi_bi.market_best_prices)
SELECT (SELECT count(*) FROM (SELECT * FROM expected EXCEPT ALL SELECT * FROM got) x) AS missing,
       (SELECT count(*) FROM (SELECT * FROM got EXCEPT ALL SELECT * FROM expected) x) AS extra;

-- spread: ask minus bid, in percent of the midpoint; only with both sides
SELECT location_id, type_id, best_bid, best_ask, spread, round(spread_pct::numeric, 4) AS spread_pct
  FROM esi_bi.market_spread ORDER BY location_id, type_id;
SELECT count(*) AS mismatches FROM esi_bi.market_spread s JOIN esi_bi.market_best_prices b USING (location_id, type_id)
 WHERE s.spread <> b.best_ask - b.best_bid
    OR abs(s.spread_pct - 200 * (b.best_ask - b.best_bid) / (b.best_ask + b.best_bid)) > 1e-9;

-- arbitrage: buy at Jita's ask (5.50, 200 units), sell at Amarr:
--   into its bid: 6.50 * (1 - 0.075) - 5.50 = 0.5125, for min(200, 70) units
--   with a sell order at its ask: 7.00 * (1 - 0.075 - 0.03) - 5.50 = 0.765
-- Amarr -> Jita loses both ways: no row
SHOW esi_fdw.broker_fee;
SHOW esi_fdw.sales_tax;
SELECT buy_hub, sell_hub, type_name, buy_price, buy_volume, sell_bid, sell_bid_volume,
       round(instant_profit::numeric, 6) AS instant_profit, instant_volume, sell_ask,
       round(order_profit::numeric, 6) AS order_profit, broker_fee, sales_tax
  FROM esi_bi.hub_arbitrage ORDER BY buy_hub, sell_hub, type_id;
-- the settings are read when the view is: a higher tax leaves no profit
-- (6.50 * 0.8 - 5.50 = -0.3; 7.00 * 0.77 - 5.50 = -0.11)
SET esi_fdw.sales_tax = 0.2;
SELECT count(*) FROM esi_bi.hub_arbitrage;
SET esi_fdw.sales_tax = 0.0;
SET esi_fdw.broker_fee = 0.0;
-- no fees: 6.50 - 5.50 = 1 and 7.00 - 5.50 = 1.5
SELECT buy_hub, sell_hub, instant_profit, order_profit FROM esi_bi.hub_arbitrage;
RESET esi_fdw.sales_tax;
RESET esi_fdw.broker_fee;
SET esi_fdw.broker_fee = 1.5;
SET esi_fdw.sales_tax = -0.1;

-- daily price history
INSERT INTO esi_snapshots.esi_bi_history (region_id, type_id, date, average, highest, lowest, volume, order_count, snapshot_at)
VALUES (10000002, 34, '2026-01-01', 5.25, 5.5, 5.0, 1000, 10, now()),
       (10000002, 34, '2026-01-02', 5.5, 5.75, 5.25, 2000, 20, now());
SELECT region_name, type_name, date, average, highest, lowest, volume, order_count, isk_volume
  FROM esi_bi.price_history ORDER BY date;

-- net worth: character 1001's latest asset snapshot valued at the average
-- price (adjusted when none; blueprint copies and unknown prices count 0)
-- plus its wallet: 100 * 5.2 + 2 * 9.0 + 1000.5 = 1538.5; 1002 has only a wallet
INSERT INTO esi_snapshots.esi_bi_prices (type_id, average_price, adjusted_price, snapshot_at)
VALUES (34, 5.2, 5.1, now()), (35, NULL, 9.0, now()), (37, NULL, NULL, now());
CREATE TABLE esi_snapshots.esi_bi_assets_p20260101 PARTITION OF esi_snapshots.esi_bi_assets
  FOR VALUES FROM ('2026-01-01 00:00Z') TO ('2026-01-02 00:00Z');
-- (the event trigger gave the partition row-level security and the parent's grants)
SELECT relrowsecurity, relacl IS NOT NULL AND relacl::text LIKE '%=r/%' AS public_select
  FROM pg_class WHERE oid = 'esi_snapshots.esi_bi_assets_p20260101'::regclass;
INSERT INTO esi_snapshots.esi_bi_assets (character_id, item_id, type_id, quantity, is_blueprint_copy, location_id, location_flag, snapshot_at)
VALUES (1001, 1, 34, 999, false, 60003760, 'Hangar', '2026-01-01 10:00Z'),
       (1001, 1, 34, 100, false, 60003760, 'Hangar', '2026-01-01 11:00Z'),
       (1001, 2, 35, 2, false, 60003760, 'Hangar', '2026-01-01 11:00Z'),
       (1001, 3, 36, 1, false, 60003760, 'Hangar', '2026-01-01 11:00Z'),
       (1001, 4, 34, 1, true, 60003760, 'Hangar', '2026-01-01 11:00Z');
INSERT INTO esi_snapshots.esi_bi_wallet (character_id, balance, snapshot_at)
VALUES (1001, 1000.5, now()), (1002, 50, now());
SELECT character_id, character_name, assets_value, wallet_balance, net_worth, items, unpriced_items,
       assets_snapshot_at, wallet_snapshot_at IS NOT NULL AS has_wallet
  FROM esi_bi.character_net_worth ORDER BY character_id;

-- wallet journal by day (UTC) and ref_type: credits, debits, net
INSERT INTO esi_snapshots.esi_bi_journal (character_id, id, date, ref_type, amount, snapshot_at)
VALUES (1001, 1, '2026-01-01 10:00Z', 'bounty_prizes', 100, now()),
       (1001, 2, '2026-01-01 23:30-02', 'bounty_prizes', 50, now()),
       (1001, 3, '2026-01-01 12:00Z', 'market_transaction', -30, now()),
       (1001, 4, '2026-01-01 13:00Z', 'market_transaction', 20, now()),
       (1001, 5, '2026-01-01 14:00Z', 'market_transaction', -5, now());
SELECT * FROM esi_bi.wallet_daily ORDER BY character_id, day, ref_type;
SELECT count(*) AS mismatches FROM esi_bi.wallet_daily w
 WHERE w.net <> (SELECT sum(amount) FROM esi_snapshots.esi_bi_journal j
                  WHERE j.character_id = w.character_id AND j.ref_type = w.ref_type
                    AND j.date >= w.day::timestamp AT TIME ZONE 'UTC' AND j.date < (w.day + 1)::timestamp AT TIME ZONE 'UTC')
    OR w.income - w.spending <> w.net;

-- active industry jobs and the time left
INSERT INTO esi_snapshots.esi_bi_jobs (character_id, job_id, activity_id, blueprint_type_id, product_type_id, runs, status, start_date, end_date, snapshot_at)
VALUES (1001, 1, 1, 690, 34, 10, 'active', '2026-01-01', '2100-01-01', now()),
       (1001, 2, 8, 691, 35, 1, 'active', '2000-01-01', '2000-01-02', now()),
       (1001, 3, 1, 692, 36, 1, 'delivered', '2000-01-01', '2000-01-02', now());
SELECT character_name, job_id, activity, product_name, runs, finished,
       CASE job_id WHEN 1 THEN time_left > interval '70 years' ELSE time_left = interval '0' END AS time_left_ok
  FROM esi_bi.industry_jobs_active ORDER BY job_id;

-- asset changes of the BI target, with names (another target's are not shown)
INSERT INTO esi.asset_diffs VALUES
  ('esi_bi_assets', 1001, 1, 34, 'QUANTITY_CHANGED', 999, 100, 60003760, 60003760, 'Hangar', 'Hangar', '2026-01-01 10:00Z', '2026-01-01 11:00Z'),
  ('esi_bi_assets', 1001, 2, 35, 'ADDED', NULL, 2, NULL, 60003760, NULL, 'Hangar', '2026-01-01 10:00Z', '2026-01-01 11:00Z'),
  ('other', 1001, 9, 34, 'ADDED', NULL, 1, NULL, 60003760, NULL, 'Hangar', '2026-01-01 10:00Z', '2026-01-01 11:00Z');
SELECT character_name, item_id, type_name, change, old_quantity, new_quantity, new_location_name
  FROM esi_bi.asset_changes ORDER BY item_id;
SELECT character_name, location_name, type_name, net_quantity FROM esi_bi.asset_changes_net ORDER BY type_id;

-- calling it again changes nothing but the characters
SET client_min_messages = warning;
SELECT count(*) FROM esi.bi_setup(characters => '{1001}');
RESET client_min_messages;
SELECT target, params FROM esi.targets WHERE target IN ('esi_bi_assets', 'esi_bi_prices') ORDER BY 1;
SELECT count(*) FROM esi_bi.character_net_worth;

-- an ordinary role reads the views without error: the public markets, and
-- no character it may not use
CREATE ROLE regress_bi_reader;
SET ROLE regress_bi_reader;
SELECT count(*) FROM esi_bi.market_best_prices;
SELECT count(*) FROM esi_bi.character_net_worth;
SELECT count(*) FROM esi_bi.wallet_daily;
SELECT count(*) FROM esi_bi.asset_changes;
SELECT count(*) FROM esi_snapshots.esi_bi_assets_p20260101;
SELECT count(*) FROM esi.cache;
SELECT count(*) FROM esi.targets WHERE target LIKE 'esi_bi_%';
RESET ROLE;

-- unknown server
SELECT esi.bi_setup('nosuch');

-- leave the database as it was
SET client_min_messages = warning;
DROP SCHEMA esi_bi, esi_bi_src CASCADE;
RESET client_min_messages;
SELECT esi.untrack(target, true) FROM esi.targets WHERE target LIKE 'esi_bi_%' ORDER BY target;
DELETE FROM esi.asset_diffs;
DELETE FROM esi.names;
DROP ROLE regress_bi_reader;
