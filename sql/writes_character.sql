--
-- writes_character: ESI's POST, PUT and DELETE routes as functions, for a
-- character logged in through the simulator's EVE SSO (issue 10, item 7).
-- Each route once at least: what the function returns, the exact request
-- ESI got (the simulator's write log), and the state it made read back
-- through the matching GET foreign tables.  Then asset names and locations
-- above 1000 ids, a write whose reply is lost, an error reply, the refusal
-- inside a transaction block, the scope error and the role errors; at the
-- end the write log is held against the catalog: all 35 routes were called.
-- The writable foreign tables are in writes_tables.
--
-- Ids the simulator makes (mails, labels, fittings, wings, squads) start
-- from fixed values after /_sim/reset, so they may be printed.  Errors of
-- writes are printed by psql itself: a write is refused inside a
-- subtransaction too, so sim.error_of() (an EXCEPTION block) cannot catch
-- them; the SQLSTATE is :LAST_ERROR_SQLSTATE.
--
\getenv esi_url ESI_SIM_URL
\set ayla 2112625428
\set boris 2112625429
\set cira 2112625430
\set dax 2112625431
\set corp 98000001
\set fleet 1000000000001
\set wing1 2000000000001
\set squad1 3000000000001

-- a server that logs characters in at the simulator's EVE SSO (the earlier
-- files' server "esi" has no SSO settings)
CREATE SERVER esi_sso FOREIGN DATA WRAPPER esi_fdw
  OPTIONS (base_url :'esi_url', user_agent 'esi_fdw regression tests (dev@example.com)',
           sso_url :'esi_url', sso_client_id 'sim-native-client',
           sso_redirect_uri 'http://localhost/callback');

-- more of the simulator's controls: SSO reset, the write log (with the
-- route each request matched and its body), the game client's requests
CREATE FOREIGN TABLE sim.sso_reset (reset boolean) SERVER esi OPTIONS (route '/_sim/sso/reset');
CREATE FOREIGN TABLE sim.writes (
  seq bigint, method text, path text, query text, route text, body text,
  status integer, fault text
) SERVER esi OPTIONS (route '/_sim/writes');
CREATE FOREIGN TABLE sim.ui (
  seq bigint, character_id bigint, action text, target_id bigint,
  add_to_beginning boolean, clear_other_waypoints boolean, subject text,
  body text, recipients text
) SERVER esi OPTIONS (route '/_sim/ui');
-- the writes to ESI routes (not the SSO's token requests): method, path and
-- query as sent, the body as jsonb (keys sorted), ESI's status, and the
-- fault the simulator played, if any
CREATE VIEW sim.wrote AS
  SELECT seq, method, path || CASE WHEN query <> '' THEN '?' || query ELSE '' END AS request,
         nullif(body, '')::jsonb AS body, status, fault
    FROM sim.writes WHERE route IS NOT NULL;
-- a fault armed for one method only (sim.fault has no such column)
CREATE FOREIGN TABLE sim.write_fault (
  path text OPTIONS (param 'query'),
  kind text OPTIONS (param 'query'),
  method text OPTIONS (param 'query'),
  status integer OPTIONS (param 'query'),
  id bigint
) SERVER esi OPTIONS (route '/_sim/fault');
CREATE FUNCTION sim.last_write() RETURNS bigint
  LANGUAGE sql AS $$ SELECT coalesce(max(seq), 0) FROM sim.writes $$;

-- a clean simulator: no logins, no earlier writes, ids from their start
SELECT reset FROM sim.reset;
SELECT reset FROM sim.sso_reset;

-- the GET tables that show what the writes did, uncached
CREATE SCHEMA eve_sso;
IMPORT FOREIGN SCHEMA "all" LIMIT TO (character_assets, corporation_assets,
  character_calendar, character_contacts, character_fittings, character_mail,
  character_mail_labels, character_fleet, fleet_details, fleet_members, fleet_wings)
  FROM SERVER esi_sso INTO eve_sso;
DO $$DECLARE t regclass; BEGIN
  FOR t IN SELECT ftrelid::regclass FROM pg_foreign_table ft JOIN pg_class c ON c.oid = ft.ftrelid
            WHERE c.relnamespace = 'eve_sso'::regnamespace
  LOOP EXECUTE format('ALTER FOREIGN TABLE %s OPTIONS (ADD cache %L)', t, 'off'); END LOOP;
END$$;

-- log in: esi.login() gives the address a browser opens; curl plays the
-- browser (the simulator approves at once and redirects to the callback);
-- esi.login_callback() finishes with the address it landed on.
-- Ayla: the scopes of every route
SELECT esi.login('esi_sso', ARRAY['esi-assets.read_assets.v1',
  'esi-assets.read_corporation_assets.v1', 'esi-characters.read_corporation_roles.v1',
  'esi-calendar.respond_calendar_events.v1', 'esi-calendar.read_calendar_events.v1',
  'esi-characters.write_contacts.v1', 'esi-characters.read_contacts.v1',
  'esi-fittings.write_fittings.v1', 'esi-fittings.read_fittings.v1',
  'esi-mail.send_mail.v1', 'esi-mail.organize_mail.v1', 'esi-mail.read_mail.v1',
  'esi-fleets.write_fleet.v1', 'esi-fleets.read_fleet.v1',
  'esi-ui.write_waypoint.v1', 'esi-ui.open_window.v1'])
  || '&character_id=' || :ayla AS url \gset
\set loc `curl -sS -o /dev/null -w '%{redirect_url}' :'url'`
SELECT character_id, name, cardinality(scopes) AS scopes FROM esi.login_callback(:'loc');
-- Boris: to read his mail (and no write scope at all)
SELECT esi.login('esi_sso', ARRAY['esi-mail.read_mail.v1']) || '&character_id=' || :boris AS url \gset
\set loc `curl -sS -o /dev/null -w '%{redirect_url}' :'url'`
SELECT character_id, name, scopes FROM esi.login_callback(:'loc');
-- Cira: to read her place in the fleet
SELECT esi.login('esi_sso', ARRAY['esi-fleets.read_fleet.v1']) || '&character_id=' || :cira AS url \gset
\set loc `curl -sS -o /dev/null -w '%{redirect_url}' :'url'`
SELECT character_id, name, scopes FROM esi.login_callback(:'loc');

--
-- the public lookups (more in writes)
--
SELECT sim.last_write() AS s \gset
SELECT id, category, name FROM esi.post_universe_names(ARRAY[:boris, 30000142, 34], server => 'esi_sso');
SELECT category, id, name FROM esi.post_universe_ids(ARRAY['Sim Industries', 'Jita'], server => 'esi_sso');
SELECT * FROM esi.post_character_affiliation(ARRAY[:dax, :ayla], server => 'esi_sso');
SELECT method, request, body, status FROM sim.wrote WHERE seq > :s ORDER BY seq;

-- POST /route: the body (a one-way connection) decides the answer.  The
-- only lookup ESI lets a client cache: with the cache on, the same call
-- again is answered from it; another body is sent (the body is part of the
-- key).  The cache is the cluster's: emptied first, as the suite runs twice.
SELECT esi.cache_clear() >= 0 AS cleared;
SELECT sim.last_write() AS s \gset
SET esi_fdw.cache = on;
SELECT array_agg(route_id ORDER BY ordinality) AS route
  FROM esi.post_route(30000142, 30002187,
                      connections => '[{"from": 30000142, "to": 30002187}]',
                      server => 'esi_sso') WITH ORDINALITY;
SELECT array_agg(route_id ORDER BY ordinality) AS route
  FROM esi.post_route(30000142, 30002187,
                      connections => '[{"from": 30000142, "to": 30002187}]',
                      server => 'esi_sso') WITH ORDINALITY;
SELECT (array_agg(route_id ORDER BY ordinality))[1] AS first,
       (array_agg(route_id ORDER BY ordinality DESC))[1] AS last, count(*) > 2 AS through_gates
  FROM esi.post_route(30000142, 30002187, preference => 'Safer', server => 'esi_sso') WITH ORDINALITY;
RESET esi_fdw.cache;
SELECT method, request, body, status FROM sim.wrote WHERE seq > :s ORDER BY seq;

--
-- asset names and locations: more than 1000 ids are sent in requests of
-- 1000 (they run at once: compared as a set), merged in input order
--
SELECT count(*) AS character_items FROM eve_sso.character_assets WHERE character_id = :ayla;
SELECT sim.last_write() AS s \gset
SELECT count(*) AS n, count(DISTINCT r.item_id) AS distinct_ids,
       bool_and(r.item_id = a.item_id) AS in_input_order,
       count(*) FILTER (WHERE name <> 'None') AS named
  FROM (SELECT *, row_number() OVER () AS o
          FROM esi.post_character_assets_names(:ayla,
                 ARRAY(SELECT item_id FROM eve_sso.character_assets
                        WHERE character_id = :ayla ORDER BY item_id DESC), server => 'esi_sso')) r
  JOIN (SELECT item_id, row_number() OVER (ORDER BY item_id DESC) AS o
          FROM eve_sso.character_assets WHERE character_id = :ayla) a USING (o);
SELECT method, request, jsonb_array_length(body) AS ids, status, count(*) AS requests
  FROM sim.wrote WHERE seq > :s GROUP BY 1, 2, 3, 4 ORDER BY 3 DESC;
-- an id the character does not have: ESI refuses the whole request (404);
-- the batch is halved until the id is alone (11 requests refused, 11
-- answered), a NOTICE names it, the others are answered
SELECT sim.last_write() AS s \gset
SELECT count(*) AS n, bool_and(position = '{"x": 0.0, "y": 0.0, "z": 0.0}') AS in_hangars
  FROM esi.post_character_assets_locations(:ayla,
         ARRAY(SELECT item_id FROM eve_sso.character_assets WHERE character_id = :ayla)
         || 1999999999::bigint, server => 'esi_sso');
SELECT method, request, status, count(*) AS requests
  FROM sim.wrote WHERE seq > :s GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;

-- the corporation's (Ayla is its Director)
SELECT count(*) AS corporation_items FROM eve_sso.corporation_assets WHERE corporation_id = :corp;
SELECT sim.last_write() AS s \gset
SELECT count(*) AS n, count(DISTINCT r.item_id) AS distinct_ids,
       bool_and(r.item_id = a.item_id) AS in_input_order,
       count(*) FILTER (WHERE name <> 'None') AS named
  FROM (SELECT *, row_number() OVER () AS o
          FROM esi.post_corporation_assets_names(:corp,
                 ARRAY(SELECT item_id FROM eve_sso.corporation_assets
                        WHERE corporation_id = :corp ORDER BY item_id), server => 'esi_sso')) r
  JOIN (SELECT item_id, row_number() OVER (ORDER BY item_id) AS o
          FROM eve_sso.corporation_assets WHERE corporation_id = :corp) a USING (o);
SELECT method, request, jsonb_array_length(body) AS ids, status, count(*) AS requests
  FROM sim.wrote WHERE seq > :s GROUP BY 1, 2, 3, 4 ORDER BY 3 DESC;
SELECT sim.last_write() AS s \gset
SELECT count(*) AS n, bool_and(position = '{"x": 0.0, "y": 0.0, "z": 0.0}') AS in_hangars
  FROM esi.post_corporation_assets_locations(:corp,
         ARRAY(SELECT item_id FROM eve_sso.corporation_assets WHERE corporation_id = :corp),
         server => 'esi_sso');
SELECT method, request, jsonb_array_length(body) AS ids, status, count(*) AS requests
  FROM sim.wrote WHERE seq > :s GROUP BY 1, 2, 3, 4 ORDER BY 3 DESC;

--
-- CSPA charge: Boris (of the SSO roster) costs nothing, pilot 90000004 6000000
--
SELECT sim.last_write() AS s \gset
SELECT esi.post_character_cspa(:ayla, ARRAY[:boris, 90000004], server => 'esi_sso') AS charge;
SELECT method, request, body, status FROM sim.wrote WHERE seq > :s ORDER BY seq;

--
-- contacts
--
SELECT sim.last_write() AS s \gset
SELECT * FROM esi.post_character_contacts(:ayla, 2.5, ARRAY[90000007, 99000001], server => 'esi_sso');
SELECT esi.put_character_contacts(:ayla, -5, ARRAY[90000007], label_ids => ARRAY[2],
                                  watched => true, server => 'esi_sso');
SELECT method, request, body, status FROM sim.wrote WHERE seq > :s ORDER BY seq;
SELECT contact_id, contact_type, standing, label_ids, is_watched FROM eve_sso.character_contacts
 WHERE character_id = :ayla AND contact_id IN (90000007, 99000001) ORDER BY 1;
SELECT sim.last_write() AS s \gset
SELECT esi.delete_character_contacts(:ayla, ARRAY[90000007, 99000001], server => 'esi_sso');
SELECT method, request, body, status FROM sim.wrote WHERE seq > :s ORDER BY seq;
SELECT count(*) AS left FROM eve_sso.character_contacts
 WHERE character_id = :ayla AND contact_id IN (90000007, 99000001);

--
-- fittings
--
SELECT sim.last_write() AS s \gset
SELECT * FROM esi.post_character_fittings(:ayla, 'For the op',
  '[{"flag": "HiSlot0", "quantity": 1, "type_id": 3001}, {"flag": "Cargo", "quantity": 50, "type_id": 34}]',
  'Op Rifter', 587, server => 'esi_sso');
SELECT method, request, body, status FROM sim.wrote WHERE seq > :s ORDER BY seq;
SELECT fitting_id, name, description, ship_type_id, items FROM eve_sso.character_fittings
 WHERE character_id = :ayla AND fitting_id = 90000001;
SELECT sim.last_write() AS s \gset
SELECT esi.delete_character_fitting(:ayla, 90000001, server => 'esi_sso');
SELECT method, request, body, status FROM sim.wrote WHERE seq > :s ORDER BY seq;
SELECT count(*) AS left FROM eve_sso.character_fittings
 WHERE character_id = :ayla AND fitting_id = 90000001;

--
-- mail
--
SELECT sim.last_write() AS s \gset
SELECT esi.post_character_mail(:ayla, '<p>Form up at 19:00</p>',
  jsonb_build_array(jsonb_build_object('recipient_id', :boris, 'recipient_type', 'character')),
  'Op tonight', server => 'esi_sso') AS mail_id;
SELECT method, request, body, status FROM sim.wrote WHERE seq > :s ORDER BY seq;
-- Ayla's copy is in Sent (2), read; Boris's in his Inbox (1), unread
SELECT character_id, from_id, subject, label_ids, is_read, recipients FROM eve_sso.character_mail
 WHERE character_id IN (:ayla, :boris) AND mail_id = 500000001 ORDER BY 1;
SELECT sim.last_write() AS s \gset
SELECT esi.post_character_mail_labels(:ayla, 'Ops', '#ff6600', server => 'esi_sso') AS label_id;
SELECT esi.put_character_mail(:ayla, 500000001, ARRAY[2, 16], false, server => 'esi_sso');
SELECT method, request, body, status FROM sim.wrote WHERE seq > :s ORDER BY seq;
SELECT label_ids, is_read FROM eve_sso.character_mail
 WHERE character_id = :ayla AND mail_id = 500000001;
SELECT l->>'label_id' AS label_id, l->>'name' AS name, l->>'color' AS color,
       l->>'unread_count' AS unread_count
  FROM eve_sso.character_mail_labels, jsonb_array_elements(labels) l
 WHERE character_id = :ayla AND (l->>'label_id')::int >= 16;
SELECT sim.last_write() AS s \gset
SELECT esi.delete_character_mail_label(:ayla, 16, server => 'esi_sso');
SELECT esi.delete_character_mail(:ayla, 500000001, server => 'esi_sso');
SELECT method, request, body, status FROM sim.wrote WHERE seq > :s ORDER BY seq;
SELECT count(*) AS labels_16 FROM eve_sso.character_mail_labels, jsonb_array_elements(labels) l
 WHERE character_id = :ayla AND (l->>'label_id')::int = 16;
SELECT count(*) AS ayla_copies FROM eve_sso.character_mail
 WHERE character_id = :ayla AND mail_id = 500000001;
SELECT count(*) AS boris_copies FROM eve_sso.character_mail
 WHERE character_id = :boris AND mail_id = 500000001;

--
-- calendar: answer the first event
--
SELECT min(event_id) AS ev FROM eve_sso.character_calendar WHERE character_id = :ayla \gset
SELECT event_response FROM eve_sso.character_calendar WHERE character_id = :ayla AND event_id = :ev;
SELECT sim.last_write() AS s \gset
SELECT esi.put_character_calendar(:ayla, :ev, 'tentative', server => 'esi_sso');
SELECT method, regexp_replace(request, '/calendar/\d+$', '/calendar/<first event>') AS request,
       body, status
  FROM sim.wrote WHERE seq > :s ORDER BY seq;
SELECT event_response FROM eve_sso.character_calendar WHERE character_id = :ayla AND event_id = :ev;

--
-- a fleet: Ayla is the boss of fleet 1000000000001 (Boris and Cira in it)
--
SELECT sim.last_write() AS s \gset
SELECT esi.put_fleet(:ayla, :fleet, true, 'Form up in Jita', server => 'esi_sso');
SELECT * FROM esi.post_fleet_wings(:ayla, :fleet, server => 'esi_sso');
SELECT esi.put_fleet_wing(:ayla, :fleet, 2000000000101, 'Alpha', server => 'esi_sso');
SELECT * FROM esi.post_fleet_wing_squads(:ayla, :fleet, 2000000000101, server => 'esi_sso');
SELECT esi.put_fleet_squad(:ayla, :fleet, 3000000000101, 'Bravo', server => 'esi_sso');
-- invite Dax into the new squad, move Cira there
SELECT esi.post_fleet_members(:ayla, :fleet, :dax, 'squad_member', 3000000000101, 2000000000101,
                              server => 'esi_sso');
SELECT esi.put_fleet_member(:ayla, :fleet, :cira, 'squad_commander', 3000000000101, 2000000000101,
                            server => 'esi_sso');
SELECT method, request, body, status FROM sim.wrote WHERE seq > :s ORDER BY seq;
SELECT is_free_move, motd FROM eve_sso.fleet_details
 WHERE fleet_id = :fleet AND as_character_id = :ayla;
SELECT id, name, squads FROM eve_sso.fleet_wings
 WHERE fleet_id = :fleet AND as_character_id = :ayla ORDER BY id;
SELECT character_id, role, wing_id, squad_id FROM eve_sso.fleet_members
 WHERE fleet_id = :fleet AND as_character_id = :ayla ORDER BY character_id;
-- Cira sees her new place
SELECT fleet_id, fleet_boss_id, role, wing_id, squad_id FROM eve_sso.character_fleet
 WHERE character_id = :cira;
-- kick Dax, put Cira back, delete the empty squad and wing
SELECT sim.last_write() AS s \gset
SELECT esi.delete_fleet_member(:ayla, :fleet, :dax, server => 'esi_sso');
SELECT esi.put_fleet_member(:ayla, :fleet, :cira, 'squad_member', :squad1, :wing1, server => 'esi_sso');
SELECT esi.delete_fleet_squad(:ayla, :fleet, 3000000000101, server => 'esi_sso');
SELECT esi.delete_fleet_wing(:ayla, :fleet, 2000000000101, server => 'esi_sso');
SELECT method, request, body, status FROM sim.wrote WHERE seq > :s ORDER BY seq;
SELECT id, name, squads FROM eve_sso.fleet_wings
 WHERE fleet_id = :fleet AND as_character_id = :ayla ORDER BY id;
SELECT character_id, role, wing_id, squad_id FROM eve_sso.fleet_members
 WHERE fleet_id = :fleet AND as_character_id = :ayla ORDER BY character_id;

--
-- the game client: no GET route shows these; the simulator lists what
-- Ayla's client got
--
SELECT sim.last_write() AS s \gset
SELECT esi.post_ui_autopilot_waypoint(:ayla, false, true, 30000142, server => 'esi_sso');
SELECT esi.post_ui_openwindow_contract(:ayla, 123456, server => 'esi_sso');
SELECT esi.post_ui_openwindow_information(:ayla, :boris, server => 'esi_sso');
SELECT esi.post_ui_openwindow_marketdetails(:ayla, 34, server => 'esi_sso');
SELECT esi.post_ui_openwindow_newmail(:ayla, 'See you there', ARRAY[:boris, :cira], 'Op',
                                      server => 'esi_sso');
SELECT method, request, body, status FROM sim.wrote WHERE seq > :s ORDER BY seq;
SELECT action, target_id, add_to_beginning, clear_other_waypoints, subject, body, recipients
  FROM sim.ui WHERE character_id = :ayla ORDER BY seq;

--
-- a write ESI refuses: its status, the method, the request and the function;
-- ESI's text, and that the write did not happen
--
SELECT sim.last_write() AS s \gset
SELECT esi.delete_character_fitting(:ayla, 12345, server => 'esi_sso');
\echo :LAST_ERROR_SQLSTATE
SELECT method, request, body, status FROM sim.wrote WHERE seq > :s ORDER BY seq;

--
-- a write whose reply is lost: ESI got it and acted, the answer never came
-- back.  It may have happened: 08007, and it is not sent again.
--
SELECT sim.last_write() AS s \gset
SELECT id > 0 AS armed FROM sim.write_fault
 WHERE path = '/characters/' || :ayla || '/contacts' AND kind = 'drop_after_request'
   AND method = 'DELETE';
SELECT esi.delete_character_contacts(:ayla, ARRAY[:boris], server => 'esi_sso');
\echo :LAST_ERROR_SQLSTATE
-- one request: ESI answered 204, the simulator dropped the answer
SELECT method, request, body, status, fault FROM sim.wrote WHERE seq > :s ORDER BY seq;
-- it did happen at ESI
SELECT count(*) AS boris_left FROM eve_sso.character_contacts
 WHERE character_id = :ayla AND contact_id = :boris;

-- an error reply: the write did not happen (and is not sent again either)
SELECT sim.last_write() AS s \gset
SELECT id > 0 AS armed FROM sim.write_fault
 WHERE path = '/characters/' || :ayla || '/contacts' AND kind = 'status' AND status = 400
   AND method = 'POST';
SELECT * FROM esi.post_character_contacts(:ayla, 1.0, ARRAY[90000004], server => 'esi_sso');
\echo :LAST_ERROR_SQLSTATE
SELECT method, request, body, status FROM sim.wrote WHERE seq > :s ORDER BY seq;
SELECT count(*) AS added FROM eve_sso.character_contacts
 WHERE character_id = :ayla AND contact_id = 90000004;

--
-- inside a transaction block a write is refused before anything is sent
-- (a rollback could not undo it) ...
--
SELECT sim.last_write() AS s \gset
BEGIN;
SELECT esi.delete_character_contacts(:ayla, ARRAY[:cira], server => 'esi_sso');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
SELECT count(*) AS sent FROM sim.wrote WHERE seq > :s;
-- ... unless esi_fdw.writes_in_transaction_block is on: then it is sent at
-- once, and the rollback does not undo it at ESI
SET esi_fdw.writes_in_transaction_block = on;
BEGIN;
SELECT esi.delete_character_contacts(:ayla, ARRAY[:cira], server => 'esi_sso');
ROLLBACK;
RESET esi_fdw.writes_in_transaction_block;
SELECT method, request, body, status FROM sim.wrote WHERE seq > :s ORDER BY seq;
SELECT count(*) AS cira_left FROM eve_sso.character_contacts
 WHERE character_id = :ayla AND contact_id = :cira;

--
-- scope and role: refused before anything is sent
--
SELECT sim.last_write() AS s \gset
-- Boris logged in without the write scope
SELECT * FROM esi.post_character_contacts(:boris, 1.0, ARRAY[90000001], server => 'esi_sso');
\echo :LAST_ERROR_SQLSTATE
-- another role: the write functions are not PUBLIC's ...
CREATE ROLE regress_writes_other;
GRANT USAGE ON SCHEMA esi TO regress_writes_other;
GRANT USAGE ON FOREIGN SERVER esi_sso TO regress_writes_other;
SET ROLE regress_writes_other;
SELECT * FROM esi.post_character_contacts(:ayla, 1.0, ARRAY[90000001], server => 'esi_sso');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
-- ... and granted EXECUTE, it still may not act for a character another
-- role logged in
GRANT EXECUTE ON FUNCTION esi.post_character_contacts TO regress_writes_other;
SET ROLE regress_writes_other;
SELECT * FROM esi.post_character_contacts(:ayla, 1.0, ARRAY[90000001], server => 'esi_sso');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT count(*) AS sent FROM sim.wrote WHERE seq > :s;
REVOKE ALL ON FUNCTION esi.post_character_contacts FROM regress_writes_other;
REVOKE ALL ON FOREIGN SERVER esi_sso FROM regress_writes_other;
REVOKE ALL ON SCHEMA esi FROM regress_writes_other;
DROP ROLE regress_writes_other;

--
-- every one of the 35 routes that are not GET was called above and
-- answered with success (writes calls the lookups too)
--
SELECT c.method, c.route, c.table_name AS function, count(w.seq) > 0 AS called
  FROM esi.catalog() c
  LEFT JOIN sim.writes w ON w.method = c.method AND w.route = c.route
                        AND w.status BETWEEN 200 AND 299
 WHERE c.method <> 'GET'
 GROUP BY 1, 2, 3 ORDER BY 2, 1;
SELECT count(*) AS routes, count(*) FILTER (WHERE EXISTS (
         SELECT FROM sim.writes w WHERE w.method = c.method AND w.route = c.route
                                    AND w.status BETWEEN 200 AND 299)) AS called
  FROM esi.catalog() c WHERE c.method <> 'GET';

-- log out (the refresh tokens are revoked at SSO and forgotten), and leave
-- the simulator as the next files expect it
SELECT esi.logout('esi_sso', c) FROM unnest(ARRAY[:ayla, :boris, :cira]::bigint[]) c;
SELECT count(*) AS logins FROM esi.sso_characters;
SELECT reset FROM sim.reset;
SELECT reset FROM sim.sso_reset;
