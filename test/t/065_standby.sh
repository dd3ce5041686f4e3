#!/usr/bin/env bash
# test/t/065_standby.sh - esi_fdw and its cache work on a hot standby (issue
# 7): the cache writes no table, so on a standby started from the test
# cluster (test/lib.sh, esi_standby_start) a second identical query sends
# nothing, and esi_fdw.cache = off fetches again.  Prints TAP.
set -uo pipefail
export LC_ALL=C
: "${PGHOST:?}" "${PGPORT:?}" "${PGUSER:?}" "${ESI_SIM_URL:?}"
TEST_DIR=${TEST_DIR:-$(mktemp -d)}
mkdir -p "$TEST_DIR"
DB=t_standby
# shellcheck source=test/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=test/tap.sh
. "$(dirname "$0")/../tap.sh"
# shellcheck source=test/simlib.sh
. "$(dirname "$0")/../simlib.sh"

sb=$TEST_DIR/standby
finish() {
	esi_standby_stop "$sb" >/dev/null 2>&1
	sim /_sim/reset >/dev/null 2>&1
}
trap finish EXIT

REGION=10000033
PS=/markets/$REGION/orders
Q="SELECT count(*), md5(string_agg(order_id || ':' || price || ':' || volume_remain, ',' ORDER BY order_id))
   FROM market_orders WHERE region_id = $REGION"
# qs SQL... - like q, on the standby
qs() {
	local a args=()
	for a in "$@"; do args+=(-c "$a"); done
	esi_standby_psql -q -A -t -v VERBOSITY=verbose -d "$DB" "${args[@]}" 2>&1
}

simlib_setup_db
q "SELECT esi.cache_clear()" >/dev/null
if esi_standby_start "$sb" >"$TEST_DIR/standby.out" 2>&1; then
	ok "a hot standby of the test cluster runs (port $ESI_STANDBY_PORT)"
else
	not_ok "a hot standby of the test cluster runs" "$TEST_DIR/standby.out" "$sb/log/postgresql.log"
	echo "Bail out! no standby"
	exit 1
fi
expect "it is in recovery" "$(qs "SELECT pg_is_in_recovery()")" t

sim /_sim/reset >/dev/null
sim "/_sim/config?cache_seconds=600" >/dev/null
out=$(qs "SELECT esi.cache_clear() >= 0" "SELECT count(*) FROM esi.cache")
expect "esi.cache_clear() works on the standby" "$out" $'t\n0'
s=$(sim_seq)
r1=$(qs "$Q")
expect_match "an uncached scan on the standby returns the orders" "$r1" '^[0-9]+\|[0-9a-f]{32}$'
expect "... fetched with 4 requests" "$(sim_count "$s" "$PS")" 4 "log:$s"
s=$(sim_seq)
out=$(qs "$Q")
expect "the same query in another session on the standby: the same rows" "$out" "$r1"
expect "... from the cache: nothing sent" "$(sim_count "$s")" 0 "log:$s"
out=$(qs "SELECT count(*) FROM esi.cache WHERE url LIKE '$PS%'")
expect "esi.cache on the standby lists the 4 pages" "$out" 4
out=$(qs "SELECT cache_hits FROM esi.route_stats WHERE route = '/markets/{region_id}/orders'")
expect "esi.route_stats on the standby counts the hits" "$out" 4
s=$(sim_seq)
out=$(qs "SET esi_fdw.cache = off" "$Q")
expect "esi_fdw.cache = off on the standby: the same rows" "$out" "$r1"
expect "... fetched again" "$(sim_count "$s" "$PS")" 4 "log:$s"
s=$(sim_seq)
out=$(qs "SELECT name FROM universe_type_details WHERE type_id = 34" \
	"SELECT name FROM universe_type_details WHERE type_id = 34")
expect "an object route, twice in one session" "$out" $'Tritanium\nTritanium'
expect "... one request" "$(sim_count "$s")" 1 "log:$s"
s=$(sim_seq)
out=$(qs "SELECT count(*) FROM market_orders WHERE region_id = $REGION AND type_id = 34")
expect "a query with another type_id works too (all 6 orders)" "$out" 6
expect "... sending what it needs" "$(sim_count "$s" "$PS")" 1 "log:$s"

esi_standby_stop "$sb" >"$TEST_DIR/stop.out" 2>&1
if esi_cluster_running "$sb"; then not_ok "the standby stops" "$TEST_DIR/stop.out"; else
	ok "the standby stops"; fi
q "SELECT esi.cache_clear()" >/dev/null
echo "1..$n"
if [ "$failures" -gt 0 ]; then
	echo "# $failures of $n tests failed (database $DB kept for inspection)"
	exit 1
fi
simlib_drop_db
