--
-- options: the validator rejects what it does not know, with a HINT
--
-- server options
CREATE SERVER bad1 FOREIGN DATA WRAPPER esi_fdw OPTIONS (base_ur 'https://esi.evetech.net');
CREATE SERVER bad2 FOREIGN DATA WRAPPER esi_fdw OPTIONS (base_url 'ftp://esi.evetech.net');
CREATE SERVER bad3 FOREIGN DATA WRAPPER esi_fdw OPTIONS (compatibility_date '2026-02-30');
CREATE SERVER bad4 FOREIGN DATA WRAPPER esi_fdw OPTIONS (compression 'maybe');
CREATE SERVER bad5 FOREIGN DATA WRAPPER esi_fdw OPTIONS (max_connections '0');
CREATE SERVER bad6 FOREIGN DATA WRAPPER esi_fdw OPTIONS (frobnicate 'yes');
CREATE SERVER good FOREIGN DATA WRAPPER esi_fdw
  OPTIONS (base_url 'https://esi.evetech.net/', compatibility_date '2026-08-04',
           user_agent 'MyApp/1.0 (me@example.com)', language 'en', compression 'off',
           max_connections '4');
DROP SERVER good;
-- user mappings take no options yet
CREATE USER MAPPING FOR CURRENT_USER SERVER esi OPTIONS (token 'x');
-- table options
CREATE FOREIGN TABLE bad_t1 (x int) SERVER esi OPTIONS (rout '/markets/prices');
CREATE FOREIGN TABLE bad_t2 (x int) SERVER esi OPTIONS (route 'markets/prices');
CREATE FOREIGN TABLE bad_t3 (x int) SERVER esi OPTIONS (route '/markets/{region_id/orders');
CREATE FOREIGN TABLE bad_t4 (x int) SERVER esi OPTIONS (route '/markets/prices', paging 'cursors');
CREATE FOREIGN TABLE bad_t5 (x int) SERVER esi OPTIONS (route '/markets/prices', shape 'list');
CREATE FOREIGN TABLE bad_t6 (x int) SERVER esi OPTIONS (route '/markets/prices', route '/x');
-- column options
CREATE FOREIGN TABLE bad_c1 (x int OPTIONS (parm 'path')) SERVER esi OPTIONS (route '/x/{x}');
CREATE FOREIGN TABLE bad_c2 (x int OPTIONS (param 'body')) SERVER esi OPTIONS (route '/x/{x}');
CREATE FOREIGN TABLE bad_c3 (x int OPTIONS (param 'query', required 'perhaps')) SERVER esi OPTIONS (route '/x');

-- checks that need the whole table happen when it is used
CREATE FOREIGN TABLE no_route (x int) SERVER esi;
SELECT * FROM no_route;
CREATE FOREIGN TABLE unfed (region_id bigint, price float8)
  SERVER esi OPTIONS (route '/markets/{regionid}/orders');
SELECT * FROM unfed;
CREATE FOREIGN TABLE stray (region_id bigint OPTIONS (param 'path'), price float8)
  SERVER esi OPTIONS (route '/markets/prices');
SELECT * FROM stray WHERE region_id = 1;
DROP FOREIGN TABLE no_route, unfed, stray;

-- a route mapped by hand works like an imported one
CREATE FOREIGN TABLE my_prices (
  type bigint OPTIONS (field 'type_id'),
  adjusted double precision OPTIONS (field 'adjusted_price'),
  average numeric OPTIONS (field 'average_price')
) SERVER esi OPTIONS (route '/markets/prices');
SELECT * FROM my_prices WHERE type IN (34, 35, 44992) ORDER BY type;
CREATE FOREIGN TABLE my_history (
  region bigint OPTIONS (param 'path', param_name 'region_id'),
  type integer OPTIONS (param 'query', param_name 'type_id', required 'true'),
  day date OPTIONS (field 'date'),
  average double precision,
  volume bigint
) SERVER esi OPTIONS (route '/latest/markets/{region_id}/history');
SELECT * FROM sim.reset;
SELECT region, type, day, average, volume FROM my_history
 WHERE region = 10000002 AND type = 34 ORDER BY day DESC LIMIT 2;
SELECT path, query FROM sim.log;
DROP FOREIGN TABLE my_prices, my_history;

-- the HTTP version: a setting any role may change, and a server option
CREATE SERVER hv FOREIGN DATA WRAPPER esi_fdw OPTIONS (http_version '3');
CREATE SERVER hv FOREIGN DATA WRAPPER esi_fdw OPTIONS (http_version '1.1');
ALTER SERVER hv OPTIONS (SET http_version 'auto');
ALTER SERVER hv OPTIONS (SET http_version '2');
DROP SERVER hv;
SET esi_fdw.http_version = '1.0';
SET esi_fdw.http_version = '1.1';
SHOW esi_fdw.http_version;
-- over plain http, 'auto' and '1.1' give the same HTTP/1.1 requests
SELECT count(*) FROM eve.market_history WHERE region_id = 10000002 AND type_id = 34;
RESET esi_fdw.http_version;

-- the proxy: a URL with a known scheme, and a superuser's decision only
SET esi_fdw.proxy = 'proxy.example.com:3128';
SET esi_fdw.proxy = E'http://proxy\n.example.com';
SET esi_fdw.no_proxy = E'a\nb';
CREATE ROLE regress_esi_options_user;
SET ROLE regress_esi_options_user;
SET esi_fdw.proxy = 'http://127.0.0.1:9';
SET esi_fdw.no_proxy = '*';
RESET ROLE;
DROP ROLE regress_esi_options_user;
SHOW esi_fdw.proxy;
