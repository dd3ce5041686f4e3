#!/usr/bin/env bash
# test/t/091_worker_slots.sh - the slots of the background refresh workers
# belong to one process each, and a worker's statements have a timeout
# (issue 17, item 7). On its own small cluster with one worker in the pool:
#
# - the launcher fails (pg_cancel_backend: an error in a background worker
#   ends it, and the postmaster starts it again 5 s later) while its worker
#   is busy with a slow refresh; the new launcher leaves that worker its slot
#   (it logs so, naming the worker's pid), starts no other worker while it
#   runs (the pool of one is full), and frees the slot when it exits (logged
#   too). Before, the new launcher marked every slot free and started a
#   second worker at once, which refreshed another target meanwhile.
# - a refresh slower than esi_fdw.refresh_statement_timeout fails like any
#   other: logged with the cancel's message, counted as a failure, the
#   previous snapshot left as it was. Before, workers had no timeout.
#
# Waits are polls with generous bounds, never timing assertions. Prints TAP.
set -uo pipefail
export LC_ALL=C
: "${ESI_SIM_URL:?}"
. "$(dirname "$0")/../lib.sh"
TEST_DIR=${TEST_DIR:-$(mktemp -d)}
mkdir -p "$TEST_DIR"
PORT=54353
DB=t_worker_slots
. "$(dirname "$0")/../tap.sh"
. "$(dirname "$0")/../simlib.sh"

simlib_own_cluster slotcluster "$PORT" "esi_fdw.refresh_workers = 1"
LOG=$dir/log/postgresql.log

# data fresh for 10 minutes: each target is refreshed once unless the test
# asks for more
sim "/_sim/config?cache_seconds=600" >/dev/null
simlib_setup_db "ALTER DATABASE $DB SET esi_fdw.max_retries = 0"

# (wait_for SQL [SECONDS]: simlib.sh's poll)
# wait_log PATTERN [SECONDS] - polls until the server log has PATTERN
wait_log() {
	local i lim=$((${2:-120} * 10))
	for ((i = 0; i < lim; i++)); do
		grep -q -- "$1" "$LOG" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
launcher() { q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'esi_fdw refresh launcher'"; }
workers() { q "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'esi_fdw refresh worker'"; }

# --- a restarted launcher leaves a busy worker its slot ------------------------------
out=$(q "SHOW esi_fdw.refresh_statement_timeout")
expect "esi_fdw.refresh_statement_timeout is 1 h by default" "$out" "1h"

# the worker's refresh of 'prices' waits 30 s for ESI's answer
sim "/_sim/fault?path=/markets/prices&kind=latency&ms=30000&count=1" >/dev/null
q "SELECT esi.track('prices', 'market_prices')" >/dev/null
w1=
for ((i = 0; i < 1200; i++)); do
	w1=$(q "SELECT pid FROM pg_stat_activity WHERE application_name = 'esi_fdw refresh prices'
		AND EXISTS (SELECT FROM esi.refresh_log WHERE target = 'prices' AND outcome = 'running')")
	[ -n "$w1" ] && break
	sleep 0.1
done
l1=$(launcher)
if [ -n "$w1" ] && [ -n "$l1" ]; then
	ok "a worker (pid $w1) is busy refreshing prices; the launcher is pid $l1"
else
	not_ok "a worker is busy refreshing prices" "$(q 'SELECT pid, backend_type, application_name FROM pg_stat_activity')"
fi
# another target, due now: the pool (one worker) is full
q "SELECT esi.track('other', 'market_history', '{\"region_id\": 10000002, \"type_id\": 34}')" >/dev/null

out=$(q "SELECT pg_cancel_backend($l1)")
expect "the launcher is made to fail (pg_cancel_backend)" "$out" "t"
if wait_log "slot [0-9]* stays with worker pid $w1 of an earlier launcher until it exits" 60; then
	ok "the restarted launcher leaves the busy worker its slot, by pid"
else
	not_ok "the restarted launcher leaves the busy worker its slot" "$LOG"
fi
l2=$(launcher)
out=$(q "SELECT count(*) FROM esi.refresh_log WHERE target = 'prices' AND outcome = 'running'")
if [ -n "$l2" ] && [ "$l2" != "$l1" ]; then
	ok "a new launcher runs (pid $l2)"
else
	not_ok "a new launcher runs" "old $l1, now '$l2'"
fi
expect "... while the worker still refreshes prices" "$out" "1" "sql:SELECT * FROM esi.refresh_log"
expect "... and it is the only worker: the pool of one is full" "$(workers)" "1" \
	"sql:SELECT pid, backend_type, application_name FROM pg_stat_activity"

if wait_for "SELECT count(*) = 1 FROM esi.refresh_log WHERE target = 'other' AND outcome = 'ok'
	AND NOT EXISTS (SELECT FROM esi.refresh_log WHERE outcome = 'running')"; then
	ok "both targets are refreshed"
else
	not_ok "both targets are refreshed" "$(q 'SELECT * FROM esi.refresh_log')"
fi
out=$(q "SELECT count(*) FILTER (WHERE target = 'prices' AND outcome = 'ok'),
	count(*) FILTER (WHERE target = 'other' AND outcome = 'ok'),
	count(*) FILTER (WHERE outcome <> 'ok') FROM esi.refresh_log")
expect "once each, without an error" "$out" "1|1|0" "sql:SELECT * FROM esi.refresh_log"
out=$(q "SELECT count(*) FROM esi.refresh_log o JOIN esi.refresh_log p ON p.target = 'prices'
	WHERE o.target = 'other' AND o.started < p.finished")
expect "'other' was not refreshed while the busy worker held the only slot" "$out" "0" \
	"sql:SELECT id, target, started, finished, outcome FROM esi.refresh_log ORDER BY id"
if wait_log "worker pid $w1 of an earlier launcher exited; slot [0-9]* is free" 60; then
	ok "the new launcher frees the slot once that worker exited"
else
	not_ok "the new launcher frees the slot once that worker exited" "$LOG"
fi
out=$(grep -c "stays with worker pid" "$LOG")
expect "one slot was left to a worker of the earlier launcher, once" "$out" "1" "$LOG"
out=$(grep -c "of an earlier launcher exited" "$LOG")
expect "one such worker exited" "$out" "1" "$LOG"
out=$(grep -c "was taken back by a restarted launcher" "$LOG")
expect "no worker found its slot taken" "$out" "0" "$LOG"

# --- a refresh slower than esi_fdw.refresh_statement_timeout -------------------------
# (the cache off for the database: the refresh asks ESI, which is slow)
q "ALTER DATABASE $DB SET esi_fdw.refresh_statement_timeout = '2s'" \
	"ALTER DATABASE $DB SET esi_fdw.cache = off" >/dev/null
before=$(q "SELECT count(*) || ':' || md5(string_agg(p::text, ',' ORDER BY p::text)) FROM esi_snapshots.prices p")
sim "/_sim/fault?path=/markets/prices&kind=latency&ms=8000&count=1" >/dev/null
q "SELECT esi.set_auto('prices', true)" >/dev/null
if wait_for "SELECT count(*) = 1 FROM esi.refresh_log WHERE target = 'prices' AND outcome = 'error'"; then
	ok "a refresh slower than the statement timeout fails"
else
	not_ok "a refresh slower than the statement timeout fails" "$(q 'SELECT * FROM esi.refresh_log')"
fi
out=$(q "SELECT l.error, t.failures, t.last_error FROM esi.refresh_log l JOIN esi.targets t USING (target)
	WHERE l.target = 'prices' AND l.outcome = 'error'")
expect "... logged as a canceled statement, counted as a failure" "$out" \
	"canceling statement due to statement timeout|1|canceling statement due to statement timeout"
after=$(q "SELECT count(*) || ':' || md5(string_agg(p::text, ',' ORDER BY p::text)) FROM esi_snapshots.prices p")
if [ -n "$before" ] && [ "$before" = "$after" ] && [ "${before%%:*}" != 0 ]; then
	ok "the previous snapshot is intact (${before%%:*} rows, same content)"
else
	not_ok "the previous snapshot is intact" "before $before, after $after"
fi
out=$(grep -c 'background refresh of target "prices" failed: canceling statement due to statement timeout' "$LOG")
expect "the server log says why, once" "$out" "1" "$LOG"
out=$(q "SELECT count(*) FROM esi.refresh_log WHERE outcome = 'running'")
expect "no refresh is left running" "$out" "0"

q "SELECT esi.set_auto('prices', false)" "SELECT esi.set_auto('other', false)" >/dev/null
echo "1..$n"
[ "$failures" -eq 0 ]
