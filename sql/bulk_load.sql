--
-- bulk_load: esi._bulk_insert(dest, query) writes exactly the rows that
-- INSERT INTO dest <query> writes, in multi-row batches; indexes are
-- usable afterwards; it checks the caller's rights and refuses what it
-- does not do (partitioned parents, triggers) rather than bypassing it.
--
SET client_min_messages = warning;
CREATE SCHEMA bl;
SET search_path = bl, public;

-- the same rows through INSERT ... SELECT and through _bulk_insert: several
-- types, NULLs in every column, a cast by assignment (numeric to
-- numeric(10,2), text to varchar(10)), a dropped column, and trailing
-- columns the query does not give (their defaults, a generated column);
-- 5003 rows, so several batches and a partial one
CREATE TABLE src AS
  SELECT i AS id,
         CASE WHEN i % 7 = 0 THEN NULL ELSE i * 1.005 END AS amount,
         CASE WHEN i % 11 = 0 THEN NULL ELSE 'name ' || i END AS label,
         CASE WHEN i % 13 = 0 THEN NULL ELSE i % 2 = 0 END AS flag,
         CASE WHEN i % 17 = 0 THEN NULL ELSE timestamptz '2026-01-01 00:00:00+00' + i * interval '1 minute' END AS at,
         CASE WHEN i % 19 = 0 THEN NULL ELSE repeat('x', i % 300) END AS body
    FROM generate_series(1, 5003) i;
CREATE TABLE t_insert (id bigint NOT NULL, gone int, amount numeric(10,2), label varchar(10),
                       flag boolean, at timestamptz, body text,
                       note text DEFAULT 'default note', twice bigint GENERATED ALWAYS AS (id * 2) STORED);
ALTER TABLE t_insert DROP COLUMN gone;
CREATE TABLE t_bulk (LIKE t_insert INCLUDING ALL);
CREATE UNIQUE INDEX ON t_bulk (id);
CREATE INDEX ON t_bulk (label);
INSERT INTO t_insert SELECT id, amount, label, flag, at, body FROM src;
SELECT esi._bulk_insert('t_bulk', 'SELECT id, amount, label, flag, at, body FROM bl.src');
SELECT count(*) AS only_in_insert FROM (SELECT * FROM t_insert EXCEPT ALL SELECT * FROM t_bulk) x;
SELECT count(*) AS only_in_bulk FROM (SELECT * FROM t_bulk EXCEPT ALL SELECT * FROM t_insert) x;
SELECT count(*), count(amount), count(label), count(flag), count(at), count(body),
       count(*) FILTER (WHERE note = 'default note') AS defaults,
       count(*) FILTER (WHERE twice = id * 2) AS generated
  FROM t_bulk;

-- the indexes hold every row: index scans find them
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM t_bulk WHERE id = 4321;
SELECT id, amount, label, flag FROM t_bulk WHERE id = 4321;
SELECT count(*) FROM t_bulk WHERE id BETWEEN 1 AND 10000;
EXPLAIN (COSTS OFF) SELECT count(*) FROM t_bulk WHERE label = 'name 999';
SELECT count(*) FROM t_bulk WHERE label = 'name 999';
RESET enable_seqscan;
RESET enable_bitmapscan;

-- a unique index is enforced: a duplicate key is an error, nothing is written
SELECT esi._bulk_insert('t_bulk', 'SELECT 4321, 1.0, ''dup''');
SELECT count(*) FROM t_bulk;
-- and so are NOT NULL and CHECK constraints
SELECT esi._bulk_insert('t_bulk', 'SELECT NULL::bigint');
ALTER TABLE t_bulk ADD CHECK (amount < 1000000);
SELECT esi._bulk_insert('t_bulk', 'SELECT 999999, 2000000.0');

-- an empty result writes nothing
SELECT esi._bulk_insert('t_bulk', 'SELECT id FROM bl.src WHERE false');

-- a query that reads the table it fills does not read its own rows (as
-- INSERT ... SELECT)
CREATE TABLE twice (n int);
INSERT INTO twice SELECT generate_series(1, 2500);
SELECT esi._bulk_insert('twice', 'SELECT n FROM bl.twice');
SELECT count(*), count(DISTINCT n) FROM twice;

-- a volatile default is computed for every row (rows go one by one then)
CREATE TABLE vol (n int, seen bigint DEFAULT (random() * 0)::bigint + 1);
SELECT esi._bulk_insert('vol', 'SELECT generate_series(1, 1500)');
SELECT count(*), count(seen) FROM vol;

-- bad queries and mismatched columns
SELECT esi._bulk_insert('t_bulk', 'SELEC 1');
SELECT esi._bulk_insert('t_bulk', 'SELECT no_such FROM bl.src');
SELECT esi._bulk_insert('t_bulk', 'DELETE FROM bl.twice');
SELECT esi._bulk_insert('t_bulk', 'SELECT 1; SELECT 2');
SELECT esi._bulk_insert('twice', 'SELECT 1, 2');
SELECT esi._bulk_insert('twice', 'SELECT true');
SELECT esi._bulk_insert('t_bulk', 'SELECT 1, 2, ''x'', true, now(), ''b'', ''n'', 3');
SELECT esi._bulk_insert('t_bulk', NULL) IS NULL AS strict;
-- a run-time error in the query leaves nothing behind
SELECT esi._bulk_insert('twice', 'SELECT 10 / (n - 2000) FROM bl.twice');
SELECT count(*) FROM twice;

-- what it does not do is refused, not bypassed
CREATE TABLE parted (n int, at date) PARTITION BY RANGE (at);
CREATE TABLE parted_2026 PARTITION OF parted FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
SELECT esi._bulk_insert('parted', 'SELECT 1, date ''2026-05-01''');
SELECT esi._bulk_insert('parted_2026', 'SELECT 1, date ''2026-05-01''');
SELECT esi._bulk_insert('parted_2026', 'SELECT 2, date ''2025-05-01''');
SELECT * FROM parted;
CREATE FUNCTION trg() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER trg BEFORE INSERT ON twice FOR EACH ROW EXECUTE FUNCTION trg();
SELECT esi._bulk_insert('twice', 'SELECT 1');
DROP TRIGGER trg ON twice;
CREATE TABLE referenced (n int PRIMARY KEY);
CREATE TABLE referencing (n int REFERENCES referenced);
SELECT esi._bulk_insert('referencing', 'SELECT 1');
CREATE VIEW v AS SELECT * FROM twice;
SELECT esi._bulk_insert('v', 'SELECT 1');
SELECT esi._bulk_insert('bl.no_such', 'SELECT 1');

-- the caller's rights: INSERT on the table (on the columns given), and
-- whatever the query reads
CREATE ROLE regress_bl_user;
GRANT USAGE ON SCHEMA bl, esi TO regress_bl_user;
GRANT SELECT ON src, twice TO regress_bl_user;
CREATE TABLE narrow (id bigint, label text, extra text DEFAULT 'd');
CREATE TABLE hidden (id bigint);
SET ROLE regress_bl_user;
SELECT esi._bulk_insert('bl.narrow', 'SELECT id, label FROM bl.src');
RESET ROLE;
GRANT INSERT (id) ON narrow TO regress_bl_user;
SET ROLE regress_bl_user;
SELECT esi._bulk_insert('bl.narrow', 'SELECT id, label FROM bl.src');
SELECT esi._bulk_insert('bl.narrow', 'SELECT id FROM bl.src WHERE id <= 10');
SELECT esi._bulk_insert('bl.narrow', 'SELECT id FROM bl.hidden');
RESET ROLE;
SELECT count(*), count(label), min(extra) FROM narrow;
ALTER TABLE narrow ENABLE ROW LEVEL SECURITY;
CREATE POLICY p ON narrow USING (true) WITH CHECK (true);
SET ROLE regress_bl_user;
SELECT esi._bulk_insert('bl.narrow', 'SELECT 1');
RESET ROLE;

-- rules on INSERT are the rewriter's: refused, not bypassed
CREATE TABLE ruled (id bigint);
CREATE TABLE ruled_log (id bigint);
CREATE RULE ruled_also AS ON INSERT TO ruled DO ALSO INSERT INTO ruled_log VALUES (NEW.id);
SELECT esi._bulk_insert('bl.ruled', 'SELECT 1');
CREATE TABLE ruled_nothing (id bigint);
CREATE RULE ruled_nothing_r AS ON INSERT TO ruled_nothing DO INSTEAD NOTHING;
SELECT esi._bulk_insert('bl.ruled_nothing', 'SELECT 1');
SELECT (SELECT count(*) FROM ruled) AS ruled, (SELECT count(*) FROM ruled_log) AS logged,
       (SELECT count(*) FROM ruled_nothing) AS nothing;
-- a rule on UPDATE does not concern an insert
CREATE TABLE ruled_update (id bigint);
CREATE RULE ruled_update_r AS ON UPDATE TO ruled_update DO INSTEAD NOTHING;
SELECT esi._bulk_insert('bl.ruled_update', 'SELECT 1');

-- GENERATED ALWAYS identity: no value from the query (as INSERT without
-- OVERRIDING SYSTEM VALUE); a column left to its default gets its identity
CREATE TABLE ident_always (id bigint GENERATED ALWAYS AS IDENTITY, label text);
SELECT esi._bulk_insert('bl.ident_always', 'SELECT 7::bigint, ''x''');
CREATE TABLE ident_last (label text, id bigint GENERATED ALWAYS AS IDENTITY);
SELECT esi._bulk_insert('bl.ident_last', 'SELECT ''a'' UNION ALL SELECT ''b''');
SELECT * FROM ident_last ORDER BY id;
CREATE TABLE ident_default (id bigint GENERATED BY DEFAULT AS IDENTITY, label text);
SELECT esi._bulk_insert('bl.ident_default', 'SELECT 7::bigint, ''x''');
SELECT * FROM ident_default;

-- privileges are checked before the table is opened (and locked): a role
-- without INSERT learns nothing about the table, not even its triggers
-- (test/t/150_small_claims.sh checks that no lock is left behind)
CREATE TABLE guarded (id bigint);
CREATE FUNCTION guarded_trg() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
CREATE TRIGGER guarded_t BEFORE INSERT ON guarded FOR EACH ROW EXECUTE FUNCTION guarded_trg();
SET ROLE regress_bl_user;
SELECT esi._bulk_insert('bl.guarded', 'SELECT 1');
RESET ROLE;

-- from a foreign table, as a refresh uses it: the rows of INSERT ... SELECT
CREATE TABLE orders_insert (LIKE eve.market_orders, snapshot_at timestamptz NOT NULL);
CREATE TABLE orders_bulk (LIKE orders_insert);
CREATE INDEX ON orders_bulk (snapshot_at);
INSERT INTO orders_insert SELECT *, timestamptz '2026-08-04 12:00:00+00' FROM eve.market_orders WHERE region_id = 10000033;
SELECT esi._bulk_insert('orders_bulk',
  'SELECT *, timestamptz ''2026-08-04 12:00:00+00'' FROM eve.market_orders WHERE region_id = 10000033') > 1000 AS many;
-- an untyped literal is text in a query's output: no assignment cast to timestamptz
SELECT esi._bulk_insert('orders_bulk', 'SELECT *, ''2026-08-04 12:00:00+00'' FROM eve.market_orders WHERE false');
SELECT (SELECT count(*) FROM orders_bulk) = (SELECT count(*) FROM orders_insert) AS same_count,
       (SELECT count(*) FROM (SELECT * FROM orders_insert EXCEPT ALL SELECT * FROM orders_bulk) x) AS only_in_insert,
       (SELECT count(*) FROM (SELECT * FROM orders_bulk EXCEPT ALL SELECT * FROM orders_insert) x) AS only_in_bulk;

RESET search_path;
DROP SCHEMA bl CASCADE;
REVOKE USAGE ON SCHEMA esi FROM regress_bl_user;
DROP ROLE regress_bl_user;
