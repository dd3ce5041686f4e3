#!/usr/bin/env bash
# test/run_tests.sh - build esi_fdw and run all its tests.
#
#   bash test/run_tests.sh          (as root, or as a user with sudo)
#
# 1. installs missing packages, builds (warnings are errors) and installs;
# 2. starts a throw-away cluster in .tmp/test (unix socket only, port 54330)
#    and the ESI simulator (test/esi_sim.py);
# 3. runs the pg_regress suite (make installcheck: sql/*.sql vs expected/),
#    twice: in a UTF-8 database, then in a LATIN1 one (ESI_SKIP_LATIN1=1
#    skips the second run);
# 4. runs every executable or *.sh file in test/t/, in name order, with
#    PGHOST, PGPORT, PGUSER, ESI_SIM_URL and TEST_DIR (a scratch directory)
#    in the environment;
# 5. prints a summary, stops the cluster and the simulator, and exits
#    non-zero when anything failed.
#
# ESI_ONLY="047 050_cache" runs only the shell tests whose names start with
# one of these words, and no pg_regress suite.
# ESI_REGRESS="setup writes writes_character" runs only these pg_regress
# files (sql/NAME.sql, in this order; setup first, as the others need it),
# in both databases, and no shell test unless ESI_ONLY names some.
# The sanitizer stage (test/sanitize.sh) runs last, with the shell tests
# (ESI_ONLY=sanitize runs it alone; ESI_SKIP_SANITIZE=1 skips it).
set -euo pipefail
umask 022
export LC_ALL=C

# shellcheck source=test/lib.sh
. "$(dirname "$0")/lib.sh"

RT_PORT=54330
RT_REL_DIR=.tmp/test
RT_DIR=$(esi_cluster_dir "$RT_REL_DIR" quiet)
RT_TEST_TIMEOUT=${ESI_TEST_TIMEOUT:-600}
RT_CHILD=
RT_POLICY=

# run_child LIMIT COMMAND... - runs COMMAND under timeout(1), which gives it
# its own process group, in the background and waits for it: a SIGTERM or
# Ctrl-C then reaches our traps at once, and cleanup can end the whole group.
run_child() {
	local limit=$1 rc=0
	shift
	timeout -k 10 "$limit" "$@" </dev/null &
	RT_CHILD=$!
	wait "$RT_CHILD" || rc=$?
	RT_CHILD=
	return "$rc"
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	[ -n "$RT_POLICY" ] && rm -f /usr/sbin/policy-rc.d
	if [ -n "$RT_CHILD" ]; then
		kill -TERM "$RT_CHILD" 2>/dev/null   # timeout(1) passes it to the group
		wait "$RT_CHILD" 2>/dev/null
	fi
	esi_sim_stop "$RT_DIR"
	esi_cluster_stop "$RT_REL_DIR"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# the tests also need a JDBC client (test/t/092_bi_jdbc.sh), and the
# production transport before the simulator (test/tlsfront.sh): openssl for a
# throw-away CA, nginx as a TLS front (HTTP/2 and HTTP/1.1), tinyproxy as a
# forward proxy, python3-h2 for a misbehaving HTTP/2 server; quickstart does not
ESI_PACKAGES+=(openjdk-17-jdk-headless libpostgresql-jdbc-java openssl nginx-light tinyproxy python3-h2)
# and Debian's Prometheus exporter for PostgreSQL (test/t/161_prometheus.sh
# starts its own); no package's service may start on install: without a
# policy-rc.d (containers have one), one that refuses is there meanwhile
ESI_PACKAGES+=(prometheus-postgres-exporter)
if esi_is_root && [ ! -e /usr/sbin/policy-rc.d ] && [ -n "$(esi_missing_packages)" ]; then
	printf '#!/bin/sh\n# test/run_tests.sh: no service starts while it installs packages\nexit 101\n' \
		>/usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	RT_POLICY=1
fi
esi_install_packages
if [ -n "$RT_POLICY" ]; then
	rm -f /usr/sbin/policy-rc.d
	RT_POLICY=
fi
ESI_WERROR=1 esi_build_install

ESI_CLUSTER_FRESH=1 esi_cluster_start "$RT_REL_DIR" "$RT_PORT"
RT_DIR=$ESI_CLUSTER_DIR
esi_sim_start "$RT_DIR"

export PGHOST=$RT_DIR/sock PGPORT=$RT_PORT PGUSER=postgres ESI_SIM_URL
export PATH=$ESI_PG_BIN:$PATH
unset PGDATABASE PGPASSWORD PGSERVICE PGOPTIONS

results=()
failed=0

# run_regress LABEL [make arguments...] - the pg_regress suite once; shows
# the head of regression.diffs when it fails
run_regress() {
	local label=$1
	shift
	esi_log "running the pg_regress suite ($label)"
	rm -f "$ESI_ROOT/regression.diffs" "$ESI_ROOT/regression.out"
	if run_child 3600 make -C "$ESI_ROOT" -s installcheck PG_CONFIG="$ESI_PG_CONFIG" "$@"; then
		results+=("ok      pg_regress ($label)")
	else
		failed=$((failed + 1))
		results+=("FAILED  pg_regress ($label)")
		if [ -f "$ESI_ROOT/regression.diffs" ]; then
			echo "--- regression.diffs, $label (first 300 lines; full file: $ESI_ROOT/regression.diffs) ---"
			head -n 300 "$ESI_ROOT/regression.diffs"
			echo "--- end of regression.diffs ---"
		fi
	fi
}

# only_wanted NAME - true when ESI_ONLY is unset or names a prefix of NAME
only_wanted() {
	local w
	[ -n "${ESI_ONLY:-}" ] || return 0
	for w in $ESI_ONLY; do
		[[ $1 == "$w"* ]] && return 0
	done
	return 1
}

# --- pg_regress -------------------------------------------------------------
# ESI_REGRESS: only these files (make's REGRESS, for both runs)
regress_args=()
if [ -n "${ESI_REGRESS:-}" ]; then
	regress_args=(REGRESS="$ESI_REGRESS")
	run_regress "make installcheck: $ESI_REGRESS" "${regress_args[@]}"
elif [ -n "${ESI_ONLY:-}" ]; then
	ESI_SKIP_LATIN1=1
	esi_log "ESI_ONLY is set: no pg_regress suite"
else
	run_regress "make installcheck"
fi

# --- pg_regress again, in a database that is not UTF-8 ---------------------------
# ESI speaks UTF-8; a LATIN1 database must get converted text, and a clear
# error (not garbage) for a character LATIN1 cannot hold.  Tests whose output
# differs there have an expected/<name>_1.out variant.
if [ "${ESI_SKIP_LATIN1:-0}" != 1 ]; then
	run_regress "a LATIN1 database${ESI_REGRESS:+: $ESI_REGRESS}" \
		EXTRA_REGRESS_OPTS="--encoding=LATIN1 --no-locale" ${regress_args[@]+"${regress_args[@]}"}
fi

# --- shell tests in test/t ----------------------------------------------------
shopt -s nullglob
shell_tests=("$ESI_ROOT"/test/t/*)
if [ -n "${ESI_REGRESS:-}" ] && [ -z "${ESI_ONLY:-}" ]; then
	esi_log "ESI_REGRESS is set without ESI_ONLY: no shell test"
	shell_tests=()
fi
for t in ${shell_tests[@]+"${shell_tests[@]}"}; do
	[ -f "$t" ] || continue
	name=$(basename "$t")
	only_wanted "$name" || continue
	if [ -x "$t" ]; then
		cmd=("$t")
	elif [[ $name == *.sh ]]; then
		cmd=(bash "$t")
	else
		continue
	fi
	test_dir=$RT_DIR/t/${name%.*}
	rm -rf "$test_dir"
	mkdir -p "$test_dir"
	esi_log "running test/t/$name"
	rc=0
	TEST_DIR=$test_dir run_child "$RT_TEST_TIMEOUT" "${cmd[@]}" || rc=$?
	if [ "$rc" -eq 0 ]; then
		results+=("ok      test/t/$name")
	else
		failed=$((failed + 1))
		if [ "$rc" -eq 124 ]; then
			results+=("FAILED  test/t/$name (timed out after ${RT_TEST_TIMEOUT}s)")
		else
			results+=("FAILED  test/t/$name (exit status $rc)")
		fi
	fi
done

# --- the sanitizer stage -------------------------------------------------------
# test/sanitize.sh: an ASan/UBSan build over the pg_regress suite and the
# hostile-server tests, in a private copy of the PostgreSQL installation and
# a cluster of its own (the system's installation keeps the normal build).
# Runs with the shell tests (ESI_ONLY=sanitize: alone); ESI_SKIP_SANITIZE=1
# skips it.
if [ "${ESI_SKIP_SANITIZE:-0}" != 1 ] && { [ -n "${ESI_ONLY:-}" ] || [ -z "${ESI_REGRESS:-}" ]; } &&
	only_wanted sanitize; then
	test_dir=$RT_DIR/t/sanitize
	esi_log "running test/sanitize.sh (ASan and UBSan; files in $test_dir)"
	rc=0
	TEST_DIR=$test_dir run_child "${ESI_SANITIZE_TIMEOUT:-1800}" bash "$ESI_ROOT/test/sanitize.sh" || rc=$?
	if [ "$rc" -eq 0 ]; then
		results+=("ok      test/sanitize.sh")
	else
		failed=$((failed + 1))
		results+=("FAILED  test/sanitize.sh (exit status $rc)")
	fi
fi

# --- summary ----------------------------------------------------------------
echo
echo "=== summary ==="
printf '%s\n' "${results[@]}"
if [ "$failed" -gt 0 ]; then
	echo "$failed of ${#results[@]} test groups FAILED"
	echo "(server log: $RT_DIR/log/postgresql.log, simulator log: $RT_DIR/sim.log)"
	exit 1
fi
echo "all ${#results[@]} test groups passed"
