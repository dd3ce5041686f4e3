#!/usr/bin/env bash
# test/t/010_cancel.sh - a query cancel (Ctrl-C, pg_cancel_backend) and
# statement_timeout stop a foreign scan that is waiting on a slow ESI.
#
# Needs PGHOST, PGPORT, PGUSER (a cluster with esi_fdw installed) and
# ESI_SIM_URL (test/esi_sim.py); TEST_DIR is a scratch directory.
# Prints TAP. No wall-clock assertions: the simulator delays every answer
# of the history route by 60 s, so a query only ends early when it was
# really cancelled; the timeouts below only keep a broken build from
# hanging the suite.
set -uo pipefail
export LC_ALL=C

: "${PGHOST:?PGHOST is not set}" "${PGPORT:?PGPORT is not set}" "${PGUSER:?PGUSER is not set}"
: "${ESI_SIM_URL:?ESI_SIM_URL is not set}"
TEST_DIR_TMP=
if [ -z "${TEST_DIR:-}" ]; then
	TEST_DIR=$(mktemp -d)
	TEST_DIR_TMP=$TEST_DIR
fi
mkdir -p "$TEST_DIR"

PSQL=psql
[ -x /usr/lib/postgresql/15/bin/psql ] && PSQL=/usr/lib/postgresql/15/bin/psql
DB=t_cancel
APP=esi_t_cancel_bg
HISTORY_PATH=/markets/10000002/history
QUERY="SELECT count(*) FROM market_history WHERE region_id = 10000002 AND type_id = 34"
SAFETY_TIMEOUT=180   # a scan that ignores cancels ends after the 60 s delay

psql_db() { "$PSQL" -X -q -A -t -d "$@"; }

. "$(dirname "$0")/../tap.sh"
check() { # check DESCRIPTION COMMAND... (diagnostic files in DIAG array)
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc" "${DIAG[@]}"; fi
}
sim() { curl -fsS -m 10 "$ESI_SIM_URL$1"; }
# history_requests - how many requests of the history route the simulator
# has received since the last reset (control requests are not logged).
history_requests() {
	sim /_sim/requests 2>/dev/null |
		grep -Eo "\"path\": *\"[^\"]*$HISTORY_PATH" | wc -l
}

bg_pid=
finish() {
	if [ -n "$bg_pid" ] && kill -0 "$bg_pid" 2>/dev/null; then
		kill -TERM "$bg_pid" 2>/dev/null
		wait "$bg_pid" 2>/dev/null
	fi
	bg_pid=
	sim /_sim/reset >/dev/null 2>&1
}
trap 'finish; [ -z "$TEST_DIR_TMP" ] || rm -rf "$TEST_DIR_TMP"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "1..13"

# 1: setup ---------------------------------------------------------------------
DIAG=("$TEST_DIR/setup.err")
if psql_db postgres -v ON_ERROR_STOP=1 >"$TEST_DIR/setup.out" 2>"$TEST_DIR/setup.err" <<EOF &&
SET client_min_messages = warning;
DROP DATABASE IF EXISTS $DB WITH (FORCE);
CREATE DATABASE $DB;
EOF
	psql_db "$DB" -v ON_ERROR_STOP=1 >>"$TEST_DIR/setup.out" 2>>"$TEST_DIR/setup.err" <<EOF
CREATE EXTENSION esi_fdw;
CREATE SERVER esi FOREIGN DATA WRAPPER esi_fdw OPTIONS (base_url '$ESI_SIM_URL');
IMPORT FOREIGN SCHEMA markets FROM SERVER esi INTO public;
EOF
then
	ok "setup: database $DB, extension, server, IMPORT FOREIGN SCHEMA markets"
else
	not_ok "setup: database $DB, extension, server, IMPORT FOREIGN SCHEMA markets" "${DIAG[@]}"
	echo "Bail out! setup failed"
	exit 1
fi

# 2: make ESI slow ---------------------------------------------------------------
DIAG=("$TEST_DIR/fault.err")
if sim /_sim/reset >"$TEST_DIR/fault.out" 2>"$TEST_DIR/fault.err" &&
	sim "/_sim/fault?path=$HISTORY_PATH&kind=latency&ms=60000&count=0" \
		>>"$TEST_DIR/fault.out" 2>>"$TEST_DIR/fault.err"; then
	ok "simulator: every answer of $HISTORY_PATH delayed by 60 s"
else
	not_ok "simulator: every answer of $HISTORY_PATH delayed by 60 s" "${DIAG[@]}"
	echo "Bail out! cannot configure the simulator"
	exit 1
fi

# 3-5: statement_timeout ------------------------------------------------------------
timeout -k 10 "$SAFETY_TIMEOUT" "$PSQL" -X -A -t -d "$DB" \
	-c "SET statement_timeout = '500ms'" \
	-c "$QUERY" \
	-c "RESET statement_timeout" \
	-c "SELECT 'alive-after-timeout'" \
	>"$TEST_DIR/timeout.out" 2>"$TEST_DIR/timeout.err"
DIAG=("$TEST_DIR/timeout.out" "$TEST_DIR/timeout.err")
check "statement_timeout cancels the scan: 'canceling statement due to statement timeout'" \
	grep -q 'canceling statement due to statement timeout' "$TEST_DIR/timeout.err"
check "the same session still works after the timeout" \
	grep -qx 'alive-after-timeout' "$TEST_DIR/timeout.out"
before_cancel=$(history_requests)
echo "# the simulator got $before_cancel request(s) of $HISTORY_PATH so far"
check "the timed-out scan was waiting on the simulator" test "$before_cancel" -ge 1

# 6-11: pg_cancel_backend (what Ctrl-C in psql sends) --------------------------------
PGAPPNAME=$APP timeout -k 10 "$SAFETY_TIMEOUT" "$PSQL" -X -A -t -d "$DB" \
	-c "$QUERY" \
	-c "SELECT 'alive-after-cancel'" \
	>"$TEST_DIR/cancel.out" 2>"$TEST_DIR/cancel.err" &
bg_pid=$!

# Wait until the backend is running the query ...
backend=
for ((i = 0; i < 600; i++)); do
	backend=$(psql_db postgres -c "SELECT pid FROM pg_stat_activity
		WHERE application_name = '$APP' AND state = 'active'
		  AND query LIKE '%market_history%' LIMIT 1" 2>>"$TEST_DIR/poll.err")
	[ -n "$backend" ] && break
	kill -0 "$bg_pid" 2>/dev/null || break
	sleep 0.1
done
# ... and until its (slow) request has reached the simulator.
reached=no
if [ -n "$backend" ]; then
	for ((i = 0; i < 600; i++)); do
		if [ "$(history_requests)" -gt "$before_cancel" ]; then
			reached=yes
			break
		fi
		kill -0 "$bg_pid" 2>/dev/null || break
		sleep 0.1
	done
fi
DIAG=("$TEST_DIR/cancel.out" "$TEST_DIR/cancel.err" "$TEST_DIR/poll.err")
check "the background query shows up as active in pg_stat_activity" test -n "$backend"
check "its request is waiting on the simulator" test "$reached" = yes

# While it waits on ESI the backend shows a wait event (sampled a few times:
# it may be between two waits at any one moment).
wait_type=
if [ "$reached" = yes ]; then
	for ((i = 0; i < 50; i++)); do
		wait_type=$(psql_db postgres -c "SELECT wait_event_type FROM pg_stat_activity
			WHERE pid = $backend" 2>>"$TEST_DIR/poll.err")
		[ "$wait_type" = Extension ] && break
		sleep 0.1
	done
fi
echo "# wait_event_type of the waiting backend: '${wait_type}'"
check "pg_stat_activity shows wait_event_type 'Extension' while the scan waits on ESI" \
	test "$wait_type" = Extension

cancelled=
if [ -n "$backend" ]; then
	cancelled=$(psql_db postgres -c "SELECT pg_cancel_backend($backend)" 2>>"$TEST_DIR/poll.err")
fi
check "pg_cancel_backend() returns true" test "$cancelled" = t

wait "$bg_pid" 2>/dev/null
bg_rc=$?
bg_pid=
echo "# background psql exited with status $bg_rc"
check "the cancelled scan reports 'canceling statement due to user request'" \
	grep -q 'canceling statement due to user request' "$TEST_DIR/cancel.err"
check "the same session still works after the cancel" \
	grep -qx 'alive-after-cancel' "$TEST_DIR/cancel.out"

# 12, 13: everything still healthy -------------------------------------------------
DIAG=("$TEST_DIR/health.err")
check "a new connection still answers SELECT 1" \
	test "$(psql_db "$DB" -c 'SELECT 1' 2>"$TEST_DIR/health.err")" = 1
DIAG=("$TEST_DIR/sim_health.err")
# shellcheck disable=SC2317  # called through check
sim_answers() { sim /_sim/requests >/dev/null 2>"$TEST_DIR/sim_health.err"; }
check "the simulator still answers" sim_answers

finish

if [ "$failures" -gt 0 ]; then
	echo "# $failures of $n tests failed (database $DB kept for inspection)"
	exit 1
fi
psql_db postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1
exit 0
