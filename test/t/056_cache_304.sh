#!/usr/bin/env bash
# test/t/056_cache_304.sh - a 304 replaces the stored headers it carries
# (RFC 9111 4.3.4; issue 15, "HTTP caching by the book"), seen from the
# simulator's request log:
# - at ESI's expiry a page whose content stayed comes back as a 304 with the
#   new Last-Modified while the other pages come back whole: the read is one
#   version (no 40001), with the same rows, for a query and for
#   CALL esi.refresh;
# - four sessions revalidating one page with esi_fdw.cache = 'refresh' (and
#   with 'on', once the page went stale) send one request between them;
# - a page last confirmed by a 304 is still fresh after a restart.
# Prints TAP.
set -uo pipefail
export LC_ALL=C
: "${PGHOST:?}" "${PGPORT:?}" "${PGUSER:?}" "${ESI_SIM_URL:?}"
TEST_DIR=${TEST_DIR:-$(mktemp -d)}
mkdir -p "$TEST_DIR"
DB=t_cache304
# shellcheck source=test/lib.sh
. "$(dirname "$0")/../lib.sh"
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

# The Citadel: 4 pages of orders
REGION=10000033
PS=/markets/$REGION/orders
QS="SELECT count(*), md5(string_agg(order_id || ':' || price || ':' || volume_remain || ':' || issued,
	',' ORDER BY order_id)) FROM market_orders WHERE region_id = $REGION"
# one page: a type's details
TYPE=34
PT=/universe/types/$TYPE
QT="SELECT type_id, name, md5(description) FROM universe_type_details WHERE type_id = $TYPE"
APP=esi_t_cache304
# the cache period of this test's ESI (seconds); a read takes well under it
PERIOD=5

# log_summary SINCE PATH - "requests 200s 304s with_if_none_match" after SINCE
log_summary() {
	sim_log "$1" "$2" | awk -F'\t' '
		{ n++; if ($2 == 200) ok++; if ($2 == 304) nm++; if ($6 != "-") inm++ }
		END { printf "%d %d %d %d\n", n, ok, nm, inm }'
}
# replies SINCE PATH - "page:status" of each request after SINCE, by page
replies() {
	sim_log "$1" "$2" | awk -F'\t' '{ print $3 ":" $2 }' | sort -n | tr '\n' ' ' | sed 's/ $//'
}
# log_field SINCE PATH FIELD - the distinct values of FIELD (last_modified,
# expires) in the log entries of PATH after SINCE, one a line
log_field() {
	sim "/_sim/requests?since=$1" | python3 -c '
import json, sys
path, field = sys.argv[1], sys.argv[2]
vals = sorted({e[field] or "-" for e in json.load(sys.stdin) if path in e["path"]})
print("\n".join(vals))' "$2" "$3"
}
# sleep_past_expiry SINCE PATH - sleeps until the latest Expires the
# simulator sent for PATH after SINCE has passed (ESI's cache refreshed)
sleep_past_expiry() {
	local exp
	exp=$(log_field "$1" "$2" expires | tail -1)
	python3 -c '
import calendar, sys, time
secs, _, frac = sys.argv[1].rstrip("Z").partition(".")
t = calendar.timegm(time.strptime(secs, "%Y-%m-%dT%H:%M:%S"))
time.sleep(max(0.0, t - time.time()) + 0.3)' "$exp"
}
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
# four_sessions NAME SQL... - runs SQL in four sessions at once while the
# first one's request for $PT is held back 4 s by the simulator; checks
# that all four ran while it was in flight and that each returned $want_t
four_sessions() {
	local name=$1 s0 i p
	shift
	s0=$(sim_seq)
	sim "/_sim/fault?path=$PT&kind=latency&ms=4000" >/dev/null
	PGAPPNAME=${APP}1 q_bg "$TEST_DIR/${name}1.out" "$@"
	pids=("$BG_PID")
	wait_log "$s0" "$PT" - || true
	for i in 2 3 4; do
		PGAPPNAME=$APP$i q_bg "$TEST_DIR/$name$i.out" "$@"
		pids+=("$BG_PID")
	done
	if wait_active 4 && [ "$(sim_log "$s0" "$PT" | awk -F'\t' '$2 == "-"' | wc -l)" = 1 ]; then
		ok "$name: four sessions read type $TYPE while the first one's request is in flight"
	else
		not_ok "$name: four sessions read type $TYPE while the first one's request is in flight" \
			"$(sim_log "$s0" "$PT")"
	fi
	for p in "${pids[@]}"; do wait "$p"; done
	pids=()
	for i in 1 2 3 4; do
		expect "$name: session $i returns the type's row" "$(cat "$TEST_DIR/$name$i.out")" "$want_t"
	done
}

simlib_setup_db "ALTER DATABASE $DB SET esi_fdw.auto_refresh = off"
sim /_sim/reset >/dev/null

# --- ESI's expiry: page 1 unchanged (a 304 with the new Last-Modified), the rest new ----------
# ESI's cache refreshes every $PERIOD s; a refresh leaves page 1 as it was
sim "/_sim/config?cache_seconds=$PERIOD&cache_refresh=1&unchanged_pages=1" >/dev/null
q "SELECT esi.cache_clear()" "SELECT esi.route_stats_reset()" >/dev/null
s=$(sim_seq)
r1=$(q "$QS")
expect_match "a cold read of region $REGION returns its orders" "$r1" '^[0-9]+\|[0-9a-f]{32}$'
expect "... with 4 requests, all 200" "$(log_summary "$s" "$PS")" "4 4 0 0" "log:$s"
lm1=$(log_field "$s" "$PS" last_modified)
expect "... all of one Last-Modified" "$(echo "$lm1" | wc -l)" 1 "log:$s"
sleep_past_expiry "$s" "$PS"
s=$(sim_seq)
s2=$s
r2=$(q "$QS")
expect "past ESI's expiry: the same rows, no 40001" "$r2" "$r1" "log:$s"
expect "... 4 requests, all with If-None-Match: page 1 a 304, pages 2-4 whole" \
	"$(log_summary "$s" "$PS")|$(replies "$s" "$PS")" "4 3 1 4|1:304 2:200 3:200 4:200" "log:$s"
lm2=$(log_field "$s" "$PS" last_modified)
expect "... every reply, the 304 too, of the new Last-Modified" \
	"$(echo "$lm2" | wc -l)|$([ "$lm2" != "$lm1" ] && echo new)" "1|new" "log:$s"
s=$(sim_seq)
out=$(q "$QS")
expect "the next read: the same rows from the cache, nothing sent (page 1 renewed by its 304)" \
	"$out|$(sim_count "$s")" "$r1|0" "log:$s"
ref=$(q "SET esi_fdw.cache = off" "$QS")
expect "... and they are the rows read with the cache off" "$out" "$ref"

# --- the same through CALL esi.refresh (background refresh runs its steps) -----------------
out=$(q "SELECT esi.track('citadel', 'market_orders', '{\"region_id\": $REGION}')" \
	"CALL esi.refresh('citadel')" "SELECT count(*) FROM esi_snapshots.citadel")
expect "esi.track() and a first CALL esi.refresh(): the region's rows" "$out" \
	$'esi_snapshots.citadel\n'"${r1%%|*}"
s0=$(q "SELECT max(id) FROM esi.refresh_log")
sleep_past_expiry "$s2" "$PS"
s=$(sim_seq)
out=$(q "CALL esi.refresh('citadel')" "SELECT count(*) FROM esi_snapshots.citadel")
expect "past ESI's expiry, CALL esi.refresh() succeeds with the region's rows" "$out" "${r1%%|*}"
out=$(q "SELECT outcome, rows, requests, error IS NULL FROM esi.refresh_log WHERE target = 'citadel' AND id > $s0")
expect "... logged ok, no 40001, with 4 requests" "$out" "ok|${r1%%|*}|4|t" \
	"sql:SELECT * FROM esi.refresh_log" "log:$s"
expect "... page 1 a 304, pages 2-4 whole, all of one new Last-Modified" \
	"$(replies "$s" "$PS")|$(log_field "$s" "$PS" last_modified | wc -l)" \
	"1:304 2:200 3:200 4:200|1" "log:$s"
q "SELECT esi.untrack('citadel', true)" >/dev/null

# --- four sessions, one page, 'refresh': one request -----------------------------------------
sim "/_sim/config?cache_seconds=600&cache_refresh=0&unchanged_pages=" >/dev/null
want_t=$(q "SET esi_fdw.cache = off" "$QT")
expect_match "type $TYPE's details, read without the cache" "$want_t" "^$TYPE\|"
out=$(q "$QT")
expect "... and read into the cache" "$out" "$want_t"
q "SELECT esi.route_stats_reset()" >/dev/null
s=$(sim_seq)
four_sessions refresh "SET esi_fdw.cache = refresh" "$QT"
expect "refresh: one request between the four, revalidated with If-None-Match: a 304" \
	"$(log_summary "$s" "$PT")" "1 0 1 1" "log:$s"
out=$(q "SELECT requests, not_modified, coalesced FROM esi.route_stats WHERE route = '/universe/types/{type_id}'")
expect "refresh: esi.route_stats: 1 request, 1 304, 3 sessions served by it" "$out" "1|1|3" \
	"sql:SELECT * FROM esi.route_stats"
s=$(sim_seq)
out=$(q "SET esi_fdw.cache = refresh" "$QT")
expect "a later 'refresh' read asks ESI again: one 304" "$out|$(log_summary "$s" "$PT")" \
	"$want_t|1 0 1 1" "log:$s"

# --- four sessions, one stale page, 'on': one request ----------------------------------------
sim "/_sim/config?cache_seconds=2" >/dev/null
s=$(sim_seq)
out=$(q "SET esi_fdw.cache = refresh" "$QT")
expect "the page revalidated again, now fresh for 2 s" "$out|$(log_summary "$s" "$PT")" \
	"$want_t|1 0 1 1" "log:$s"
sleep_past_expiry "$s" "$PT"
sim "/_sim/config?cache_seconds=600" >/dev/null
s=$(sim_seq)
four_sessions on "$QT"
expect "on, the page stale: one request between the four, a 304" "$(log_summary "$s" "$PT")" \
	"1 0 1 1" "log:$s"

# --- a restart after a 304 ---------------------------------------------------------------------
q "SELECT esi.cache_clear()" >/dev/null
sim "/_sim/config?cache_seconds=2" >/dev/null
s=$(sim_seq)
out=$(q "$QS")
expect "region $REGION read anew, its replies fresh for 2 s" "$out|$(log_summary "$s" "$PS")" \
	"$r1|4 4 0 0" "log:$s"
sleep_past_expiry "$s" "$PS"
sim "/_sim/config?cache_seconds=600" >/dev/null
t0=$(q "SELECT clock_timestamp()")
s=$(sim_seq)
out=$(q "$QS")
expect "past their expiry: the same rows, 4 304s" "$out|$(log_summary "$s" "$PS")" "$r1|4 0 4 4" \
	"log:$s"
CQ="SELECT count(*), bool_and(stored_at > '$t0'), bool_and(expires > now() + interval '500 s'),
	bool_and(fresh), md5(string_agg(stored_at || ' ' || expires, ',' ORDER BY url))
	FROM esi.cache WHERE url LIKE '$PS%'"
before=$(q "$CQ")
expect_match "esi.cache: the 304s renewed the pages' stored_at and expires" "$before" \
	'^4\|t\|t\|t\|[0-9a-f]{32}$' "sql:SELECT * FROM esi.cache"
datadir=$(q "SHOW data_directory")
if esi_as_pg "$ESI_PG_BIN/pg_ctl" restart -D "$datadir" -l "$(dirname "$datadir")/log/postgresql.log" \
	-m fast -w -t 120 -s >"$TEST_DIR/restart.out" 2>&1; then
	ok "the cluster restarts"
else
	not_ok "the cluster restarts" "$TEST_DIR/restart.out"
fi
s=$(sim_seq)
out=$(q "$QS")
expect "after the restart: the same rows from the cache, nothing sent" "$out|$(sim_count "$s")" \
	"$r1|0" "log:$s"
expect "esi.cache after the restart: the stored_at and expires the 304s gave" "$(q "$CQ")" "$before" \
	"sql:SELECT * FROM esi.cache"

q "SELECT esi.cache_clear()" >/dev/null
echo "1..$n"
if [ "$failures" -gt 0 ]; then
	echo "# $failures of $n tests failed (database $DB kept for inspection)"
	exit 1
fi
simlib_drop_db
