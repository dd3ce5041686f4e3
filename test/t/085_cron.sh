#!/usr/bin/env bash
# test/t/085_cron.sh - esi.schedule(): a target refreshed by pg_cron.  Starts
# its own small cluster with pg_cron preloaded (jobs run in background
# workers: the cluster has no TCP listener), tracks the global market
# prices, schedules a refresh every minute and waits for pg_cron to run it;
# esi.unschedule() removes the job; without pg_cron, esi.schedule() is a
# clear error.  Prints TAP.
set -uo pipefail
export LC_ALL=C
: "${ESI_SIM_URL:?}"
. "$(dirname "$0")/../lib.sh"
TEST_DIR=${TEST_DIR:-$(mktemp -d)}
PORT=54341
DB=t_cron
. "$(dirname "$0")/../tap.sh"

dir=$TEST_DIR/croncluster
trap 'esi_cluster_stop "$dir" >/dev/null 2>&1' EXIT
ESI_CLUSTER_FRESH=1 ESI_CLUSTER_EXTRA_CONF="shared_preload_libraries = 'esi_fdw,pg_cron'
cron.database_name = '$DB'
cron.use_background_workers = on
max_worker_processes = 16" \
	esi_cluster_start "$dir" "$PORT" >"$TEST_DIR/cron_start.out" 2>&1 ||
	{ echo "not ok 1 - start a cluster with pg_cron"; cat "$TEST_DIR/cron_start.out" | sed 's/^/# /'; echo "1..1"; exit 1; }
dir=$ESI_CLUSTER_DIR
p() { "$ESI_PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -h "$dir/sock" -p "$PORT" -U postgres "$@" 2>&1; }

p -d postgres -c "CREATE DATABASE $DB" >/dev/null
p -d postgres -c "CREATE DATABASE t_nocron" >/dev/null
setup="CREATE EXTENSION esi_fdw;
CREATE SERVER esi FOREIGN DATA WRAPPER esi_fdw OPTIONS (base_url '$ESI_SIM_URL', user_agent 'esi_fdw tests (dev@example.com)');
IMPORT FOREIGN SCHEMA markets LIMIT TO (market_prices) FROM SERVER esi INTO public;
SELECT esi.track('prices', 'market_prices', auto => false);"
out=$(p -d $DB -c "$setup" -c "CREATE EXTENSION pg_cron")
expect_ok() { [ "$2" = "$3" ] && ok "$1" || not_ok "$1" "got:    $2" "wanted: $3"; }
expect_ok "a database with esi_fdw, pg_cron and a tracked target" "$out" "esi_snapshots.prices"

out=$(p -d $DB -c "SELECT esi.schedule('prices', '* * * * *') > 0" \
	-c "SELECT schedule, command FROM cron.job WHERE jobname = 'esi_fdw refresh prices'")
expect_ok "esi.schedule() makes a pg_cron job named after the target" "$out" $'t\n* * * * *|CALL esi.refresh(\'prices\')'
out=$(p -d $DB -c "SELECT esi.schedule('nothing', '* * * * *')")
case $out in
	*"ERROR:  42704: no esi_fdw target \"nothing\""*) ok "an unknown target: 42704" ;;
	*) not_ok "an unknown target: 42704" "$out" ;;
esac

# pg_cron starts jobs at the minute: wait for one refresh (up to 150 s)
done_=
for ((i = 0; i < 300; i++)); do
	out=$(p -d $DB -c "SELECT count(*) FROM esi.refresh_log WHERE target = 'prices' AND outcome = 'ok'")
	if [ "${out:-0}" -ge 1 ] 2>/dev/null; then done_=1; break; fi
	sleep 0.5
done
if [ -n "$done_" ]; then
	ok "pg_cron ran the refresh: esi.refresh_log has it"
else
	not_ok "pg_cron ran the refresh: esi.refresh_log has it" "$(p -d $DB -c 'SELECT * FROM esi.refresh_log' -c 'SELECT * FROM cron.job_run_details')"
fi
out=$(p -d $DB -c "SELECT (SELECT count(*) FROM esi_snapshots.prices) = (SELECT count(*) FROM market_prices) AND (SELECT count(*) FROM esi_snapshots.prices) > 0")
expect_ok "... and the snapshot holds the prices" "$out" "t"
out=$(p -d $DB -c "SELECT status FROM cron.job_run_details ORDER BY runid LIMIT 1")
expect_ok "... as pg_cron records it" "$out" "succeeded"

out=$(p -d $DB -c "SELECT esi.unschedule('prices')" -c "SELECT count(*) FROM cron.job" -c "SELECT esi.unschedule('prices')")
expect_ok "esi.unschedule() removes the job (false the second time)" "$out" $'t\n0\nf'

out=$(p -d t_nocron -c "$setup" -c "SELECT esi.schedule('prices', '0 12 * * *')")
case $out in
	*"ERROR:  55000: pg_cron is not installed in database \"t_nocron\""*"HINT:  Add pg_cron to shared_preload_libraries"*) ok "without pg_cron in the database: 55000 with a HINT" ;;
	*) not_ok "without pg_cron in the database: 55000 with a HINT" "$out" ;;
esac
out=$(p -d t_nocron -c "SELECT esi.unschedule('prices')")
expect_ok "... and esi.unschedule() says false" "$out" "f"

echo "1..$n"
[ "$failures" -eq 0 ]
