#!/usr/bin/env bash
# test/t/057_cache_concurrency.sh - the response cache done the PostgreSQL
# way (issue 17, items 5 and 6): sessions reading fresh entries share the
# index lock (no LWLock wait on esi_fdw_cache while four sessions read the
# same cached region over and over); a full index evicts its least recently
# used entry (pinned: the second one stored, after the first was read
# again) and rows stay exact; an index load that fails (the directory
# unreadable after a restart) leaves the index unloaded, and the next
# session loads it completely (every entry, nothing sent), files written by
# esi_fdw 0.6.0 (format version 1) included; a session
# waiting for another's request sleeps on a condition variable, shown in
# pg_stat_activity as wait_event_type 'Extension', wait_event 'Extension',
# and wakes a handful of times, not every 10 ms.  Prints TAP.
set -uo pipefail
export LC_ALL=C
: "${PGHOST:?}" "${PGPORT:?}" "${PGUSER:?}" "${ESI_SIM_URL:?}"
TEST_DIR=${TEST_DIR:-$(mktemp -d)}
mkdir -p "$TEST_DIR"
DB=t_cache_conc
# shellcheck source=test/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=test/tap.sh
. "$(dirname "$0")/../tap.sh"
# shellcheck source=test/simlib.sh
. "$(dirname "$0")/../simlib.sh"

SMALL=10000033
PS=/markets/$SMALL/orders
APP=esi_t_cache_conc
QS="SELECT count(*), md5(string_agg(order_id || ':' || price || ':' || volume_remain, ',' ORDER BY order_id))
    FROM market_orders WHERE region_id = $SMALL"
type_q() { echo "SELECT type_id, name, md5(description) FROM universe_type_details WHERE type_id = $1"; }

datadir=
pids=()
# pg_restart - restarts the cluster (fast), true when it is up again
pg_restart() {
	esi_as_pg "$ESI_PG_BIN/pg_ctl" restart -D "$datadir" -l "$(dirname "$datadir")/log/postgresql.log" \
		-m fast -w -t 120 -s >"$TEST_DIR/restart.out" 2>&1
}
finish() {
	local p
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	sim /_sim/reset >/dev/null 2>&1
	if [ -n "$datadir" ]; then
		chmod 700 "$datadir/esi_fdw_cache" 2>/dev/null
		if [ "$(q "SHOW esi_fdw.cache_max_entries" 2>/dev/null)" != 65536 ]; then
			q "ALTER SYSTEM RESET esi_fdw.cache_max_entries" >/dev/null 2>&1
			pg_restart
		fi
	fi
}
trap finish EXIT

simlib_setup_db
sim /_sim/reset >/dev/null
sim "/_sim/config?cache_seconds=600" >/dev/null
datadir=$(q "SHOW data_directory")

# --- sessions reading fresh entries share the lock -----------------------------------------------
expected=$(q "SET esi_fdw.cache = off" "$QS")
expect_match "region $SMALL's rows, read without the cache" "$expected" '^[0-9]+\|[0-9a-f]{32}$'
q "SELECT esi.cache_clear()" >/dev/null
out=$(q "$QS")
expect "the region read once into the cache" "$out" "$expected"
s=$(sim_seq)
reads=()
for ((i = 0; i < 30; i++)); do reads+=("$QS"); done
for i in 1 2 3 4; do
	PGAPPNAME=$APP$i q_bg "$TEST_DIR/r$i.out" "${reads[@]}"
	pids+=("$BG_PID")
done
lwwaits=0
for ((i = 0; i < 100; i++)); do
	w=$("$PSQL" -X -A -t -d postgres -c "SELECT count(*) FROM pg_stat_activity
		WHERE application_name LIKE '$APP%' AND wait_event_type = 'LWLock' AND wait_event = 'esi_fdw_cache'")
	lwwaits=$((lwwaits + w))
done
for p in "${pids[@]}"; do wait "$p"; done
pids=()
want=$(for ((i = 0; i < 30; i++)); do echo "$expected"; done)
for i in 1 2 3 4; do
	expect "session $i read the region's rows 30 times" "$(cat "$TEST_DIR/r$i.out")" "$want"
done
expect "... all from the cache: nothing sent" "$(sim_count "$s")" 0 "log:$s"
expect "... and no sample of pg_stat_activity saw one wait on the esi_fdw_cache lock" "$lwwaits" 0

# --- a waiter sleeps on the condition variable ------------------------------------------------
q "SELECT esi.cache_clear()" >/dev/null
s=$(sim_seq)
sim "/_sim/fault?path=$PS&page=1&kind=latency&ms=5000" >/dev/null
PGAPPNAME=${APP}w1 q_bg "$TEST_DIR/w1.out" "$QS"
pids=("$BG_PID")
for ((i = 0; i < 600; i++)); do
	sim_log "$s" "$PS" | awk -F'\t' '$2 == "-" { f = 1 } END { exit !f }' && break
	sleep 0.1
done
PGAPPNAME=${APP}w2 q_bg "$TEST_DIR/w2.out" "$QS"
pids+=("$BG_PID")
wpid=
for ((i = 0; i < 600; i++)); do
	wpid=$("$PSQL" -X -A -t -d postgres -c "SELECT pid FROM pg_stat_activity
		WHERE application_name = '${APP}w2' AND state = 'active'")
	[ -n "$wpid" ] && break
	sleep 0.1
done
sleep 0.5
samples=$(for ((i = 0; i < 5; i++)); do
	"$PSQL" -X -A -t -d postgres -c "SELECT state, wait_event_type, wait_event
		FROM pg_stat_activity WHERE pid = $wpid"
	sleep 0.2
done | sort | uniq -c | sed 's/^ *//')
expect "pg_stat_activity: the waiting session, sampled 5 times, waits on an Extension event" \
	"$samples" "5 active|Extension|Extension"
c1=$(awk '/^voluntary_ctxt_switches/ { print $2 }' "/proc/$wpid/status")
sleep 2
c2=$(awk '/^voluntary_ctxt_switches/ { print $2 }' "/proc/$wpid/status")
# a condition variable with a recheck every second: 2 or 3 wake-ups in 2 s
# (polling every 10 ms made 200); the bound leaves room for a stray signal
woke=$((c2 - c1))
if [ "$woke" -le 6 ]; then ok "the waiting session woke $woke times in 2 s (at most 6)"; else
	not_ok "the waiting session woke $woke times in 2 s (at most 6)"; fi
for p in "${pids[@]}"; do wait "$p"; done
pids=()
expect "the fetching session returns the region's rows" "$(cat "$TEST_DIR/w1.out")" "$expected"
expect "the waiting session returns them too" "$(cat "$TEST_DIR/w2.out")" "$expected"
expect "page 1 was fetched once" "$(sim_log "$s" "$PS" | awk -F'\t' '$3 == 1' | wc -l)" 1 "log:$s"
sim /_sim/reset >/dev/null
sim "/_sim/config?cache_seconds=600" >/dev/null

# --- least recently used goes first -----------------------------------------------------------
# 65 published types of the simulator's universe (seed 1, as it runs here)
read -r -a ids <<<"$(cd "$(dirname "$0")/.." && python3 -c '
from sim.universe import Universe
u = Universe(1)
print(" ".join(str(t) for t in [t for t in u.type_ids if u.types[t].published and t >= 34][:65]))')"
expect "65 type ids the simulator knows" "${#ids[@]}" 65
q "ALTER SYSTEM SET esi_fdw.cache_max_entries = 64" >/dev/null
if pg_restart; then ok "restart with esi_fdw.cache_max_entries = 64"; else
	not_ok "restart with esi_fdw.cache_max_entries = 64" "$TEST_DIR/restart.out"; fi
q "SELECT esi.cache_clear()" >/dev/null
stmts=()
for ((i = 0; i < 64; i++)); do stmts+=("$(type_q "${ids[$i]}")"); done
q "${stmts[@]}" >"$TEST_DIR/types.out"
expect "64 types read, one statement each" "$(wc -l <"$TEST_DIR/types.out")" 64
expect "esi.cache holds 64 entries" "$(q "SELECT count(*) FROM esi.cache")" 64
first=$(q "SET esi_fdw.cache = off" "$(type_q "${ids[0]}")")
second=$(q "SET esi_fdw.cache = off" "$(type_q "${ids[1]}")")
s=$(sim_seq)
expect "the first type read again, from the cache" "$(q "$(type_q "${ids[0]}")")" "$first"
expect "... nothing sent" "$(sim_count "$s")" 0 "log:$s"
q "$(type_q "${ids[64]}")" >/dev/null
held=$(q "SELECT count(*),
	count(*) FILTER (WHERE url ~ '^/universe/types/${ids[0]}([/?]|$)'),
	count(*) FILTER (WHERE url ~ '^/universe/types/${ids[1]}([/?]|$)'),
	count(*) FILTER (WHERE url ~ '^/universe/types/${ids[64]}([/?]|$)') FROM esi.cache")
expect "a 65th type evicts the least recently used: the second (entries, first, second, 65th)" \
	"$held" "64|1|0|1" "sql:SELECT url, last_used FROM esi.cache ORDER BY last_used LIMIT 3"
s=$(sim_seq)
expect "the second type read again: its exact row" "$(q "$(type_q "${ids[1]}")")" "$second"
expect "... asked of ESI once" "$(sim_count "$s" "/universe/types/${ids[1]}\"")" 1 "log:$s"
expect "the first: its exact row, from the cache" "$(q "$(type_q "${ids[0]}")")" "$first"

# --- an index load that fails leaves it unloaded, the next loads it all --------------------------
# (and files of version 1, as esi_fdw 0.6.0 wrote them, are read: the
# files are rewritten so while the cluster is down)
before=$(q "SELECT count(*) FROM esi.cache")
esi_as_pg "$ESI_PG_BIN/pg_ctl" stop -D "$datadir" -m fast -w -t 60 -s >"$TEST_DIR/stop.out" 2>&1
expect "the cache's 64 files rewritten in the format of version 1" \
	"$(python3 "$(dirname "$0")/../cache_v1.py" "$datadir/esi_fdw_cache" 2>&1)" 64
chmod 000 "$datadir/esi_fdw_cache"
if esi_as_pg "$ESI_PG_BIN/pg_ctl" start -D "$datadir" -l "$(dirname "$datadir")/log/postgresql.log" \
	-w -t 120 -s >"$TEST_DIR/start.out" 2>&1; then ok "the cluster starts with its cache directory unreadable"
else not_ok "the cluster starts with its cache directory unreadable" "$TEST_DIR/start.out"; fi
out=$(q "$(type_q "${ids[0]}")")
expect_match "a read fails while the cache cannot be loaded" "$out" \
	'could not open directory "esi_fdw_cache": Permission denied'
chmod 700 "$datadir/esi_fdw_cache"
s=$(sim_seq)
expect "the directory readable again: the first type, from the cache" "$(q "$(type_q "${ids[0]}")")" "$first"
expect "... nothing sent" "$(sim_count "$s")" 0 "log:$s"
expect "esi.cache lists every entry again" "$(q "SELECT count(*) FROM esi.cache")" "$before"
s=$(sim_seq)
expect "the 65th type, from a file of version 1" "$(q "$(type_q "${ids[64]}")")" \
	"$(q "SET esi_fdw.cache = off" "$(type_q "${ids[64]}")")"
expect "... one request: the one with the cache off" "$(sim_count "$s")" 1 "log:$s"

q "ALTER SYSTEM RESET esi_fdw.cache_max_entries" >/dev/null
if pg_restart; then ok "restart with esi_fdw.cache_max_entries back to its default"; else
	not_ok "restart with esi_fdw.cache_max_entries back to its default" "$TEST_DIR/restart.out"; fi
q "SELECT esi.cache_clear()" >/dev/null
echo "1..$n"
if [ "$failures" -gt 0 ]; then
	echo "# $failures of $n tests failed (database $DB kept for inspection)"
	exit 1
fi
simlib_drop_db
