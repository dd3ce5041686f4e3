#!/usr/bin/env bash
# test/t/120_rate_costs.sh - what a request costs in ESI's rate-limit bucket
# (issue 15, "ESI as it really behaves"): ESI charges 2 tokens for a 2xx, 1
# for a 3xx (a revalidation's 304), 5 for a 4xx other than 429, nothing for
# a 429 or a 5xx.  The simulator's bucket charges so (its
# X-Ratelimit-Remaining, read back through esi.limits and /_sim/rate_limit),
# and esi_fdw paces by it: once the bucket is down to
# esi_fdw.rate_limit_reserve, the next request waits until the tokens the one
# before it really cost are back (window / limit per token): 9 s after a
# 304, 18 s after a 200, 45 s after a 404, with a limit of 100 tokens per
# 15 minutes.  The waits are read from the error a scan gets when its turn
# is further off than esi_fdw.max_retry_after, never timed.  Prints TAP.
set -uo pipefail
export LC_ALL=C
: "${PGHOST:?}" "${PGPORT:?}" "${PGUSER:?}" "${ESI_SIM_URL:?}"
TEST_DIR=${TEST_DIR:-$(mktemp -d)}
mkdir -p "$TEST_DIR"
DB=t_rate_costs
# shellcheck source=test/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=test/tap.sh
. "$(dirname "$0")/../tap.sh"
# shellcheck source=test/simlib.sh
. "$(dirname "$0")/../simlib.sh"

finish() {
	q "SELECT esi.limits_reset()" >/dev/null 2>&1
	sim /_sim/reset >/dev/null 2>&1
}
trap finish EXIT

R=10000033
P=/markets/$R/orders
# one page of one region's orders, in the group market-order
Q="SELECT count(*) FROM market_orders WHERE region_id = $R AND type_id = 34"
# bucket - "remaining|used|limit" of market-order as esi.limits last saw it
bucket() {
	q "SELECT remaining, used, token_limit FROM esi.limits WHERE kind = 'rate_limit' AND rate_group = 'market-order'"
}
# sim_bucket - "remaining|used" of market-order at the simulator
sim_bucket() {
	sim "/_sim/rate_limit?group=market-order" | python3 -c '
import json, sys
b = json.load(sys.stdin)[0]
print("%d|%d" % (b["remaining"], b["used"]))'
}
# last_status - the status of the simulator's last logged request
last_status() { sim_log "$(($(sim_seq) - 1))" | awk -F'\t' '{ s = $2 } END { print s }'; }
# err SQL... - "SQLSTATE: message|DETAIL" of the last statement's error
# (the seconds left in the message depend on the clock: shown as N)
err() {
	q "$@" 2>&1 | awk '/^ERROR:/ { sub(/^ERROR:  /, ""); e = $0 } /^DETAIL:/ { sub(/^DETAIL:  /, ""); d = $0 }
		END { print e "|" d }' | sed 's/ for [0-9]* more seconds|/ for N more seconds|/'
}
HELD="53400: ESI's rate limit of group \"market-order\" holds off requests for foreign table \"market_orders\" for N more seconds"
PACED="The group's token bucket is nearly empty (esi_fdw.rate_limit_reserve), so requests are paced to its refill rate"
LATE="the next turn is longer than esi_fdw.max_retry_after (2 s)."

simlib_setup_db "ALTER DATABASE $DB SET esi_fdw.max_retries = 0"
sim /_sim/reset >/dev/null
# 100 tokens per 15 minutes: a token comes back every 9 s
sim "/_sim/config?rate_limit=100&rate_window=900&cache_seconds=600" >/dev/null
q "SELECT esi.limits_reset()" "SELECT esi.cache_clear()" >/dev/null

# --- what each reply costs --------------------------------------------------------
out=$(q "$Q")
expect "a 200 costs 2 tokens: 98 left, as ESI's headers say" "$(last_status)|$(bucket)|$(sim_bucket)" \
	"200|98|2|100/15m|98|2"
rows=$out
out=$(q "SET esi_fdw.cache = 'refresh'" "$Q")
expect "a revalidation's 304 costs 1: 97 left" "$out|$(last_status)|$(bucket)" "$rows|304|97|3|100/15m"
out=$(err "SET esi_fdw.cache = 'off'" "SELECT count(*) FROM market_orders WHERE region_id = 12345")
expect "a 404 costs 5: 92 left" "$(last_status)|$(bucket)" "404|92|8|100/15m"
sim "/_sim/fault?path=$P&kind=status&status=503" >/dev/null
out=$(err "SET esi_fdw.cache = 'off'" "$Q")
expect "a 503 costs nothing: 92 left" "$(last_status)|$(bucket)" "503|92|8|100/15m"
sim "/_sim/rate_limit?group=market-order&remain=0&retry_after=30" >/dev/null
code=$(curl -sS -o /dev/null -w '%{http_code}' "$ESI_SIM_URL$P?type_id=34")
expect "a 429 (the bucket empty) costs nothing: used stays 100" "$code|$(sim_bucket)" "429|0|100"

# --- pacing waits for what the request before really cost ---------------------------
# a 404 while paced: 5 tokens, 45 s
q "SELECT esi.limits_reset()" >/dev/null
sim "/_sim/rate_limit?group=market-order&remain=6" >/dev/null
out=$(q "SET esi_fdw.cache = 'refresh'" "$Q")
expect "6 tokens left, a 304 (not paced): 5 left, the reserve (5% of 100)" "$(bucket)" "5|95|100/15m"
q "SET esi_fdw.cache = 'refresh'" "$Q" >/dev/null
expect "a second 304 is paced, its turn at once: 4 left" "$(last_status)|$(bucket)" "304|4|96|100/15m"
out=$(err "SET esi_fdw.max_retry_after = '2s'" "SET esi_fdw.cache = 'refresh'" "$Q")
expect "the next waits 9 s, for the 304's one token: more than max_retry_after allows, 53400" "$out" \
	"$HELD|$PACED: the request before cost 1 token, which the bucket gets back in 9 s; $LATE"

q "SELECT esi.limits_reset()" >/dev/null
sim "/_sim/rate_limit?group=market-order&remain=6" >/dev/null
q "SET esi_fdw.cache = 'refresh'" "$Q" >/dev/null
s=$(sim_seq)
out=$(err "SET esi_fdw.cache = 'off'" "SELECT count(*) FROM market_orders WHERE region_id = 12345")
expect "paced, a 404 (sent as a 200 would be, 2 tokens held; it cost 5)" \
	"$(sim_count "$s" /markets/12345)|$(last_status)|$(bucket)" "1|404|0|100|100/15m"
out=$(err "SET esi_fdw.max_retry_after = '2s'" "SET esi_fdw.cache = 'refresh'" "$Q")
expect "the next waits for the 404's 5 tokens: 45 s" "$out" \
	"$HELD|$PACED: the request before cost 5 tokens, which the bucket gets back in 45 s; $LATE"

q "SELECT esi.limits_reset()" >/dev/null
sim "/_sim/rate_limit?group=market-order&remain=6" >/dev/null
q "SET esi_fdw.cache = 'refresh'" "$Q" >/dev/null
q "SET esi_fdw.cache = 'off'" "$Q" >/dev/null
expect "paced, a 200: 2 tokens" "$(last_status)|$(bucket)" "200|3|97|100/15m"
out=$(err "SET esi_fdw.max_retry_after = '2s'" "SET esi_fdw.cache = 'refresh'" "$Q")
expect "the next waits for the 200's 2 tokens: 18 s" "$out" \
	"$HELD|$PACED: the request before cost 2 tokens, which the bucket gets back in 18 s; $LATE"

echo "1..$n"
[ "$failures" -eq 0 ] && simlib_drop_db
[ "$failures" -eq 0 ]
