#!/usr/bin/env bash
# test/t/115_esi_errors.sh - ESI's errors as ESI writes them (issue 15, "ESI
# as it really behaves"):
# - ESI's error body is {"error": ..., "status": ..., "details": [{"location",
#   "message", "value"}]} (the OpenAPI description's Error): the simulator
#   keeps the why in "details", and esi_fdw puts the details into DETAIL;
# - a compatibility date ESI refuses (in the future, or older than the
#   oldest it keeps) is an error naming the setting that chose it (the
#   server's option compatibility_date, or esi_fdw.compatibility_date), with
#   a HINT saying what to set; ESI's own date works again.
# Prints TAP.
set -uo pipefail
export LC_ALL=C
: "${PGHOST:?}" "${PGPORT:?}" "${PGUSER:?}" "${ESI_SIM_URL:?}"
TEST_DIR=${TEST_DIR:-$(mktemp -d)}
mkdir -p "$TEST_DIR"
DB=t_esi_errors
# shellcheck source=test/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=test/tap.sh
. "$(dirname "$0")/../tap.sh"
# shellcheck source=test/simlib.sh
. "$(dirname "$0")/../simlib.sh"

finish() { sim /_sim/reset >/dev/null 2>&1; }
trap finish EXIT

# err SQL... - the error of the last statement as four lines: SQLSTATE and
# message, DETAIL, HINT (cache off; verbose)
err() {
	q "SET esi_fdw.cache = 'off'" "$@" 2>&1 |
		awk '/^ERROR:/ { sub(/^ERROR:  /, ""); e = $0 } /^DETAIL:/ { sub(/^DETAIL:  /, ""); d = $0 }
			/^HINT:/ { sub(/^HINT:  /, ""); h = $0 } END { print e; print d; print h }'
}
# body PATH_AND_QUERY [HEADER] - the simulator's answer to a request: status, body
body() {
	local code
	code=$(curl -sS -m 30 ${2:+-H "$2"} -o "$TEST_DIR/body" -w '%{http_code}' "$ESI_SIM_URL$1")
	echo "$code $(cat "$TEST_DIR/body")"
}

simlib_setup_db
sim /_sim/reset >/dev/null
CATALOG_DATE=$(q "SELECT setting FROM pg_settings WHERE name = 'esi_fdw.compatibility_date'")
expect "esi_fdw.compatibility_date is the catalog's date" "$CATALOG_DATE" 2026-08-04

# --- the simulator answers like ESI: a short error, the why in details -----------------
out=$(body "/markets/10000002/orders?order_type=cheap")
expect "a parameter ESI refuses: 400 with details (location, message, value)" "$out" \
	'400 {"error":"Invalid request","status":400,"details":[{"location":"query.order_type","message":"expected value to be one of buy, sell, all","value":"cheap"}]}'
out=$(body "/markets/prices" "X-Compatibility-Date: 2099-01-01")
expect "a compatibility date in the future: 400, details on header.X-Compatibility-Date" "$out" \
	"$(printf '400 {"error":"Invalid request","status":400,"details":[{"location":"header.X-Compatibility-Date","message":"expected a date no later than %s, today'"'"'s (ESI'"'"'s day starts at 11:00 UTC)","value":"2099-01-01"}]}' \
		"$(python3 -c 'import time; print(max(time.strftime("%Y-%m-%d", time.gmtime(time.time() - 11 * 3600)), "2026-11-20"))')")"
out=$(body "/markets/prices?compatibility_date=2019-12-31")
expect "a date below the oldest, as a query parameter: 400, details on query.compatibility_date" "$out" \
	'400 {"error":"Invalid request","status":400,"details":[{"location":"query.compatibility_date","message":"expected a date no earlier than 2020-01-01, the oldest compatibility date","value":"2019-12-31"}]}'

# --- esi_fdw shows the details -------------------------------------------------------
out=$(err "SELECT count(*) FROM market_orders WHERE region_id = 10000002 AND order_type = 'cheap'")
expect "ESI's details go into DETAIL" "$out" \
	"HV024: ESI returned HTTP 400 for GET /markets/10000002/orders?order_type=cheap&page=1 (foreign table \"market_orders\")
ESI said: Invalid request; query.order_type: expected value to be one of buy, sell, all (value \"cheap\")
Check the values the query gives to the table's parameter columns."
out=$(err "SELECT count(*) FROM market_history WHERE region_id = 11000001 AND type_id = 34")
expect "... a value the route refuses (a region without a market)" "$(sed -n 2p <<<"$out")" \
	"ESI said: Invalid request; path.region_id: region has no market (value 11000001)"

# --- an error body that is not ESI's JSON: the body itself, no crash (issue 17) --------
# (the body is read with the scan's decoder, which must not raise here)
sim "/_sim/fault?path=/markets/prices&kind=status&status=400&body=html" >/dev/null
out=$(err "SELECT count(*) FROM market_prices")
expect "an HTML error body (a proxy's): ESI's error, the body as DETAIL on one line" "$out" \
	"HV024: ESI returned HTTP 400 for GET /markets/prices (foreign table \"market_prices\")
ESI said: <html>  <head><title>400 Bad Request</title></head>  <body>  <center><h1>400 Bad Request</h1></center>  <hr><center>nginx</center>  </body>  </html>  
Check the values the query gives to the table's parameter columns."
sim "/_sim/fault?path=/markets/prices&kind=status&status=400&body=cut" >/dev/null
out=$(err "SELECT count(*) FROM market_prices")
expect "a JSON error body cut short: the same error with the cut body" "$out" \
	"HV024: ESI returned HTTP 400 for GET /markets/prices (foreign table \"market_prices\")
ESI said: {\"error\":\"Simul
Check the values the query gives to the table's parameter columns."
out=$(q "SELECT 1")
expect "... and the session goes on" "$out" "1"

# --- a compatibility date ESI refuses -------------------------------------------------
s=$(sim_seq)
q "ALTER SERVER esi OPTIONS (ADD compatibility_date '2099-01-01')" >/dev/null
out=$(err "SELECT count(*) FROM market_prices")
expect "the server's compatibility_date in the future: HV024 naming the option, DETAIL with ESI's words, HINT" "$out" \
	"HV024: ESI does not accept the compatibility date \"2099-01-01\" of option compatibility_date of server \"esi\"
ESI answered HTTP 400 to GET /markets/prices (foreign table \"market_prices\") and said: Invalid request; header.X-Compatibility-Date: expected a date no later than $(python3 -c 'import time; print(max(time.strftime("%Y-%m-%d", time.gmtime(time.time() - 11 * 3600)), "2026-11-20"))'), today's (ESI's day starts at 11:00 UTC) (value \"2099-01-01\")
ESI takes dates from the oldest it keeps up to its current day, which starts at 11:00 UTC; esi_fdw's tables are made for $CATALOG_DATE: ALTER SERVER esi OPTIONS (SET compatibility_date '$CATALOG_DATE');" \
	"log:$s"
q "ALTER SERVER esi OPTIONS (SET compatibility_date '2019-12-31')" >/dev/null
out=$(err "SELECT count(*) FROM market_prices")
expect "below the oldest date: the same error" "$(sed -n 1p <<<"$out")" \
	"HV024: ESI does not accept the compatibility date \"2019-12-31\" of option compatibility_date of server \"esi\""
q "ALTER SERVER esi OPTIONS (DROP compatibility_date)" >/dev/null
out=$(err "SET esi_fdw.compatibility_date = '2099-01-01'" "SELECT count(*) FROM market_prices")
expect "esi_fdw.compatibility_date in the future (no server option): the error names the setting" \
	"$(sed -n 1p <<<"$out")|$(sed -n 3p <<<"$out")" \
	"HV024: ESI does not accept the compatibility date \"2099-01-01\" of esi_fdw.compatibility_date (server \"esi\" has no compatibility_date option)|ESI takes dates from the oldest it keeps up to its current day, which starts at 11:00 UTC; esi_fdw's tables are made for $CATALOG_DATE: SET esi_fdw.compatibility_date = '$CATALOG_DATE'; or ALTER SERVER esi OPTIONS (ADD compatibility_date '$CATALOG_DATE');"
out=$(q "SET esi_fdw.cache = 'off'" "SELECT count(*) FROM market_prices")
expect "the catalog's date works (all 20350 prices)" "$out" 20350
expect "... each refused date cost one request, never retried" "$(sim_count "$s" /markets/prices)" 4 "log:$s"

echo "1..$n"
[ "$failures" -eq 0 ] && simlib_drop_db
[ "$failures" -eq 0 ]
