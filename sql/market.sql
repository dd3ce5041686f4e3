--
-- market: the queries an EVE trader runs first
--
SET search_path = eve, public;
SET timezone = 'UTC';
SELECT * FROM sim.reset;

-- best Tritanium sell price at Jita 4-4
SELECT min(price) AS best_sell
  FROM market_orders
 WHERE region_id = 10000002 AND type_id = 34 AND NOT is_buy_order
   AND location_id = 60003760;

-- the spread of PLEX in The Forge
SELECT min(price) FILTER (WHERE NOT is_buy_order) AS best_sell,
       max(price) FILTER (WHERE is_buy_order) AS best_buy,
       round((min(price) FILTER (WHERE NOT is_buy_order) -
              max(price) FILTER (WHERE is_buy_order))::numeric, 2) AS spread
  FROM market_orders
 WHERE region_id = 10000002 AND type_id = 44992;

-- ten days of Tritanium history
SELECT date, average, highest, lowest, volume, order_count
  FROM market_history
 WHERE region_id = 10000002 AND type_id = 34
 ORDER BY date DESC LIMIT 10;

-- exactly the requests those queries needed
SELECT path, query FROM sim.log;

-- types of the columns: ids are bigint, timestamps timestamptz
SELECT attname, format_type(atttypid, atttypmod)
  FROM pg_attribute WHERE attrelid = 'market_orders'::regclass AND attnum > 0
 ORDER BY attnum;

-- one order, every column
SELECT * FROM market_orders
 WHERE region_id = 10000002 AND type_id = 34 AND location_id = 60003760
 ORDER BY order_id LIMIT 2;

-- prices: a missing optional field is NULL
SELECT count(*) AS types, count(average_price) AS with_average,
       count(*) - count(average_price) AS without_average
  FROM market_prices;
SELECT * FROM market_prices WHERE type_id IN (34, 44992) ORDER BY type_id;

-- a list of scalars: one row per element, the request's value on each row
SELECT count(*), min(type_id), max(type_id), min(region_id), max(region_id)
  FROM market_region_types WHERE region_id = 10000030;
SELECT * FROM universe_regions ORDER BY region_id LIMIT 5;

-- an object: one row
SELECT region_id, name, jsonb_typeof(constellations) AS constellations
  FROM universe_region_details WHERE region_id IN (10000002, 10000043)
 ORDER BY region_id;
SELECT type_id, name, published, jsonb_typeof(dogma_attributes) AS attrs
  FROM universe_type_details WHERE type_id = 34;
