--
-- definitions: foreign tables written by hand that cannot be read correctly
-- are refused with the reason, whatever columns a query selects; route
-- templates and fixed query strings are checked when they are written.
--

-- two columns on one JSON field: the decoder would fill only one of them
CREATE FOREIGN TABLE twice (
  type_id bigint,
  type_again bigint OPTIONS (field 'type_id'),
  average_price double precision
) SERVER esi OPTIONS (route '/markets/prices');
SELECT * FROM twice WHERE type_id = 34;
SELECT * FROM sim.error_of('SELECT type_id, type_again FROM twice');
SELECT * FROM sim.error_of('SELECT average_price FROM twice');
SELECT * FROM sim.error_of('SELECT count(*) FROM twice');
-- dropping one of them makes the table usable
ALTER FOREIGN TABLE twice DROP COLUMN type_again;
SELECT type_id, average_price FROM twice WHERE type_id = 34;
DROP FOREIGN TABLE twice;

-- a parameter column that is also a field, and another column on that field
CREATE FOREIGN TABLE param_twice (
  region_id bigint OPTIONS (param 'path'),
  type_id integer OPTIONS (param 'query', required 'true', field 'type_id'),
  tid integer OPTIONS (field 'type_id'),
  price double precision
) SERVER esi OPTIONS (route '/markets/{region_id}/orders', paging 'pages');
SELECT * FROM sim.error_of('SELECT price FROM param_twice WHERE region_id = 10000002 AND type_id = 34');
DROP FOREIGN TABLE param_twice;

-- a reply of scalars has one value per record: two columns reading it are refused
CREATE FOREIGN TABLE two_values (a integer, b integer)
  SERVER esi OPTIONS (route '/universe/regions', shape 'values');
SELECT * FROM sim.error_of('SELECT a FROM two_values');
SELECT * FROM sim.error_of('SELECT b FROM two_values');
SELECT * FROM sim.error_of('SELECT a, b FROM two_values');
-- one value column is fine
ALTER FOREIGN TABLE two_values DROP COLUMN b;
SELECT count(*) AS regions, count(DISTINCT a) AS distinct_ids FROM two_values;
DROP FOREIGN TABLE two_values;
CREATE FOREIGN TABLE two_balances (balance double precision, again double precision)
  SERVER esi OPTIONS (route '/_sim/balance', shape 'value');
SELECT * FROM sim.error_of('SELECT again FROM two_balances');
-- a parameter column is not a value column (unless it also names a field)
ALTER FOREIGN TABLE two_balances ALTER COLUMN again OPTIONS (ADD param 'query');
SELECT balance, again FROM two_balances;
ALTER FOREIGN TABLE two_balances ALTER COLUMN again OPTIONS (ADD field 'x');
SELECT * FROM sim.error_of('SELECT balance FROM two_balances');
DROP FOREIGN TABLE two_balances;

-- route templates are checked when they are written
CREATE FOREIGN TABLE r1 (x int) SERVER esi OPTIONS (route '/markets/{}/orders');
CREATE FOREIGN TABLE r2 (x int) SERVER esi OPTIONS (route '/markets/{region_id/orders');
CREATE FOREIGN TABLE r3 (x int) SERVER esi OPTIONS (route '/markets/region_id}/orders');
CREATE FOREIGN TABLE r4 (x int) SERVER esi OPTIONS (route '/markets/{{region_id}}/orders');
CREATE FOREIGN TABLE r5 (x int) SERVER esi OPTIONS (route '/markets/../status');
CREATE FOREIGN TABLE r6 (x int) SERVER esi OPTIONS (route '/markets/./prices');
CREATE FOREIGN TABLE r7 (x int) SERVER esi OPTIONS (route '/markets/%2e%2E/status');
CREATE FOREIGN TABLE r8 (x int) SERVER esi OPTIONS (route '/markets/prices?datasource=tranquility');
CREATE FOREIGN TABLE r9 (x int) SERVER esi OPTIONS (route '/markets/prices#top');
CREATE FOREIGN TABLE r10 (x int) SERVER esi OPTIONS (route '/markets/ prices');
CREATE FOREIGN TABLE r11 (x int) SERVER esi OPTIONS (route E'/markets/prices\r\nHost: evil');
CREATE FOREIGN TABLE r12 (x int) SERVER esi OPTIONS (route '/markets/{Region}/orders');
CREATE FOREIGN TABLE r13 (x int) SERVER esi OPTIONS (route '/markets/%zz/orders');
-- ... also when altered
CREATE FOREIGN TABLE r_ok (x int) SERVER esi OPTIONS (route '/markets/prices');
ALTER FOREIGN TABLE r_ok OPTIONS (SET route '/markets/../../status');
DROP FOREIGN TABLE r_ok;
-- dots inside a segment, escapes and a parameter inside a segment are fine
CREATE FOREIGN TABLE r_fine (x int) SERVER esi OPTIONS (route '/a.b/..c/%41/v{x}.json');
DROP FOREIGN TABLE r_fine;

-- one parameter used twice in the route is filled twice
CREATE FOREIGN TABLE twice_in_route (region_id bigint OPTIONS (param 'path'), x text)
  SERVER esi OPTIONS (route '/x/{region_id}/y/{region_id}', shape 'object');
EXPLAIN (COSTS OFF) SELECT * FROM twice_in_route WHERE region_id = 7;
DROP FOREIGN TABLE twice_in_route;

-- the fixed query string is name=value pairs, percent-encoded
CREATE FOREIGN TABLE q1 (x int) SERVER esi OPTIONS (route '/markets/prices', query 'datasource');
CREATE FOREIGN TABLE q2 (x int) SERVER esi OPTIONS (route '/markets/prices', query 'name=Jita IV');
CREATE FOREIGN TABLE q3 (x int) SERVER esi OPTIONS (route '/markets/prices', query 'a=1#frag');
CREATE FOREIGN TABLE q4 (x int) SERVER esi OPTIONS (route '/markets/prices', query 'a=1&&b=2');
CREATE FOREIGN TABLE q5 (x int) SERVER esi OPTIONS (route '/markets/prices', query 'a=%zz');
CREATE FOREIGN TABLE q6 (x int) SERVER esi OPTIONS (route '/markets/prices', query 'a=1&=2');
CREATE FOREIGN TABLE q7 (x int) SERVER esi OPTIONS (route '/markets/prices', query E'a=1\r\nX-Evil: 1');
CREATE FOREIGN TABLE q8 (x int) SERVER esi OPTIONS (route '/markets/prices', query 'a=b=c');
CREATE FOREIGN TABLE q_ok (type_id bigint, average_price double precision)
  SERVER esi OPTIONS (route '/markets/prices', query 'datasource=tranquility&name=Jita%20IV&empty=&next=/a?b');
SELECT * FROM sim.reset;
SELECT count(*) AS rows FROM q_ok;
SELECT path, query FROM sim.log;
DROP FOREIGN TABLE q_ok;

-- column options that go into requests: no control characters
CREATE FOREIGN TABLE c1 (x text OPTIONS (param 'query', default E'a\r\nb')) SERVER esi OPTIONS (route '/x');
CREATE FOREIGN TABLE c2 (x bool OPTIONS (param 'query', true_value E'buy\n', false_value 'sell')) SERVER esi OPTIONS (route '/x');
CREATE FOREIGN TABLE c3 (x text OPTIONS (param 'query', param_name E'a\tb')) SERVER esi OPTIONS (route '/x');
-- true_value needs false_value, when the column is written
CREATE FOREIGN TABLE c4 (x bool OPTIONS (param 'query', true_value 'buy')) SERVER esi OPTIONS (route '/x');
