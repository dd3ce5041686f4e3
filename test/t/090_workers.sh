#!/usr/bin/env bash
# test/t/090_workers.sh - background refresh (issue 9, item 3): on its own
# small cluster, workers refresh a target each time the simulator's data
# expires (Expires, not a period); they show in pg_stat_activity; a worker
# killed with kill -9 (the server restarts its processes) and a server
# restart are recovered from, and the refresh the killed worker left
# 'running' is closed; failures back off; a target whose character needs a
# new login pauses until it logs in again; esi.track(..., each => ...) makes
# a group of targets sharing one snapshot table; a hot standby runs no
# worker.  Waits are polls with generous bounds, never timing assertions.
# Prints TAP.
set -uo pipefail
export LC_ALL=C
: "${ESI_SIM_URL:?}"
. "$(dirname "$0")/../lib.sh"
TEST_DIR=${TEST_DIR:-$(mktemp -d)}
mkdir -p "$TEST_DIR"
PORT=54345
DB=t_workers
. "$(dirname "$0")/../tap.sh"
. "$(dirname "$0")/../simlib.sh"

AYLA=2112625428
dir=$TEST_DIR/wcluster
sb=$TEST_DIR/wstandby
finish() {
	sim /_sim/reset >/dev/null 2>&1
	sim /_sim/sso/reset >/dev/null 2>&1
	esi_standby_stop "$sb" >/dev/null 2>&1
	esi_cluster_stop "$dir" >/dev/null 2>&1
}
trap finish EXIT

sim /_sim/reset >/dev/null
sim /_sim/sso/reset >/dev/null
# (synchronous_commit: the 'running' row a killed worker leaves must survive
# the crash, as it does on a server with the default)
ESI_CLUSTER_FRESH=1 ESI_CLUSTER_EXTRA_CONF="esi_fdw.refresh_workers = 2
synchronous_commit = on" \
	esi_cluster_start "$dir" "$PORT" >"$TEST_DIR/wstart.out" 2>&1 ||
	{ echo "not ok 1 - start a cluster"; sed 's/^/# /' "$TEST_DIR/wstart.out"; echo "1..1"; exit 1; }
dir=$ESI_CLUSTER_DIR
export PGHOST=$dir/sock PGPORT=$PORT PGUSER=postgres

# the simulator's data expires every 3 s; one second of jitter; refreshes
# may follow each other within a second; quick back-off (1 s doubling up to
# 4 s); failed requests are not retried
sim "/_sim/config?cache_seconds=3" >/dev/null
sim "/_sim/sso/config?access_ttl=2" >/dev/null
simlib_setup_db \
	"ALTER SERVER esi OPTIONS (ADD sso_url '$ESI_SIM_URL', ADD sso_client_id 'sim-native-client', ADD sso_redirect_uri 'http://localhost/callback')" \
	"IMPORT FOREIGN SCHEMA characters LIMIT TO (character_wallet) FROM SERVER esi INTO public" \
	"ALTER DATABASE $DB SET esi_fdw.refresh_jitter = '1s'" \
	"ALTER DATABASE $DB SET esi_fdw.refresh_min_interval = '1s'" \
	"ALTER DATABASE $DB SET esi_fdw.refresh_retry_delay = '1s'" \
	"ALTER DATABASE $DB SET esi_fdw.refresh_max_retry_delay = '4s'" \
	"ALTER DATABASE $DB SET esi_fdw.max_retries = 0"

# wait_for SQL [SECONDS] - polls until SQL returns t (default bound 120 s);
# prints how long it took
wait_for() {
	local i lim=$((${2:-120} * 10)) out
	for ((i = 0; i < lim; i++)); do
		out=$(q "$1" 2>/dev/null)
		if [ "$out" = t ]; then
			echo "# took about $((i / 10)).$((i % 10)) s: $1" >&2
			return 0
		fi
		sleep 0.1
	done
	return 1
}
oks() { q "SELECT count(*) FROM esi.refresh_log WHERE target = '$1' AND outcome = 'ok'"; }
wait_up() {
	local i
	for ((i = 0; i < 1200; i++)); do
		q "SELECT 1" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# --- a worker refreshes at each expiry -------------------------------------------
out=$(q "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'esi_fdw refresh launcher'")
expect "the launcher runs and shows in pg_stat_activity" "$out" "1"
out=$(q "SELECT esi.track('prices', 'market_prices')")
expect "esi.track() a target (auto by default)" "$out" "esi_snapshots.prices"
if wait_for "SELECT count(*) >= 3 FROM esi.refresh_log WHERE target = 'prices' AND outcome = 'ok'"; then
	ok "a worker refreshes the target again and again, nobody calling esi.refresh"
else
	not_ok "a worker refreshes the target again and again" "$(q 'SELECT * FROM esi.refresh_log' 'SELECT * FROM esi.targets')"
fi
out=$(q "SELECT bool_and(l.started >= p.expires), bool_and(p.requests > 0), count(*) >= 2
	FROM esi.refresh_log l
	JOIN LATERAL (SELECT * FROM esi.refresh_log p WHERE p.target = l.target AND p.id < l.id AND p.outcome = 'ok'
	               ORDER BY p.id DESC LIMIT 1) p ON true
	WHERE l.target = 'prices' AND l.outcome = 'ok'")
expect "each refresh starts after the data of the one before expired; refresh_log counts requests" "$out" "t|t|t" \
	"sql:SELECT id, started, finished, expires, requests, outcome FROM esi.refresh_log ORDER BY id"
out=$(q "SELECT next_refresh_at > (SELECT max(expires) FROM esi.refresh_log WHERE target = 'prices' AND outcome = 'ok'),
	last_rows > 0, failures FROM esi.targets WHERE target = 'prices'")
expect_match "next_refresh_at is after the last expiry (jitter); rows; no failures" "$out" '^t\|t\|0$'

# --- pg_stat_activity ---------------------------------------------------------
sim "/_sim/fault?path=/markets/prices&kind=latency&ms=4000&count=1" >/dev/null
if wait_for "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'esi_fdw refresh worker'
	AND application_name = 'esi_fdw refresh prices' AND query = 'esi_fdw refresh prices')" 60; then
	ok "pg_stat_activity shows the worker and its target (application_name, query)"
else
	not_ok "pg_stat_activity shows the worker and its target" "$(q 'SELECT backend_type, application_name, query FROM pg_stat_activity')"
fi
q "SELECT pg_sleep(4.5)" >/dev/null

# --- kill -9 of a worker ----------------------------------------------------------
sim "/_sim/fault?path=/markets/prices&kind=latency&ms=8000&count=1" >/dev/null
pid=
for ((i = 0; i < 600; i++)); do
	pid=$(q "SELECT pid FROM pg_stat_activity WHERE application_name = 'esi_fdw refresh prices'
		AND EXISTS (SELECT FROM esi.refresh_log WHERE target = 'prices' AND outcome = 'running')")
	[ -n "$pid" ] && break
	sleep 0.1
done
if [ -n "$pid" ] && kill -9 "$pid"; then
	ok "kill -9 of the worker refreshing prices (pid $pid)"
else
	not_ok "kill -9 of a worker" "no worker found"
fi
sleep 1
wait_up
before=$(oks prices)
if wait_for "SELECT count(*) > $before FROM esi.refresh_log WHERE target = 'prices' AND outcome = 'ok'"; then
	ok "after the crash restart, refreshes go on"
else
	not_ok "after the crash restart, refreshes go on" "$(q 'SELECT * FROM esi.refresh_log')" "$dir/log/postgresql.log"
fi
out=$(q "SELECT count(*) FILTER (WHERE outcome = 'running'), count(*) FILTER (WHERE error LIKE 'interrupted:%')
	FROM esi.refresh_log WHERE target = 'prices'")
expect "the refresh the killed worker left 'running' is closed as an interrupted error" "$out" "0|1" \
	"sql:SELECT id, started, finished, outcome, error FROM esi.refresh_log ORDER BY id"

# a refresh of a session that died, left 'running': closed by the next refresh
q "INSERT INTO esi.refresh_log (target, started, outcome) VALUES ('prices', now() - interval '1 hour', 'running')" >/dev/null
if wait_for "SELECT NOT EXISTS (SELECT FROM esi.refresh_log WHERE outcome = 'running' AND started < now() - interval '30 min')"; then
	ok "a stale 'running' row is closed"
else
	not_ok "a stale 'running' row is closed" "$(q 'SELECT * FROM esi.refresh_log')"
fi

# --- server restart -------------------------------------------------------------
esi_as_pg "$ESI_PG_BIN/pg_ctl" restart -D "$dir/data" -m fast -w -s -l "$dir/log/postgresql.log" >"$TEST_DIR/restart.out" 2>&1
wait_up
before=$(oks prices)
if wait_for "SELECT count(*) > $before FROM esi.refresh_log WHERE target = 'prices' AND outcome = 'ok'"; then
	ok "after a server restart, refreshes go on"
else
	not_ok "after a server restart, refreshes go on" "$TEST_DIR/restart.out" "$(q 'SELECT * FROM esi.refresh_log')"
fi

# --- back-off -------------------------------------------------------------------
sim "/_sim/fault?path=/markets/prices&kind=status&status=503&count=0" >/dev/null
if wait_for "SELECT failures >= 4 FROM esi.targets WHERE target = 'prices'"; then
	ok "refreshes fail while ESI answers 503; failures counts them"
else
	not_ok "refreshes fail; failures counts them" "$(q 'SELECT * FROM esi.targets')"
fi
out=$(q "SELECT bool_and(gap >= want) FROM (
	SELECT extract(epoch FROM l.started - p.finished) AS gap,
	       least(4, 2 ^ (row_number() OVER (ORDER BY l.id) - 1)) - 0.5 AS want
	  FROM esi.refresh_log l
	  JOIN LATERAL (SELECT * FROM esi.refresh_log p WHERE p.target = l.target AND p.id < l.id
	                 ORDER BY p.id DESC LIMIT 1) p ON p.outcome = 'error'
	 WHERE l.target = 'prices' AND l.id > (SELECT max(id) FROM esi.refresh_log WHERE target = 'prices' AND outcome = 'ok')) g")
expect "the waits after failures double: 1 s, 2 s, 4 s, then at most 4 s" "$out" "t" \
	"sql:SELECT id, started, finished, outcome, error FROM esi.refresh_log ORDER BY id"
sim "/_sim/reset" >/dev/null
sim "/_sim/config?cache_seconds=3" >/dev/null
if wait_for "SELECT failures = 0 AND last_error IS NULL FROM esi.targets WHERE target = 'prices'" 60; then
	ok "when ESI answers again, the target refreshes and failures is 0"
else
	not_ok "when ESI answers again, failures is 0" "$(q 'SELECT * FROM esi.targets')"
fi
out=$(q "SELECT esi.set_auto('prices', false)" "SELECT auto FROM esi.targets WHERE target = 'prices'")
expect "esi.set_auto() turns a target off" "$out" $'\nf'

# --- pause on a needed login ---------------------------------------------------------
login() {
	local url loc
	url=$(q "SELECT esi.login('esi', ARRAY['esi-wallet.read_character_wallet.v1'])") || { echo "$url"; return 1; }
	loc=$(curl -sS -o /dev/null -w '%{redirect_url}' "$url&character_id=$1") || return 1
	q "SELECT character_id FROM esi.login_callback('$loc')"
}
out=$(login $AYLA)
expect "a character logs in" "$out" "$AYLA"
q "SELECT esi.track('wallet', 'character_wallet', '{\"character_id\": $AYLA}')" >/dev/null
if wait_for "SELECT count(*) >= 1 FROM esi.refresh_log WHERE target = 'wallet' AND outcome = 'ok'"; then
	ok "a worker refreshes a character's wallet with its token"
else
	not_ok "a worker refreshes a character's wallet" "$(q 'SELECT * FROM esi.refresh_log')"
fi
sim "/_sim/sso/revoke?character_id=$AYLA" >/dev/null
if wait_for "SELECT paused_at IS NOT NULL FROM esi.targets WHERE target = 'wallet'"; then
	ok "its refresh token revoked: the target pauses (28000)"
else
	not_ok "the target pauses" "$(q 'SELECT * FROM esi.targets' 'SELECT * FROM esi.refresh_log')"
fi
n1=$(q "SELECT count(*) FROM esi.refresh_log WHERE target = 'wallet'")
wait_for "SELECT now() > next_refresh_at + interval '3 s' FROM esi.targets WHERE target = 'wallet'" >/dev/null
n2=$(q "SELECT count(*) FROM esi.refresh_log WHERE target = 'wallet'")
expect "... and is not refreshed while paused, though due" "$n2" "$n1"
out=$(login $AYLA)
if wait_for "SELECT paused_at IS NULL AND failures = 0 FROM esi.targets WHERE target = 'wallet'"; then
	ok "the character logs in again: the target resumes"
else
	not_ok "the target resumes after a login" "$(q 'SELECT * FROM esi.targets')"
fi
q "SELECT esi.set_auto('wallet', false)" >/dev/null

# --- each => one target per value, one table ---------------------------------------
out=$(q "SELECT esi.track('orders', 'market_orders', '{\"region_id\": [10000002, 10000043]}', each => 'region_id')" \
	"SELECT string_agg(target || ':' || group_name || ':' || (params->>'region_id'), ',' ORDER BY target) FROM esi.targets WHERE group_name = 'orders'")
expect "each => region_id: one target per region, in one group" "$out" \
	$'esi_snapshots.orders\norders:10000002:orders:10000002,orders:10000043:orders:10000043'
if wait_for "SELECT count(DISTINCT target) = 2 FROM esi.refresh_log WHERE target LIKE 'orders:%' AND outcome = 'ok'"; then
	ok "workers refresh both members"
else
	not_ok "workers refresh both members" "$(q 'SELECT * FROM esi.refresh_log')"
fi
q "SELECT esi.set_auto('orders', false)" >/dev/null
wait_for "SELECT NOT EXISTS (SELECT FROM esi.refresh_log WHERE outcome = 'running')" >/dev/null
out=$(q "SELECT (SELECT count(*) FROM esi_snapshots.orders) = (SELECT count(*) FROM market_orders WHERE region_id IN (10000002, 10000043)),
	(SELECT count(DISTINCT region_id) FROM esi_snapshots.orders),
	(SELECT bool_and(n = 1) FROM (SELECT count(DISTINCT snapshot_at) n FROM esi_snapshots.orders GROUP BY region_id) s)")
expect "the shared table holds each region's latest rows, once" "$out" "t|2|t"
q "CALL esi.refresh('orders:10000043')" >/dev/null
out=$(q "SELECT (SELECT count(*) FROM esi_snapshots.orders) = (SELECT count(*) FROM market_orders WHERE region_id IN (10000002, 10000043)),
	(SELECT bool_and(n = 1) FROM (SELECT count(DISTINCT snapshot_at) n FROM esi_snapshots.orders GROUP BY region_id) s)")
expect "a member's refresh replaces only its own rows" "$out" "t|t"
out=$(q "SELECT esi.untrack('orders', true)" "SELECT count(*) FROM esi.targets WHERE group_name = 'orders'" \
	"SELECT to_regclass('esi_snapshots.orders') IS NULL")
expect "esi.untrack() of the group removes its targets and table" "$out" $'\n0\nt'

# --- hot standby ------------------------------------------------------------------
q "SELECT esi.set_auto('prices', true)" >/dev/null
if esi_standby_start "$sb" "$dir/sock" "$PORT" >"$TEST_DIR/wstandby.out" 2>&1; then
	ok "a hot standby of the cluster runs"
	before=$(oks prices)
	wait_for "SELECT count(*) > $before + 1 FROM esi.refresh_log WHERE target = 'prices' AND outcome = 'ok'" >/dev/null
	esi_standby_catchup "$dir/sock" "$PORT" >/dev/null 2>&1
	out=$(esi_standby_psql -A -t -d "$DB" -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'esi_fdw refresh%'" \
		-c "SELECT count(*) > $before FROM esi.refresh_log WHERE target = 'prices' AND outcome = 'ok'" 2>&1)
	expect "on the standby no refresh process runs, and the refreshes replicate" "$out" $'0\nt'
	# (paths are left out: a checkout may have "refresh" in its name)
	if sed -e "s|$ESI_ROOT||g" -e "s|$sb||g" "$sb/log/postgresql.log" | grep -q "refresh"; then
		not_ok "the standby's log says nothing of refreshes" "$sb/log/postgresql.log"
	else
		ok "the standby's log says nothing of refreshes"
	fi
	esi_standby_stop "$sb" >/dev/null 2>&1
else
	not_ok "a hot standby of the cluster runs" "$TEST_DIR/wstandby.out"
fi

# --- SIGTERM: a clean shutdown --------------------------------------------------------
esi_cluster_stop "$dir" >"$TEST_DIR/wstop.out" 2>&1
if esi_cluster_running "$dir"; then
	not_ok "the server stops with its workers (fast shutdown)" "$TEST_DIR/wstop.out"
else
	ok "the server stops with its workers (fast shutdown)"
fi

echo "1..$n"
[ "$failures" -eq 0 ]
