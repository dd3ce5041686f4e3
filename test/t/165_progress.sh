#!/usr/bin/env bash
# test/t/165_progress.sh - the progress of long work (issue 18, item 1):
# esi.progress shows each running scan and refresh, in a backend or a
# background worker: who, which target or table, the route, pages done of
# pages known (X-Pages), rows, bytes, requests, retries, what it waits on
# and since when.  A role sees its own rows; members of pg_read_all_stats
# see all; another role sees none.  The row goes when the scan ends, is
# cancelled, or the refresh ends.  Scans are made slow with the
# simulator's latency fault and watched from a second session (polls with
# generous bounds, never timing assertions).  Prints TAP.
set -uo pipefail
export LC_ALL=C
: "${PGHOST:?}" "${PGPORT:?}" "${PGUSER:?}" "${ESI_SIM_URL:?}"
TEST_DIR=${TEST_DIR:-$(mktemp -d)}
mkdir -p "$TEST_DIR"
DB=t_progress
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
	q "SELECT esi.limits_reset()" >/dev/null 2>&1
}
trap finish EXIT

FORGE=10000002   # The Forge: hundreds of pages of orders
SMALL=10000033   # The Citadel: 4 pages
OROUTE='/markets/{region_id}/orders'
# as ROLE SQL... - q as another role
as() {
	local role=$1
	shift
	PGUSER=$role q "$@"
}
# xpages REGION - the X-Pages of a region's orders, asked of the simulator
xpages() {
	curl -fsS -D - -o /dev/null "$ESI_SIM_URL/markets/$1/orders?page=1" |
		tr -d '\r' | awk -F': ' 'tolower($1) == "x-pages" { print $2 }'
}
# page1 REGION - "records bytes" of page 1 of a region's orders
page1() {
	curl -fsS "$ESI_SIM_URL/markets/$1/orders?page=1" |
		python3 -c 'import json, sys; b = sys.stdin.buffer.read(); print(len(json.loads(b)), len(b))'
}
# backend_of ROLE - the pid of ROLE's active session (the scan in the background)
backend_of() {
	q "SELECT pid FROM pg_stat_activity WHERE usename = '$1' AND datname = '$DB'
	   AND state = 'active' AND pid <> pg_backend_pid()"
}
# seen DESCRIPTION SECONDS SQL [DIAGNOSTIC...] - ok once SQL returns t (polled, at
# most SECONDS); else not ok with esi.progress and the diagnostics
seen() {
	local desc=$1 bound=$2 sql=$3
	shift 3
	if wait_for "$sql" "$bound"; then
		ok "$desc"
	else
		diagnostics "sql:SELECT * FROM esi.progress" "$@"
		not_ok "$desc" "${DIAG_OUT[@]}"
	fi
}
PROW="SELECT usename, datname, backend_type, coalesce(target, '-'), table_name, route, pages_total
	FROM esi.progress WHERE datname = '$DB'"

simlib_setup_db \
	"ALTER DATABASE $DB SET esi_fdw.cache = off" \
	"DO \$\$ BEGIN
	   IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'esi_prog_a') THEN CREATE ROLE esi_prog_a LOGIN; END IF;
	   IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'esi_prog_b') THEN CREATE ROLE esi_prog_b LOGIN; END IF;
	   IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'esi_prog_mon') THEN CREATE ROLE esi_prog_mon LOGIN; END IF;
	 END \$\$" \
	"GRANT pg_read_all_stats TO esi_prog_mon" \
	"GRANT USAGE ON FOREIGN SERVER esi TO esi_prog_a, esi_prog_b" \
	"GRANT SELECT ON market_orders TO esi_prog_a, esi_prog_b"
sim /_sim/reset >/dev/null
q "SELECT esi.limits_reset()" >/dev/null

out=$(q "SELECT count(*) FROM esi.progress")
expect "esi.progress exists and is empty while nothing runs" "$out" 0

# --- a long scan, seen by its role and by pg_read_all_stats --------------------------------
xp=$(xpages $FORGE)
expect_match "the simulator: The Forge's orders have X-Pages" "$xp" '^[0-9]+$'
sim "/_sim/fault?path=/markets/$FORGE/orders&kind=latency&ms=1500&count=0" >/dev/null
PGUSER=esi_prog_a q_bg "$TEST_DIR/forge.out" "SELECT count(*) FROM market_orders WHERE region_id = $FORGE"
pids=("$BG_PID")
seen "the scan shows in esi.progress, waiting on ESI, once page 1 told X-Pages" 60 \
	"SELECT EXISTS (SELECT FROM esi.progress WHERE route = '$OROUTE' AND pages_total IS NOT NULL
		AND wait_kind = 'esi')" "$TEST_DIR/forge.out"
pid=$(backend_of esi_prog_a)
out=$(q "$PROW")
expect "... its row: role, database, backend, no target, table, route, pages known = X-Pages" "$out" \
	"esi_prog_a|$DB|client backend|-|market_orders|$OROUTE|$xp" "sql:SELECT * FROM esi.progress"
out=$(q "SELECT pid = $pid, pages_done BETWEEN 1 AND pages_total, requests >= pages_done, retries,
		cache_hits, wait_since <= now(), scan_started <= wait_since, refresh_started IS NULL
	FROM esi.progress WHERE datname = '$DB'")
expect "... the scan's pid; pages done of pages known; no retry, no cache hit; since when" "$out" \
	"t|t|t|0|0|t|t|t" "sql:SELECT * FROM esi.progress"
out=$(as esi_prog_a "SELECT usename, table_name, pages_total FROM esi.progress")
expect "its own role sees it from another session" "$out" "esi_prog_a|market_orders|$xp"
out=$(as esi_prog_b "SELECT count(*) FROM esi.progress")
expect "another ordinary role sees no row" "$out" 0
out=$(as esi_prog_mon "SELECT usename, table_name, route, pages_total FROM esi.progress")
expect "a member of pg_read_all_stats sees it" "$out" "esi_prog_a|market_orders|$OROUTE|$xp"
out=$(q "SELECT pg_cancel_backend($pid)")
expect "pg_cancel_backend() cancels the scan" "$out" t
wait "${pids[0]}"
pids=()
expect_match "... the scan ends with the cancel" "$(cat "$TEST_DIR/forge.out")" 'canceling statement'
out=$(q "SELECT count(*) FROM esi.progress WHERE pid = $pid")
expect "... and its row is gone" "$out" 0
sim /_sim/reset >/dev/null

# --- exact counters of a scan between pages; gone when it ends ----------------------------
read -r recs bytes < <(page1 $SMALL)
expect_match "the simulator: page 1 of The Citadel's orders" "$recs $bytes" '^[0-9]+ [0-9]+$'
expect "... of 4 pages" "$(xpages $SMALL)" 4
for p in 2 3 4; do
	sim "/_sim/fault?path=/markets/$SMALL/orders&kind=latency&ms=3000&page=$p&count=1" >/dev/null
done
q_bg "$TEST_DIR/small.out" "SELECT count(*) FROM market_orders WHERE region_id = $SMALL"
pids=("$BG_PID")
seen "a scan of The Citadel: page 1 done, pages 2 to 4 awaited" 60 \
	"SELECT EXISTS (SELECT FROM esi.progress WHERE datname = '$DB' AND pages_done = 1
	AND wait_kind = 'esi')"
out=$(q "SELECT usename, table_name, pages_done, pages_total, rows, bytes, requests, retries, wait_kind,
		wait_event IS NULL
	FROM esi.progress WHERE datname = '$DB'")
expect "... its counters: 1 of 4 pages, page 1's rows and bytes, 4 requests, waiting on ESI" "$out" \
	"$PGUSER|market_orders|1|4|$recs|$bytes|4|0|esi|t" "sql:SELECT * FROM esi.progress"
wait "${pids[0]}"
pids=()
expect_match "... the scan ends with its count" "$(cat "$TEST_DIR/small.out")" '^[0-9]+$'
out=$(q "SELECT count(*) FROM esi.progress WHERE datname = '$DB'")
expect "... and its row is gone" "$out" 0
sim /_sim/reset >/dev/null

# --- a refresh: CALL esi.refresh, then a background worker --------------------------------
out=$(q "SELECT esi.track('prog_citadel', 'market_orders', '{\"region_id\": $SMALL}', auto => false)")
expect "esi.track() a target (no background refresh)" "$out" "esi_snapshots.prog_citadel"
sim "/_sim/fault?path=/markets/$SMALL/orders&kind=latency&ms=1500&count=0" >/dev/null
q_bg "$TEST_DIR/refresh.out" "CALL esi.refresh('prog_citadel')"
pids=("$BG_PID")
seen "CALL esi.refresh() shows in esi.progress with its target" 60 \
	"SELECT EXISTS (SELECT FROM esi.progress WHERE target = 'prog_citadel' AND pages_total IS NOT NULL)"
out=$(q "$PROW")
expect "... its row: the target, the table it reads, the route, 4 pages" "$out" \
	"$PGUSER|$DB|client backend|prog_citadel|market_orders|$OROUTE|4" "sql:SELECT * FROM esi.progress"
out=$(q "SELECT refresh_started <= scan_started FROM esi.progress WHERE datname = '$DB'")
expect "... the refresh began before its scan" "$out" t
wait "${pids[0]}"
pids=()
expect "... the refresh succeeds" "$(cat "$TEST_DIR/refresh.out")" ""
out=$(q "SELECT count(*) FROM esi.progress WHERE datname = '$DB'")
expect "... and its row is gone" "$out" 0

q "SELECT esi.set_auto('prog_citadel', true)" "UPDATE esi.targets SET next_refresh_at = now()
	WHERE target = 'prog_citadel'" >/dev/null
seen "a background worker's refresh shows in esi.progress" 120 \
	"SELECT EXISTS (SELECT FROM esi.progress WHERE target = 'prog_citadel'
	AND backend_type = 'esi_fdw refresh worker' AND pages_total IS NOT NULL)" \
	"sql:SELECT * FROM esi.targets"
out=$(q "SELECT target, backend_type, table_name, route, pages_total FROM esi.progress
	WHERE datname = '$DB'")
expect "... its row: the target, the worker, the table, the route, 4 pages" "$out" \
	"prog_citadel|esi_fdw refresh worker|market_orders|$OROUTE|4" "sql:SELECT * FROM esi.progress"
q "SELECT esi.set_auto('prog_citadel', false)" >/dev/null
seen "... and its row is gone when the refresh ends" 120 \
	"SELECT count(*) = 0 FROM esi.progress WHERE datname = '$DB'"
sim /_sim/reset >/dev/null

# --- a wait for another session's fetch of the same reply (the cache) -----------------------
ONE=10000001     # 1 page
q "SELECT esi.cache_clear()" >/dev/null
sim "/_sim/fault?path=/markets/$ONE/orders&kind=latency&ms=4000&count=1" >/dev/null
q_bg "$TEST_DIR/first.out" "SET esi_fdw.cache = on" "SELECT count(*) FROM market_orders WHERE region_id = $ONE"
pids=("$BG_PID")
seen "a scan with the cache on fetches the page" 60 \
	"SELECT EXISTS (SELECT FROM esi.progress WHERE datname = '$DB' AND usename = current_user
		AND wait_kind = 'esi')"
PGUSER=esi_prog_a q_bg "$TEST_DIR/second.out" "SET esi_fdw.cache = on" \
	"SELECT count(*) FROM market_orders WHERE region_id = $ONE"
pids+=("$BG_PID")
seen "another session's scan of it waits for that fetch" 60 \
	"SELECT EXISTS (SELECT FROM esi.progress WHERE usename = 'esi_prog_a' AND wait_kind = 'coalescing')"
out=$(q "SELECT table_name, wait_kind, wait_event IS NULL, requests, pages_done, wait_since >= scan_started
	FROM esi.progress WHERE usename = 'esi_prog_a'")
expect "... wait_kind coalescing, no request of its own" "$out" "market_orders|coalescing|t|0|0|t" \
	"sql:SELECT * FROM esi.progress"
wait "${pids[0]}" "${pids[1]}"
pids=()
expect "... both get the same rows" "$(cat "$TEST_DIR/second.out")" "$(cat "$TEST_DIR/first.out")"
out=$(q "SELECT count(*) FROM esi.progress WHERE datname = '$DB'")
expect "... and their rows are gone" "$out" 0
sim /_sim/reset >/dev/null

# --- a wait for ESI's error limit ------------------------------------------------------------
# (a route without a rate-limit group: ESI's error limit holds it back)
sim "/_sim/error_limit?remain=5&reset=50" >/dev/null
out=$(q "SELECT type_id FROM universe_type_details WHERE type_id = 34")
expect "a query learns that 5 errors are left (below esi_fdw.error_limit_threshold)" "$out" 34
q "GRANT SELECT ON universe_type_details TO esi_prog_a" >/dev/null
PGUSER=esi_prog_a q_bg "$TEST_DIR/limit.out" "SELECT type_id FROM universe_type_details WHERE type_id = 35"
pids=("$BG_PID")
seen "a scan waiting for the error limit's reset shows it" 60 \
	"SELECT EXISTS (SELECT FROM esi.progress WHERE datname = '$DB' AND wait_kind = 'limit')" \
	"$TEST_DIR/limit.out"
out=$(q "SELECT usename, table_name, route, wait_kind, wait_event, requests, pages_done,
		pages_total IS NULL, wait_since >= scan_started
	FROM esi.progress WHERE datname = '$DB'")
expect "... wait_kind limit, wait_event error limit, nothing sent yet" "$out" \
	"esi_prog_a|universe_type_details|/universe/types/{type_id}|limit|error limit|0|0|t|t" \
	"sql:SELECT * FROM esi.progress"
pid=$(backend_of esi_prog_a)
q "SELECT pg_cancel_backend($pid)" >/dev/null
wait "${pids[0]}"
pids=()
expect_match "... cancelled" "$(cat "$TEST_DIR/limit.out")" 'canceling statement'
out=$(q "SELECT count(*) FROM esi.progress WHERE datname = '$DB'")
expect "... and its row is gone" "$out" 0

finish
[ "$failures" -eq 0 ] && simlib_drop_db
echo "1..$n"
[ "$failures" -eq 0 ]
