#!/usr/bin/env bash
# test/t/050_cache.sh - the cluster-wide response cache (issue 7), seen from
# the simulator's request log: a fresh reply is served to any session without
# a request; a stale one is revalidated with If-None-Match (304, same rows);
# esi_fdw.cache off/refresh and the server and table option 'cache';
# esi.cache_clear(), the esi.cache and esi.route_stats views; EXPLAIN ANALYZE;
# read-only transactions; the cache_size bound under a bigger scan; the cache
# survives a restart of the cluster.  Prints TAP.
set -uo pipefail
export LC_ALL=C
: "${PGHOST:?}" "${PGPORT:?}" "${PGUSER:?}" "${ESI_SIM_URL:?}"
TEST_DIR=${TEST_DIR:-$(mktemp -d)}
mkdir -p "$TEST_DIR"
DB=t_cache
# shellcheck source=test/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=test/tap.sh
. "$(dirname "$0")/../tap.sh"
# shellcheck source=test/simlib.sh
. "$(dirname "$0")/../simlib.sh"

finish() {
	q "ALTER SYSTEM RESET esi_fdw.cache_size" "SELECT pg_reload_conf()" >/dev/null 2>&1
	sim /_sim/reset >/dev/null 2>&1
}
trap finish EXIT

# The Citadel: 4 pages of orders; Heimatar: 25 (about 6 MB)
SMALL=10000033
BIG=10000030
OROUTE='/markets/{region_id}/orders'
# rows of a region's orders, checked whole (an md5 over them, in order_id order)
rows_of() {
	echo "SELECT count(*), md5(string_agg(order_id || ':' || price || ':' || volume_remain || ':' || issued,
	        ',' ORDER BY order_id)) FROM market_orders WHERE region_id = $1"
}
QS=$(rows_of $SMALL)
QB=$(rows_of $BIG)
PS=/markets/$SMALL/orders
# log_summary SINCE PATH - "requests 200s 304s with_if_none_match" after SINCE
log_summary() {
	sim_log "$1" "$2" | awk -F'\t' '
		{ n++; if ($2 == 200) ok++; if ($2 == 304) nm++; if ($6 != "-") inm++ }
		END { printf "%d %d %d %d\n", n, ok, nm, inm }'
}
# cache_size_is VALUE - waits (up to 30 s) until new sessions see cache_size = VALUE
cache_size_is() {
	local i
	for ((i = 0; i < 300; i++)); do
		[ "$(q "SHOW esi_fdw.cache_size")" = "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

simlib_setup_db
sim /_sim/reset >/dev/null
sim "/_sim/config?cache_seconds=600" >/dev/null
out=$(q "SELECT esi.cache_clear() >= 0" "SELECT esi.route_stats_reset()" \
	"SELECT count(*) FROM esi.cache")
expect "esi.cache_clear() and esi.route_stats_reset() leave an empty cache" "$out" $'t\n\n0'

# --- fresh: no request from another session ------------------------------------------
s=$(sim_seq)
r1=$(q "$QS")
expect_match "a cold scan of region $SMALL returns its orders" "$r1" '^[0-9]+\|[0-9a-f]{32}$'
expect "... with 4 requests, all 200, none conditional" "$(log_summary "$s" "$PS")" "4 4 0 0" \
	"log:$s"
s=$(sim_seq)
r2=$(q "$QS")
expect "the same query from another session returns the same rows" "$r2" "$r1"
expect "... and sends nothing" "$(sim_count "$s")" 0 "log:$s"
out=$(q "SELECT count(*), bool_and(fresh), bool_and(size > 0), min(status), max(status),
		bool_and(expires > stored_at), bool_and(url LIKE '$PS%')
	FROM esi.cache WHERE route = '$OROUTE'")
expect "esi.cache lists the 4 pages: fresh, sized, 200, with their expiry" "$out" "4|t|t|200|200|t|t" \
	"sql:SELECT * FROM esi.cache"
out=$(q "SELECT requests, cache_hits, not_modified FROM esi.route_stats WHERE route = '$OROUTE'")
expect "esi.route_stats: 4 requests, 4 cache hits, no 304" "$out" "4|4|0" \
	"sql:SELECT * FROM esi.route_stats"
s=$(sim_seq)
out=$(q "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) $QS")
expect_match "EXPLAIN ANALYZE shows ESI Cache Hits: 4" "$out" 'ESI Cache Hits: 4'
out=$(q "SET default_transaction_read_only = on" "$QS")
expect "served under default_transaction_read_only" "$out" "$r1"
out=$(q "BEGIN READ ONLY" "$QS" "COMMIT")
expect "served in a READ ONLY transaction" "$out" "$r1"
expect "... none of which sent a request" "$(sim_count "$s")" 0 "log:$s"

# --- per query and per table: off, refresh ---------------------------------------------
s=$(sim_seq)
out=$(q "SET esi_fdw.cache = off" "$QS")
expect "esi_fdw.cache = off: the same rows" "$out" "$r1"
expect "... fetched again: 4 plain requests, all 200" "$(log_summary "$s" "$PS")" "4 4 0 0" \
	"log:$s"
s=$(sim_seq)
out=$(q "SET esi_fdw.cache = refresh" "$QS")
expect "esi_fdw.cache = refresh: the same rows" "$out" "$r1"
expect "... revalidated: 4 requests with If-None-Match, all 304" "$(log_summary "$s" "$PS")" "4 0 4 4" \
	"log:$s"
s=$(sim_seq)
out=$(q "ALTER FOREIGN TABLE market_orders OPTIONS (ADD cache 'off')" "$QS" \
	"ALTER FOREIGN TABLE market_orders OPTIONS (DROP cache)")
expect "table option cache 'off': the same rows" "$out" "$r1"
expect "... fetched again: 4 plain requests" "$(log_summary "$s" "$PS")" "4 4 0 0" "log:$s"
s=$(sim_seq)
out=$(q "ALTER SERVER esi OPTIONS (ADD cache 'off')" "$QS" "ALTER SERVER esi OPTIONS (DROP cache)")
expect "server option cache 'off': the same rows" "$out" "$r1"
expect "... fetched again: 4 plain requests" "$(log_summary "$s" "$PS")" "4 4 0 0" "log:$s"
s=$(sim_seq)
out=$(q "ALTER FOREIGN TABLE market_orders OPTIONS (ADD cache 'refresh')" "$QS" \
	"ALTER FOREIGN TABLE market_orders OPTIONS (DROP cache)")
expect "table option cache 'refresh': the same rows" "$out" "$r1"
expect "... revalidated: 4 requests with If-None-Match, all 304" "$(log_summary "$s" "$PS")" "4 0 4 4" \
	"log:$s"
s=$(sim_seq)
out=$(q "ALTER SERVER esi OPTIONS (ADD cache 'refresh')" "SET esi_fdw.cache = off" "$QS" \
	"ALTER SERVER esi OPTIONS (DROP cache)")
expect "server 'refresh' and setting 'off': the strictest (off) wins" "$(log_summary "$s" "$PS")" "4 4 0 0" \
	"log:$s"
s=$(sim_seq)
out=$(q "$QS")
expect "back to the defaults: the same rows from the cache, nothing sent" "$out|$(sim_count "$s")" "$r1|0" \
	"log:$s"
out=$(q "SELECT not_modified >= 8, cache_hits >= 5 FROM esi.route_stats WHERE route = '$OROUTE'")
expect "esi.route_stats counts the 304s and the hits" "$out" "t|t" "sql:SELECT * FROM esi.route_stats"

# --- expiry: If-None-Match, 304 ------------------------------------------------------------
out=$(q "SELECT esi.cache_clear() >= 4" "SELECT count(*) FROM esi.cache")
expect "esi.cache_clear() empties the cache" "$out" $'t\n0'
sim "/_sim/config?cache_seconds=2" >/dev/null
s=$(sim_seq)
out=$(q "$QS")
expect "after the clear, a scan fetches the pages again (replies now expire within 2 s)" \
	"$out|$(log_summary "$s" "$PS")" "$r1|4 4 0 0" "log:$s"
sleep 3
# the 304s now give the entries 10 minutes more
sim "/_sim/config?cache_seconds=600" >/dev/null
s=$(sim_seq)
out=$(q "$QS")
expect "past their expiry: the same rows" "$out" "$r1"
expect "... revalidated: 4 requests with If-None-Match, all 304" "$(log_summary "$s" "$PS")" "4 0 4 4" \
	"log:$s"
etags=$(sim_log "$s" "$PS" | awk -F'\t' '{ print $6 }' | sort -u | wc -l)
expect "... each page with its own ETag" "$etags" 4
s=$(sim_seq)
out=$(q "$QS")
expect "the 304 refreshed the entries: the next query sends nothing" "$out|$(sim_count "$s")" "$r1|0" \
	"log:$s"
out=$(q "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM market_orders WHERE region_id = $SMALL" \
	"SET esi_fdw.cache = refresh" \
	"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM market_orders WHERE region_id = $SMALL")
expect_match "EXPLAIN ANALYZE shows ESI Not Modified: 4 on a revalidation" "$out" 'ESI Not Modified: 4'

# --- the size bound --------------------------------------------------------------------------
q "ALTER SYSTEM SET esi_fdw.cache_size = 1" "SELECT pg_reload_conf()" >"$TEST_DIR/size.out" 2>&1
if cache_size_is 1MB; then ok "esi_fdw.cache_size = 1MB (ALTER SYSTEM, reload)"; else
	not_ok "esi_fdw.cache_size = 1MB (ALTER SYSTEM, reload)" "$TEST_DIR/size.out"; fi
s=$(sim_seq)
big=$(q "$QB")
expect_match "a scan of region $BIG (25 pages, about 6 MB) works" "$big" '^[0-9]+\|[0-9a-f]{32}$'
expect "... with one request per page" "$(sim_count "$s" /markets/$BIG/orders)" 25 "log:$s"
out=$(q "SELECT coalesce(sum(size), 0) <= 1024 * 1024 FROM esi.cache")
expect "the cache holds at most 1 MB of bodies" "$out" t \
	"$(q "SELECT count(*), sum(size) FROM esi.cache")"
out=$(q "SET esi_fdw.cache = off" "$QB")
expect "... and the scan's rows were right (the same without the cache)" "$out" "$big"
q "ALTER SYSTEM RESET esi_fdw.cache_size" "SELECT pg_reload_conf()" >"$TEST_DIR/size.out" 2>&1
if cache_size_is 1GB; then ok "esi_fdw.cache_size back to 1GB"; else
	not_ok "esi_fdw.cache_size back to 1GB" "$TEST_DIR/size.out" "$(q "SHOW esi_fdw.cache_size")"; fi

# --- a restart ------------------------------------------------------------------------------------
out=$(q "$QS")
expect "region $SMALL is in the cache again" "$out" "$r1"
datadir=$(q "SHOW data_directory")
s=$(sim_seq)
if esi_as_pg "$ESI_PG_BIN/pg_ctl" restart -D "$datadir" -l "$(dirname "$datadir")/log/postgresql.log" \
	-m fast -w -t 120 -s >"$TEST_DIR/restart.out" 2>&1; then
	ok "the cluster restarts"
else
	not_ok "the cluster restarts" "$TEST_DIR/restart.out"
fi
out=$(q "$QS")
expect "after the restart: the same rows" "$out" "$r1"
expect "... from the cache: nothing sent" "$(sim_count "$s")" 0 "log:$s"
out=$(q "SELECT count(*) >= 4 FROM esi.cache WHERE url LIKE '$PS%'")
expect "esi.cache still lists its pages" "$out" t

q "SELECT esi.cache_clear()" >/dev/null
echo "1..$n"
if [ "$failures" -gt 0 ]; then
	echo "# $failures of $n tests failed (database $DB kept for inspection)"
	exit 1
fi
simlib_drop_db
