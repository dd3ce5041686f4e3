#!/usr/bin/env bash
# test/t/125_refresh_expired.sh - background refresh of data that arrives
# already expired (issue 15, "ESI as it really behaves"; esi-issues #487,
# #194: ESI has served replies whose Expires had passed).  Such a target
# comes due again esi_fdw.refresh_min_interval after its refresh started, not
# at once: on its own small cluster with refresh workers, a target whose
# replies arrive expired is refreshed exactly once while the workers go
# through three more rounds (each made by setting another target due and
# waking the launcher, each waited for), each started after the expired
# target would have been due again without the bound.  The simulator's log
# counts the requests.  Waits are polls with generous bounds, never timing
# assertions.  Prints TAP.
set -uo pipefail
export LC_ALL=C
: "${ESI_SIM_URL:?}"
. "$(dirname "$0")/../lib.sh"
TEST_DIR=${TEST_DIR:-$(mktemp -d)}
mkdir -p "$TEST_DIR"
PORT=54347
DB=t_refresh_expired
. "$(dirname "$0")/../tap.sh"
. "$(dirname "$0")/../simlib.sh"

dir=$TEST_DIR/rcluster
finish() {
	sim /_sim/reset >/dev/null 2>&1
	esi_cluster_stop "$dir" >/dev/null 2>&1
}
trap finish EXIT

sim /_sim/reset >/dev/null
ESI_CLUSTER_FRESH=1 ESI_CLUSTER_EXTRA_CONF="esi_fdw.refresh_workers = 2" \
	esi_cluster_start "$dir" "$PORT" >"$TEST_DIR/rstart.out" 2>&1 ||
	{ echo "not ok 1 - start a cluster"; sed 's/^/# /' "$TEST_DIR/rstart.out"; echo "1..1"; exit 1; }
dir=$ESI_CLUSTER_DIR
export PGHOST=$dir/sock PGPORT=$PORT PGUSER=postgres

out=$("$PSQL" -X -A -t -d postgres -c "SHOW esi_fdw.refresh_min_interval" 2>&1)
expect "esi_fdw.refresh_min_interval is 30 s by default" "$out" 30s

# no jitter: a target's next refresh is exactly what the rules say
sim "/_sim/config?cache_seconds=600" >/dev/null
simlib_setup_db \
	"ALTER DATABASE $DB SET esi_fdw.refresh_jitter = 0" \
	"ALTER DATABASE $DB SET esi_fdw.refresh_min_interval = '1h'"

oks() { q "SELECT count(*) FROM esi.refresh_log WHERE target = '$1' AND outcome = 'ok'"; }

# Jita's Tritanium history arrives already expired: Expires a minute before
# its Date, no max-age
H=/markets/10000002/history
sim "/_sim/fault?path=$H&kind=expired&count=0" >/dev/null
s=$(sim_seq)
q "SELECT esi.track('hist', 'market_history', '{\"region_id\": 10000002, \"type_id\": 34}')" >/dev/null
if wait_for "SELECT count(*) = 1 FROM esi.refresh_log WHERE target = 'hist' AND outcome = 'ok'"; then
	ok "a worker refreshes the target whose replies arrive expired"
else
	not_ok "a worker refreshes the target" "$(q 'SELECT * FROM esi.refresh_log' 'SELECT * FROM esi.targets')"
fi
out=$(q "SELECT l.expires <= l.finished, t.next_refresh_at = l.started + interval '1 hour'
	FROM esi.refresh_log l JOIN esi.targets t USING (target) WHERE l.target = 'hist'")
expect "its data had expired when read; it is due again refresh_min_interval after the refresh started" \
	"$out" "t|t" "sql:SELECT * FROM esi.refresh_log" "sql:SELECT target, next_refresh_at FROM esi.targets"

# another target, due whenever the test says so: each of its refreshes is a
# round of the workers over every due target
q "SELECT esi.track('tick', 'market_prices')" >/dev/null
if wait_for "SELECT count(*) = 1 FROM esi.refresh_log WHERE target = 'tick' AND outcome = 'ok'"; then
	ok "a second target, refreshed once"
else
	not_ok "a second target, refreshed once" "$(q 'SELECT * FROM esi.refresh_log')"
fi
rounds=0
for round in 2 3 4; do
	# past the time 'hist' would come due again without the bound (its
	# expiry, at least a second after its refresh)
	wait_for "SELECT clock_timestamp() > finished + interval '1.5 s' FROM esi.refresh_log
		WHERE target = 'hist' ORDER BY id DESC LIMIT 1" 30 >/dev/null
	q "SELECT esi.set_auto('tick', true)" >/dev/null
	if wait_for "SELECT count(*) = $round FROM esi.refresh_log WHERE target = 'tick' AND outcome = 'ok'
		AND NOT EXISTS (SELECT FROM esi.refresh_log WHERE outcome = 'running')"; then
		rounds=$((rounds + 1))
	fi
done
expect "three more rounds of the workers, each after 'hist' would have been due again" "$rounds" 3 \
	"sql:SELECT * FROM esi.refresh_log"
out=$(q "SELECT count(*) FROM esi.refresh_log WHERE target = 'hist'")
expect "... refreshed 'hist' no more: one refresh in all" "$out" 1 "sql:SELECT * FROM esi.refresh_log"
expect "... which sent exactly one request for its data" "$(sim_count "$s" "$H")" 1 "log:$s"

# a manual refresh is not held back; the bound counts from it
q "CALL esi.refresh('hist')" >/dev/null
out=$(q "SELECT count(*) FROM esi.refresh_log WHERE target = 'hist' AND outcome = 'ok'" \
	"SELECT t.next_refresh_at = l.started + interval '1 hour' FROM esi.targets t
	   JOIN esi.refresh_log l USING (target) WHERE t.target = 'hist' ORDER BY l.id DESC LIMIT 1")
expect "CALL esi.refresh() refreshes it at once; the next is due refresh_min_interval after" "$out" $'2\nt'
q "SELECT esi.set_auto('hist', false)" "SELECT esi.set_auto('tick', false)" >/dev/null

echo "1..$n"
[ "$failures" -eq 0 ]
