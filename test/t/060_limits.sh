#!/usr/bin/env bash
# test/t/060_limits.sh - ESI's error limit and rate limits, cluster-wide
# (issue 7), seen from the simulator's request log:
#  - X-ESI-Error-Limit-Remain below esi_fdw.error_limit_threshold: the next
#    request waits for the window's reset (no 420), or fails at once with
#    SQLSTATE 53400 when statement_timeout would pass first;
#  - after a 420, no backend sends anything before X-ESI-Error-Limit-Reset;
#  - after a 429 of a rate-limit group, no backend sends a request of that
#    group before Retry-After;
#  - esi.limits shows both;
#  - a 404 is remembered for esi_fdw.negative_cache_ttl: the same error again,
#    without a request.
# Prints TAP.
set -uo pipefail
export LC_ALL=C
: "${PGHOST:?}" "${PGPORT:?}" "${PGUSER:?}" "${ESI_SIM_URL:?}"
TEST_DIR=${TEST_DIR:-$(mktemp -d)}
mkdir -p "$TEST_DIR"
DB=t_limits
# shellcheck source=test/tap.sh
. "$(dirname "$0")/../tap.sh"
# shellcheck source=test/simlib.sh
. "$(dirname "$0")/../simlib.sh"

pids=()
finish() {
	local p
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	sim /_sim/reset >/dev/null 2>&1
}
trap finish EXIT

type_q() { echo "SELECT type_id, name FROM universe_type_details WHERE type_id = $1"; }
orders_q() {
	echo "SELECT count(*), md5(string_agg(order_id || ':' || price, ',' ORDER BY order_id))
	      FROM market_orders WHERE region_id = $1"
}
# wait_log SINCE PATH STATUS - waits (up to 60 s) for a request of PATH after
# SINCE answered STATUS
wait_log() {
	local i
	for ((i = 0; i < 600; i++)); do
		sim_log "$1" "$2" | awk -F'\t' -v st="$3" '$2 == st { f = 1 } END { exit !f }' && return 0
		sleep 0.1
	done
	return 1
}
# started_before SINCE PATH T - the requests of PATH after SINCE that started before T
started_before() {
	sim_log "$1" "$2" | awk -F'\t' -v t="$3" '$7 < t'
}
# statuses SINCE - the distinct statuses answered after SINCE
statuses() { sim_log "$1" | awk -F'\t' '{ print $2 }' | sort -u | tr '\n' ' '; }
# error_of OUTPUT - the error of a psql run without its LOCATION line
error_of() { printf '%s\n' "$1" | grep -v '^LOCATION:'; }

simlib_setup_db
sim /_sim/reset >/dev/null
q "SELECT esi.cache_clear()" "SELECT esi.route_stats_reset()" >/dev/null
SMALL=10000033   # 4 pages of orders
ONE=10000001     # 1 page
small_rows=$(q "SET esi_fdw.cache = off" "$(orders_q $SMALL)")
one_rows=$(q "SET esi_fdw.cache = off" "$(orders_q $ONE)")
expect_match "the orders of two regions, read without the cache" "$small_rows/$one_rows" \
	'^[0-9]+\|[0-9a-f]{32}/[0-9]+\|[0-9a-f]{32}$'

# --- the error limit runs low ---------------------------------------------------------------
t0=$(now_epoch)
out=$(sim "/_sim/error_limit?remain=5&reset=5")
expect_match "the simulator: 5 errors left, reset in 5 s" "$out" '"remain":5,"reset":5'
s=$(sim_seq)
out=$(q "$(type_q 34)")
expect "a query learns X-ESI-Error-Limit-Remain: 5" "$out" "34|Tritanium"
out=$(q "SELECT remaining, reset_at > now(), base_url = '$ESI_SIM_URL' FROM esi.limits WHERE kind = 'error_limit'")
expect "esi.limits shows the error limit: 5 left, a reset to come" "$out" "5|t|t" \
	"sql:SELECT * FROM esi.limits"
out=$(q "SET statement_timeout = '1s'" "$(type_q 35)")
expect_match "below the threshold, a wait longer than statement_timeout fails at once: 53400" \
	"$out" 'ERROR:  53400: .*error limit'
expect "... without a request" "$(sim_count "$s" /universe/types/35)" 0 "log:$s"
out=$(q "$(type_q 35)")
expect_match "without statement_timeout the query waits for the reset and succeeds" "$out" '^35\|.+'
reset_at=$(awk -v t="$t0" 'BEGIN { printf "%.6f", t + 5 }')
expect "... its request went out after the reset" "$(started_before "$s" /universe/types/35 "$reset_at")" "" \
	"log:$s"
expect "... and nothing was answered 420" "$(statuses "$s")" "200 " "log:$s"
out=$(q "SELECT remaining > 10 FROM esi.limits WHERE kind = 'error_limit'")
expect "esi.limits: the new window's budget" "$out" t "sql:SELECT * FROM esi.limits"

# --- a burst of 420s ----------------------------------------------------------------------------
# the next three requests of type details are answered 420 (reset in 3 s),
# half a second late so that a query asking for four types at once has them
# all under way (logged on arrival) before the first 420 comes back
s=$(sim_seq)
sim "/_sim/fault?path=/universe/types&kind=latency&ms=500&count=4" >/dev/null
sim "/_sim/fault?path=/universe/types&kind=error_limit&retry_after=3&count=3" >/dev/null
q_bg "$TEST_DIR/a420.out" "SELECT type_id, name FROM universe_type_details
	WHERE type_id IN (36, 37, 38, 39) ORDER BY type_id"
pids=("$BG_PID")
if wait_log "$s" /universe/types/ 420; then ok "a query is answered 420 (reset in 3 s)"; else
	not_ok "a query is answered 420" "$(sim_log "$s")"; fi
out=$(q "$(type_q 40)" "$(orders_q $ONE)")
expect_match "another session's query during the hold-off succeeds" "$(head -n 1 <<<"$out")" '^40\|.+' \
	"$out" "log:$s"
expect "... and a scan of orders too" "$(sed -n 2p <<<"$out")" "$one_rows" "log:$s"
wait "${pids[0]}"
pids=()
out=$(cat "$TEST_DIR/a420.out")
expect_match "the query that got the 420s survives: its four rows" "$out" \
	$'^36\\|.+\n37\\|.+\n38\\|.+\n39\\|.+$' "log:$s"
t420=$(sim_log "$s" | awk -F'\t' '$2 == 420 { print $8; exit }')
after=$(awk -v t="$t420" 'BEGIN { printf "%.6f", t + 3 }')
early=$(sim_log "$s" | awk -F'\t' -v t0="$t420" -v t1="$after" '$7 > t0 && $7 < t1')
expect "after the first 420 nothing at all went out before the reset" "$early" "" "log:$s"

# --- a 429 ------------------------------------------------------------------------------------
t_set=$(now_epoch)
out=$(sim "/_sim/rate_limit?group=market-order&remain=0&retry_after=3")
expect_match "the simulator: the market-order bucket is empty for 3 s" "$out" '"remaining":0'
s=$(sim_seq)
q_bg "$TEST_DIR/a429.out" "$(orders_q $SMALL)"
pids=("$BG_PID")
if wait_log "$s" /markets/$SMALL/orders 429; then ok "a scan of region $SMALL is answered 429"; else
	not_ok "a scan of region $SMALL is answered 429" "log:$s"; fi
out=$(q "$(orders_q $ONE)")
expect "another session's scan of region $ONE (same group) succeeds" "$out" "$one_rows"
wait "${pids[0]}"
pids=()
expect "the scan that got the 429 succeeds" "$(cat "$TEST_DIR/a429.out")" "$small_rows"
# the bucket is free again 3 s after it was emptied (Retry-After rounds up)
after=$(awk -v t="$t_set" 'BEGIN { printf "%.6f", t + 3 }')
early=$(sim_log "$s" /markets/ | awk -F'\t' -v t="$after" '$2 != 429 && $7 < t')
expect "no request of the group went out before Retry-After" "$early" "" "log:$s"
expect "... the other session's neither: one 429 only" \
	"$(sim_log "$s" | awk -F'\t' '$2 == 429' | wc -l)" 1 "log:$s"
out=$(q "SELECT token_limit, remaining > 0, used > 0, base_url = '$ESI_SIM_URL'
	FROM esi.limits WHERE kind = 'rate_limit' AND rate_group = 'market-order'")
expect "esi.limits shows the market-order bucket" "$out" "12000/15m|t|t|t" "sql:SELECT * FROM esi.limits"

# --- a 404 is remembered ------------------------------------------------------------------------
s=$(sim_seq)
e1=$(error_of "$(q "$(type_q 999999999)")")
expect_match "an unknown type: HTTP 404" "$e1" 'ERROR:  [0-9A-Z]{5}: .*404'
e2=$(error_of "$(q "$(type_q 999999999)")")
expect "asked again from another session: exactly the same error" "$e2" "$e1"
expect "... without a request" "$(sim_count "$s" /universe/types/999999999)" 1 "log:$s"
e3=$(error_of "$(q "SET esi_fdw.cache = refresh" "$(type_q 999999999)")")
expect "with esi_fdw.cache = refresh: the same error" "$e3" "$e1"
expect "... asked of ESI again" "$(sim_count "$s" /universe/types/999999999)" 2 "log:$s"
for i in 1 2; do
	e4=$(error_of "$(q "SET esi_fdw.negative_cache_ttl = 0" "$(type_q 999999998)")")
done
expect_match "with negative_cache_ttl = 0 the 404 is not remembered" \
	"$e4/$(sim_count "$s" /universe/types/999999998)" 'ERROR:  [0-9A-Z]{5}: .*404.*/2$' "log:$s"
e5=$(error_of "$(q "SET esi_fdw.negative_cache_ttl = 1" "$(type_q 999999997)")")
sleep 2
e6=$(error_of "$(q "$(type_q 999999997)")")
expect "with negative_cache_ttl = 1, asked again 2 s later: the same error" "$e6" "$e5"
expect "... from ESI" "$(sim_count "$s" /universe/types/999999997)" 2 "log:$s"
out=$(q "SELECT (errors->>'404')::int >= 1 FROM esi.route_stats WHERE route = '/universe/types/{type_id}'")
expect "esi.route_stats counts the 404" "$out" t "sql:SELECT * FROM esi.route_stats"

q "SELECT esi.cache_clear()" >/dev/null
echo "1..$n"
if [ "$failures" -gt 0 ]; then
	echo "# $failures of $n tests failed (database $DB kept for inspection)"
	exit 1
fi
simlib_drop_db
