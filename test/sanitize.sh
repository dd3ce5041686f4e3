#!/usr/bin/env bash
# test/sanitize.sh - the sanitizer stage (issue 16): esi_fdw built with
# AddressSanitizer and UndefinedBehaviorSanitizer (make SANITIZE=1, in a copy
# of the checkout) and installed into a private copy of the PostgreSQL
# installation, run in a cluster of that copy whose postmaster has libasan
# preloaded, over the pg_regress suite (with the decoder's 400 random pages,
# sql/sim_decoder.sql) and the hostile-server tests (test/t/030_hostile.sh,
# and test/t/102_transport.sh with its misbehaving HTTP/2 server), and more
# shell tests (SAN_TESTS below).  A canary with deliberate bugs first shows
# that reports are caught.  Passes when the tests pass and the sanitizers
# reported nothing.  The system's
# PostgreSQL directory and the checkout's own build are left as they were.
#
#   bash test/sanitize.sh                       (as root: the clusters run as postgres)
#   ESI_ONLY=sanitize bash test/run_tests.sh    (the same as a stage of the suite)
#
# Needs the packages test/run_tests.sh installs.  TEST_DIR: scratch
# directory (default .tmp/sanitize).  Prints TAP.
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
# the private installation: next to the cluster (a directory the postgres
# user can reach), not in it (esi_cluster_start hands that to postgres)
PREFIX=$(dirname "$PG_DIR")/pg_sanitize_install
SYSTEM_LIB=$("$ESI_PG_CONFIG" --pkglibdir)/esi_fdw.so
JOBS=$(nproc 2>/dev/null || echo 2)
unset PGDATABASE PGPASSWORD PGSERVICE PGOPTIONS

finish() {
	esi_sim_stop "$PG_DIR" >/dev/null 2>&1
	esi_cluster_stop "$PG_REL" >/dev/null 2>&1
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# sanitizer_libs FILE - the sanitizer runtimes FILE links against
sanitizer_libs() {
	readelf -d "$1" 2>/dev/null | grep -o 'lib[a-z]*san\.so' | sort -u | tr '\n' ' '
}

# --- a private copy of the PostgreSQL installation -----------------------------------
# PostgreSQL finds its library and share directories relative to its
# binaries, so a copy of the installation (bin and lib under
# lib/postgresql/15, share/postgresql/15, the headers) is one of its own:
# the instrumented build goes there, never into the system's directory that
# other runs use.
esi_cluster_stop "$PG_REL" >/dev/null 2>&1     # left by an interrupted run
rm -rf "$SAN_DIR" "$REPORTS" "$PREFIX" "$PG_DIR/log"
mkdir -p "$BUILD" "$REPORTS"
SYS_BIN=$(cd "$ESI_PG_BIN" && pwd -P)                         # .../lib/postgresql/15/bin
SYS_TOP=${SYS_BIN%/lib/postgresql/"$ESI_PG_VERSION"/bin}       # /usr
if [ "$SYS_TOP" != "$SYS_BIN" ] &&
	mkdir -p "$PREFIX/lib/postgresql" "$PREFIX/share/postgresql" "$PREFIX/include" &&
	cp -a "$SYS_TOP/lib/postgresql/$ESI_PG_VERSION" "$PREFIX/lib/postgresql/" &&
	cp -a "$SYS_TOP/share/postgresql/$ESI_PG_VERSION" "$PREFIX/share/postgresql/" &&
	ln -s "$SYS_TOP/include/postgresql" "$PREFIX/include/postgresql" &&
	[ "$("$PREFIX/lib/postgresql/$ESI_PG_VERSION/bin/pg_config" --pkglibdir)" = \
		"$PREFIX/lib/postgresql/$ESI_PG_VERSION/lib" ]; then
	ok "a private copy of the PostgreSQL installation"
else
	not_ok "a private copy of the PostgreSQL installation" "from $SYS_BIN into $PREFIX"
	echo "Bail out! no private installation"
	exit 1
fi
ESI_PG_BIN=$PREFIX/lib/postgresql/$ESI_PG_VERSION/bin
ESI_PG_CONFIG=$ESI_PG_BIN/pg_config
export ESI_PG_BIN                       # for the cluster 102 starts
export PATH=$ESI_PG_BIN:$PATH
PKGLIB=$("$ESI_PG_CONFIG" --pkglibdir)

# --- the instrumented build, in a copy of the checkout ----------------------------
tar -C "$ESI_ROOT" --exclude=./.tmp --exclude=./.git --exclude=./results \
	--exclude='./regression.*' --exclude='*.o' --exclude='*.so' --exclude='*.bc' -cf - . |
	tar -C "$BUILD" -xf -
if make -C "$BUILD" -s -j"$JOBS" PG_CONFIG="$ESI_PG_CONFIG" SANITIZE=1 WERROR=1 >"$SAN_DIR/build.out" 2>&1 &&
	make -C "$BUILD" -s install PG_CONFIG="$ESI_PG_CONFIG" SANITIZE=1 >>"$SAN_DIR/build.out" 2>&1; then
	ok "make SANITIZE=1 builds and installs into the private copy"
else
	not_ok "make SANITIZE=1 builds and installs into the private copy" "$SAN_DIR/build.out"
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
# before anything else (LD_PRELOAD; the same runtime the library links);
# test/asan_early.c, preloaded after it, keeps it from hanging before main().
#  detect_leaks=0   PostgreSQL frees memory by dropping whole memory contexts
#                   and leaves much allocated on purpose at process exit
#                   (TopMemoryContext, caches), so LeakSanitizer would report
#                   every backend; leaks are PostgreSQL's memory contexts' job.
#  abort_on_error=1 a report ends the process with SIGABRT, which the
#                   postmaster treats as a crash; a plain exit(1) would pass
#                   for an ordinary FATAL.
#  log_path         ASan's reports go to $REPORTS/asan.PID.
# UBSan's runtime, beside ASan's, reads no UBSAN_OPTIONS (GCC 12): a report
# is one line, "FILE:LINE:COL: runtime error: ...", on the postmaster's
# stderr (the server log), and the process exits with status 1, which the
# postmaster also treats as a crash.
LIBASAN=$(ldd "$PKGLIB/esi_fdw.so" 2>/dev/null | awk '$1 ~ /^libasan\.so/ {print $3}')
if ! gcc -shared -fPIC -O2 -Wall -Wextra -Werror -o "$PREFIX/asan_early.so" \
	"$ESI_ROOT/test/asan_early.c" >>"$SAN_DIR/build.out" 2>&1; then
	not_ok "test/asan_early.c builds" "$SAN_DIR/build.out"
fi
ESI_CLUSTER_ENV="LD_PRELOAD=$LIBASAN:$PREFIX/asan_early.so"
ESI_CLUSTER_ENV+=" ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:disable_coredump=1:log_path=$REPORTS/asan"
export ESI_CLUSTER_ENV          # for the cluster 102 starts too
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
lib=$(grep -oE '/[^ ]*/esi_fdw\.so' "/proc/$pm/maps" | sort -u)
if [ "$out" = "/esi_fdw.so libasan.so libubsan.so " ] && [ "$lib" = "$PKGLIB/esi_fdw.so" ]; then
	ok "the postmaster runs with libasan preloaded and the instrumented esi_fdw.so loaded"
else
	not_ok "the postmaster runs with libasan preloaded and the instrumented esi_fdw.so loaded" \
		"its memory map names: $out $lib" "$PG_DIR/log/postgresql.log"
fi

# --- the detectors work here -----------------------------------------------------
# test/sanitize_canary.c, built like the extension, makes one report of each
# kind; they must land where the stage looks, and end their backend.  Its
# reports and log are then put aside, and the cluster starts afresh.
canary() {
	local sql="CREATE FUNCTION pg_temp.canary(text) RETURNS int AS '$PREFIX/sanitize_canary.so', 'sanitize_canary' LANGUAGE C STRICT"
	psql -X -q -d postgres -c "$sql" -c "SELECT pg_temp.canary('$1')" >>"$SAN_DIR/canary.out" 2>&1
	for ((i = 0; i < 300; i++)); do
		psql -X -q -At -d postgres -c "SELECT 1" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
}
mkdir -p "$SAN_DIR/canary"
if gcc -shared -fPIC -O2 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
	-I"$("$ESI_PG_CONFIG" --includedir-server)" -o "$PREFIX/sanitize_canary.so" \
	"$ESI_ROOT/test/sanitize_canary.c" >"$SAN_DIR/canary.out" 2>&1; then
	canary asan
	canary ubsan
fi
esi_cluster_stop "$PG_REL" >/dev/null 2>&1
mv "$PG_DIR/log/postgresql.log" "$SAN_DIR/canary/postgresql.log" 2>/dev/null
shopt -s nullglob
files=("$REPORTS"/*)
shopt -u nullglob
out="${#files[@]} $(cat "${files[@]}" /dev/null | grep -c 'ERROR: AddressSanitizer: heap-buffer-overflow')"
out+=" $(grep -c 'sanitize_canary.c:[0-9:]* runtime error: shift exponent 40' "$SAN_DIR/canary/postgresql.log")"
out+=" $(grep -c 'terminating any other active server processes' "$SAN_DIR/canary/postgresql.log")"
if [ "$out" = "1 1 1 2" ]; then
	ok "the detectors work here: a canary's heap overflow and bad shift are reported, and end their backend"
else
	not_ok "the detectors work here: a canary's heap overflow and bad shift are reported, and end their backend" \
		"report files, ASan reports, UBSan lines, crashes: $out (wanted 1 1 1 2)" "$SAN_DIR/canary.out" \
		"$SAN_DIR/canary/postgresql.log"
fi
mv ${files[@]+"${files[@]}"} "$SAN_DIR/canary/" 2>/dev/null
if ! esi_cluster_start "$PG_REL" "$SAN_PORT" >>"$SAN_DIR/cluster.out" 2>&1; then
	not_ok "the cluster starts again after the canary" "$SAN_DIR/cluster.out"
	echo "Bail out! no cluster"
	exit 1
fi

# --- the suites -------------------------------------------------------------------
if make -C "$BUILD" -s installcheck PG_CONFIG="$ESI_PG_CONFIG" >"$SAN_DIR/regress.out" 2>&1; then
	ok "the pg_regress suite, with the decoder's random pages (sim_decoder)"
else
	not_ok "the pg_regress suite, with the decoder's random pages (sim_decoder)" \
		"$SAN_DIR/regress.out" "$BUILD/regression.diffs"
fi
# the same in a LATIN1 database: the decoder converts every string
if make -C "$BUILD" -s installcheck PG_CONFIG="$ESI_PG_CONFIG" \
	EXTRA_REGRESS_OPTS="--encoding=LATIN1 --no-locale" >"$SAN_DIR/regress_latin1.out" 2>&1; then
	ok "the pg_regress suite in a LATIN1 database"
else
	not_ok "the pg_regress suite in a LATIN1 database" \
		"$SAN_DIR/regress_latin1.out" "$BUILD/regression.diffs"
fi
# shell tests (ESI_SANITIZE_TESTS: others, by name prefix): the hostile
# servers, scans cut short or refused, SSO and tokens, the writes.  Not
# those that restart the cluster with pg_ctl themselves (050, 056, 090,
# ...): their postmaster would start without libasan preloaded.
SAN_TESTS="030_hostile 102_transport 010_cancel 055_coalesce 060_limits 075_sso 076_sso_esi"
SAN_TESTS+=" 095_writes 096_writable 098_act_as 110_esi_pages 115_esi_errors 120_rate_costs"
for w in ${ESI_SANITIZE_TESTS:-$SAN_TESTS}; do
	for f in "$ESI_ROOT/test/t/$w"*.sh; do
		[ -f "$f" ] || continue
		t=$(basename "$f" .sh)
		mkdir -p "$SAN_DIR/t/$t"
		if TEST_DIR=$SAN_DIR/t/$t bash "$f" >"$SAN_DIR/t/$t.out" 2>&1; then
			ok "test/t/$t.sh"
		else
			not_ok "test/t/$t.sh" "$(grep -A12 '^not ok' "$SAN_DIR/t/$t.out" | head -n 60)" \
				"(all of it: $SAN_DIR/t/$t.out)"
		fi
	done
done
esi_sim_stop "$PG_DIR" >/dev/null 2>&1
esi_cluster_stop "$PG_REL" >/dev/null 2>&1

# --- the sanitizers' reports ------------------------------------------------------
# every server log of this stage: ours, and those of the clusters tests
# start (102's, ...) in their TEST_DIR, or where esi_cluster_dir put them
logdirs=("$PG_DIR/log" "$SAN_DIR/t")
for w in ${ESI_SANITIZE_TESTS:-$SAN_TESTS}; do
	for f in "$ESI_ROOT/test/t/$w"*.sh; do
		logdirs+=("$(esi_cluster_dir "$SAN_DIR/t/$(basename "$f" .sh)/pg" quiet)/log")
	done
done
mapfile -t logs < <(find "${logdirs[@]}" -name 'postgresql*.log' 2>/dev/null | sort -u)
shopt -s nullglob
files=("$REPORTS"/*)
shopt -u nullglob
lines=$(cat "${logs[@]}" 2>/dev/null | grep -cE 'runtime error:|ERROR: AddressSanitizer|SUMMARY: [A-Za-z]*Sanitizer')
crashes=$(cat "${logs[@]}" 2>/dev/null |
	grep -cE 'terminated by signal|was terminated by exception|terminating any other active server processes')
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
		grep -qE 'runtime error:|Sanitizer|terminated by (signal|exception)|terminating any other' "$f" ||
			continue
		echo "# --- $f (sanitizer lines and crashes) ---"
		grep -E -B2 -A3 'runtime error:|ERROR: AddressSanitizer|terminated by (signal|exception)|terminating any other' "$f" |
			sed -e 's/^/#   /' | head -n 200
	done
fi

# --- the system's installation -------------------------------------------------
# (another run may have installed a new normal build meanwhile; never this one)
if [ ! -f "$SYSTEM_LIB" ] || [ -z "$(sanitizer_libs "$SYSTEM_LIB")" ]; then
	ok "the system's esi_fdw.so is not the instrumented build"
else
	not_ok "the system's esi_fdw.so is not the instrumented build" "$SYSTEM_LIB: $(sanitizer_libs "$SYSTEM_LIB")"
fi

echo "1..$n"
[ "$failures" -eq 0 ]
