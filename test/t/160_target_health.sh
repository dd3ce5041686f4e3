#!/usr/bin/env bash
# test/t/160_target_health.sh - health at a glance (issue 18, item 2):
# esi.target_health, one row per target: the expiry of its data and how far
# behind it is, its last outcome and error, failures in a row, paused (and
# why), next background refresh; a role sees the targets whose snapshot
# table it may read, pg_read_all_stats all of them.  A target that keeps
# failing is announced once (NOTIFY esi_refresh_failing and one WARNING in
# the server log) when its failures in a row reach
# esi_fdw.refresh_alert_failures, and again only after it has succeeded:
# through CALL esi.refresh and through the background workers.  On its own
# small cluster with one refresh worker.  Waits are polls with generous
# bounds, never timing assertions.  Prints TAP.
set -uo pipefail
export LC_ALL=C
: "${ESI_SIM_URL:?}"
. "$(dirname "$0")/../lib.sh"
TEST_DIR=${TEST_DIR:-$(mktemp -d)}
mkdir -p "$TEST_DIR"
PORT=54363
DB=t_health
. "$(dirname "$0")/../tap.sh"
. "$(dirname "$0")/../simlib.sh"

AYLA=2112625428
dir=$TEST_DIR/hcluster
LISTENER=
finish() {
	[ -n "$LISTENER" ] && kill "$LISTENER" 2>/dev/null
	sim /_sim/reset >/dev/null 2>&1
	sim /_sim/sso/reset >/dev/null 2>&1
	esi_cluster_stop "$dir" >/dev/null 2>&1
}
trap finish EXIT

sim /_sim/reset >/dev/null
sim /_sim/sso/reset >/dev/null
ESI_CLUSTER_FRESH=1 ESI_CLUSTER_EXTRA_CONF="esi_fdw.refresh_workers = 1" \
	esi_cluster_start "$dir" "$PORT" >"$TEST_DIR/hstart.out" 2>&1 ||
	{ echo "not ok 1 - start a cluster"; sed 's/^/# /' "$TEST_DIR/hstart.out"; echo "1..1"; exit 1; }
dir=$ESI_CLUSTER_DIR
export PGHOST=$dir/sock PGPORT=$PORT PGUSER=postgres
SLOG=$dir/log/postgresql.log

out=$("$PSQL" -X -A -t -d postgres -c "SHOW esi_fdw.refresh_alert_failures" 2>&1)
expect "esi_fdw.refresh_alert_failures is 3 by default" "$out" 3

# the simulator's data expires after 600 s; no jitter; a failed target is
# tried again a second later (by the worker); failed requests not retried
sim "/_sim/config?cache_seconds=600" >/dev/null
sim "/_sim/sso/config?access_ttl=2" >/dev/null
simlib_setup_db \
	"ALTER SERVER esi OPTIONS (ADD sso_url '$ESI_SIM_URL', ADD sso_client_id 'sim-native-client', ADD sso_redirect_uri 'http://localhost/callback')" \
	"IMPORT FOREIGN SCHEMA characters LIMIT TO (character_wallet) FROM SERVER esi INTO public" \
	"ALTER DATABASE $DB SET esi_fdw.refresh_jitter = 0" \
	"ALTER DATABASE $DB SET esi_fdw.refresh_min_interval = '1s'" \
	"ALTER DATABASE $DB SET esi_fdw.refresh_retry_delay = '1s'" \
	"ALTER DATABASE $DB SET esi_fdw.refresh_max_retry_delay = '1s'" \
	"ALTER DATABASE $DB SET esi_fdw.max_retries = 0"

wait_for() {
	local i lim=$((${2:-120} * 10)) out
	for ((i = 0; i < lim; i++)); do
		out=$(q "$1" 2>/dev/null)
		[ "$out" = t ] && return 0
		sleep 0.1
	done
	return 1
}
# warnings TARGET - the announcements of TARGET in the server log
warnings() { grep -c "WARNING:  esi_fdw: target \"$1\" failed 3 times in a row" "$SLOG"; }
# notified FILE TARGET - the NOTIFYs esi_refresh_failing of TARGET in a psql output FILE
notified() { grep -c "notification \"esi_refresh_failing\" with payload \"{\"target\" : \"$2\"" "$1"; }

# --- a healthy target -------------------------------------------------------------------
q "SELECT esi.track('prices', 'market_prices', auto => false)" >/dev/null
out=$(q "SELECT target, expires_at IS NULL, behind IS NULL, fresh, last_outcome IS NULL, failures_in_row,
	        failing, paused, pause_reason IS NULL, auto, next_refresh_at IS NULL
	   FROM esi.target_health")
expect "a target never refreshed: no expiry, behind unknown, not fresh, no outcome, not refreshed by workers" \
	"$out" "prices|t|t|f|t|0|f|f|t|f|t"
out=$(q "CALL esi.refresh('prices')" \
	"SELECT h.expires_at = l.expires, h.expires_at = t.data_expires_at, h.behind, h.fresh,
	        h.last_outcome, h.last_started = l.started, h.last_finished = l.finished, h.last_error IS NULL,
	        h.failures_in_row, h.last_snapshot_at = l.started
	   FROM esi.target_health h JOIN esi.targets t USING (target)
	   JOIN esi.refresh_log l ON l.target = h.target")
expect "refreshed: expires_at is the expiry of the data it read, 0 behind, fresh, last outcome ok" \
	"$out" "t|t|00:00:00|t|ok|t|t|t|0|t" "sql:SELECT * FROM esi.target_health" "sql:SELECT * FROM esi.refresh_log"
out=$(q "SELECT (extract(epoch FROM expires_at - last_started) BETWEEN 595 AND 600) FROM esi.target_health")
expect "... the simulator's 600 s expiry" "$out" t

# stale: the data's expiry moved into the past; behind is the time since
out=$(q "UPDATE esi.targets SET data_expires_at = now() - interval '1 hour'" \
	"SELECT fresh, behind >= interval '1 hour' AND behind < interval '1 hour 1 minute' FROM esi.target_health")
expect "expired an hour ago: not fresh, an hour behind" "$out" "f|t"
out=$(q "CALL esi.refresh('prices')" "SELECT fresh, behind FROM esi.target_health")
expect "... refreshed (the cache had it: a fresh copy): fresh again, 0 behind" "$out" "t|00:00:00"

# --- CALL esi.refresh: failures, announced once -----------------------------------------
sim "/_sim/fault?path=/markets/prices&kind=status&status=500&count=0" >/dev/null
q "SELECT esi.cache_clear()" >/dev/null
cat >"$TEST_DIR/calls.sql" <<'EOF'
LISTEN esi_refresh_failing;
\set ON_ERROR_STOP 0
CALL esi.refresh('prices');
SELECT 'after 1';
CALL esi.refresh('prices');
SELECT 'after 2';
CALL esi.refresh('prices');
SELECT 'after 3';
CALL esi.refresh('prices');
SELECT 'after 4';
CALL esi.refresh('prices');
SELECT 'after 5';
EOF
"$PSQL" -X -q -A -t -d "$DB" -f "$TEST_DIR/calls.sql" >"$TEST_DIR/calls.out" 2>&1
expect "five failed CALLs: the third announces, with one NOTIFY esi_refresh_failing" \
	"$(notified "$TEST_DIR/calls.out" prices)" 1 "$TEST_DIR/calls.out"
out=$(awk '/notification "esi_refresh_failing"/ { print prev } { if ($0 ~ /^after/) prev = $0 }' "$TEST_DIR/calls.out")
expect "... sent by the third failure" "$out" "after 2"
out=$(grep -o 'payload ".*" received' "$TEST_DIR/calls.out" | head -1)
expect_match "... payload: target, failures 3, sqlstate, paused, next refresh (no error text)" "$out" \
	'^payload "\{"target" : "prices", "failures" : 3, "sqlstate" : "[0-9A-Z]{5}", "paused" : false, "next_refresh_at" : "[-0-9T:.+]+"\}" received$' \
	"$TEST_DIR/calls.out"
expect "... and one WARNING, to the caller" \
	"$(grep -c 'WARNING:  esi_fdw: target "prices" failed 3 times in a row' "$TEST_DIR/calls.out")" 1 \
	"$TEST_DIR/calls.out"
expect "... and in the server log" "$(warnings prices)" 1
out=$(q "SELECT last_outcome, last_error LIKE '%500%', failures_in_row, failing, failure_announced_at IS NOT NULL,
	        paused, fresh, behind
	   FROM esi.target_health")
expect "esi.target_health: last outcome error with the error, 5 failures in a row, failing; its data still fresh" \
	"$out" "error|t|5|t|t|f|t|00:00:00" "sql:SELECT * FROM esi.target_health"
out=$(q "SELECT failures FROM esi.targets WHERE target = 'prices'")
expect "... failures_in_row is esi.targets.failures" "$out" 5

# a success clears it; three more failures announce it again
sim /_sim/reset >/dev/null
out=$(q "CALL esi.refresh('prices')" "SELECT last_outcome, last_error IS NULL, failures_in_row, failing,
	        failure_announced_at IS NULL FROM esi.target_health")
expect "a success: outcome ok, no error, 0 failures, no longer failing" "$out" "ok|t|0|f|t"
sim "/_sim/fault?path=/markets/prices&kind=status&status=500&count=0" >/dev/null
q "SELECT esi.cache_clear()" >/dev/null
"$PSQL" -X -q -A -t -d "$DB" -f "$TEST_DIR/calls.sql" >"$TEST_DIR/calls2.out" 2>&1
expect "after the success, failing again: announced again, once" "$(notified "$TEST_DIR/calls2.out" prices)" 1 \
	"$TEST_DIR/calls2.out"
expect "... one more WARNING in the server log (2 in all)" "$(warnings prices)" 2
sim /_sim/reset >/dev/null

# a lower threshold
out=$(q "SET esi_fdw.refresh_alert_failures = 1" "SHOW esi_fdw.refresh_alert_failures")
expect "esi_fdw.refresh_alert_failures can be set (superuser)" "$out" 1

# --- background workers: the same, announced once -----------------------------------------
H=/markets/10000002/history
sim "/_sim/fault?path=$H&kind=status&status=500&count=0" >/dev/null
: >"$TEST_DIR/listen.out"
{
	echo "LISTEN esi_refresh_failing;"
	for ((i = 0; i < 1800; i++)); do echo "SELECT pg_sleep(0.1);"; done
} >"$TEST_DIR/listen.sql"
"$PSQL" -X -q -A -t -d "$DB" -f "$TEST_DIR/listen.sql" >"$TEST_DIR/listen.out" 2>&1 &
LISTENER=$!
wait_for "SELECT count(*) = 1 FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(0.1);'" 30 >/dev/null
q "SELECT esi.track('hist', 'market_history', '{\"region_id\": 10000002, \"type_id\": 34}')" >/dev/null
if wait_for "SELECT failures_in_row >= 6 FROM esi.target_health WHERE target = 'hist'" 120; then
	ok "the worker fails on the target again and again"
else
	not_ok "the worker fails on the target" "$(q 'SELECT * FROM esi.target_health' 'SELECT * FROM esi.refresh_log')"
fi
q "SELECT esi.set_auto('hist', false)" >/dev/null
wait_for "SELECT count(*) = 0 FROM pg_stat_activity WHERE query LIKE 'esi_fdw refresh hist%'" 30 >/dev/null
sleep 0.5
kill "$LISTENER" 2>/dev/null
wait "$LISTENER" 2>/dev/null
LISTENER=
expect "... announced once: one NOTIFY esi_refresh_failing" "$(notified "$TEST_DIR/listen.out" hist)" 1 \
	"$TEST_DIR/listen.out"
expect "... and one WARNING in the server log" "$(warnings hist)" 1
out=$(q "SELECT last_outcome, failing, paused, auto, next_refresh_at IS NULL FROM esi.target_health WHERE target = 'hist'")
expect "esi.target_health: error, failing, not paused; turned off: no next refresh" "$out" "error|t|f|f|t"
sim /_sim/reset >/dev/null
sim "/_sim/config?cache_seconds=600" >/dev/null

# --- paused: a character needs a login ------------------------------------------------------
login() {
	local url loc
	url=$(q "SELECT esi.login('esi', ARRAY['esi-wallet.read_character_wallet.v1'])") || { echo "$url"; return 1; }
	loc=$(curl -sS -o /dev/null -w '%{redirect_url}' "$url&character_id=$1") || return 1
	q "SELECT character_id FROM esi.login_callback('$loc')"
}
out=$(login $AYLA)
expect "a character logs in" "$out" "$AYLA"
q "SELECT esi.track('wallet', 'character_wallet', '{\"character_id\": $AYLA}')" >/dev/null
if wait_for "SELECT last_outcome = 'ok' AND NOT paused FROM esi.target_health WHERE target = 'wallet'"; then
	ok "a worker refreshes its wallet"
else
	not_ok "a worker refreshes its wallet" "$(q 'SELECT * FROM esi.target_health')"
fi
sim "/_sim/sso/revoke?character_id=$AYLA" >/dev/null
# once the access token it holds (2 s) has expired, and with no cached
# reply, the refresh needs the refresh token, which EVE SSO refuses
sleep 3
q "SELECT esi.cache_clear()" "CALL esi.refresh('wallet')" >"$TEST_DIR/wallet.out" 2>&1
out=$(q "SELECT last_outcome, paused, paused_at IS NOT NULL, pause_reason, next_refresh_at IS NULL
	   FROM esi.target_health WHERE target = 'wallet'" | sed "s/ at [0-9].*)|/ at T)|/")
expect "its refresh token revoked: paused, why, no next background refresh" "$out" \
	"error|t|t|waiting for an EVE SSO login of character $AYLA of server esi (a refresh failed with SQLSTATE 28000 at T)|t" \
	"$TEST_DIR/wallet.out"

# --- who sees what --------------------------------------------------------------------------
q "CREATE ROLE h_reader" "CREATE ROLE h_monitor IN ROLE pg_monitor" \
	"GRANT SELECT ON esi_snapshots.prices TO h_reader" >/dev/null
out=$(q "SET ROLE h_reader" "SELECT string_agg(target, ',' ORDER BY target) FROM esi.target_health")
expect "a role sees the targets whose snapshot table it may read" "$out" "prices"
out=$(q "SET ROLE h_reader" "SELECT string_agg(target, ',' ORDER BY target) FROM esi.targets")
expect "... as in esi.targets" "$out" "prices"
out=$(q "SET ROLE h_monitor" "SELECT string_agg(target, ',' ORDER BY target) FROM esi.target_health")
expect "a member of pg_monitor (pg_read_all_stats) sees every target" "$out" "hist,prices,wallet"

echo "1..$n"
[ "$failures" -eq 0 ] && simlib_drop_db
[ "$failures" -eq 0 ]
