#!/usr/bin/env bash
# test/t/161_prometheus.sh - monitoring (issue 18, item 3): Debian's
# prometheus-postgres-exporter with esi_fdw's queries file
# (doc/prometheus-queries.yaml), connected as a minimal metrics role
# (pg_monitor, USAGE on the server), scraped over 127.0.0.1, and every
# esi_* series compared with the views it comes from: esi.route_stats
# (requests, cache hits, 304s, errors by status, limit waits), esi.limits
# (error-limit remaining, rate limits), esi.cache and esi.target_health
# (staleness, failures).  The traffic is made deterministic first (the
# simulator's log pins the request counts).  On its own small cluster
# without refresh workers, so that nothing else sends requests.  Prints TAP.
set -uo pipefail
export LC_ALL=C
: "${ESI_SIM_URL:?}"
. "$(dirname "$0")/../lib.sh"
TEST_DIR=${TEST_DIR:-$(mktemp -d)}
mkdir -p "$TEST_DIR"
PORT=54365
DB=t_prometheus
. "$(dirname "$0")/../tap.sh"
. "$(dirname "$0")/../simlib.sh"

EXPORTER=/usr/bin/prometheus-postgres-exporter
QUERIES=$ESI_ROOT/doc/prometheus-queries.yaml
dir=$TEST_DIR/pcluster
EXPORTER_PID=
finish() {
	[ -n "$EXPORTER_PID" ] && kill "$EXPORTER_PID" 2>/dev/null && wait "$EXPORTER_PID" 2>/dev/null
	sim /_sim/reset >/dev/null 2>&1
	esi_cluster_stop "$dir" >/dev/null 2>&1
}
trap finish EXIT

if [ ! -x "$EXPORTER" ]; then
	echo "not ok 1 - $EXPORTER is installed (test/run_tests.sh installs prometheus-postgres-exporter)"
	echo "1..1"
	exit 1
fi

sim /_sim/reset >/dev/null
ESI_CLUSTER_FRESH=1 ESI_CLUSTER_EXTRA_CONF="esi_fdw.refresh_workers = 0" \
	esi_cluster_start "$dir" "$PORT" >"$TEST_DIR/pstart.out" 2>&1 ||
	{ echo "not ok 1 - start a cluster"; sed 's/^/# /' "$TEST_DIR/pstart.out"; echo "1..1"; exit 1; }
dir=$ESI_CLUSTER_DIR
export PGHOST=$dir/sock PGPORT=$PORT PGUSER=postgres

sim "/_sim/config?cache_seconds=600" >/dev/null
simlib_setup_db \
	"ALTER DATABASE $DB SET esi_fdw.max_retries = 0" \
	"CREATE ROLE esi_metrics LOGIN IN ROLE pg_monitor" \
	"GRANT USAGE ON FOREIGN SERVER esi TO esi_metrics"

# --- deterministic traffic ------------------------------------------------------------------
SMALL=10000033
OROUTE='/markets/{region_id}/orders'
HROUTE='/markets/{region_id}/history'
q "SELECT esi.route_stats_reset()" "SELECT esi.limits_reset()" "SELECT esi.cache_clear()" >/dev/null
QS="SELECT count(*) FROM market_orders WHERE region_id = $SMALL"
s=$(sim_seq)
q "$QS" >/dev/null
q "$QS" >/dev/null
q "SET esi_fdw.cache = refresh" "$QS" >/dev/null
expect "a scan of 4 pages, the same again (cache), and revalidated (304s): 8 requests" "$(sim_count "$s" /markets/$SMALL/orders)" 8 \
	"log:$s"
# a 404 (remembered: the second query asks nothing)
sim "/_sim/fault?path=/markets/10000030/history&kind=status&status=404&body=json" >/dev/null
q "SELECT count(*) FROM market_history WHERE region_id = 10000030 AND type_id = 34" >/dev/null
q "SELECT count(*) FROM market_history WHERE region_id = 10000030 AND type_id = 34" >/dev/null
# a healthy target, a stale one, a failing one (three 500s: announced)
q "SELECT esi.track('prices', 'market_prices', auto => false)" "CALL esi.refresh('prices')" \
	"SELECT esi.track('stale', 'market_history', '{\"region_id\": 10000002, \"type_id\": 35}', auto => false)" \
	"CALL esi.refresh('stale')" \
	"UPDATE esi.targets SET data_expires_at = now() - interval '1 hour' WHERE target = 'stale'" \
	"SELECT esi.track('bad', 'market_history', '{\"region_id\": 10000002, \"type_id\": 34}', auto => false)" >/dev/null
sim "/_sim/fault?path=/markets/10000002/history&kind=status&status=500&count=3" >/dev/null
for i in 1 2 3; do q "CALL esi.refresh('bad')" >/dev/null; done
out=$(q "SELECT route, requests, cache_hits, not_modified, errors::text FROM esi.route_stats
	  WHERE route IN ('$OROUTE', '$HROUTE') ORDER BY route")
expect "esi.route_stats: orders 8 requests, 4 hits, 4 304s; history 5 requests, a 404 (then served from the cache: 1 hit) and three 500s" "$out" \
	"$HROUTE|5|1|0|{\"404\": 1, \"500\": 3}
$OROUTE|8|4|4|{}" "sql:SELECT * FROM esi.route_stats"
out=$(q "SELECT target, fresh, failures_in_row, failing, last_outcome FROM esi.target_health ORDER BY target")
expect "esi.target_health: bad failing (3 in a row), prices fresh, stale not fresh" "$out" \
	"bad|f|3|t|error
prices|t|0|f|ok
stale|f|0|f|ok"

# --- the exporter -----------------------------------------------------------------------------
EPORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DATA_SOURCE_NAME="user=esi_metrics host=$PGHOST port=$PGPORT dbname=$DB sslmode=disable" \
	"$EXPORTER" --extend.query-path="$QUERIES" --web.listen-address="127.0.0.1:$EPORT" \
	--disable-default-metrics --disable-settings-metrics --log.level=warn \
	>"$TEST_DIR/exporter.log" 2>&1 &
EXPORTER_PID=$!
up=
for ((i = 0; i < 300; i++)); do
	if curl -fsS -m 10 "http://127.0.0.1:$EPORT/metrics" >"$TEST_DIR/scrape0.txt" 2>/dev/null &&
		grep -q '^esi_route_requests_total' "$TEST_DIR/scrape0.txt"; then
		up=1
		break
	fi
	sleep 0.1
done
if [ -n "$up" ]; then
	ok "the exporter serves esi_fdw's metrics on 127.0.0.1:$EPORT"
else
	not_ok "the exporter serves esi_fdw's metrics" "$TEST_DIR/exporter.log" "$TEST_DIR/scrape0.txt"
fi
out=$(grep -c 'error' "$TEST_DIR/exporter.log")
expect "... and logs no error (every query ran as esi_metrics)" "$out" 0 "$TEST_DIR/exporter.log"

# the scrape, between two readings of the stale target's lag
b1=$(q "SELECT extract(epoch FROM behind) FROM esi.target_health WHERE target = 'stale'")
curl -fsS -m 30 "http://127.0.0.1:$EPORT/metrics" >"$TEST_DIR/scrape.txt"
b2=$(q "SELECT extract(epoch FROM behind) FROM esi.target_health WHERE target = 'stale'")

# the views, read as the metrics role, as series: metric, labels, value
E="$TEST_DIR/expected.tsv"
PGUSER=esi_metrics q "
SELECT m, 'route=' || route, v FROM esi.route_stats,
  LATERAL (VALUES ('esi_route_requests_total', requests::numeric), ('esi_route_cache_hits_total', cache_hits),
                  ('esi_route_not_modified_total', not_modified), ('esi_route_coalesced_total', coalesced),
                  ('esi_route_bytes_total', bytes), ('esi_route_esi_seconds_total', esi_ms::numeric / 1000),
                  ('esi_route_limit_wait_seconds_total', limit_wait_ms::numeric / 1000),
                  ('esi_route_coalesce_wait_seconds_total', coalesce_wait_ms::numeric / 1000)) x(m, v)
UNION ALL
SELECT 'esi_route_errors_total', 'route=' || route || ';status=' || e.key, e.value::numeric
  FROM esi.route_stats, jsonb_each_text(errors) e
UNION ALL
SELECT m, 'base_url=' || base_url, v FROM esi.limits,
  LATERAL (VALUES ('esi_error_limit_remaining', remaining::numeric),
                  ('esi_error_limit_reset_timestamp_seconds', extract(epoch FROM reset_at)),
                  ('esi_error_limit_blocked_until_timestamp_seconds', coalesce(extract(epoch FROM blocked_until), 0))) x(m, v)
 WHERE kind = 'error_limit'
UNION ALL
SELECT m, 'base_url=' || base_url || ';rate_group=' || rate_group, v FROM esi.limits,
  LATERAL (VALUES ('esi_rate_limit_remaining', remaining::numeric), ('esi_rate_limit_used', used),
                  ('esi_rate_limit_blocked_until_timestamp_seconds', coalesce(extract(epoch FROM blocked_until), 0))) x(m, v)
 WHERE kind = 'rate_limit'
UNION ALL
SELECT m, '', v FROM (SELECT count(*) n, coalesce(sum(size), 0) b, count(*) FILTER (WHERE fresh) f,
                             count(*) FILTER (WHERE status IN (403, 404)) e FROM esi.cache) c,
  LATERAL (VALUES ('esi_cache_entries', n::numeric), ('esi_cache_bytes', b), ('esi_cache_fresh_entries', f),
                  ('esi_cache_error_entries', e)) x(m, v)
UNION ALL
SELECT m, 'datname=' || current_database() || ';target=' || target || ';mode=' || mode, v FROM esi.target_health,
  LATERAL (VALUES ('esi_target_expires_timestamp_seconds', extract(epoch FROM expires_at)),
                  ('esi_target_fresh', fresh::int), ('esi_target_failures_in_row', failures_in_row),
                  ('esi_target_failing', failing::int), ('esi_target_paused', paused::int),
                  ('esi_target_last_failed', (last_outcome = 'error')::int),
                  ('esi_target_last_snapshot_timestamp_seconds', extract(epoch FROM last_snapshot_at)),
                  ('esi_target_next_refresh_timestamp_seconds', extract(epoch FROM next_refresh_at))) x(m, v)
UNION ALL
SELECT 'esi_target_behind_seconds', 'datname=' || current_database() || ';target=' || target || ';mode=' || mode,
       extract(epoch FROM behind)
  FROM esi.target_health WHERE target <> 'stale'" | tr '|' '\t' >"$E"

FAMILIES=(esi_route_requests_total esi_route_cache_hits_total esi_route_not_modified_total
	esi_route_coalesced_total esi_route_bytes_total esi_route_esi_seconds_total
	esi_route_limit_wait_seconds_total esi_route_coalesce_wait_seconds_total esi_route_errors_total
	esi_error_limit_remaining esi_error_limit_reset_timestamp_seconds
	esi_error_limit_blocked_until_timestamp_seconds esi_rate_limit_remaining esi_rate_limit_used
	esi_rate_limit_blocked_until_timestamp_seconds esi_cache_entries esi_cache_bytes
	esi_cache_fresh_entries esi_cache_error_entries esi_target_expires_timestamp_seconds
	esi_target_fresh esi_target_failures_in_row esi_target_failing esi_target_paused
	esi_target_last_failed esi_target_last_snapshot_timestamp_seconds
	esi_target_next_refresh_timestamp_seconds)
python3 "$ESI_ROOT/test/promcheck.py" "$TEST_DIR/scrape.txt" "$E" "${FAMILIES[@]}" >"$TEST_DIR/check.txt"
for f in "${FAMILIES[@]}"; do
	line=$(grep "^$f " "$TEST_DIR/check.txt")
	want=$(awk -F'\t' -v f="$f" '$1 == f { n++ } END { print n + 0 }' "$E")
	expect "$f: the scrape equals the view ($want series)" "$line" "$f ok $want" \
		"$(sed -n "/^$f /,/^[a-z]/p" "$TEST_DIR/check.txt")"
done

# what the scrape says, pinned (without the exporter's own label server)
sed -e 's/,server="[^"]*"//; s/{server="[^"]*",/{/; s/{server="[^"]*"}//' "$TEST_DIR/scrape.txt" >"$TEST_DIR/scrape_ns.txt"
metric() {
	awk -v want="$1" 'index($0, want) == 1 { print $NF }' "$TEST_DIR/scrape_ns.txt"
}
expect "esi_route_requests_total of the orders route: 8" \
	"$(metric "esi_route_requests_total{route=\"$OROUTE\"")" 8 "$TEST_DIR/scrape_ns.txt"
expect "esi_route_cache_hits_total of the orders route: 4" \
	"$(metric "esi_route_cache_hits_total{route=\"$OROUTE\"")" 4
expect "esi_route_not_modified_total of the orders route: 4" \
	"$(metric "esi_route_not_modified_total{route=\"$OROUTE\"")" 4
expect "esi_route_errors_total of the history route, status 404: 1" \
	"$(metric "esi_route_errors_total{route=\"$HROUTE\",status=\"404\"")" 1
expect "esi_route_errors_total of the history route, status 500: 3" \
	"$(metric "esi_route_errors_total{route=\"$HROUTE\",status=\"500\"")" 3
expect "esi_cache_error_entries: the remembered 404" "$(metric "esi_cache_error_entries")" 1
expect "esi_target_failing of bad: 1" "$(metric "esi_target_failing{datname=\"$DB\",mode=\"latest\",target=\"bad\"")" 1
expect "esi_target_failures_in_row of bad: 3" \
	"$(metric "esi_target_failures_in_row{datname=\"$DB\",mode=\"latest\",target=\"bad\"")" 3
expect "esi_target_expires_timestamp_seconds of bad (never refreshed): NaN" \
	"$(metric "esi_target_expires_timestamp_seconds{datname=\"$DB\",mode=\"latest\",target=\"bad\"")" NaN
expect "esi_target_behind_seconds of bad (never refreshed): NaN" \
	"$(metric "esi_target_behind_seconds{datname=\"$DB\",mode=\"latest\",target=\"bad\"")" NaN
expect "esi_target_behind_seconds of prices (fresh): 0" \
	"$(metric "esi_target_behind_seconds{datname=\"$DB\",mode=\"latest\",target=\"prices\"")" 0
m=$(metric "esi_target_behind_seconds{datname=\"$DB\",mode=\"latest\",target=\"stale\"")
if [ -n "$m" ] && ge "$m" "$b1" && ge "$b2" "$m" && ge "$b1" 3600; then
	ok "esi_target_behind_seconds of stale: the view's lag at the time of the scrape (between $b1 and $b2)"
else
	not_ok "esi_target_behind_seconds of stale" "got: $m, wanted between $b1 and $b2 (>= 3600)"
fi
expect "esi_error_limit_remaining: the view's (as the metrics role)" \
	"$(metric "esi_error_limit_remaining{base_url=\"$ESI_SIM_URL\"")" \
	"$(q "SELECT remaining FROM esi.limits WHERE kind = 'error_limit'")"

echo "1..$n"
[ "$failures" -eq 0 ] && simlib_drop_db
[ "$failures" -eq 0 ]
