#!/usr/bin/env bash
# test/t/105_limits_ticket.sh - a request the limits admitted but that fails
# before it becomes a transfer gives its ticket back (commit 3518fc9).
#
# ESI's error limit is kept for the cluster in shared memory: a request on a
# route without a rate-limit group waits for the window's reset when the
# errors left, minus the requests in flight, are at most
# esi_fdw.error_limit_threshold.  A request admitted (counted in flight)
# whose transfer cannot be prepared - libcurl refuses an option, the
# character has no EVE SSO login - never reaches ESI; if it kept its ticket
# it stayed "in flight" for the life of the cluster, and after some 90 such
# failures every request on such a route waited at the threshold for good.
#
# esi.limits does not show what is in flight, so the test makes one leaked
# ticket visible: on a cluster of its own, the simulator's window has 100
# errors left for 10 minutes and esi_fdw.error_limit_threshold is set to 99
# (ALTER SYSTEM, a reload): with nothing in flight a request is admitted
# (100 - 0 > 99); with one ticket leaked it would wait for the reset, which
# is past esi_fdw.max_retry_after and statement_timeout, so it fails at once
# with SQLSTATE 53400 instead (statement_timeout is only a guard that turns
# a hang into a failure; nothing is timed).
# 50 failures of each kind, each followed by a request on a route without a
# group that must be answered (a restart between the two kinds, so that
# each check sees only its own kind's tickets); the simulator sees none of
# the failed requests.
# Prints TAP.
set -uo pipefail
export LC_ALL=C
: "${ESI_SIM_URL:?}"
# shellcheck source=test/lib.sh
. "$(dirname "$0")/../lib.sh"
TEST_DIR=${TEST_DIR:-$(mktemp -d)}
mkdir -p "$TEST_DIR"
PORT=54383
DB=t_limits_ticket
# shellcheck source=test/tap.sh
. "$(dirname "$0")/../tap.sh"
# shellcheck source=test/simlib.sh
. "$(dirname "$0")/../simlib.sh"

AYLA=2112625428
N=50                            # failures of each kind
CITADEL=10000033                # market orders: rate group market-order
LONG=8000001                    # one byte past libcurl's CURL_MAX_INPUT_LENGTH
# a route without a rate-limit group: the error limit governs it
LOOKUP="SELECT type_id, name FROM universe_type_details WHERE type_id = 34"

simlib_own_cluster ticketcluster "$PORT"
simlib_setup_db \
	"ALTER SERVER esi OPTIONS (ADD sso_url '$ESI_SIM_URL', ADD sso_client_id 'sim-native-client', ADD sso_redirect_uri 'http://localhost/callback')" \
	"IMPORT FOREIGN SCHEMA characters LIMIT TO (character_wallet) FROM SERVER esi INTO public" \
	"ALTER DATABASE $DB SET esi_fdw.cache = off"

# lookup - the lookup in a session whose statement_timeout (a hang guard)
# ends before the window's reset: a wait for it fails at once with 53400
lookup() {
	"$PSQL" -X -q -A -t -v VERBOSITY=verbose -d "$DB" -c "SET statement_timeout = '60s'" \
		-c "$LOOKUP" 2>&1 | grep -v '^LOCATION:'
}
# fail_n FIRST_SQL SQL - a session running FIRST_SQL once, then SQL $N
# times, going on after each error; prints each distinct output line with
# its count
fail_n() {
	local i args=(-c "$1")
	for ((i = 0; i < N; i++)); do args+=(-c "$2"); done
	"$PSQL" -X -q -A -t -v VERBOSITY=terse -d "$DB" "${args[@]}" 2>&1 | sort | uniq -c |
		sed 's/^ *//'
}

# --- the window: 100 errors left, for 10 minutes; a threshold one below --------------
sim /_sim/reset >/dev/null
out=$(sim "/_sim/error_limit?remain=100&reset=600")
expect_match "the simulator: 100 errors left, reset in 600 s" "$out" '"remain":100,"reset":600'
out=$(lookup)
expect "a lookup learns X-ESI-Error-Limit-Remain: 100" "$out" "34|Tritanium"
out=$(q "SELECT remaining, reset_at > now() + interval '5 minutes' FROM esi.limits WHERE kind = 'error_limit'")
expect "esi.limits: 100 errors left, the reset minutes away" "$out" "100|t" \
	"sql:SELECT * FROM esi.limits"
out=$(q "ALTER SYSTEM SET esi_fdw.error_limit_threshold = 99" "SELECT pg_reload_conf()")
expect "esi_fdw.error_limit_threshold = 99 (ALTER SYSTEM, reload)" "$out" "t"
for ((i = 0; i < 100; i++)); do
	[ "$(q "SHOW esi_fdw.error_limit_threshold")" = 99 ] && break
	sleep 0.1
done
expect "a new session has esi_fdw.error_limit_threshold 99" \
	"$(q "SHOW esi_fdw.error_limit_threshold")" 99
out=$(lookup)
expect "nothing in flight: a lookup is admitted and answered (100 - 0 > 99)" "$out" "34|Tritanium"

# --- libcurl refuses an option: $N requests admitted, none prepared ----------------
s=$(sim_seq)
out=$(fail_n "SELECT length(set_config('esi_fdw.proxy', 'http://' || repeat('p', $LONG - 7), false)) > 0" \
	"SELECT count(*) FROM market_orders WHERE region_id = $CITADEL")
expect "$N scans fail as libcurl refuses CURLOPT_PROXY" "$out" "$N ERROR:  libcurl refused CURLOPT_PROXY
1 t"
expect "... and none reached the simulator" "$(sim_count "$s")" 0 "log:$s"
out=$(lookup)
expect "after $N refused options a lookup is admitted and answered: no ticket leaked" \
	"$out" "34|Tritanium"

# --- a restart: shared memory (and any ticket left in it) is new ---------------------
out=$(esi_as_pg "$ESI_PG_BIN/pg_ctl" restart -D "$dir/data" -m fast -w -s -l "$dir/log/postgresql.log" 2>&1)
expect "the cluster restarts (so the next check sees only the next failures)" "$out" ""
out=$(lookup)
expect "after the restart a lookup learns the window again" "$out" "34|Tritanium"
expect "esi.limits: 100 errors left, the threshold still 99" \
	"$(q "SELECT remaining FROM esi.limits WHERE kind = 'error_limit'" "SHOW esi_fdw.error_limit_threshold")" "100
99"

# --- no EVE SSO login: $N requests admitted, no bearer ------------------------------
s=$(sim_seq)
out=$(fail_n "SELECT 'no login'" "SELECT count(*) FROM character_wallet WHERE character_id = $AYLA")
expect "$N reads of a character without a login fail" "$out" \
	"$N ERROR:  no EVE SSO login of character $AYLA for role \"postgres\" on server \"esi\"
1 no login"
expect "... and none reached the simulator" "$(sim_count "$s")" 0 "log:$s"
out=$(lookup)
expect "after $N reads without a token a lookup is admitted and answered: no ticket leaked" \
	"$out" "34|Tritanium"

# the simulator still has 100 errors left: nothing failed there
out=$(q "SELECT remaining FROM esi.limits WHERE kind = 'error_limit'")
expect "esi.limits: still 100 errors left" "$out" 100

echo "1..$n"
if [ "$failures" -gt 0 ]; then
	echo "# $failures of $n tests failed (cluster in $dir stopped)"
	exit 1
fi
