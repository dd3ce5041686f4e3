#!/usr/bin/env bash
# test/t/104_curl_options.sh - every libcurl option esi_fdw sets is checked
# (issue 17, item 12): an option libcurl refuses is an error naming it, with
# libcurl's words and version in DETAIL and what to change in HINT; nothing
# is sent, and the session goes on working once the value is fixed.
#
# The refusal comes from the real libcurl: it takes no string option longer
# than 8,000,000 bytes (CURL_MAX_INPUT_LENGTH), so a setting that long
# (esi_fdw.ca_file, esi_fdw.proxy, esi_fdw.no_proxy) makes curl_easy_setopt
# fail.  An option a libcurl lacks (CURLOPT_PREREQFUNCTION before 7.80.0,
# CURLOPT_PROTOCOLS_STR before 7.85.0) takes the same path with SQLSTATE
# 0A000, which a test cannot reach with the libcurl it runs.  Prints TAP.
set -uo pipefail
export LC_ALL=C
: "${PGHOST:?}" "${PGPORT:?}" "${PGUSER:?}" "${ESI_SIM_URL:?}"
TEST_DIR=${TEST_DIR:-$(mktemp -d)}
mkdir -p "$TEST_DIR"
DB=t_curl_options
# shellcheck source=test/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=test/tap.sh
. "$(dirname "$0")/../tap.sh"
# shellcheck source=test/simlib.sh
. "$(dirname "$0")/../simlib.sh"

# the libcurl of this machine (the curl program's, the same library)
LIBCURL=$(curl --version | sed -n '1s/.* libcurl\/\([^ ]*\).*/\1/p')
CITADEL=10000033
SCAN="SELECT count(*) FROM market_orders WHERE region_id = $CITADEL"
LONG=8000001                    # one byte past CURL_MAX_INPUT_LENGTH

# session SQL... - the statements in one session, going on after an error,
# with the response cache off (a scan served from it makes no transfer);
# verbose errors without their LOCATION line (it names a line of http.c)
session() {
	local a args=(-c "SET esi_fdw.cache = off")
	for a in "$@"; do args+=(-c "$a"); done
	"$PSQL" -X -q -A -t -v VERBOSITY=verbose -d "$DB" "${args[@]}" 2>&1 | grep -v '^LOCATION:'
}

simlib_setup_db
sim /_sim/reset >/dev/null
want_rows=$(q "$SCAN")
expect "setup: a scan of The Citadel's orders works (the simulator's 3778 orders)" "$want_rows" 3778

# refused SETTING OPTION VALUE_SQL HINT - a scan with SETTING set to
# VALUE_SQL fails at once, OPTION named, and sends nothing; in the same
# session, after RESET, the scan works
refused() {
	local setting=$1 option=$2 value=$3 hint=$4 s out
	s=$(sim_seq)
	out=$(session "SELECT length(set_config('$setting', $value, false))" "$SCAN")
	expect "$setting $LONG bytes long: libcurl refuses $option, an error (HV024) naming it" \
		"$out" "$LONG
ERROR:  HV024: libcurl refused $option
DETAIL:  libcurl $LIBCURL: A libcurl function was given a bad argument.
HINT:  $hint"
	expect "... and nothing reached the simulator" "$(sim_count "$s")" 0 "log:$s"
	out=$(session "SELECT length(set_config('$setting', $value, false))" "$SCAN" \
		"RESET $setting" "$SCAN")
	expect "... the session reads the table after RESET $setting" \
		"$(printf '%s\n' "$out" | sed -n '1p;2s/:.*//p;$p')" "$LONG
ERROR
$want_rows"
}

refused esi_fdw.ca_file CURLOPT_CAINFO "repeat('x', $LONG)" \
	"Point esi_fdw.ca_file at a PEM file of CA certificates (ALTER SYSTEM SET esi_fdw.ca_file = '/path/ca.pem'), or RESET esi_fdw.ca_file for the system's CA bundle."
refused esi_fdw.proxy CURLOPT_PROXY "'http://' || repeat('p', $LONG - 7)" \
	"Check esi_fdw.proxy (SHOW esi_fdw.proxy), or RESET esi_fdw.proxy for no proxy."
refused esi_fdw.no_proxy CURLOPT_NOPROXY "repeat('n', $LONG)" \
	"Check esi_fdw.no_proxy (SHOW esi_fdw.no_proxy): a comma list of host names, domains and IP addresses; RESET esi_fdw.no_proxy for none."

# one byte shorter is taken: the check refuses only what libcurl refuses
out=$(session "SELECT length(set_config('esi_fdw.no_proxy', repeat('n', $LONG - 1), false))" "$SCAN")
expect "esi_fdw.no_proxy 8,000,000 bytes long is taken, and the scan works" "$out" "$((LONG - 1))
$want_rows"

echo "1..$n"
if [ "$failures" -gt 0 ]; then
	echo "# $failures of $n tests failed (database $DB kept for inspection)"
	exit 1
fi
simlib_drop_db
