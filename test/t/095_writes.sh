#!/usr/bin/env bash
# test/t/095_writes.sh - ESI's write routes as functions (issue 10) with a
# character's token: a write sent exactly once, a write whose reply is lost
# (reported as "may have happened", not sent again), the refusal inside a
# transaction block and the setting that allows it, the scope error and the
# role error.  Prints TAP.
set -uo pipefail
export LC_ALL=C
: "${PGHOST:?}" "${PGPORT:?}" "${PGUSER:?}" "${ESI_SIM_URL:?}"
TEST_DIR=${TEST_DIR:-$(mktemp -d)}
mkdir -p "$TEST_DIR"
DB=t_writes
# shellcheck source=test/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=test/tap.sh
. "$(dirname "$0")/../tap.sh"
# shellcheck source=test/simlib.sh
. "$(dirname "$0")/../simlib.sh"

AYLA=2112625428
BORIS=2112625429
WRITE="'esi-characters.write_contacts.v1', 'esi-characters.read_contacts.v1'"

finish() {
	sim /_sim/sso/reset >/dev/null 2>&1
	sim /_sim/reset >/dev/null 2>&1
	"$PSQL" -X -q -d postgres -c "DROP ROLE IF EXISTS writes_b" >/dev/null 2>&1
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
# writes_since SEQ - how many POST/PUT/DELETE requests ESI got after SEQ
writes_since() {
	sim "/_sim/writes?since=$1" | python3 -c "import json, sys; print(len(json.load(sys.stdin)))"
}
last_seq() { python3 "$(dirname "$0")/../simlog.py" "$ESI_SIM_URL" seq; }

out=$(login $AYLA "ARRAY[$WRITE]")
expect "Ayla logs in with the contacts scopes" "$out" "$AYLA"
out=$(login $BORIS "ARRAY['esi-assets.read_assets.v1']")
expect "Boris logs in without it" "$out" "$BORIS"

# --- a write, sent once ---------------------------------------------------------
s=$(last_seq)
out=$(q "SELECT * FROM esi.post_character_contacts($AYLA, 5.0, ARRAY[90000001, 90000002]::bigint[])" | sort | tr '\n' ' ')
expect "post_character_contacts adds contacts and returns their ids" "$out" "90000001 90000002 " "log:$s"
expect "... with exactly one request" "$(writes_since "$s")" "1" "log:$s"
out=$(q "IMPORT FOREIGN SCHEMA contacts LIMIT TO (character_contacts) FROM SERVER esi INTO public" \
	"SELECT standing FROM character_contacts WHERE character_id = $AYLA AND contact_id = 90000001")
expect "... and the GET route shows it" "$out" "5"

# --- a write whose reply is lost ------------------------------------------------
s=$(last_seq)
sim "/_sim/fault?path=/characters/$AYLA/contacts&kind=drop_after_request&method=DELETE" >/dev/null
out=$(q "SELECT esi.delete_character_contacts($AYLA, ARRAY[90000002]::bigint[])")
expect_match "a lost reply is reported as may have happened (08007)" "$out" \
	"ERROR:  08007: the reply of ESI to DELETE /characters/$AYLA/contacts\?contact_ids=90000002 was lost: the write may have happened" "log:$s"
expect_match "... saying it is not sent again" "$out" "It is not sent again" "log:$s"
expect "... and it was sent exactly once" "$(writes_since "$s")" "1" "log:$s"
out=$(q "SET esi_fdw.cache = off" "SELECT count(*) FROM character_contacts WHERE character_id = $AYLA AND contact_id = 90000002")
expect "... and it did happen at ESI" "$out" "0"

# --- an error reply: the write did not happen ------------------------------------
s=$(last_seq)
sim "/_sim/fault?path=/characters/$AYLA/contacts&kind=status&status=400&method=POST" >/dev/null
out=$(q "SELECT * FROM esi.post_character_contacts($AYLA, 1.0, ARRAY[90000004]::bigint[])")
expect_match "an error reply says the write did not happen" "$out" "not sent: the write did not happen|did not happen" "log:$s"
expect "... one request" "$(writes_since "$s")" "1" "log:$s"

# --- a gateway's 5xx: the write may have happened ----------------------------------
# ESI's 502 ("No reply within 10 seconds") and 504 come after the request
# was passed on: the simulator does the write (apply=1), then answers 502
s=$(last_seq)
sim "/_sim/fault?path=/characters/$AYLA/contacts&kind=status&status=502&apply=1&method=POST" >/dev/null
out=$(q "SELECT * FROM esi.post_character_contacts($AYLA, 4.0, ARRAY[90000006]::bigint[])")
expect_match "a 502 to a write: may have happened (08007), not sent again" "$out" \
	"ERROR:  08007: ESI answered POST /characters/$AYLA/contacts\\?standing=4 with HTTP 502: the write may have happened" "log:$s"
expect_match "... CONTEXT says it was sent" "$out" "\\(sent: the write may have happened at ESI\\)" "log:$s"
expect "... one request" "$(writes_since "$s")" "1" "log:$s"
out=$(q "SET esi_fdw.cache = off" "SELECT standing FROM character_contacts WHERE character_id = $AYLA AND contact_id = 90000006")
expect "... and it did happen at ESI" "$out" "4"
# 503 (downtime) is answered before anything is done
s=$(last_seq)
sim "/_sim/fault?path=/characters/$AYLA/contacts&kind=status&status=503&method=POST" >/dev/null
out=$(q "SELECT * FROM esi.post_character_contacts($AYLA, 4.0, ARRAY[90000007]::bigint[])")
expect_match "a 503 to a write: it did not happen" "$out" "not sent: the write did not happen" "log:$s"
expect "... one request" "$(writes_since "$s")" "1" "log:$s"

# --- a broken answer to a write ESI accepted: the write happened -------------------
s=$(last_seq)
sim "/_sim/fault?path=/characters/$AYLA/contacts&kind=malformed&method=POST" >/dev/null
out=$(q "SELECT * FROM esi.post_character_contacts($AYLA, 2.0, ARRAY[90000005]::bigint[])")
expect_match "a malformed answer to an accepted write: an error whose CONTEXT says it happened" "$out" \
	"ERROR:  .*CONTEXT:  reading ESI's answer to POST /characters/$AYLA/contacts \\(accepted: the write happened\\)" "log:$s"
expect "... one request" "$(writes_since "$s")" "1" "log:$s"
out=$(q "SET esi_fdw.cache = off" "SELECT standing FROM character_contacts WHERE character_id = $AYLA AND contact_id = 90000005")
expect "... and the contact is there" "$out" "2"

# --- a write takes the path of every read: counted in esi.route_stats ---------------
# (issue 17: writes are crawls of one request; before, they bypassed the
# route's counters)
q "SELECT esi.route_stats_reset()" >/dev/null
s=$(last_seq)
out=$(q "SELECT * FROM esi.post_character_contacts($AYLA, 3.0, ARRAY[90000008]::bigint[])")
expect "a write after esi.route_stats_reset()" "$out" "90000008" "log:$s"
sim "/_sim/fault?path=/characters/$AYLA/contacts&kind=status&status=400&method=POST" >/dev/null
out=$(q "SELECT * FROM esi.post_character_contacts($AYLA, 3.0, ARRAY[90000009]::bigint[])")
expect_match "... and one ESI refuses" "$out" "not sent: the write did not happen" "log:$s"
out=$(q "SELECT requests, errors->>'400' FROM esi.route_stats WHERE route = '/characters/{character_id}/contacts'")
expect "esi.route_stats counts both writes and the 400" "$out" "2|1" "sql:SELECT * FROM esi.route_stats"

# --- transaction blocks -----------------------------------------------------------
s=$(last_seq)
out=$(q "BEGIN" "SELECT esi.delete_character_contacts($AYLA, ARRAY[90000001]::bigint[])" "COMMIT")
expect_match "a write in a transaction block is refused (25001) with a HINT" "$out" \
	"ERROR:  25001: delete_character_contacts cannot run inside a transaction block"
expect "... before anything is sent" "$(writes_since "$s")" "0"
out=$(q "SET esi_fdw.writes_in_transaction_block = on" "BEGIN" \
	"SELECT esi.delete_character_contacts($AYLA, ARRAY[90000001]::bigint[])" "ROLLBACK")
expect "esi_fdw.writes_in_transaction_block = on allows it" "$(writes_since "$s")" "1" "$out"
out=$(q "SET esi_fdw.cache = off" "SELECT count(*) FROM character_contacts WHERE character_id = $AYLA AND contact_id = 90000001")
expect "... and the rollback did not undo it at ESI" "$out" "0"

# --- scope and role ------------------------------------------------------------------
s=$(last_seq)
out=$(q "SELECT * FROM esi.post_character_contacts($BORIS, 1.0, ARRAY[90000001]::bigint[])")
expect_match "a character without the scope: 28000 naming it" "$out" \
	"ERROR:  28000: the EVE SSO login of character $BORIS .* lacks scope esi-characters.write_contacts.v1"
"$PSQL" -X -q -d postgres -c "DROP ROLE IF EXISTS writes_b" -c "CREATE ROLE writes_b LOGIN" >/dev/null 2>&1
q "GRANT USAGE ON SCHEMA esi TO writes_b" "GRANT USAGE ON FOREIGN SERVER esi TO writes_b" >/dev/null
out=$(PGUSER=writes_b q "SELECT * FROM esi.post_character_contacts($AYLA, 1.0, ARRAY[90000001]::bigint[])")
expect_match "another role may not execute a write (42501)" "$out" "ERROR:  42501: permission denied for function post_character_contacts"
q "GRANT EXECUTE ON FUNCTION esi.post_character_contacts TO writes_b" >/dev/null
out=$(PGUSER=writes_b q "SELECT * FROM esi.post_character_contacts($AYLA, 1.0, ARRAY[90000001]::bigint[])")
expect_match "granted EXECUTE, it still may not act for another role's character (28000)" "$out" \
	"ERROR:  28000: no EVE SSO login of character $AYLA for role \"writes_b\""
expect "... and nothing was sent" "$(writes_since "$s")" "0"

[ "$failures" -eq 0 ] && simlib_drop_db
echo "1..$n"
[ "$failures" -eq 0 ]
