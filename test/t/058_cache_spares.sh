#!/usr/bin/env bash
# test/t/058_cache_spares.sh - the response cache's spare files (issue 17,
# item 5): a file the cache no longer needs (cleared, evicted, or replaced by
# a newer copy) is kept, cut to one byte, under a name no lookup reads, and
# the next store writes into it instead of creating a file (creating one per
# reply was most of what storing cost a cold scan).  Seen from the cache's
# directory: which files exist, their sizes and inode numbers; the rows stay
# the same; a restart removes the spares.  Prints TAP.
set -uo pipefail
export LC_ALL=C
: "${PGHOST:?}" "${PGPORT:?}" "${PGUSER:?}" "${ESI_SIM_URL:?}"
TEST_DIR=${TEST_DIR:-$(mktemp -d)}
mkdir -p "$TEST_DIR"
DB=t_cache_spares
# shellcheck source=test/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=test/tap.sh
. "$(dirname "$0")/../tap.sh"
# shellcheck source=test/simlib.sh
. "$(dirname "$0")/../simlib.sh"

# The Citadel: 4 pages of orders
SMALL=10000033
PS=/markets/$SMALL/orders
QS="SELECT count(*), md5(string_agg(order_id || ':' || price || ':' || volume_remain, ',' ORDER BY order_id))
    FROM market_orders WHERE region_id = $SMALL"

datadir=
# pg_restart - restarts the cluster (fast), true when it is up again
pg_restart() {
	esi_as_pg "$ESI_PG_BIN/pg_ctl" restart -D "$datadir" -l "$(dirname "$datadir")/log/postgresql.log" \
		-m fast -w -t 120 -s >"$TEST_DIR/restart.out" 2>&1
}
finish() {
	sim /_sim/reset >/dev/null 2>&1
}
trap finish EXIT

# files - "replies spares": files named by a hash (16 hex digits), files
# named spare.*; and anything else in the directory as a third number
files() {
	local dir=$datadir/esi_fdw_cache
	find "$dir" -mindepth 1 -maxdepth 1 -printf '%f\n' | awk '
		length($0) == 16 && /^[0-9a-f]+$/ { r++; next }
		length($0) == 14 && /^spare\.[0-9a-f]+$/ { s++; next }
		{ o++ }
		END { printf "%d %d %d\n", r, s, o }'
}
# sizes_of GLOB - sizes of the matching files, sorted and joined
sizes_of() { find "$datadir/esi_fdw_cache" -mindepth 1 -maxdepth 1 -name "$1" -printf '%s\n' | sort -n | paste -sd' '; }
# inodes_of GLOB - inode numbers of the matching files, sorted and joined
inodes_of() { find "$datadir/esi_fdw_cache" -mindepth 1 -maxdepth 1 -name "$1" -printf '%i\n' | sort -n | paste -sd' '; }
HEX='[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]'

simlib_setup_db
sim /_sim/reset >/dev/null
sim "/_sim/config?cache_seconds=600" >/dev/null
datadir=$(q "SHOW data_directory")
q "SELECT esi.cache_clear() >= 0" >/dev/null

# --- a restart removes every spare file --------------------------------------------
if pg_restart; then ok "restart"; else not_ok "restart" "$TEST_DIR/restart.out"; fi
expect "after a restart the cache holds no entry" "$(q "SELECT count(*) FROM esi.cache")" 0
expect "... and its directory no file: no reply, no spare, nothing else" "$(files)" "0 0 0"

# --- a cold scan creates one file per page -----------------------------------------
s=$(sim_seq)
r1=$(q "$QS")
expect_match "a cold scan of region $SMALL returns its orders" "$r1" '^[0-9]+\|[0-9a-f]{32}$'
expect "... with 4 requests" "$(sim_count "$s")" 4 "log:$s"
expect "4 entries, 4 reply files, no spare" "$(q "SELECT count(*) FROM esi.cache")|$(files)" "4|4 0 0"
ino1=$(inodes_of "$HEX")

# --- clearing keeps the files as spares, cut to one byte -----------------------------
expect "esi.cache_clear() removes the 4 entries" "$(q "SELECT esi.cache_clear()")" 4
expect "... leaving no reply file and 4 spare files" "$(files)" "0 4 0"
expect "... each one byte long" "$(sizes_of 'spare.*')" "1 1 1 1"
expect "... the files the replies were in (same inodes)" "$(inodes_of 'spare.*')" "$ino1"

# --- the next cold scan writes into the spares ---------------------------------------
sim /_sim/reset >/dev/null
s=$(sim_seq)
r2=$(q "$QS")
expect "the cold scan again returns the same rows" "$r2" "$r1"
expect "... with 4 requests" "$(sim_count "$s")" 4 "log:$s"
expect "... stored in the 4 spare files: 4 reply files, no spare left" "$(files)" "4 0 0"
expect "... the same inodes" "$(inodes_of "$HEX")" "$ino1"
s=$(sim_seq)
expect "the replies read back from those files: the same rows" "$(q "$QS")" "$r1"
expect "... and nothing sent" "$(sim_count "$s")" 0 "log:$s"

# --- a newer copy replaces a file: the old one becomes a spare -------------------------
sim /_sim/reset >/dev/null
sim "/_sim/config?cache_seconds=1" >/dev/null
q "SELECT esi.cache_clear()" >/dev/null
r3=$(q "$QS")
size3=$(sizes_of "$HEX")
sleep 2.5   # the copies expire (ESI says 1 second): the next scan revalidates them
s=$(sim_seq)
r4=$(q "$QS")
expect "a scan of expired copies returns the same rows" "$r4" "$r3"
expect "... after 4 revalidations answered 304" \
	"$(sim_log "$s" "$PS" | awk -F'\t' '$2 == 304 { n++ } END { print n + 0 }')" 4 "log:$s"
# the first new copy goes into a new file, its old file becomes the spare the
# second writes into, and so on: one spare is left
expect "... each entry's file written anew, the old one kept as the next one's spare: 4 replies, 1 spare" \
	"$(files)" "4 1 0"
ino5=$(inodes_of '*')
expect "... each as big as before: the body kept gzip'ed as it came, not inflated" "$(sizes_of "$HEX")" "$size3"
sleep 2.5
expect "... and one more scan revalidates them again, writing into those spares" "$(q "$QS")" "$r3"
expect "... 4 replies, 1 spare still" "$(files)" "4 1 0"
expect "... in the same 5 files (inodes): no file created" "$(inodes_of '*')" "$ino5"

# --- the spares do not outlive a restart ------------------------------------------------
if pg_restart; then ok "restart"; else not_ok "restart" "$TEST_DIR/restart.out"; fi
expect "after a restart: the 4 entries, their 4 files, no spare" "$(q "SELECT count(*) FROM esi.cache")|$(files)" "4|4 0 0"
q "SELECT esi.cache_clear()" >/dev/null
sim "/_sim/config?cache_seconds=600" >/dev/null
echo "1..$n"
if [ "$failures" -gt 0 ]; then
	echo "# $failures of $n tests failed (database $DB kept for inspection)"
	exit 1
fi
simlib_drop_db
