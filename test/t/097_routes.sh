#!/usr/bin/env bash
# test/t/097_routes.sh - each of ESI's 35 POST, PUT and DELETE routes called
# through its function at least once (issue 10, item 7): what the function
# returns, the exact request the simulator got (/_sim/writes), and, where
# the state shows in a GET route, the foreign table reading it back (cache
# off on those tables).  Also: POST /route cached like a GET (the key holds
# the body), asset names and locations batched above 1000 ids for a
# character and a corporation, unknown ids as a NOTICE, and the error text
# of a refused write naming its method and function.  Prints TAP.
set -uo pipefail
export LC_ALL=C
: "${PGHOST:?}" "${PGPORT:?}" "${PGUSER:?}" "${ESI_SIM_URL:?}"
TEST_DIR=${TEST_DIR:-$(mktemp -d)}
mkdir -p "$TEST_DIR"
DB=t_routes
# shellcheck source=test/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=test/tap.sh
. "$(dirname "$0")/../tap.sh"
# shellcheck source=test/simlib.sh
. "$(dirname "$0")/../simlib.sh"

AYLA=2112625428
BORIS=2112625429
CIRA=2112625430
DAX=2112625431
CORP=98000001
FLEET=1000000000001
WING1=2000000000001
SQUAD1=3000000000001
AYLA_SCOPES="'esi-assets.read_assets.v1', 'esi-assets.read_corporation_assets.v1',
 'esi-characters.read_corporation_roles.v1', 'esi-calendar.respond_calendar_events.v1',
 'esi-calendar.read_calendar_events.v1', 'esi-characters.write_contacts.v1',
 'esi-characters.read_contacts.v1', 'esi-fittings.write_fittings.v1',
 'esi-fittings.read_fittings.v1', 'esi-mail.send_mail.v1', 'esi-mail.organize_mail.v1',
 'esi-mail.read_mail.v1', 'esi-fleets.write_fleet.v1', 'esi-fleets.read_fleet.v1',
 'esi-ui.write_waypoint.v1', 'esi-ui.open_window.v1'"

finish() {
	sim /_sim/sso/reset >/dev/null 2>&1
	sim /_sim/reset >/dev/null 2>&1
}
trap finish EXIT

sim /_sim/sso/reset >/dev/null
sim /_sim/reset >/dev/null
# The tables that read state back skip the cache; the functions use it
# (the cluster's default may be off: turned on for this database).
simlib_setup_db \
	"ALTER SERVER esi OPTIONS (ADD sso_url '$ESI_SIM_URL', ADD sso_client_id 'sim-native-client', ADD sso_redirect_uri 'http://localhost/callback')" \
	"ALTER DATABASE $DB SET esi_fdw.cache = on" \
	"IMPORT FOREIGN SCHEMA \"all\" LIMIT TO (character_assets, corporation_assets, character_calendar,
	   character_contacts, character_fittings, character_mail, character_mail_labels, character_fleet)
	 FROM SERVER esi INTO public" \
	"DO \$\$DECLARE t regclass; BEGIN
	   FOR t IN SELECT ftrelid::regclass FROM pg_foreign_table
	             WHERE ftrelid::regclass::text LIKE 'character%' OR ftrelid::regclass::text LIKE 'corporation%'
	   LOOP EXECUTE format('ALTER FOREIGN TABLE %s OPTIONS (ADD cache %L)', t, 'off'); END LOOP; END\$\$"

login() {
	local url loc
	url=$(q "SELECT esi.login('esi', $2)") || { echo "$url"; return 1; }
	loc=$(curl -sS -o /dev/null -w '%{redirect_url}' "$url&character_id=$1") || return 1
	q "SELECT character_id FROM esi.login_callback('$loc')"
}
last_seq() { python3 "$(dirname "$0")/../simlog.py" "$ESI_SIM_URL" seq; }
# wrote SEQ - the POST, PUT and DELETE requests ESI got after SEQ, one a
# line: METHOD PATH[?QUERY] BODY (JSON with sorted keys, or -) STATUS
wrote() {
	sim "/_sim/writes?since=$1" | python3 -c '
import json, sys
for e in json.load(sys.stdin):
    b = e["body"]
    if b:
        try:
            b = json.dumps(json.loads(b), sort_keys=True, separators=(",", ":"))
        except ValueError:
            pass
    q = "?" + e["query"] if e["query"] else ""
    print(e["method"], e["path"] + q, b or "-", e["status"])'
}
# ctl NAME [QUERY] [KEYS] - a /_sim control list as lines of the given keys
ctl() {
	sim "/_sim/$1${2:+?$2}" | python3 -c '
import json, sys
keys = sys.argv[1].split(",")
for r in json.load(sys.stdin):
    print(" ".join(str(r.get(k)) for k in keys))' "$3"
}
lines() { tr '\n' ' ' | sed 's/ $//'; }

out=$(login $AYLA "ARRAY[$AYLA_SCOPES]")
expect "Ayla logs in with the scopes of every route" "$out" "$AYLA"
out=$(login $BORIS "ARRAY['esi-mail.read_mail.v1']")
expect "Boris logs in to read his mail" "$out" "$BORIS"
out=$(login $CIRA "ARRAY['esi-fleets.read_fleet.v1']")
expect "Cira logs in to read her fleet" "$out" "$CIRA"

# --- the public lookups ------------------------------------------------------------
s=$(last_seq)
out=$(q "SELECT id, category, name FROM esi.post_universe_names(ARRAY[$BORIS, 30000142, 34])" | lines)
expect "post_universe_names: names in input order" "$out" \
	"$BORIS|character|Boris Sim 30000142|solar_system|Jita 34|inventory_type|Tritanium" "log:$s"
expect "... one request with the ids" "$(wrote "$s")" "POST /universe/names [$BORIS,30000142,34] 200"
s=$(last_seq)
out=$(q "SELECT category, id FROM esi.post_universe_ids(ARRAY['Sim Industries', 'Jita'])" | lines)
expect "post_universe_ids" "$out" "corporation|$CORP solar_system|30000142" "log:$s"
expect "... one request with the names" "$(wrote "$s")" 'POST /universe/ids ["Sim Industries","Jita"] 200'
# names of five categories (members of ESI's reply, read by decode.c), rows
# in input order, the unknown name left out
s=$(last_seq)
out=$(q "SET client_min_messages = warning" "SELECT category, id, name FROM esi.post_universe_ids(ARRAY['caldari state', 'Jita',
	'No Such Place', 'The Forge', 'Sim Industries', 'Tritanium'])" | lines)
expect "post_universe_ids: five categories in input order" "$out" \
	"faction|500001|Caldari State solar_system|30000142|Jita region|10000002|The Forge corporation|$CORP|Sim Industries inventory_type|34|Tritanium" "log:$s"
# a broken reply to the lookup: the decoder's error, with its SQLSTATE
s=$(last_seq)
sim "/_sim/fault?path=/universe/ids&kind=malformed&method=POST" >/dev/null
out=$(q "SELECT category, id FROM esi.post_universe_ids(ARRAY['Sim Industries', 'Jita'])")
# (the simulator cuts the reply in half and adds a ']', here inside a string)
expect "post_universe_ids, the reply broken: refused as invalid JSON (HV00A)" "$(echo "$out" | grep -v '^LOCATION:')" \
	"ERROR:  HV00A: invalid JSON in ESI reply for route /universe/ids
DETAIL:  unexpected end of input at byte 51 of 51, near \"im Indust]\".
HINT:  ESI or a proxy sent a broken reply; run the query again, and check the server's base_url option if it persists." "log:$s"
expect "... one request" "$(wrote "$s")" 'POST /universe/ids ["Sim Industries","Jita"] 200'
out=$(q "SELECT category, id FROM esi.post_universe_ids(ARRAY['Sim Industries', 'Jita'])" | lines)
expect "... asked again: the whole answer (the broken one was not kept)" "$out" "corporation|$CORP solar_system|30000142"
s=$(last_seq)
out=$(q "SELECT character_id, corporation_id, alliance_id FROM esi.post_character_affiliation(ARRAY[$DAX, $AYLA])" | lines)
expect "post_character_affiliation" "$out" "$DAX|98000002| $AYLA|$CORP|99000001" "log:$s"
expect "... one request" "$(wrote "$s")" "POST /characters/affiliation [$DAX,$AYLA] 200"

# --- POST /route: cached like a GET, the body in the key ----------------------------
# (the cache is the cluster's: pg_regress's writes_character may have cached
# these very calls when it ran before in the same cluster)
q "SELECT esi.cache_clear() >= 0" >/dev/null
s=$(last_seq)
out=$(q "SELECT array_agg(route_id) FROM esi.post_route(30000142, 30002187,
	connections => '[{\"from\": 30000142, \"to\": 30002187}]')")
expect "post_route with a connection: the direct route" "$out" "{30000142,30002187}" "log:$s"
expect "... one request with the body" "$(wrote "$s")" \
	'POST /route/30000142/30002187 {"connections":[{"from":30000142,"to":30002187}]} 200'
s=$(last_seq)
out=$(q "SELECT array_agg(route_id) FROM esi.post_route(30000142, 30002187,
	connections => '[{\"from\": 30000142, \"to\": 30002187}]')")
expect "the same call again: the same route" "$out" "{30000142,30002187}"
expect "... from the cache: nothing sent" "$(wrote "$s")" "" "log:$s"
s=$(last_seq)
out=$(q "SELECT (array_agg(route_id))[1], (array_agg(route_id ORDER BY ordinality DESC))[1], count(*) > 2
	FROM esi.post_route(30000142, 30002187, preference => 'Safer') WITH ORDINALITY")
expect "another body (preference Safer): a route through the gates" "$out" "30000142|30002187|t"
expect "... sent, since the body is part of the key" "$(wrote "$s")" \
	'POST /route/30000142/30002187 {"preference":"Safer"} 200'

# --- asset names and locations: batches of 1000, input order ------------------------
for owner in character corporation; do
	if [ $owner = character ]; then id=$AYLA; else id=$CORP; fi
	# (not n: tap.sh counts with it)
	nitems=$(q "SELECT count(*) FROM ${owner}_assets WHERE ${owner}_id = $id")
	batches=$(( (nitems + 999) / 1000 ))
	s=$(last_seq)
	out=$(q "SELECT count(*), count(*) FILTER (WHERE name <> 'None') > 0,
	        bool_and(r.item_id = a.item_id), count(DISTINCT r.item_id)
	   FROM (SELECT *, row_number() OVER () AS o FROM esi.post_${owner}_assets_names($id,
	          ARRAY(SELECT item_id FROM ${owner}_assets WHERE ${owner}_id = $id ORDER BY item_id DESC))) r
	   JOIN (SELECT item_id, row_number() OVER (ORDER BY item_id DESC) AS o
	           FROM ${owner}_assets WHERE ${owner}_id = $id) a USING (o)")
	expect "post_${owner}_assets_names: $nitems items ($batches batches), named, in input order" \
		"$out" "$nitems|t|t|$nitems" "log:$s"
	out=$(wrote "$s" | python3 -c '
import json, sys
print(" ".join("%s %s %d %s" % (l.split(" ")[0], l.split(" ")[1], len(json.loads(l.split(" ")[2])), l.split(" ")[3])
               for l in sys.stdin.read().splitlines()))')
	want=$(python3 -c "
n = $nitems
print(' '.join('POST /${owner}s/$id/assets/names %d 200' % min(1000, n - k) for k in range(0, n, 1000)))")
	# the batches run concurrently: compare them as a set
	expect "... $batches requests of at most 1000 ids" \
		"$(tr ' ' '\n' <<<"$out" | paste -d' ' - - - - | sort | lines)" \
		"$(tr ' ' '\n' <<<"$want" | paste -d' ' - - - - | sort | lines)" "log:$s"
	s=$(last_seq)
	out=$(q "SELECT count(*), bool_and(position = '{\"x\": 0.0, \"y\": 0.0, \"z\": 0.0}')
	   FROM esi.post_${owner}_assets_locations($id,
	          ARRAY(SELECT item_id FROM ${owner}_assets WHERE ${owner}_id = $id) || 1999999999::bigint)" 2>&1)
	expect_match "post_${owner}_assets_locations: an unknown id is a NOTICE, the others answered" \
		"$out" "NOTICE:  00000: ESI does not know 1 of the $((nitems + 1)) ids given to post_${owner}_assets_locations.*Not found: 1999999999\..*$nitems\|t" "log:$s"
done

# --- cspa ----------------------------------------------------------------------------
pilot=$(cd "$(dirname "$0")/.." && python3 -c "
from sim.writes import cspa_charge
print(next(i for i in range(90000000, 90001000) if cspa_charge(i)))")
charge=$(cd "$(dirname "$0")/.." && python3 -c "
from sim.writes import cspa_charge
print(cspa_charge($pilot))")
s=$(last_seq)
out=$(q "SELECT esi.post_character_cspa($AYLA, ARRAY[$BORIS, $pilot])")
expect "post_character_cspa: the summed charge" "$out" "$charge" "log:$s"
expect "... one request" "$(wrote "$s")" "POST /characters/$AYLA/cspa [$BORIS,$pilot] 201"

# --- contacts --------------------------------------------------------------------------
s=$(last_seq)
out=$(q "SELECT * FROM esi.post_character_contacts($AYLA, 2.5, ARRAY[90000007, 99000001])" | lines)
expect "post_character_contacts: the ids added" "$out" "90000007 99000001" "log:$s"
expect "... one request" "$(wrote "$s")" \
	"POST /characters/$AYLA/contacts?standing=2.5 [90000007,99000001] 201"
s=$(last_seq)
out=$(q "SELECT esi.put_character_contacts($AYLA, -5, ARRAY[90000007], label_ids => ARRAY[2], watched => true)")
expect "put_character_contacts returns nothing" "$out" ""
expect "... one request" "$(wrote "$s")" \
	"PUT /characters/$AYLA/contacts?standing=-5&label_ids=2&watched=true [90000007] 204" "log:$s"
out=$(q "SELECT contact_id, contact_type, standing, label_ids, is_watched FROM character_contacts
	WHERE character_id = $AYLA AND contact_id IN (90000007, 99000001) ORDER BY 1" | lines)
expect "... character_contacts shows both" "$out" \
	"90000007|character|-5|[2]|t 99000001|alliance|2.5||"
s=$(last_seq)
out=$(q "SELECT esi.delete_character_contacts($AYLA, ARRAY[90000007, 99000001])")
expect "delete_character_contacts" "$out" ""
expect "... one request" "$(wrote "$s")" \
	"DELETE /characters/$AYLA/contacts?contact_ids=90000007%2C99000001 - 204" "log:$s"
out=$(q "SELECT count(*) FROM character_contacts WHERE character_id = $AYLA AND contact_id IN (90000007, 99000001)")
expect "... and they are gone" "$out" "0"

# --- fittings --------------------------------------------------------------------------
ITEMS='[{"flag": "HiSlot0", "quantity": 1, "type_id": 3001}, {"flag": "Cargo", "quantity": 50, "type_id": 34}]'
s=$(last_seq)
fit=$(q "SELECT * FROM esi.post_character_fittings($AYLA, 'For the op', '$ITEMS', 'Op Rifter', 587)")
expect "post_character_fittings: the new fitting's id" "$fit" "90000001" "log:$s"
expect "... one request" "$(wrote "$s")" \
	"POST /characters/$AYLA/fittings {\"description\":\"For the op\",\"items\":[{\"flag\":\"HiSlot0\",\"quantity\":1,\"type_id\":3001},{\"flag\":\"Cargo\",\"quantity\":50,\"type_id\":34}],\"name\":\"Op Rifter\",\"ship_type_id\":587} 201"
out=$(q "SELECT name, description, ship_type_id, items = '$ITEMS'::jsonb FROM character_fittings
	WHERE character_id = $AYLA AND fitting_id = $fit")
expect "... character_fittings shows it" "$out" "Op Rifter|For the op|587|t"
s=$(last_seq)
out=$(q "SELECT esi.delete_character_fitting($AYLA, $fit)")
expect "delete_character_fitting" "$out" ""
expect "... one request" "$(wrote "$s")" "DELETE /characters/$AYLA/fittings/$fit - 204" "log:$s"
out=$(q "SELECT count(*) FROM character_fittings WHERE character_id = $AYLA AND fitting_id = $fit")
expect "... and it is gone" "$out" "0"

# --- mail ------------------------------------------------------------------------------
s=$(last_seq)
mail=$(q "SELECT esi.post_character_mail($AYLA, '<p>Form up at 19:00</p>',
	'[{\"recipient_id\": $BORIS, \"recipient_type\": \"character\"}]', 'Op tonight')")
expect "post_character_mail: the mail's id" "$mail" "500000001" "log:$s"
expect "... one request" "$(wrote "$s")" \
	"POST /characters/$AYLA/mail {\"body\":\"<p>Form up at 19:00</p>\",\"recipients\":[{\"recipient_id\":$BORIS,\"recipient_type\":\"character\"}],\"subject\":\"Op tonight\"} 201"
out=$(q "SELECT subject, label_ids, is_read FROM character_mail WHERE character_id = $AYLA AND mail_id = $mail")
expect "... Ayla's copy is in Sent, read" "$out" "Op tonight|[2]|t"
out=$(q "SELECT from_id, subject, label_ids, is_read FROM character_mail WHERE character_id = $BORIS AND mail_id = $mail")
expect "... Boris's in his Inbox, unread" "$out" "$AYLA|Op tonight|[1]|f"
s=$(last_seq)
label=$(q "SELECT esi.post_character_mail_labels($AYLA, 'Ops', '#ff6600')")
expect "post_character_mail_labels: the label's id" "$label" "16" "log:$s"
expect "... one request" "$(wrote "$s")" \
	"POST /characters/$AYLA/mail/labels {\"color\":\"#ff6600\",\"name\":\"Ops\"} 201"
out=$(q "SELECT l->>'name', l->>'color' FROM character_mail_labels, jsonb_array_elements(labels) l
	WHERE character_id = $AYLA AND (l->>'label_id')::int = $label")
expect "... character_mail_labels shows it" "$out" "Ops|#ff6600"
s=$(last_seq)
out=$(q "SELECT esi.put_character_mail($AYLA, $mail, ARRAY[2, $label], false)")
expect "put_character_mail (labels, read)" "$out" ""
expect "... one request" "$(wrote "$s")" \
	"PUT /characters/$AYLA/mail/$mail {\"labels\":[2,$label],\"read\":false} 204" "log:$s"
out=$(q "SELECT label_ids, is_read FROM character_mail WHERE character_id = $AYLA AND mail_id = $mail")
expect "... character_mail shows the labels and unread" "$out" "[2, $label]|f"
out=$(q "SELECT (SELECT l->>'unread_count' FROM jsonb_array_elements(labels) l WHERE (l->>'label_id')::int = $label)
	FROM character_mail_labels WHERE character_id = $AYLA")
expect "... and the label counts it unread" "$out" "1"
s=$(last_seq)
out=$(q "SELECT esi.delete_character_mail_label($AYLA, $label)")
expect "delete_character_mail_label" "$out" ""
expect "... one request" "$(wrote "$s")" "DELETE /characters/$AYLA/mail/labels/$label - 204" "log:$s"
out=$(q "SELECT count(*) FROM character_mail_labels, jsonb_array_elements(labels) l
	WHERE character_id = $AYLA AND (l->>'label_id')::int = $label" \
	"SELECT label_ids FROM character_mail WHERE character_id = $AYLA AND mail_id = $mail" | lines)
expect "... gone from the labels and from the mail" "$out" "0 [2]"
s=$(last_seq)
out=$(q "SELECT esi.delete_character_mail($AYLA, $mail)")
expect "delete_character_mail" "$out" ""
expect "... one request" "$(wrote "$s")" "DELETE /characters/$AYLA/mail/$mail - 204" "log:$s"
out=$(q "SELECT count(*) FROM character_mail WHERE character_id = $AYLA AND mail_id = $mail")
expect "... and it is gone from Ayla's mail" "$out" "0"

# --- calendar --------------------------------------------------------------------------
ev=$(q "SELECT min(event_id) FROM character_calendar WHERE character_id = $AYLA")
s=$(last_seq)
out=$(q "SELECT esi.put_character_calendar($AYLA, $ev, 'tentative')")
expect "put_character_calendar" "$out" ""
expect "... one request" "$(wrote "$s")" "PUT /characters/$AYLA/calendar/$ev {\"response\":\"tentative\"} 204" "log:$s"
out=$(q "SELECT event_response FROM character_calendar WHERE character_id = $AYLA AND event_id = $ev")
expect "... character_calendar shows the answer" "$out" "tentative"

# --- a fleet -----------------------------------------------------------------------------
s=$(last_seq)
out=$(q "SELECT esi.put_fleet($AYLA, $FLEET, true, 'Form up in Jita')")
expect "put_fleet (settings)" "$out" ""
expect "... one request" "$(wrote "$s")" \
	"PUT /fleets/$FLEET {\"is_free_move\":true,\"motd\":\"Form up in Jita\"} 204" "log:$s"
s=$(last_seq)
wing=$(q "SELECT * FROM esi.post_fleet_wings($AYLA, $FLEET)")
expect "post_fleet_wings: the new wing's id" "$wing" "2000000000101" "log:$s"
expect "... one request" "$(wrote "$s")" "POST /fleets/$FLEET/wings - 201"
s=$(last_seq)
out=$(q "SELECT esi.put_fleet_wing($AYLA, $FLEET, $wing, 'Alpha')")
expect "put_fleet_wing (rename)" "$out" ""
expect "... one request" "$(wrote "$s")" "PUT /fleets/$FLEET/wings/$wing {\"name\":\"Alpha\"} 204" "log:$s"
s=$(last_seq)
squad=$(q "SELECT * FROM esi.post_fleet_wing_squads($AYLA, $FLEET, $wing)")
expect "post_fleet_wing_squads: the new squad's id" "$squad" "3000000000101" "log:$s"
expect "... one request" "$(wrote "$s")" "POST /fleets/$FLEET/wings/$wing/squads - 201"
s=$(last_seq)
out=$(q "SELECT esi.put_fleet_squad($AYLA, $FLEET, $squad, 'Bravo')")
expect "put_fleet_squad (rename)" "$out" ""
expect "... one request" "$(wrote "$s")" "PUT /fleets/$FLEET/squads/$squad {\"name\":\"Bravo\"} 204" "log:$s"
out=$(ctl fleet_wings "" wing_id,wing_name,squad_id,squad_name | lines)
expect "... the fleet has the new wing and squad, named" "$out" \
	"$WING1 Wing 1 $SQUAD1 Squad 1 $WING1 Wing 1 3000000000002 Squad 2 $wing Alpha $squad Bravo"
s=$(last_seq)
out=$(q "SELECT esi.post_fleet_members($AYLA, $FLEET, $DAX, 'squad_member', $squad, $wing)")
expect "post_fleet_members (invite Dax into the new squad)" "$out" ""
expect "... one request" "$(wrote "$s")" \
	"POST /fleets/$FLEET/members {\"character_id\":$DAX,\"role\":\"squad_member\",\"squad_id\":$squad,\"wing_id\":$wing} 204" "log:$s"
out=$(ctl fleets "" character_id,role,wing_id,squad_id | grep "^$DAX ")
expect "... Dax is in the fleet there" "$out" "$DAX squad_member $wing $squad"
s=$(last_seq)
out=$(q "SELECT esi.put_fleet_member($AYLA, $FLEET, $CIRA, 'squad_commander', $squad, $wing)")
expect "put_fleet_member (move Cira)" "$out" ""
expect "... one request" "$(wrote "$s")" \
	"PUT /fleets/$FLEET/members/$CIRA {\"role\":\"squad_commander\",\"squad_id\":$squad,\"wing_id\":$wing} 204" "log:$s"
out=$(q "SELECT fleet_id, fleet_boss_id, role, wing_id, squad_id FROM character_fleet WHERE character_id = $CIRA")
expect "... character_fleet shows Cira's new place" "$out" "$FLEET|$AYLA|squad_commander|$wing|$squad"
s=$(last_seq)
out=$(q "SELECT esi.delete_fleet_member($AYLA, $FLEET, $DAX)")
expect "delete_fleet_member (kick Dax)" "$out" ""
expect "... one request" "$(wrote "$s")" "DELETE /fleets/$FLEET/members/$DAX - 204" "log:$s"
out=$(ctl fleets "" character_id | grep -c "^$DAX$")
expect "... Dax is out" "$out" "0"
q "SELECT esi.put_fleet_member($AYLA, $FLEET, $CIRA, 'squad_member', $SQUAD1, $WING1)" >/dev/null
s=$(last_seq)
out=$(q "SELECT esi.delete_fleet_squad($AYLA, $FLEET, $squad)")
expect "delete_fleet_squad (now empty)" "$out" ""
expect "... one request" "$(wrote "$s")" "DELETE /fleets/$FLEET/squads/$squad - 204" "log:$s"
s=$(last_seq)
out=$(q "SELECT esi.delete_fleet_wing($AYLA, $FLEET, $wing)")
expect "delete_fleet_wing" "$out" ""
expect "... one request" "$(wrote "$s")" "DELETE /fleets/$FLEET/wings/$wing - 204" "log:$s"
out=$(ctl fleet_wings "" wing_id | sort -u | lines)
expect "... the fleet is back to its one wing" "$out" "$WING1"

# --- the game client ---------------------------------------------------------------------
s=$(last_seq)
out=$(q "SELECT esi.post_ui_autopilot_waypoint($AYLA, false, true, 30000142)" \
	"SELECT esi.post_ui_openwindow_contract($AYLA, 123456)" \
	"SELECT esi.post_ui_openwindow_information($AYLA, $BORIS)" \
	"SELECT esi.post_ui_openwindow_marketdetails($AYLA, 34)" \
	"SELECT esi.post_ui_openwindow_newmail($AYLA, 'See you there', ARRAY[$BORIS, $CIRA], 'Op')" | lines)
expect "the five UI functions return nothing" "$out" "    "
expect "... five requests, in order" "$(wrote "$s")" \
	"POST /ui/autopilot/waypoint?add_to_beginning=false&clear_other_waypoints=true&destination_id=30000142 - 204
POST /ui/openwindow/contract?contract_id=123456 - 204
POST /ui/openwindow/information?target_id=$BORIS - 204
POST /ui/openwindow/marketdetails?type_id=34 - 204
POST /ui/openwindow/newmail {\"body\":\"See you there\",\"recipients\":[$BORIS,$CIRA],\"subject\":\"Op\"} 204" "log:$s"
out=$(ctl ui "character_id=$AYLA" action,target_id,add_to_beginning,clear_other_waypoints,subject,recipients)
expect "... and Ayla's client got them" "$out" \
	"waypoint 30000142 False True None None
contract 123456 None None None None
information $BORIS None None None None
marketdetails 34 None None None None
newmail None None None Op $BORIS,$CIRA"

# --- a refused write: the error names the method and the function --------------------------
s=$(last_seq)
out=$(q "SELECT esi.delete_character_fitting($AYLA, 12345)")
expect_match "a refused write: ESI's status, method, request and function" "$out" \
	"ERROR:  HV000: ESI returned HTTP 404 for DELETE /characters/$AYLA/fittings/12345 \(function delete_character_fitting\)" "log:$s"
expect_match "... ESI's text, the hint for a function, and that it did not happen" "$out" \
	"DETAIL:  ESI said: Fitting not found.*HINT:  Check the ids given to the function.*CONTEXT:  DELETE /characters/$AYLA/fittings/12345 \(not sent: the write did not happen\)"
expect "... one request" "$(wrote "$s")" "DELETE /characters/$AYLA/fittings/12345 - 404"
s=$(last_seq)
out=$(q "SELECT * FROM esi.post_route(30000142, 30999999)")
expect_match "a refused lookup names its method and function too" "$out" \
	"ERROR:  HV000: ESI returned HTTP 404 for POST /route/30000142/30999999 \(function post_route\)" "log:$s"

[ "$failures" -eq 0 ] && simlib_drop_db
echo "1..$n"
[ "$failures" -eq 0 ]
