#!/usr/bin/env bash
# test/t/098_act_as.sh - the authenticated GET routes about neither a
# character nor a corporation (a fleet's, an alliance's, a structure's)
# read through their column as_character_id: WHERE as_character_id = X
# sends X's token and not X itself, the rows carry X (so the recheck keeps
# them, in a join too), the cache keeps characters apart, the role check
# applies, and without a condition the role's only character with the
# scope is used or the scan fails naming them.  Prints TAP.
set -uo pipefail
export LC_ALL=C
: "${PGHOST:?}" "${PGPORT:?}" "${PGUSER:?}" "${ESI_SIM_URL:?}"
TEST_DIR=${TEST_DIR:-$(mktemp -d)}
mkdir -p "$TEST_DIR"
DB=t_act_as
# shellcheck source=test/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=test/tap.sh
. "$(dirname "$0")/../tap.sh"
# shellcheck source=test/simlib.sh
. "$(dirname "$0")/../simlib.sh"

AYLA=2112625428
CIRA=2112625430
FLEET=1000000000001
STRUCTURE=1000000000001

finish() {
	sim /_sim/sso/reset >/dev/null 2>&1
	sim /_sim/reset >/dev/null 2>&1
}
trap finish EXIT

sim /_sim/sso/reset >/dev/null
sim /_sim/reset >/dev/null
# the cache is on: it must keep Ayla's fleet from Cira (simlib imports
# the markets tables, market_structure_orders among them)
simlib_setup_db \
	"ALTER SERVER esi OPTIONS (ADD sso_url '$ESI_SIM_URL', ADD sso_client_id 'sim-native-client', ADD sso_redirect_uri 'http://localhost/callback')" \
	"ALTER DATABASE $DB SET esi_fdw.cache = on" \
	"IMPORT FOREIGN SCHEMA \"all\" LIMIT TO (fleet_details, fleet_members, fleet_wings,
	   character_fleet)
	 FROM SERVER esi INTO public"

login() {
	local url loc
	url=$(q "SELECT esi.login('esi', $2)") || { echo "$url"; return 1; }
	loc=$(curl -sS -o /dev/null -w '%{redirect_url}' "$url&character_id=$1") || return 1
	q "SELECT character_id FROM esi.login_callback('$loc')"
}
last_seq() { python3 "$(dirname "$0")/../simlog.py" "$ESI_SIM_URL" seq; }
# sent SEQ - path and query of each request ESI got after SEQ, one a line
sent() { sim_log "$1" | awk -F'\t' '{ print $4, $5 }'; }
lines() { tr '\n' ' ' | sed 's/ $//'; }

out=$(login $AYLA "ARRAY['esi-fleets.read_fleet.v1', 'esi-markets.structure_markets.v1']")
expect "Ayla logs in to read her fleet and structure markets" "$out" "$AYLA"
out=$(login $CIRA "ARRAY['esi-fleets.read_fleet.v1']")
expect "Cira logs in to read her fleet" "$out" "$CIRA"

# --- the column ----------------------------------------------------------------------
out=$(q "SELECT a.attname, format_type(a.atttypid, a.atttypmod), array_to_string(a.attfdwoptions, ',')
	FROM pg_attribute a WHERE a.attrelid = 'fleet_members'::regclass AND a.attnum > 0
	ORDER BY a.attnum DESC LIMIT 1")
expect "IMPORT FOREIGN SCHEMA: fleet_members ends with as_character_id bigint (param 'token')" "$out" \
	"as_character_id|bigint|param=token"
out=$(q "SELECT count(*) FROM pg_attribute WHERE attrelid = 'character_fleet'::regclass AND attname = 'as_character_id'")
expect "... a character's route has none (its character_id chooses the token)" "$out" "0"

# --- the boss reads her fleet ----------------------------------------------------------
s=$(last_seq)
# (the simulator's fleet: Ayla its commander, Boris and Cira in its one wing)
out=$(q "SELECT count(*), bool_and(as_character_id = $AYLA), string_agg(character_id::text, ',' ORDER BY character_id)
	FROM fleet_members WHERE fleet_id = $FLEET AND as_character_id = $AYLA")
expect "the boss's token reads the members; each row carries as_character_id" "$out" \
	"3|t|$AYLA,2112625429,$CIRA" "log:$s"
expect "... one request, without as_character_id in it" "$(sent "$s")" "/fleets/$FLEET/members -"
out=$(q "SELECT fleet_id, as_character_id FROM fleet_details WHERE fleet_id = $FLEET AND as_character_id = $AYLA")
expect "fleet_details as the boss" "$out" "$FLEET|$AYLA"
out=$(q "SELECT id, name FROM fleet_wings WHERE fleet_id = $FLEET AND as_character_id = $AYLA")
expect "fleet_wings as the boss" "$out" "2000000000001|Wing 1"
out=$(q "SELECT count(*), bool_and(m.as_character_id = v.id)
	FROM (VALUES ($AYLA::bigint)) v(id)
	JOIN fleet_members m ON m.as_character_id = v.id AND m.fleet_id = $FLEET")
expect "a join supplies as_character_id; the rows pass the join condition" "$out" "3|t"

# --- another character ---------------------------------------------------------------
s=$(last_seq)
out=$(q "SELECT count(*) FROM fleet_members WHERE fleet_id = $FLEET AND as_character_id = $CIRA")
expect_match "not the boss: ESI's 404, not the boss's cached rows" "$out" \
	"ERROR: .*404.*(fleet does not exist|access)" "log:$s"
expect "... Cira's request went to ESI" "$(sent "$s")" "/fleets/$FLEET/members -"

# --- no condition --------------------------------------------------------------------
out=$(q "SELECT count(*) FROM fleet_members WHERE fleet_id = $FLEET")
expect_match "two characters with the scope and no condition: HV002, HINT naming both" "$out" \
	"ERROR:  HV002: foreign table \"fleet_members\" needs a value for column \"as_character_id\".*HINT:  Add WHERE as_character_id = <id>, with one of: $AYLA \\(Ayla Sim\\), $CIRA \\(Cira Sim\\)\."
s=$(last_seq)
out=$(q "SELECT count(*), count(DISTINCT order_id), bool_and(as_character_id = $AYLA)
	FROM market_structure_orders WHERE structure_id = $STRUCTURE")
expect "one character with the scope: used without a condition (the simulator's 19 orders)" "$out" "19|19|t" "log:$s"
expect "... its pages, without as_character_id" "$(sent "$s" | sed 's/page=[0-9]*/page=N/' | sort -u)" \
	"/markets/structures/$STRUCTURE page=N"
out=$(q "SELECT count(*) FROM market_structure_orders WHERE structure_id = $STRUCTURE AND as_character_id = $CIRA")
expect_match "a character without the scope: 28000" "$out" \
	"ERROR:  28000: .*$CIRA.*esi-markets.structure_markets.v1"

# --- the role check ------------------------------------------------------------------
"$PSQL" -X -q -d postgres -c "DROP ROLE IF EXISTS act_as_b" -c "CREATE ROLE act_as_b LOGIN" >/dev/null 2>&1
q "GRANT USAGE ON FOREIGN SERVER esi TO act_as_b" "GRANT SELECT ON fleet_members TO act_as_b" >/dev/null
s=$(last_seq)
out=$(PGUSER=act_as_b q "SELECT count(*) FROM fleet_members WHERE fleet_id = $FLEET AND as_character_id = $AYLA")
expect_match "another role may not read as Ayla (28000), even with her rows cached" "$out" \
	"ERROR:  28000: no EVE SSO login of character $AYLA for role \"act_as_b\""
out=$(PGUSER=act_as_b q "SELECT count(*) FROM fleet_members WHERE fleet_id = $FLEET")
expect_match "... and has no character to read as: HV002 with a login HINT" "$out" \
	"ERROR:  HV002: .*has none with scope esi-fleets.read_fleet.v1.*HINT:  Log a character in"
expect "... and nothing was sent" "$(sent "$s")" ""

# --- a table without the column ------------------------------------------------------
q "ALTER FOREIGN TABLE fleet_wings DROP COLUMN as_character_id" >/dev/null
out=$(q "SELECT count(*) FROM fleet_wings WHERE fleet_id = $FLEET")
expect_match "a table made without the column: 0A000 with the column to add" "$out" \
	"ERROR:  0A000: .*HINT:  Add one: ALTER FOREIGN TABLE fleet_wings ADD COLUMN as_character_id bigint OPTIONS \(param 'token'\)"
q "CREATE FOREIGN TABLE token_public (x bigint, as_character_id bigint OPTIONS (param 'token'))
	SERVER esi OPTIONS (route '/status', shape 'object')" >/dev/null
out=$(q "SELECT * FROM token_public")
expect_match "a token column on a public route: refused" "$out" \
	"ERROR:  HV024: .*DETAIL:  Column as_character_id chooses whose EVE SSO token is sent, but the route needs none"
q "CREATE FOREIGN TABLE token_twice (character_id bigint OPTIONS (param 'path'), as_character_id bigint OPTIONS (param 'token'), fleet_id bigint)
	SERVER esi OPTIONS (route '/characters/{character_id}/fleet', shape 'object', scope 'esi-fleets.read_fleet.v1')" >/dev/null
out=$(q "SELECT * FROM token_twice WHERE character_id = $AYLA")
expect_match "a token column beside character_id: refused" "$out" \
	"ERROR:  HV024: .*the route's character_id parameter already does"

if [ "$failures" -eq 0 ]; then
	simlib_drop_db
	"$PSQL" -X -q -d postgres -c "DROP ROLE IF EXISTS act_as_b" >/dev/null 2>&1
fi
echo "1..$n"
[ "$failures" -eq 0 ]
