#!/usr/bin/env bash
# test/t/096_writable.sh - a character's contacts and fittings as writable
# foreign tables (issue 10, item 3): INSERT, UPDATE and DELETE round-trip
# through the GET tables; contacts batched (rows with the same settings in one
# request, at most ESI's maxItems); RETURNING fitting_id; DELETE ... WHERE
# standing < 0; a lost reply reported as "may have happened" and sent once;
# the transaction-block refusal; scope and role errors; read-only tables
# refused; EXPLAIN shows the requests.  Prints TAP.
set -uo pipefail
export LC_ALL=C
: "${PGHOST:?}" "${PGPORT:?}" "${PGUSER:?}" "${ESI_SIM_URL:?}"
TEST_DIR=${TEST_DIR:-$(mktemp -d)}
mkdir -p "$TEST_DIR"
DB=t_writable
# shellcheck source=test/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=test/tap.sh
. "$(dirname "$0")/../tap.sh"
# shellcheck source=test/simlib.sh
. "$(dirname "$0")/../simlib.sh"

AYLA=2112625428
BORIS=2112625429
SCOPES="'esi-characters.write_contacts.v1', 'esi-characters.read_contacts.v1', 'esi-fittings.read_fittings.v1', 'esi-fittings.write_fittings.v1', 'esi-mail.read_mail.v1'"

finish() {
	sim /_sim/sso/reset >/dev/null 2>&1
	sim /_sim/reset >/dev/null 2>&1
	"$PSQL" -X -q -d postgres -c "DROP ROLE IF EXISTS writable_b" >/dev/null 2>&1
}
trap finish EXIT

sim /_sim/sso/reset >/dev/null
sim /_sim/reset >/dev/null
simlib_setup_db \
	"ALTER SERVER esi OPTIONS (ADD sso_url '$ESI_SIM_URL', ADD sso_client_id 'sim-native-client', ADD sso_redirect_uri 'http://localhost/callback')"

login() {
	local url loc
	url=$(q "SELECT esi.login('esi', $2)") || { echo "$url"; return 1; }
	loc=$(curl -sS -o /dev/null -w '%{redirect_url}' "$url&character_id=$1") || return 1
	q "SELECT character_id FROM esi.login_callback('$loc')"
}
last_seq() { python3 "$(dirname "$0")/../simlog.py" "$ESI_SIM_URL" seq; }
# writes_since SEQ - the POST/PUT/DELETE requests ESI got after SEQ, one a
# line: METHOD path?query body-length-in-ids
writes_since() {
	sim "/_sim/writes?since=$1" | python3 -c '
import json, sys
for e in json.load(sys.stdin):
    b = e.get("body")
    n = len(json.loads(b)) if b and b.startswith("[") else "-"
    print(e["method"], e["path"] + ("?" + e["query"] if e.get("query") else ""), n)'
}
nwrites() { writes_since "$1" | grep -c .; }

out=$(login $AYLA "ARRAY[$SCOPES]")
expect "Ayla logs in with the contacts and fittings scopes" "$out" "$AYLA"

# the GET tables, uncached: each read shows what ESI holds now
out=$(q "IMPORT FOREIGN SCHEMA contacts LIMIT TO (character_contacts, character_contact_labels) FROM SERVER esi INTO public" \
	"IMPORT FOREIGN SCHEMA fittings LIMIT TO (character_fittings) FROM SERVER esi INTO public" \
	"IMPORT FOREIGN SCHEMA mail LIMIT TO (character_mail) FROM SERVER esi INTO public" \
	"ALTER FOREIGN TABLE character_contacts OPTIONS (ADD cache 'off')" \
	"ALTER FOREIGN TABLE character_fittings OPTIONS (ADD cache 'off')")
expect "the tables are imported" "$out" ""

out=$(q "SELECT table_name, is_insertable_into FROM information_schema.tables WHERE table_name IN ('character_contacts', 'character_fittings', 'character_mail') ORDER BY 1" | tr '\n' ' ')
expect "information_schema: contacts and fittings are insertable, mail is not" "$out" \
	"character_contacts|YES character_fittings|YES character_mail|NO "

# --- INSERT: batched per character and settings ------------------------------------
s=$(last_seq)
out=$(q "INSERT INTO character_contacts (character_id, contact_id, standing, label_ids) VALUES
	($AYLA, 90000101, 5, '[1]'), ($AYLA, 90000102, -5, NULL), ($AYLA, 90000103, 5, '[1]'),
	($AYLA, 90000104, -5, NULL), ($AYLA, 90000105, 5, '[1]')")
expect "INSERT of 5 contacts with 2 settings" "$out" "" "log:$s"
expect "... is 2 POST requests, one per settings, in the order of their first row" \
	"$(writes_since "$s" | tr '\n' ' ')" \
	"POST /characters/$AYLA/contacts?standing=5&label_ids=1 3 POST /characters/$AYLA/contacts?standing=-5 2 " "log:$s"
out=$(q "SELECT contact_id, standing, label_ids FROM character_contacts WHERE character_id = $AYLA AND contact_id BETWEEN 90000101 AND 90000105 ORDER BY 1" | tr '\n' ' ')
expect "... and the GET table shows them" "$out" \
	"90000101|5|[1] 90000102|-5| 90000103|5|[1] 90000104|-5| 90000105|5|[1] "

s=$(last_seq)
out=$(q "INSERT INTO character_contacts (character_id, contact_id, standing) SELECT $AYLA, g, 1 FROM generate_series(90001001, 90001250) g")
expect "INSERT of 250 contacts with one setting" "$out" "" "log:$s"
expect "... is 3 requests of at most 100 ids (ESI's maxItems)" "$(writes_since "$s" | awk '{print $3}' | tr '\n' ' ')" \
	"100 100 50 " "log:$s"
out=$(q "SELECT count(*) FROM character_contacts WHERE character_id = $AYLA AND contact_id BETWEEN 90001001 AND 90001250 AND standing = 1")
expect "... and all 250 are there" "$out" "250"

s=$(last_seq)
out=$(q "INSERT INTO character_contacts (character_id, contact_id, standing) VALUES ($AYLA, 90000106, 2), ($AYLA, 42, 2)")
expect_match "an id ESI does not add is a WARNING naming it" "$out" "WARNING:  01000: ESI added 1 of the 2 contacts sent for character $AYLA.*Not added: 42"

s=$(last_seq)
out=$(printf '%s\t%s\t%s\n' $AYLA 90000601 6 $AYLA 90000602 6 |
	"$PSQL" -X -q -d "$DB" -v ON_ERROR_STOP=1 -c "COPY character_contacts (character_id, contact_id, standing) FROM STDIN" 2>&1)
expect "COPY into character_contacts" "$out" "" "log:$s"
expect "... is one POST" "$(writes_since "$s" | tr '\n' ' ')" "POST /characters/$AYLA/contacts?standing=6 2 " "log:$s"
s=$(last_seq)
out=$(q "INSERT INTO character_contacts (character_id, contact_id, standing) VALUES ($AYLA, 90000603, 6), ($AYLA, 90000604, 6) RETURNING contact_id, standing" | tr '\n' ' ')
expect "INSERT ... RETURNING of contacts returns the rows" "$out" "90000603|6 90000604|6 " "log:$s"
expect "... sent in one POST all the same" "$(nwrites "$s")" "1" "log:$s"

# --- UPDATE: PUT, batched the same way -----------------------------------------------
s=$(last_seq)
out=$(q "UPDATE character_contacts SET standing = 7.5, is_watched = true WHERE character_id = $AYLA AND contact_id IN (90000101, 90000103, 90000105)")
expect "UPDATE of 3 contacts" "$out" "" "log:$s"
expect "... is one PUT with the new settings" "$(writes_since "$s" | tr '\n' ' ')" \
	"PUT /characters/$AYLA/contacts?standing=7.5&label_ids=1&watched=true 3 " "log:$s"
out=$(q "SELECT contact_id, standing, is_watched, label_ids FROM character_contacts WHERE character_id = $AYLA AND contact_id IN (90000101, 90000103, 90000105) ORDER BY 1" | tr '\n' ' ')
expect "... and the GET table shows them (labels kept)" "$out" \
	"90000101|7.5|t|[1] 90000103|7.5|t|[1] 90000105|7.5|t|[1] "
out=$(q "UPDATE character_contacts SET contact_type = 'alliance' WHERE character_id = $AYLA")
expect_match "UPDATE of a column ESI does not change: 0A000 with a HINT" "$out" \
	"ERROR:  0A000: column \"contact_type\" of foreign table \"character_contacts\" cannot be updated.*HINT:  ESI sets it"

# --- DELETE ... WHERE standing < 0 ----------------------------------------------------
neg=$(q "SELECT count(*) FROM character_contacts WHERE character_id = $AYLA AND standing < 0")
all=$(q "SELECT count(*) FROM character_contacts WHERE character_id = $AYLA")
s=$(last_seq)
out=$(q "DELETE FROM character_contacts WHERE standing < 0")
expect "DELETE FROM character_contacts WHERE standing < 0" "$out" "" "log:$s"
expect "... sends one DELETE with the ids of the $neg contacts the scan found" \
	"$(writes_since "$s" | awk '{print $1, gsub(/%2C|,/, ",", $2) + 1}')" "DELETE $neg" "log:$s"
out=$(q "SELECT count(*) FILTER (WHERE standing < 0), count(*) FROM character_contacts WHERE character_id = $AYLA")
expect "... and leaves the others" "$out" "0|$((all - neg))"

s=$(last_seq)
out=$(q "DELETE FROM character_contacts WHERE character_id = $AYLA AND contact_id BETWEEN 90001001 AND 90001250 RETURNING contact_id" | wc -l)
expect "DELETE of 250 contacts returns 250 rows (RETURNING)" "$out" "250" "log:$s"
expect "... in 13 requests of at most 20 ids (contact_ids' maxItems)" "$(nwrites "$s")" "13" "log:$s"
out=$(q "SELECT count(*) FROM character_contacts WHERE character_id = $AYLA AND contact_id BETWEEN 90001001 AND 90001250")
expect "... and they are gone" "$out" "0"

# --- fittings: INSERT ... RETURNING fitting_id, DELETE, no UPDATE -----------------------
s=$(last_seq)
fid=$(q "INSERT INTO character_fittings (character_id, name, description, ship_type_id, items) VALUES ($AYLA, 'Test Rifter', 'from SQL', 587, '[{\"flag\": \"Cargo\", \"quantity\": 10, \"type_id\": 34}]') RETURNING fitting_id")
expect_match "INSERT INTO character_fittings ... RETURNING fitting_id gives ESI's id" "$fid" "^[0-9]+$" "log:$s"
expect "... in one POST" "$(writes_since "$s" | tr '\n' ' ')" "POST /characters/$AYLA/fittings - " "log:$s"
out=$(q "SELECT name, description, ship_type_id, items FROM character_fittings WHERE character_id = $AYLA AND fitting_id = ${fid:-0}")
expect "... and the GET table shows it" "$out" 'Test Rifter|from SQL|587|[{"flag": "Cargo", "type_id": 34, "quantity": 10}]'
out=$(q "UPDATE character_fittings SET name = 'x' WHERE character_id = $AYLA")
expect_match "UPDATE of a fitting: 0A000 with a HINT to DELETE and INSERT" "$out" \
	"ERROR:  0A000: cannot update foreign table \"character_fittings\": ESI cannot change a saved fitting.*HINT:  DELETE the fitting and INSERT it again"
s=$(last_seq)
out=$(q "DELETE FROM character_fittings WHERE character_id = $AYLA AND fitting_id = ${fid:-0} RETURNING name")
expect "DELETE of the fitting returns it" "$out" "Test Rifter" "log:$s"
expect "... in one DELETE" "$(writes_since "$s" | tr '\n' ' ')" "DELETE /characters/$AYLA/fittings/${fid:-0} - " "log:$s"
out=$(q "SELECT count(*) FROM character_fittings WHERE character_id = $AYLA AND fitting_id = ${fid:-0}")
expect "... and it is gone" "$out" "0"

# --- EXPLAIN -------------------------------------------------------------------------
out=$(q "EXPLAIN (COSTS OFF) DELETE FROM character_contacts WHERE character_id = $AYLA AND standing < 0")
expect_match "EXPLAIN shows the DELETE request and the batching" "$out" \
	"ESI Write: DELETE /characters/\{character_id\}/contacts\?contact_ids=\{contact_id\},\.\.\..*ESI Write Batching: one request per character_id, at most 20 rows"
s=$(last_seq)
out=$(q "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) UPDATE character_contacts SET standing = 3 WHERE character_id = $AYLA AND contact_id IN (90000101, 90000103)")
expect_match "EXPLAIN ANALYZE counts the requests sent" "$out" "ESI Write Requests: 1.*ESI Rows Written: 2" "log:$s"
expect "... one PUT" "$(nwrites "$s")" "1" "log:$s"

# --- a lost reply --------------------------------------------------------------------
s=$(last_seq)
sim "/_sim/fault?path=/characters/$AYLA/contacts&kind=drop_after_request&method=POST" >/dev/null
out=$(q "INSERT INTO character_contacts (character_id, contact_id, standing) VALUES ($AYLA, 90000201, 4), ($AYLA, 90000202, 4)")
expect_match "a lost reply is reported as may have happened (08007)" "$out" \
	"ERROR:  08007: the reply of ESI to POST /characters/$AYLA/contacts\?standing=4 was lost: the write may have happened" "log:$s"
expect_match "... not sent again, naming the table" "$out" "It is not sent again.*INSERT on foreign table \"character_contacts\"" "log:$s"
expect "... and it was sent exactly once" "$(nwrites "$s")" "1" "log:$s"
out=$(q "SELECT count(*) FROM character_contacts WHERE character_id = $AYLA AND contact_id IN (90000201, 90000202)")
expect "... and it did happen at ESI" "$out" "2"

# --- a broken reply to a write ESI accepted: the write happened (issue 17) --------------
# The reply is read with the scan's decoder, as the functions' (095): the
# scan's error for a reply that is not JSON, and a CONTEXT saying it happened.
s=$(last_seq)
sim "/_sim/fault?path=/characters/$AYLA/contacts&kind=malformed&method=POST" >/dev/null
out=$(q "INSERT INTO character_contacts (character_id, contact_id, standing) VALUES ($AYLA, 90000211, 3), ($AYLA, 90000212, 3)")
expect_match "a malformed reply to INSERT INTO character_contacts: HV00A, a HINT not to send it again, CONTEXT accepted" "$out" \
	"ERROR:  HV00A: invalid JSON in ESI reply for route /characters/\{character_id\}/contacts.*HINT:  ESI or a proxy broke the reply to a write ESI took; check with the matching GET route before sending the write again\..*CONTEXT:  reading ESI's answer to POST /characters/$AYLA/contacts \(accepted: the write happened\)" "log:$s"
expect "... sent once" "$(writes_since "$s" | tr '\n' ' ')" "POST /characters/$AYLA/contacts?standing=3 2 " "log:$s"
out=$(q "SELECT count(*) FROM character_contacts WHERE character_id = $AYLA AND contact_id IN (90000211, 90000212) AND standing = 3")
expect "... and it did happen at ESI" "$out" "2"
s=$(last_seq)
sim "/_sim/fault?path=/characters/$AYLA/fittings&kind=malformed&method=POST" >/dev/null
out=$(q "INSERT INTO character_fittings (character_id, name, description, ship_type_id, items) VALUES ($AYLA, 'Broken Rifter', 'x', 587, '[{\"flag\": \"Cargo\", \"quantity\": 1, \"type_id\": 34}]') RETURNING fitting_id")
expect_match "a malformed reply to INSERT INTO character_fittings: HV00A, CONTEXT accepted" "$out" \
	"ERROR:  HV00A: invalid JSON in ESI reply for route /characters/\{character_id\}/fittings.*HINT:  ESI or a proxy broke the reply to a write ESI took; check with the matching GET route before sending the write again\..*CONTEXT:  reading ESI's answer to POST /characters/$AYLA/fittings \(accepted: the write happened\)" "log:$s"
expect "... sent once" "$(writes_since "$s" | tr '\n' ' ')" "POST /characters/$AYLA/fittings - " "log:$s"
out=$(q "SELECT count(*) FROM character_fittings WHERE character_id = $AYLA AND name = 'Broken Rifter'")
expect "... and it did happen at ESI" "$out" "1"

# --- an error reply in the middle: what was written is said ----------------------------
s=$(last_seq)
out=$(q "INSERT INTO character_contacts (character_id, contact_id, standing) VALUES ($AYLA, 90000301, 1), ($AYLA, 90000302, 99), ($AYLA, 90000303, 2)")
expect_match "an error reply of the second request: ESI's error, and the rows already written" "$out" \
	"ERROR:  .*query\.standing: expected number between -10 and 10.*1 row\(s\) already written at ESI by earlier requests of this statement.*1 row\(s\) not sent" "log:$s"
expect "... after 2 requests (the third not sent)" "$(nwrites "$s")" "2" "log:$s"

# --- transaction blocks -----------------------------------------------------------------
s=$(last_seq)
out=$(q "BEGIN" "DELETE FROM character_contacts WHERE character_id = $AYLA AND contact_id = 90000106" "COMMIT")
expect_match "a write in a transaction block is refused (25001) with a HINT" "$out" \
	"ERROR:  25001: DELETE on foreign table \"character_contacts\" cannot run inside a transaction block.*HINT:  Run it outside BEGIN"
expect "... before anything is sent" "$(nwrites "$s")" "0"
out=$(q "SET esi_fdw.writes_in_transaction_block = on" "BEGIN" \
	"DELETE FROM character_contacts WHERE character_id = $AYLA AND contact_id = 90000106" "ROLLBACK")
expect "esi_fdw.writes_in_transaction_block = on allows it" "$(nwrites "$s")" "1" "$out"

# --- read-only tables -------------------------------------------------------------------
out=$(q "DELETE FROM character_mail WHERE character_id = $AYLA")
expect_match "a read-only table: 0A000, with a HINT naming ESI's write functions" "$out" \
	"ERROR:  0A000: cannot delete from foreign table \"character_mail\": it is read-only.*HINT:  ESI's writes on this route are functions: .*esi.delete_character_mail\(\)"
out=$(q "INSERT INTO character_contact_labels (character_id, label_id, label_name) VALUES ($AYLA, 3, 'x')")
expect_match "... and one with no write at ESI says so" "$out" \
	"ERROR:  0A000: cannot insert into foreign table \"character_contact_labels\": it is read-only.*HINT:  ESI has no write on this route"

# --- a write drops the cached replies it may have made stale --------------------------
out=$(q "ALTER FOREIGN TABLE character_contacts OPTIONS (SET cache 'on')" \
	"SELECT count(*) FROM character_contacts WHERE character_id = $AYLA AND contact_id = 90000701" \
	"SELECT count(*) FROM market_prices")
expect "cache on: Ayla's contacts and the market prices are read (and cached)" "$out" $'0\n20350'
s=$(last_seq)
out=$(q "SELECT count(*) FROM character_contacts WHERE character_id = $AYLA AND contact_id = 90000701")
expect "... read again: from the cache, nothing sent" "$out|$(sim_count "$s")" "0|0" "log:$s"
s=$(last_seq)
out=$(q "INSERT INTO character_contacts (character_id, contact_id, standing) VALUES ($AYLA, 90000701, 3)" \
	"SELECT count(*) FROM character_contacts WHERE character_id = $AYLA AND contact_id = 90000701" \
	"SELECT count(*) FROM market_prices")
expect "after an INSERT the contacts are read anew and show it; the prices stay cached" \
	"$out|$(sim_count "$s" "/characters/$AYLA/contacts")|$(sim_count "$s" /markets/)" $'1\n20350|2|0' "log:$s"
# the rows read through the cache after writes are the rows read without it
out=$(q "UPDATE character_contacts SET standing = -4 WHERE character_id = $AYLA AND contact_id = 90000701" \
	"SELECT md5(string_agg(format('%s|%s|%s|%s', contact_id, standing, label_ids, is_watched), ',' ORDER BY contact_id))
	   FROM character_contacts WHERE character_id = $AYLA")
want=$(q "SET esi_fdw.cache = off" \
	"SELECT md5(string_agg(format('%s|%s|%s|%s', contact_id, standing, label_ids, is_watched), ',' ORDER BY contact_id))
	   FROM character_contacts WHERE character_id = $AYLA")
expect "... after an UPDATE too: the rows read through the cache are those read with it off" "$out" "$want"
q "ALTER FOREIGN TABLE character_contacts OPTIONS (SET cache 'off')" >/dev/null

# --- scope and role ----------------------------------------------------------------------
out=$(q "INSERT INTO character_contacts (character_id, contact_id, standing) VALUES ($AYLA, 90000501, -3)")
expect "Ayla gets a contact with a negative standing again" "$out" ""
out=$(login $BORIS "ARRAY['esi-characters.read_contacts.v1']")
expect "Boris logs in with the read scope only" "$out" "$BORIS"
s=$(last_seq)
out=$(q "INSERT INTO character_contacts (character_id, contact_id, standing) VALUES ($BORIS, 90000401, 1)")
expect_match "a character without the write scope: 28000 naming it" "$out" \
	"ERROR:  28000: the EVE SSO login of character $BORIS .* lacks scope esi-characters.write_contacts.v1.*Foreign table \"character_contacts\" needs scope"
out=$(q "DELETE FROM character_contacts WHERE standing < 0")
expect_match "DELETE over both characters fails on Boris's token" "$out" "ERROR:  28000: .*$BORIS"
expect "... before anything is sent, Ayla's rows included" "$(nwrites "$s")" "0" "log:$s"

"$PSQL" -X -q -d postgres -c "DROP ROLE IF EXISTS writable_b" -c "CREATE ROLE writable_b LOGIN" >/dev/null 2>&1
q "GRANT USAGE ON FOREIGN SERVER esi TO writable_b" >/dev/null
out=$(PGUSER=writable_b q "INSERT INTO character_contacts (character_id, contact_id, standing) VALUES ($AYLA, 90000401, 1)")
expect_match "another role needs INSERT on the table (42501)" "$out" "ERROR:  42501: permission denied for (foreign )?table character_contacts"
q "GRANT INSERT, SELECT ON character_contacts TO writable_b" >/dev/null
out=$(PGUSER=writable_b q "INSERT INTO character_contacts (character_id, contact_id, standing) VALUES ($AYLA, 90000401, 1)")
expect_match "granted INSERT, it still may not act for another role's character (28000)" "$out" \
	"ERROR:  28000: no EVE SSO login of character $AYLA for role \"writable_b\""
expect "... and nothing was sent" "$(nwrites "$s")" "0" "log:$s"

[ "$failures" -eq 0 ] && simlib_drop_db
echo "1..$n"
[ "$failures" -eq 0 ]
