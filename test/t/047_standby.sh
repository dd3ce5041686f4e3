#!/usr/bin/env bash
# test/t/047_standby.sh - the hot standby harness of test/lib.sh works:
# esi_standby_start clones the test cluster into a streaming hot standby
# (esi_fdw preloaded), which answers read-only queries and replays what the
# primary writes, and esi_standby_stop stops it.  Prints TAP.
set -uo pipefail
export LC_ALL=C
# shellcheck source=test/lib.sh
. "$(dirname "$0")/../lib.sh"
: "${PGHOST:?PGHOST is not set}" "${PGPORT:?PGPORT is not set}"
TEST_DIR=${TEST_DIR:-$(mktemp -d)}

# shellcheck source=test/tap.sh
. "$(dirname "$0")/../tap.sh"
# expect DESCRIPTION GOT WANTED [DIAGNOSTIC...]
expect() {
	local desc=$1 got=$2 want=$3
	shift 3
	if [ "$got" = "$want" ]; then ok "$desc"; else not_ok "$desc" "got: $got" "$@"; fi
}

sb=$TEST_DIR/standby
trap 'esi_standby_stop "$sb" >/dev/null 2>&1' EXIT
psql_p() { "$ESI_PG_BIN/psql" -X -q -A -t -U postgres -d postgres "$@"; }

if esi_standby_start "$sb" >"$TEST_DIR/start.out" 2>&1; then
	ok "esi_standby_start: a standby on port $ESI_STANDBY_PORT"
else
	not_ok "esi_standby_start" "$TEST_DIR/start.out" "$sb/log/postgresql.log"
	echo "1..$n"
	exit 1
fi
out=$(esi_standby_psql -A -t -d postgres -c "SELECT pg_is_in_recovery()" 2>&1)
expect "pg_is_in_recovery() is true on it" "$out" t
expect "it listens on the primary's port + 1" "$ESI_STANDBY_PORT" $((PGPORT + 1))
out=$(esi_standby_psql -A -t -d postgres -c "SHOW shared_preload_libraries" 2>&1)
expect "esi_fdw is preloaded" "$out" esi_fdw
out=$(psql_p -c "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'" 2>&1)
expect "the primary streams to it" "$out" 1

# something written on the primary shows up on the standby
tbl=t_standby_$$
psql_p -c "CREATE TABLE $tbl AS SELECT 42 AS x" >"$TEST_DIR/write.out" 2>&1
if esi_standby_catchup >>"$TEST_DIR/write.out" 2>&1; then
	out=$(esi_standby_psql -A -t -d postgres -c "SELECT x FROM $tbl" 2>&1)
else
	out="no catch-up"
fi
expect "a table created on the primary is replayed" "$out" 42 "$TEST_DIR/write.out"
out=$(esi_standby_psql -A -t -d postgres -c "INSERT INTO $tbl VALUES (1)" 2>&1)
case $out in
	*"cannot execute INSERT in a read-only transaction"*) ok "the standby refuses writes" ;;
	*) not_ok "the standby refuses writes" "$out" ;;
esac
psql_p -c "DROP TABLE $tbl" >/dev/null 2>&1

esi_standby_stop "$sb" >"$TEST_DIR/stop.out" 2>&1
if esi_cluster_running "$sb"; then
	not_ok "esi_standby_stop stops it" "$TEST_DIR/stop.out"
else
	ok "esi_standby_stop stops it"
fi
out=$(psql_p -c "SELECT 1" 2>&1)
expect "the primary still answers" "$out" 1
echo "1..$n"
[ "$failures" -eq 0 ]
