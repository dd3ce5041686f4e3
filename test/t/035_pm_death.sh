#!/usr/bin/env bash
# test/t/035_pm_death.sh - a backend waiting on ESI exits when the postmaster
# dies (it waits on its latch, libcurl's sockets and postmaster death together).
#
# Starts a throw-away cluster of its own under TEST_DIR (the shared test
# cluster is left alone) and the hostile server (test/hostile_server.py),
# whose /stall route never answers; a scan waits on it with a request timeout
# of an hour, the postmaster is killed with SIGKILL, and the backend must go
# away. The 60 s poll is a safety limit, not a speed requirement: without the
# postmaster-death check the backend would wait out the whole hour.
set -uo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=test/lib.sh
. "$ROOT/test/lib.sh"
TEST_DIR_TMP=
if [ -z "${TEST_DIR:-}" ]; then
	TEST_DIR=$(mktemp -d)
	TEST_DIR_TMP=$TEST_DIR
fi
mkdir -p "$TEST_DIR"
PSQL=$ESI_PG_BIN/psql
APP=esi_t_pm_death

. "$(dirname "$0")/../tap.sh"

srv_pid=
bg_pid=
backend=
shm_line=
cluster=
finish() {
	set +e
	if [ -n "$backend" ] && kill -0 "$backend" 2>/dev/null; then
		kill -KILL "$backend" 2>/dev/null
	fi
	if [ -n "$bg_pid" ] && kill -0 "$bg_pid" 2>/dev/null; then
		kill -TERM "$bg_pid" 2>/dev/null
		wait "$bg_pid" 2>/dev/null
	fi
	if [ -n "$cluster" ]; then
		esi_cluster_stop "$cluster" >/dev/null 2>&1
		# the SysV segment a killed postmaster leaves behind
		if [ -n "$shm_line" ]; then
			set -- $shm_line
			[ -n "${2:-}" ] && ipcrm -m "$2" 2>/dev/null
		fi
	fi
	if [ -n "$srv_pid" ] && kill -0 "$srv_pid" 2>/dev/null; then
		kill -TERM "$srv_pid" 2>/dev/null
		wait "$srv_pid" 2>/dev/null
	fi
	srv_pid= bg_pid= backend=
}
trap 'finish; [ -z "$TEST_DIR_TMP" ] || rm -rf "$TEST_DIR_TMP"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- a cluster of its own and the hostile server ------------------------------------------
cluster=$TEST_DIR/pm
if ! ESI_CLUSTER_FRESH=1 esi_cluster_start "$cluster" 54397 >"$TEST_DIR/cluster.log" 2>&1; then
	echo "Bail out! could not start a cluster"
	cat "$TEST_DIR/cluster.log"
	exit 1
fi
cluster=$ESI_CLUSTER_DIR
export PGHOST=$cluster/sock PGPORT=54397 PGUSER=postgres

rm -f "$TEST_DIR/hostile.port"
python3 "$ROOT/test/hostile_server.py" --port 0 --port-file "$TEST_DIR/hostile.port" \
	</dev/null >"$TEST_DIR/hostile.log" 2>&1 &
srv_pid=$!
for ((i = 0; i < 100; i++)); do
	[ -s "$TEST_DIR/hostile.port" ] && break
	sleep 0.1
done
URL=http://127.0.0.1:$(cat "$TEST_DIR/hostile.port" 2>/dev/null)

if "$PSQL" -X -q -d postgres -v ON_ERROR_STOP=1 >"$TEST_DIR/setup.out" 2>"$TEST_DIR/setup.err" <<EOSQL
CREATE EXTENSION esi_fdw;
CREATE SERVER hostile FOREIGN DATA WRAPPER esi_fdw OPTIONS (base_url '$URL');
CREATE FOREIGN TABLE h_stall (id bigint) SERVER hostile OPTIONS (route '/stall');
EOSQL
then
	ok "setup: a cluster of its own, a table on a route that never answers"
else
	not_ok "setup" "$TEST_DIR/setup.err"
	echo "Bail out! setup failed"
	exit 1
fi

# --- a scan waits on ESI ---------------------------------------------------------------------
PGAPPNAME=$APP "$PSQL" -X -A -t -d postgres \
	-c "SET esi_fdw.request_timeout = '1h'" -c "SELECT * FROM h_stall" \
	>"$TEST_DIR/scan.out" 2>"$TEST_DIR/scan.err" &
bg_pid=$!
wait_type=
for ((i = 0; i < 300; i++)); do
	read -r backend wait_type < <("$PSQL" -X -A -t -F ' ' -d postgres -c "SELECT pid, wait_event_type
		FROM pg_stat_activity WHERE application_name = '$APP' AND state = 'active'" 2>/dev/null)
	[ "$wait_type" = Extension ] && break
	sleep 0.1
done
if [ -n "$backend" ] && [ "$wait_type" = Extension ]; then
	ok "the scan's backend ($backend) waits on ESI (wait_event_type Extension)"
else
	not_ok "the scan's backend waits on ESI (got pid '$backend', wait_event_type '$wait_type')" \
		"$TEST_DIR/scan.err"
fi

# --- the postmaster dies ---------------------------------------------------------------------
pm=$(head -n 1 "$cluster/data/postmaster.pid" 2>/dev/null)
shm_line=$(sed -n 7p "$cluster/data/postmaster.pid" 2>/dev/null)
if [ -n "$pm" ] && kill -KILL "$pm" 2>/dev/null; then
	ok "postmaster ($pm) killed with SIGKILL"
else
	not_ok "postmaster killed with SIGKILL"
fi
gone=no
for ((i = 0; i < 600; i++)); do
	if [ -z "$backend" ] || ! esi_pid_alive "$backend"; then
		gone=yes
		break
	fi
	sleep 0.1
done
if [ "$gone" = yes ]; then
	ok "the waiting backend exits when the postmaster dies"
else
	not_ok "the waiting backend exits when the postmaster dies (still alive after 60 s)"
fi

finish
echo "1..$n"
if [ "$failures" -gt 0 ]; then
	echo "# $failures of $n tests failed"
	exit 1
fi
rm -rf "$cluster"
exit 0
