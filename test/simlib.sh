# shellcheck shell=bash
# test/simlib.sh - helpers for the shell tests in test/t that run esi_fdw
# against the ESI simulator and assert on its request log; source it after
# test/tap.sh.  Needs PGHOST, PGPORT, PGUSER, ESI_SIM_URL, TEST_DIR and DB
# (the test's database).
SIMLIB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
PSQL=psql
[ -x /usr/lib/postgresql/15/bin/psql ] && PSQL=/usr/lib/postgresql/15/bin/psql

# sim PATH_AND_QUERY - a control request to the simulator; prints its answer
sim() { curl -fsS -m 30 "$ESI_SIM_URL$1"; }
# sim_seq - the seq number of the last request the simulator logged (its
# request count: seq numbers are dense from 1 after a reset)
sim_seq() { sim /_sim/stats | sed -n 's/.*"requests":\([0-9]*\).*/\1/p'; }
# sim_log SINCE [PATH_SUBSTRING] - the requests after SINCE, one a line:
# seq status page path query if_none_match started finished (tab-separated)
sim_log() { python3 "$SIMLIB_ROOT/test/simlog.py" "$ESI_SIM_URL" lines --since "$1" --path "${2:-}"; }
# sim_count SINCE [PATH_SUBSTRING] - how many such requests
sim_count() {
	sim "/_sim/requests?since=$1" | grep -o '"path":"[^"]*"' | grep -cF -- "${2:-}"
}

# q SQL... - run statements in a new session of $DB: tuples only, unaligned,
# verbose errors (ERROR:  SQLSTATE: message); prints output and errors
q() {
	local a args=()
	for a in "$@"; do args+=(-c "$a"); done
	"$PSQL" -X -q -A -t -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -d "$DB" "${args[@]}" 2>&1
}
# q_bg OUT SQL... - the same in the background, output in file OUT; sets BG_PID
q_bg() {
	local out=$1 a args=()
	shift
	for a in "$@"; do args+=(-c "$a"); done
	timeout -k 10 300 "$PSQL" -X -q -A -t -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -d "$DB" \
		"${args[@]}" >"$out" 2>&1 &
	# shellcheck disable=SC2034  # read by the tests
	BG_PID=$!
}

# diagnostics ARG... - what not_ok shows for each ARG: "log:SEQ" is the
# simulator's log after SEQ, "sql:QUERY" the result of QUERY in $DB,
# anything else is passed on as it is (a file or a text)
diagnostics() {
	local d
	DIAG_OUT=()
	for d in "$@"; do
		case $d in
			log:*) DIAG_OUT+=("simulator log after seq ${d#log:}:" "$(sim_log "${d#log:}")") ;;
			sql:*) DIAG_OUT+=("${d#sql:}:" "$(q "${d#sql:}")") ;;
			*) DIAG_OUT+=("$d") ;;
		esac
	done
}
# expect DESCRIPTION GOT WANTED [DIAGNOSTIC...] - ok when GOT = WANTED
expect() {
	local desc=$1 got=$2 want=$3
	shift 3
	if [ "$got" = "$want" ]; then
		ok "$desc"
	else
		diagnostics "$@"
		not_ok "$desc" "got:    $got" "wanted: $want" "${DIAG_OUT[@]}"
	fi
}
# expect_match DESCRIPTION GOT ERE [DIAGNOSTIC...] - ok when GOT matches ERE
expect_match() {
	local desc=$1 got=$2 re=$3
	shift 3
	if [[ $got =~ $re ]]; then
		ok "$desc"
	else
		diagnostics "$@"
		not_ok "$desc" "got:    $got" "wanted: /$re/" "${DIAG_OUT[@]}"
	fi
}

# wait_for SQL [SECONDS] - polls until SQL returns t in $DB (default bound
# 120 s); false when it never does. A bound, never a timing assertion.
wait_for() {
	local i lim=$((${2:-120} * 10)) out
	for ((i = 0; i < lim; i++)); do
		out=$(q "$1" 2>/dev/null)
		[ "$out" = t ] && return 0
		sleep 0.1
	done
	return 1
}

# simlib_own_cluster NAME PORT [CONF] - a fresh cluster of the test's own
# (its own background workers, its own server log) in $TEST_DIR/NAME, with
# CONF added to its postgresql.conf (needs test/lib.sh); sets dir, PGHOST,
# PGPORT and PGUSER; on exit the simulator is reset and the cluster
# stopped; bails out when the cluster does not start
simlib_own_cluster() {
	dir=$TEST_DIR/$1
	trap 'sim /_sim/reset >/dev/null 2>&1; esi_cluster_stop "$dir" >/dev/null 2>&1' EXIT
	sim /_sim/reset >/dev/null
	if ! ESI_CLUSTER_FRESH=1 ESI_CLUSTER_EXTRA_CONF="${3:-}" \
		esi_cluster_start "$dir" "$2" >"$TEST_DIR/$1.start.out" 2>&1; then
		echo "not ok 1 - start a cluster"
		sed 's/^/# /' "$TEST_DIR/$1.start.out"
		echo "1..1"
		exit 1
	fi
	dir=$ESI_CLUSTER_DIR
	export PGHOST=$dir/sock PGPORT=$2 PGUSER=postgres
}

# simlib_setup_db [SQL...] - (re)creates $DB with esi_fdw, a server "esi" on
# the simulator, the markets tables and universe_type_details in public,
# then runs SQL; bails out on failure
simlib_setup_db() {
	local a extra=()
	for a in "$@"; do extra+=(-c "$a"); done
	if "$PSQL" -X -q -d postgres -v ON_ERROR_STOP=1 \
		-c "SET client_min_messages = warning" \
		-c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" \
		-c "CREATE DATABASE $DB" >"$TEST_DIR/setup.out" 2>&1 &&
		"$PSQL" -X -q -d "$DB" -v ON_ERROR_STOP=1 \
			-c "CREATE EXTENSION esi_fdw" \
			-c "CREATE SERVER esi FOREIGN DATA WRAPPER esi_fdw OPTIONS (base_url '$ESI_SIM_URL', user_agent 'esi_fdw tests (dev@example.com)')" \
			-c "IMPORT FOREIGN SCHEMA markets FROM SERVER esi INTO public" \
			-c "IMPORT FOREIGN SCHEMA universe LIMIT TO (universe_type_details) FROM SERVER esi INTO public" \
			-c "ALTER DATABASE $DB SET esi_fdw.retry_delay = '10ms'" \
			"${extra[@]}" >>"$TEST_DIR/setup.out" 2>&1; then
		ok "setup: database $DB, esi_fdw, server esi on the simulator"
	else
		not_ok "setup: database $DB, esi_fdw, server esi on the simulator" "$TEST_DIR/setup.out"
		echo "Bail out! setup failed"
		exit 1
	fi
}

# simlib_drop_db - drops $DB (when every test passed)
simlib_drop_db() {
	"$PSQL" -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1
}

# now_epoch - the time now, epoch seconds with fractions
now_epoch() { date +%s.%N; }
# ge A B - true when the number A >= B
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
