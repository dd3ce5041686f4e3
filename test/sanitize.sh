#!/usr/bin/env bash
# test/sanitize.sh - the sanitizer stage (issue 16): esi_fdw built with
# AddressSanitizer and UndefinedBehaviorSanitizer (make SANITIZE=1, in a copy
# of the checkout, so the checkout's own objects stay a normal build), run in
# a cluster of its own whose postmaster has libasan preloaded, over the
# pg_regress suite (with the decoder's 400 random pages, sql/sim_decoder.sql)
# and the hostile-server tests (test/t/030_hostile.sh, and
# test/t/102_transport.sh with its misbehaving HTTP/2 server).  Passes when
# they pass and the sanitizers reported nothing.  The normal build is
# installed again at the end, whatever happened.
#
#   bash test/sanitize.sh                       (as root, or with sudo)
#   ESI_ONLY=sanitize bash test/run_tests.sh    (the same as a stage of the suite)
#
# Like test/run_tests.sh it installs into the system PostgreSQL directory
# (run it under the lock the others use) and needs the packages that script
# installs.  TEST_DIR: scratch directory (default .tmp/sanitize).  Prints TAP.
set -uo pipefail
umask 022
export LC_ALL=C
# shellcheck source=test/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=test/tap.sh
. "$(dirname "$0")/tap.sh"

SAN_DIR=${TEST_DIR:-$ESI_ROOT/.tmp/sanitize}
SAN_PORT=54333
BUILD=$SAN_DIR/build
PG_REL=$SAN_DIR/pg_sanitize
PG_DIR=$(esi_cluster_dir "$PG_REL" quiet)
REPORTS=$PG_DIR/reports
PKGLIB=$("$ESI_PG_CONFIG" --pkglibdir)
JOBS=$(nproc 2>/dev/null || echo 2)
export PATH=$ESI_PG_BIN:$PATH
unset PGDATABASE PGPASSWORD PGSERVICE PGOPTIONS
RESTORED=0

# restore - installs the normal build of the checkout again (built first
# when this script runs on its own)
restore() {
	RESTORED=1
	make -C "$ESI_ROOT" -s -j"$JOBS" PG_CONFIG="$ESI_PG_CONFIG" >"$SAN_DIR/restore.out" 2>&1 &&
		esi_as_root make -C "$ESI_ROOT" -s install PG_CONFIG="$ESI_PG_CONFIG" >>"$SAN_DIR/restore.out" 2>&1
}
finish() {
	esi_sim_stop "$PG_DIR" >/dev/null 2>&1
	esi_cluster_stop "$PG_REL" >/dev/null 2>&1
	if [ "$RESTORED" = 0 ]; then
		restore || echo "# could not install the normal build again: see $SAN_DIR/restore.out"
	fi
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# sanitizer_libs FILE - the sanitizer runtimes FILE links against
sanitizer_libs() {
	readelf -d "$1" 2>/dev/null | grep -o 'lib[a-z]*san\.so' | sort -u | tr '\n' ' '
}

# --- the instrumented build, in a copy of the checkout ----------------------------
esi_cluster_stop "$PG_REL" >/dev/null 2>&1     # left by an interrupted run
rm -rf "$SAN_DIR" "$REPORTS"
mkdir -p "$BUILD"
tar -C "$ESI_ROOT" --exclude=./.tmp --exclude=./.git --exclude=./results \
	--exclude='./regression.*' --exclude='*.o' --exclude='*.so' --exclude='*.bc' -cf - . |
	tar -C "$BUILD" -xf -
if make -C "$BUILD" -s -j"$JOBS" PG_CONFIG="$ESI_PG_CONFIG" SANITIZE=1 WERROR=1 >"$SAN_DIR/build.out" 2>&1 &&
	esi_as_root make -C "$BUILD" -s install PG_CONFIG="$ESI_PG_CONFIG" SANITIZE=1 >>"$SAN_DIR/build.out" 2>&1; then
	ok "make SANITIZE=1 builds and installs"
else
	not_ok "make SANITIZE=1 builds and installs" "$SAN_DIR/build.out"
	echo "Bail out! no instrumented build"
	exit 1
fi
out=$(sanitizer_libs "$PKGLIB/esi_fdw.so")
if [ "$out" = "libasan.so libubsan.so " ]; then
	ok "the installed esi_fdw.so is instrumented (links libasan and libubsan)"
else
	not_ok "the installed esi_fdw.so is instrumented (links libasan and libubsan)" "got: $out"
fi

# --- a cluster whose postmaster has libasan preloaded ------------------------------
# postgres itself is not instrumented, so the ASan runtime must be loaded
# before anything else (LD_PRELOAD; the same runtime the library links).
#  detect_leaks=0   PostgreSQL frees memory by dropping whole memory contexts
#                   and leaves much allocated on purpose at process exit
#                   (TopMemoryContext, caches), so LeakSanitizer would report
#                   every backend; leaks are PostgreSQL's memory contexts' job.
#  abort_on_error=1 a report ends the process with SIGABRT, which the
#                   postmaster treats as a crash; a plain exit(1) would pass
#                   for an ordinary FATAL.
#  log_path         ASan's reports go to $REPORTS/asan.PID.  UBSan's go to the
#                   postmaster's stderr, the server log: GCC 12's UBSan runtime
#                   takes log_path only when it runs without ASan.
# test/asan_early.c, preloaded after it, keeps it from hanging before main().
LIBASAN=$(ldd "$BUILD/esi_fdw.so" 2>/dev/null | awk '$1 ~ /^libasan\.so/ {print $3}')
mkdir -p "$REPORTS"
gcc -shared -fPIC -O2 -Wall -Wextra -Werror -o "$PG_DIR/asan_early.so" "$BUILD/test/asan_early.c" \
	>>"$SAN_DIR/build.out" 2>&1 || not_ok "test/asan_early.c builds" "$SAN_DIR/build.out"
ESI_CLUSTER_ENV="LD_PRELOAD=$LIBASAN:$PG_DIR/asan_early.so"
ESI_CLUSTER_ENV+=" ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:disable_coredump=1:log_path=$REPORTS/asan"
ESI_CLUSTER_ENV+=" UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:abort_on_error=1:log_path=$REPORTS/ubsan"
export ESI_CLUSTER_ENV          # for the clusters of the tests too (102)
if ! ESI_CLUSTER_FRESH=1 esi_cluster_start "$PG_REL" "$SAN_PORT" >"$SAN_DIR/cluster.out" 2>&1 ||
	! esi_sim_start "$PG_DIR" >>"$SAN_DIR/cluster.out" 2>&1; then
	not_ok "a cluster with libasan preloaded, and the simulator" "$SAN_DIR/cluster.out" \
		"$PG_DIR/log/postgresql.log"
	echo "Bail out! no cluster"
	exit 1
fi
export PGHOST=$PG_DIR/sock PGPORT=$SAN_PORT PGUSER=postgres ESI_SIM_URL
pm=$(head -1 "$PG_DIR/data/postmaster.pid")
out=$(grep -oE 'lib(asan|ubsan)\.so|/esi_fdw\.so' "/proc/$pm/maps" | sort -u | tr '\n' ' ')
if [ "$out" = "/esi_fdw.so libasan.so libubsan.so " ]; then
	ok "the postmaster runs with libasan preloaded and the instrumented esi_fdw.so loaded"
else
	not_ok "the postmaster runs with libasan preloaded and the instrumented esi_fdw.so loaded" \
		"its memory map names: $out" "$PG_DIR/log/postgresql.log"
fi

# --- the suites -------------------------------------------------------------------
if make -C "$BUILD" -s installcheck PG_CONFIG="$ESI_PG_CONFIG" >"$SAN_DIR/regress.out" 2>&1; then
	ok "the pg_regress suite, with the decoder's random pages (sim_decoder)"
else
	not_ok "the pg_regress suite, with the decoder's random pages (sim_decoder)" \
		"$SAN_DIR/regress.out" "$BUILD/regression.diffs"
fi
for t in 030_hostile 102_transport; do
	mkdir -p "$SAN_DIR/t/$t"
	if TEST_DIR=$SAN_DIR/t/$t bash "$BUILD/test/t/$t.sh" >"$SAN_DIR/t/$t.out" 2>&1; then
		ok "test/t/$t.sh"
	else
		not_ok "test/t/$t.sh" "$(grep -A12 '^not ok' "$SAN_DIR/t/$t.out" | head -n 60)" \
			"(all of it: $SAN_DIR/t/$t.out)"
	fi
done
esi_sim_stop "$PG_DIR" >/dev/null 2>&1
esi_cluster_stop "$PG_REL" >/dev/null 2>&1

# --- the sanitizers' reports ------------------------------------------------------
# every server log of this stage: ours, and the cluster 102 starts
logs=("$PG_DIR/log/postgresql.log" "$(esi_cluster_dir "$SAN_DIR/t/102_transport/pg" quiet)/log/postgresql.log")
shopt -s nullglob
files=("$REPORTS"/*)
shopt -u nullglob
lines=$(cat "${logs[@]}" 2>/dev/null | grep -cE 'runtime error:|ERROR: AddressSanitizer|SUMMARY: [A-Za-z]*Sanitizer')
crashes=$(cat "${logs[@]}" 2>/dev/null | grep -cE 'terminated by signal|was terminated by exception')
if [ "${#files[@]} $lines $crashes" = "0 0 0" ]; then
	ok "no sanitizer report: none in $REPORTS, none and no crash in the server logs"
else
	not_ok "no sanitizer report: none in $REPORTS, none and no crash in the server logs" \
		"${#files[@]} report files, $lines report lines and $crashes crashes in the server logs"
	for f in ${files[@]+"${files[@]}"}; do
		echo "# --- $f ---"
		sed -e 's/^/#   /' "$f" | head -n 200
	done
	for f in "${logs[@]}"; do
		[ -f "$f" ] || continue
		grep -qE 'runtime error:|Sanitizer|terminated by (signal|exception)' "$f" || continue
		echo "# --- $f (sanitizer lines and crashes) ---"
		grep -E -A40 'runtime error:|ERROR: AddressSanitizer|terminated by (signal|exception)' "$f" |
			sed -e 's/^/#   /' | head -n 200
	done
fi

# --- the normal build again --------------------------------------------------------
if restore && out=$(sanitizer_libs "$PKGLIB/esi_fdw.so") && [ -z "$out" ]; then
	ok "the normal build is installed again (no sanitizer runtime in esi_fdw.so)"
else
	not_ok "the normal build is installed again (no sanitizer runtime in esi_fdw.so)" \
		"$SAN_DIR/restore.out" "sanitizer runtimes: ${out:-}"
fi

echo "1..$n"
[ "$failures" -eq 0 ]
