#!/usr/bin/env bash
# test/t/055_coalesce.sh - concurrent scans of one region share their
# requests (issue 7): four sessions scanning Heimatar (25 pages) at once make
# the simulator serve each page exactly once; a session cancelled while the
# others wait on its request does not leave them waiting: they finish.
# The first page is held back by the simulator so that the sessions overlap
# for sure.  Prints TAP.
set -uo pipefail
export LC_ALL=C
: "${PGHOST:?}" "${PGPORT:?}" "${PGUSER:?}" "${ESI_SIM_URL:?}"
TEST_DIR=${TEST_DIR:-$(mktemp -d)}
mkdir -p "$TEST_DIR"
DB=t_coalesce
# shellcheck source=test/tap.sh
. "$(dirname "$0")/../tap.sh"
# shellcheck source=test/simlib.sh
. "$(dirname "$0")/../simlib.sh"

REGION=10000030
PATH_=/markets/$REGION/orders
OROUTE='/markets/{region_id}/orders'
Q="SELECT count(*), md5(string_agg(order_id || ':' || price || ':' || volume_remain, ',' ORDER BY order_id))
   FROM market_orders WHERE region_id = $REGION"
APP=esi_t_coalesce

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

# wait_log SINCE PATH STATUS - waits (up to 60 s) until the log shows a
# request of PATH after SINCE with STATUS ('-' = still unanswered)
wait_log() {
	local i
	for ((i = 0; i < 600; i++)); do
		sim_log "$1" "$2" | awk -F'\t' -v st="$3" '$2 == st { f = 1 } END { exit !f }' && return 0
		sleep 0.1
	done
	return 1
}
# wait_active N - waits (up to 60 s) until N sessions of $APP run a query
wait_active() {
	local i
	for ((i = 0; i < 600; i++)); do
		[ "$("$PSQL" -X -A -t -d postgres -c "SELECT count(*) FROM pg_stat_activity
			WHERE application_name LIKE '$APP%' AND state = 'active'")" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
# pages_fetched SINCE - "page:times" for each page of $PATH_ requested after SINCE
pages_fetched() {
	sim_log "$1" "$PATH_" | awk -F'\t' '{ c[$3]++ } END { for (p in c) print p ":" c[p] }' | sort -n
}

simlib_setup_db
sim /_sim/reset >/dev/null
sim "/_sim/config?cache_seconds=600&latency_ms=50" >/dev/null
expected=$(q "SET esi_fdw.cache = off" "$Q")
expect_match "the region's rows, read without the cache" "$expected" '^[0-9]+\|[0-9a-f]{32}$'

# --- four sessions at once ----------------------------------------------------------------------
q "SELECT esi.cache_clear()" "SELECT esi.route_stats_reset()" >/dev/null
s=$(sim_seq)
sim "/_sim/fault?path=$PATH_&page=1&kind=latency&ms=4000" >/dev/null
PGAPPNAME=${APP}1 q_bg "$TEST_DIR/s1.out" "$Q"
pids=("$BG_PID")
if wait_log "$s" "$PATH_" -; then ok "session 1's first request is in flight"; else
	not_ok "session 1's first request is in flight" "log:$s"; fi
for i in 2 3 4; do
	PGAPPNAME=$APP$i q_bg "$TEST_DIR/s$i.out" "$Q"
	pids+=("$BG_PID")
done
if wait_active 4; then ok "four sessions scan region $REGION at once"; else
	not_ok "four sessions scan region $REGION at once"; fi
for p in "${pids[@]}"; do wait "$p"; done
pids=()
for i in 1 2 3 4; do
	expect "session $i returns the region's rows" "$(cat "$TEST_DIR/s$i.out")" "$expected"
done
fetched=$(pages_fetched "$s")
want=$(for ((p = 1; p <= 25; p++)); do echo "$p:1"; done)
expect "each of the 25 pages was fetched exactly once" "$fetched" "$want" "log:$s"
out=$(q "SELECT requests, coalesced >= 3, coalesce_wait_ms > 0 FROM esi.route_stats WHERE route = '$OROUTE'")
expect "esi.route_stats: 25 requests, the waits on another session's request counted" "$out" "25|t|t" \
	"sql:SELECT * FROM esi.route_stats"

# --- the session that fetches is cancelled ------------------------------------------------------
q "SELECT esi.cache_clear()" >/dev/null
s=$(sim_seq)
sim "/_sim/fault?path=$PATH_&page=1&kind=latency&ms=60000" >/dev/null
PGAPPNAME=${APP}1 q_bg "$TEST_DIR/c1.out" "$Q"
pids=("$BG_PID")
if wait_log "$s" "$PATH_" -; then ok "session 1's first request waits on a 60 s latency"; else
	not_ok "session 1's first request waits on a 60 s latency" "log:$s"; fi
backend=$("$PSQL" -X -A -t -d postgres -c "SELECT pid FROM pg_stat_activity WHERE application_name = '${APP}1'")
for i in 2 3; do
	PGAPPNAME=$APP$i q_bg "$TEST_DIR/c$i.out" "$Q"
	pids+=("$BG_PID")
done
if wait_active 3; then ok "two more sessions wait for it"; else not_ok "two more sessions wait for it"; fi
# they wait on session 1's request (sampled: none of them sent its own)
sleep 1
expect "... without a request of their own for page 1" "$(pages_fetched "$s" | grep '^1:')" "1:1" \
	"log:$s"
out=$("$PSQL" -X -A -t -d postgres -c "SELECT pg_cancel_backend($backend)")
expect "pg_cancel_backend(session 1)" "$out" t
for p in "${pids[@]}"; do wait "$p"; done
pids=()
expect_match "session 1 was cancelled" "$(cat "$TEST_DIR/c1.out")" 'canceling statement due to user request'
for i in 2 3; do
	expect "session $i still finishes, with the region's rows" "$(cat "$TEST_DIR/c$i.out")" "$expected"
done
fetched=$(pages_fetched "$s")
expect_match "page 1 was asked again once session 1 was gone, the other pages once" \
	"$(echo "$fetched" | tr '\n' ' ')" '^1:2 2:1 3:1 .*25:1 $' "log:$s"

q "SELECT esi.cache_clear()" >/dev/null
echo "1..$n"
if [ "$failures" -gt 0 ]; then
	echo "# $failures of $n tests failed (database $DB kept for inspection)"
	exit 1
fi
simlib_drop_db
