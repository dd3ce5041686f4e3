--
-- writes_tables: a character's contacts and fittings as writable foreign
-- tables (issue 10, items 3 and 7).  INSERT, UPDATE and DELETE round-trip
-- through the same tables' GET route; contacts are batched (rows with the
-- same settings in one request, at most ESI's maxItems: 100 ids a POST or
-- PUT, 20 a DELETE); INSERT ... RETURNING fitting_id; DELETE ... WHERE
-- standing < 0; a write whose reply is lost; an error reply in the middle
-- of a statement; the refusal inside a transaction block; read-only tables;
-- the scope and role errors; each key written once a statement (issue 16,
-- item 8).  Uses the server esi_sso and the sim.* tables
-- of writes_character.
--
\set ayla 2112625428
\set boris 2112625429

SELECT reset FROM sim.reset;
SELECT reset FROM sim.sso_reset;

CREATE SCHEMA writable;
IMPORT FOREIGN SCHEMA contacts LIMIT TO (character_contacts, character_contact_labels)
  FROM SERVER esi_sso INTO writable;
IMPORT FOREIGN SCHEMA fittings LIMIT TO (character_fittings) FROM SERVER esi_sso INTO writable;
IMPORT FOREIGN SCHEMA mail LIMIT TO (character_mail) FROM SERVER esi_sso INTO writable;
-- each read shows what ESI holds now
ALTER FOREIGN TABLE writable.character_contacts OPTIONS (ADD cache 'off');
ALTER FOREIGN TABLE writable.character_fittings OPTIONS (ADD cache 'off');
SET search_path = writable, public;

SELECT esi.login('esi_sso', ARRAY['esi-characters.write_contacts.v1',
  'esi-characters.read_contacts.v1', 'esi-fittings.read_fittings.v1',
  'esi-fittings.write_fittings.v1', 'esi-mail.read_mail.v1'])
  || '&character_id=' || :ayla AS url \gset
\set loc `curl -sS -o /dev/null -w '%{redirect_url}' :'url'`
SELECT character_id, name, cardinality(scopes) AS scopes FROM esi.login_callback(:'loc');

-- contacts and fittings may be written, mail may not
SELECT table_name, is_insertable_into FROM information_schema.tables
 WHERE table_schema = 'writable' ORDER BY 1;

-- Ayla's contacts before
SELECT contact_id, contact_type, standing, label_ids FROM character_contacts
 WHERE character_id = :ayla ORDER BY contact_id;

--
-- INSERT: one POST per character and settings, in the order of their first row
--
SELECT sim.last_write() AS s \gset
INSERT INTO character_contacts (character_id, contact_id, standing, label_ids) VALUES
  (:ayla, 90000101, 5, '[1]'), (:ayla, 90000102, -5, NULL), (:ayla, 90000103, 5, '[1]'),
  (:ayla, 90000104, -5, NULL), (:ayla, 90000105, 5, '[1]');
SELECT method, request, body, status FROM sim.wrote WHERE seq > :s ORDER BY seq;
SELECT contact_id, contact_type, standing, label_ids, is_watched FROM character_contacts
 WHERE character_id = :ayla AND contact_id BETWEEN 90000101 AND 90000105 ORDER BY 1;

-- 250 rows with one setting: requests of at most 100 ids
SELECT sim.last_write() AS s \gset
INSERT INTO character_contacts (character_id, contact_id, standing)
  SELECT :ayla, g, 1 FROM generate_series(90001001, 90001250) g;
SELECT method, request, jsonb_array_length(body) AS ids, status FROM sim.wrote
 WHERE seq > :s ORDER BY seq;
SELECT count(*), min(contact_id), max(contact_id), min(standing), max(standing)
  FROM character_contacts WHERE character_id = :ayla AND contact_id BETWEEN 90001001 AND 90001250;

-- an id ESI does not add (no character, corporation, alliance or faction):
-- a WARNING names it
INSERT INTO character_contacts (character_id, contact_id, standing)
  VALUES (:ayla, 90000106, 2), (:ayla, 42, 2);

-- COPY is an INSERT too
SELECT sim.last_write() AS s \gset
COPY character_contacts (character_id, contact_id, standing) FROM STDIN;
2112625428	90000601	6
2112625428	90000602	6
\.
-- RETURNING gives back the rows; one POST all the same
INSERT INTO character_contacts (character_id, contact_id, standing)
  VALUES (:ayla, 90000603, 6), (:ayla, 90000604, 6) RETURNING contact_id, standing;
SELECT method, request, body, status FROM sim.wrote WHERE seq > :s ORDER BY seq;
SELECT contact_id, standing FROM character_contacts
 WHERE character_id = :ayla AND contact_id BETWEEN 90000601 AND 90000604 ORDER BY 1;

--
-- UPDATE: PUT, batched the same way; the labels are kept
--
SELECT sim.last_write() AS s \gset
UPDATE character_contacts SET standing = 7.5, is_watched = true
 WHERE character_id = :ayla AND contact_id IN (90000101, 90000103, 90000105);
SELECT method, request, body, status FROM sim.wrote WHERE seq > :s ORDER BY seq;
SELECT contact_id, standing, is_watched, label_ids FROM character_contacts
 WHERE character_id = :ayla AND contact_id IN (90000101, 90000103, 90000105) ORDER BY 1;
-- a column ESI does not change
UPDATE character_contacts SET contact_type = 'alliance' WHERE character_id = :ayla;

--
-- DELETE FROM character_contacts WHERE standing < 0: the scan finds the
-- contacts of every character the role logged in with the scope, then one
-- DELETE request with their ids
--
SELECT contact_id FROM character_contacts WHERE standing < 0 ORDER BY 1;
SELECT count(*) AS others FROM character_contacts WHERE character_id = :ayla AND standing >= 0 \gset
SELECT sim.last_write() AS s \gset
DELETE FROM character_contacts WHERE standing < 0;
SELECT method, request, body, status FROM sim.wrote WHERE seq > :s ORDER BY seq;
SELECT count(*) FILTER (WHERE standing < 0) AS negative, count(*) = :others AS others_kept
  FROM character_contacts WHERE character_id = :ayla;

-- 250 rows: requests of at most 20 ids (contact_ids' maxItems); RETURNING
SELECT sim.last_write() AS s \gset
WITH d AS (
  DELETE FROM character_contacts
   WHERE character_id = :ayla AND contact_id BETWEEN 90001001 AND 90001250
  RETURNING contact_id)
SELECT count(*), min(contact_id), max(contact_id) FROM d;
SELECT method, count(*) AS requests, max(cardinality(string_to_array(
         substring(request FROM 'contact_ids=(.*)$'), '%2C'))) AS most_ids,
       sum(cardinality(string_to_array(
         substring(request FROM 'contact_ids=(.*)$'), '%2C'))) AS ids,
       bool_and(status = 204) AS all_204
  FROM sim.wrote WHERE seq > :s GROUP BY 1;
SELECT count(*) AS left FROM character_contacts
 WHERE character_id = :ayla AND contact_id BETWEEN 90001001 AND 90001250;

--
-- fittings: INSERT ... RETURNING fitting_id gives ESI's id; DELETE; no UPDATE
--
SELECT sim.last_write() AS s \gset
INSERT INTO character_fittings (character_id, name, description, ship_type_id, items)
  VALUES (:ayla, 'Test Rifter', 'from SQL', 587,
          '[{"flag": "Cargo", "quantity": 10, "type_id": 34}]')
  RETURNING fitting_id;
SELECT method, request, body, status FROM sim.wrote WHERE seq > :s ORDER BY seq;
SELECT fitting_id, name, description, ship_type_id, items FROM character_fittings
 WHERE character_id = :ayla AND fitting_id = 90000001;
UPDATE character_fittings SET name = 'x' WHERE character_id = :ayla;
SELECT sim.last_write() AS s \gset
DELETE FROM character_fittings WHERE character_id = :ayla AND fitting_id = 90000001
  RETURNING fitting_id, name;
SELECT method, request, body, status FROM sim.wrote WHERE seq > :s ORDER BY seq;
SELECT count(*) AS left FROM character_fittings
 WHERE character_id = :ayla AND fitting_id = 90000001;

--
-- each key is written once a statement (issue 16, item 8): a join that
-- names a contact or fitting twice sends it once and counts it once, as
-- PostgreSQL counts a local table's row once; two different settings of one
-- contact are refused (21000, as MERGE refuses) before anything is sent
--
SELECT sim.last_write() AS s \gset
WITH i AS (
  INSERT INTO character_contacts (character_id, contact_id, standing)
    VALUES (:ayla, 90000801, 0), (:ayla, 90000801, 0), (:ayla, 90000802, 0)
  RETURNING contact_id)
SELECT count(*) AS inserted, array_agg(contact_id ORDER BY contact_id) FROM i;
SELECT method, request, body, status FROM sim.wrote WHERE seq > :s ORDER BY seq;
-- an INSERT giving a contact two standings
SELECT sim.last_write() AS s \gset
INSERT INTO character_contacts (character_id, contact_id, standing)
  VALUES (:ayla, 90000803, 1), (:ayla, 90000804, 1), (:ayla, 90000803, 2);
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS sent FROM sim.wrote WHERE seq > :s;
-- UPDATE ... FROM with two different values for one contact: refused, nothing sent
SELECT sim.last_write() AS s \gset
UPDATE character_contacts c SET standing = v.standing
  FROM (VALUES (1.0::float8), (-3.0)) v(standing)
 WHERE c.character_id = :ayla AND c.contact_id = 90000801;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS sent FROM sim.wrote WHERE seq > :s;
-- the same, the other way round
UPDATE character_contacts c SET standing = v.standing
  FROM (VALUES (-3.0::float8), (1.0)) v(standing)
 WHERE c.character_id = :ayla AND c.contact_id = 90000801;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS sent FROM sim.wrote WHERE seq > :s;
SELECT contact_id, standing FROM character_contacts
 WHERE character_id = :ayla AND contact_id IN (90000801, 90000802) ORDER BY 1;
-- with two identical values: one PUT, one row
SELECT sim.last_write() AS s \gset
WITH u AS (
  UPDATE character_contacts c SET standing = v.standing
    FROM (VALUES (2.5::float8), (2.5)) v(standing)
   WHERE c.character_id = :ayla AND c.contact_id = 90000801
  RETURNING c.contact_id)
SELECT count(*) AS updated FROM u;
SELECT method, request, body, status FROM sim.wrote WHERE seq > :s ORDER BY seq;
-- a table with row triggers is written row by row: the first setting is
-- sent before the second is seen, and the error says so
CREATE FUNCTION writable.seen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RETURN NEW; END $$;
CREATE TRIGGER seen AFTER UPDATE ON character_contacts
  FOR EACH ROW EXECUTE FUNCTION writable.seen();
SELECT sim.last_write() AS s \gset
UPDATE character_contacts c SET standing = v.standing
  FROM (VALUES (4.0::float8), (-4.0)) v(standing)
 WHERE c.character_id = :ayla AND c.contact_id = 90000801;
\echo :LAST_ERROR_SQLSTATE
SELECT method, request, body, status FROM sim.wrote WHERE seq > :s ORDER BY seq;
DROP TRIGGER seen ON character_contacts;
DROP FUNCTION writable.seen();
-- DELETE ... USING naming contacts three times and once: each id once in
-- contact_ids, each row counted once
SELECT sim.last_write() AS s \gset
WITH d AS (
  DELETE FROM character_contacts c
   USING (VALUES (90000801::bigint), (90000801), (90000802), (90000801)) v(id)
   WHERE c.character_id = :ayla AND c.contact_id = v.id
  RETURNING c.contact_id)
SELECT count(*) AS deleted, array_agg(contact_id ORDER BY contact_id) FROM d;
SELECT method, request, body, status FROM sim.wrote WHERE seq > :s ORDER BY seq;
SELECT count(*) AS left FROM character_contacts
 WHERE character_id = :ayla AND contact_id IN (90000801, 90000802);
-- DELETE ... USING with duplicate rows for a fitting: one DELETE (a second
-- would get ESI's 404 after the fitting was gone), one row
INSERT INTO character_fittings (character_id, name, ship_type_id, items)
  VALUES (:ayla, 'Twice', 587, '[{"flag": "Cargo", "quantity": 1, "type_id": 34}]')
  RETURNING fitting_id;
SELECT sim.last_write() AS s \gset
WITH d AS (
  DELETE FROM character_fittings f
   USING (VALUES (1), (2)) v(n)
   WHERE f.character_id = :ayla AND f.fitting_id = 90000002
  RETURNING f.fitting_id, f.name)
SELECT count(*) AS deleted, min(fitting_id), min(name) FROM d;
SELECT method, request, body, status FROM sim.wrote WHERE seq > :s ORDER BY seq;
SELECT count(*) AS left FROM character_fittings
 WHERE character_id = :ayla AND fitting_id = 90000002;

--
-- EXPLAIN shows the requests; EXPLAIN ANALYZE counts what was sent (the
-- size of the contacts page masked)
--
EXPLAIN (COSTS OFF)
DELETE FROM character_contacts WHERE character_id = :ayla AND standing < 0;
CREATE FUNCTION sim.explain_write(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE line text;
BEGIN
  FOR line IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || q LOOP
    RETURN NEXT regexp_replace(line, 'ESI Bytes: \d+', 'ESI Bytes: <n>');
  END LOOP;
END $$;
SELECT sim.last_write() AS s \gset
SELECT * FROM sim.explain_write(format(
  'UPDATE character_contacts SET standing = 3 WHERE character_id = %s AND contact_id IN (90000101, 90000103)',
  :ayla));
SELECT method, request, body, status FROM sim.wrote WHERE seq > :s ORDER BY seq;

--
-- a write whose reply is lost: ESI acted, the answer never came.  08007
-- "may have happened"; not sent again
--
SELECT sim.last_write() AS s \gset
SELECT id > 0 AS armed FROM sim.write_fault
 WHERE path = '/characters/' || :ayla || '/contacts' AND kind = 'drop_after_request'
   AND method = 'POST';
INSERT INTO character_contacts (character_id, contact_id, standing)
  VALUES (:ayla, 90000201, 4), (:ayla, 90000202, 4);
\echo :LAST_ERROR_SQLSTATE
-- one request: ESI answered 201, the simulator dropped the answer
SELECT method, request, body, status, fault FROM sim.wrote WHERE seq > :s ORDER BY seq;
-- it did happen
SELECT contact_id, standing FROM character_contacts
 WHERE character_id = :ayla AND contact_id IN (90000201, 90000202) ORDER BY 1;

--
-- ESI refuses the second request of a statement: its error, with what the
-- first already wrote and what was not sent
--
SELECT sim.last_write() AS s \gset
INSERT INTO character_contacts (character_id, contact_id, standing)
  VALUES (:ayla, 90000301, 1), (:ayla, 90000302, 99), (:ayla, 90000303, 2);
\echo :LAST_ERROR_SQLSTATE
SELECT method, request, body, status FROM sim.wrote WHERE seq > :s ORDER BY seq;
SELECT contact_id, standing FROM character_contacts
 WHERE character_id = :ayla AND contact_id BETWEEN 90000301 AND 90000303 ORDER BY 1;

--
-- inside a transaction block: refused before anything is sent, unless
-- esi_fdw.writes_in_transaction_block is on (and then ROLLBACK does not
-- undo it at ESI)
--
SELECT sim.last_write() AS s \gset
BEGIN;
DELETE FROM character_contacts WHERE character_id = :ayla AND contact_id = 90000106;
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
SELECT count(*) AS sent FROM sim.wrote WHERE seq > :s;
SET esi_fdw.writes_in_transaction_block = on;
BEGIN;
DELETE FROM character_contacts WHERE character_id = :ayla AND contact_id = 90000106;
ROLLBACK;
RESET esi_fdw.writes_in_transaction_block;
SELECT method, request, body, status FROM sim.wrote WHERE seq > :s ORDER BY seq;
SELECT count(*) AS left FROM character_contacts
 WHERE character_id = :ayla AND contact_id = 90000106;

--
-- read-only tables: a HINT names ESI's write functions on the route, if any
--
DELETE FROM character_mail WHERE character_id = :ayla;
INSERT INTO character_contact_labels (character_id, label_id, label_name) VALUES (:ayla, 3, 'x');

--
-- scope and role: refused before anything is sent
--
INSERT INTO character_contacts (character_id, contact_id, standing) VALUES (:ayla, 90000501, -3);
-- Boris logs in with the read scope only
SELECT esi.login('esi_sso', ARRAY['esi-characters.read_contacts.v1'])
  || '&character_id=' || :boris AS url \gset
\set loc `curl -sS -o /dev/null -w '%{redirect_url}' :'url'`
SELECT character_id, name, scopes FROM esi.login_callback(:'loc');
SELECT sim.last_write() AS s \gset
INSERT INTO character_contacts (character_id, contact_id, standing) VALUES (:boris, 90000401, 1);
\echo :LAST_ERROR_SQLSTATE
-- the scan finds Boris's contacts with a negative standing too (he can read
-- them): the DELETE fails on his token before any request, Ayla's included.
-- (The CONTEXT, which counts Ayla's rows waiting in their batch, depends on
-- whose rows the scan returned first: not shown.)
SELECT character_id, contact_id FROM character_contacts WHERE standing < 0 ORDER BY 1, 2;
\set SHOW_CONTEXT never
DELETE FROM character_contacts WHERE standing < 0;
\set SHOW_CONTEXT errors
\echo :LAST_ERROR_SQLSTATE
-- another role needs INSERT on the table ...
CREATE ROLE regress_writable_other;
GRANT USAGE ON SCHEMA writable TO regress_writable_other;
GRANT USAGE ON FOREIGN SERVER esi_sso TO regress_writable_other;
SET ROLE regress_writable_other;
INSERT INTO character_contacts (character_id, contact_id, standing) VALUES (:ayla, 90000401, 1);
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
-- ... and granted it, still may not act for a character another role
-- logged in
GRANT INSERT, SELECT ON character_contacts TO regress_writable_other;
SET ROLE regress_writable_other;
INSERT INTO character_contacts (character_id, contact_id, standing) VALUES (:ayla, 90000401, 1);
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT count(*) AS sent FROM sim.wrote WHERE seq > :s;
REVOKE ALL ON character_contacts FROM regress_writable_other;
REVOKE ALL ON FOREIGN SERVER esi_sso FROM regress_writable_other;
REVOKE ALL ON SCHEMA writable FROM regress_writable_other;
DROP ROLE regress_writable_other;

RESET search_path;
-- log out (the refresh tokens are revoked at SSO and forgotten), and leave
-- the simulator as the next files expect it
SELECT esi.logout('esi_sso', c) FROM unnest(ARRAY[:ayla, :boris]::bigint[]) c;
SELECT count(*) AS logins FROM esi.sso_characters;
SELECT reset FROM sim.reset;
SELECT reset FROM sim.sso_reset;
