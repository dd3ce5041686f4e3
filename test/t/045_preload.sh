#!/usr/bin/env bash
# test/t/045_preload.sh - without shared_preload_libraries, CREATE EXTENSION
# esi_fdw fails with a clear error and a HINT saying what to set (esi_fdw
# needs shared memory reserved at server start).  Starts its own small
# cluster on another port; prints TAP.
set -uo pipefail
export LC_ALL=C
. "$(dirname "$0")/../lib.sh"
TEST_DIR=${TEST_DIR:-$(mktemp -d)}
REL=${TEST_DIR#"$ESI_ROOT"/}
PORT=54339

. "$(dirname "$0")/../tap.sh"

dir=$TEST_DIR/nopreload
trap 'esi_cluster_stop "$dir" >/dev/null 2>&1' EXIT
ESI_CLUSTER_FRESH=1 ESI_CLUSTER_EXTRA_CONF="shared_preload_libraries = ''" \
	esi_cluster_start "$dir" "$PORT" >/dev/null 2>&1 || { echo "not ok 1 - start a cluster"; echo "1..1"; exit 1; }
dir=$ESI_CLUSTER_DIR
out=$("$ESI_PG_BIN/psql" -X -q -h "$dir/sock" -p "$PORT" -U postgres -d postgres \
	-v VERBOSITY=verbose -c "CREATE EXTENSION esi_fdw" 2>&1)
case $out in
	*"ERROR:  55000: esi_fdw must be loaded via shared_preload_libraries"*) ok "CREATE EXTENSION fails with SQLSTATE 55000" ;;
	*) not_ok "CREATE EXTENSION fails with SQLSTATE 55000" "$out" ;;
esac
case $out in
	*"HINT:  Add esi_fdw to shared_preload_libraries"*) ok "the HINT says what to set" ;;
	*) not_ok "the HINT says what to set" "$out" ;;
esac
out=$("$ESI_PG_BIN/psql" -X -q -A -t -h "$dir/sock" -p "$PORT" -U postgres -d postgres \
	-c "SELECT count(*) FROM pg_extension WHERE extname = 'esi_fdw'" 2>&1)
[ "$out" = 0 ] && ok "nothing was created; the server still answers" || not_ok "nothing was created" "$out"
echo "1..$n"
[ "$failures" -eq 0 ]
