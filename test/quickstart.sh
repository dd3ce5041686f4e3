#!/usr/bin/env bash
# test/quickstart.sh - try esi_fdw in one command.
#
#   sudo bash test/quickstart.sh         (or, as root: bash test/quickstart.sh)
#   bash test/quickstart.sh stop         stop the cluster and the simulator
#
# Installs the build dependencies and PostgreSQL 15, builds and installs
# esi_fdw, starts a throw-away cluster in .tmp/quickstart (unix socket only,
# port 54329), points a foreign server at the real ESI when it is reachable
# and at the local simulator (test/esi_sim.py) otherwise, and runs a few
# market queries. Running it again is fast and reuses what is already there.
#
# Environment: ESI_USE_SIM=1 uses the simulator even when ESI is reachable.
# ESI_QUICKSTART_URL=https://host:port checks for ESI there, and points the
# server at it, instead of https://esi.evetech.net (CI points it at a TLS
# front before the simulator: test/t/103_quickstart_tls.sh);
# ESI_QUICKSTART_CA_FILE=/path/ca.pem is the CA (PEM) that signed that
# URL's certificate: curl's --cacert and the cluster's esi_fdw.ca_file (the
# postgres user must be able to read it). Unset, the system's CAs are used.
set -euo pipefail
umask 022

# shellcheck source=test/lib.sh
. "$(dirname "$0")/lib.sh"

QS_PORT=54329
QS_DIR=$(esi_cluster_dir .tmp/quickstart quiet)
QS_ESI_URL=${ESI_QUICKSTART_URL:-https://esi.evetech.net}
QS_ESI_URL=${QS_ESI_URL%/}
QS_CA_FILE=${ESI_QUICKSTART_CA_FILE:-}

if [ "${1:-}" = stop ]; then
	esi_sim_stop "$QS_DIR"
	esi_cluster_stop "$QS_DIR"
	echo "stopped (data kept in $QS_DIR; remove that directory to start from scratch)"
	exit 0
elif [ $# -gt 0 ]; then
	echo "usage: bash $0 [stop]" >&2
	exit 2
fi

case $QS_ESI_URL in
	http://* | https://*) ;;
	*) esi_die "ESI_QUICKSTART_URL must be an http:// or https:// URL, not '$QS_ESI_URL'" ;;
esac
case $QS_ESI_URL in
	*[\'\"[:space:]]*) esi_die "ESI_QUICKSTART_URL may not contain quotes or spaces" ;;
esac
if [ -n "$QS_CA_FILE" ]; then
	[ -r "$QS_CA_FILE" ] || esi_die "ESI_QUICKSTART_CA_FILE: cannot read $QS_CA_FILE"
	QS_CA_FILE=$(realpath "$QS_CA_FILE")
fi

esi_install_packages
esi_build_install
esi_cluster_start .tmp/quickstart "$QS_PORT"

# Real ESI or simulator?
use_sim=0
if [ "${ESI_USE_SIM:-0}" = 1 ]; then
	use_sim=1
	esi_log "ESI_USE_SIM=1: using the local ESI simulator"
else
	curl_ca=()
	[ -z "$QS_CA_FILE" ] || curl_ca=(--cacert "$QS_CA_FILE")
	code=$(curl -s -m 5 ${curl_ca[@]+"${curl_ca[@]}"} -o /dev/null -w '%{http_code}' "$QS_ESI_URL/status" 2>/dev/null || true)
	if [ -n "$code" ] && [ "$code" != 000 ]; then
		esi_log "ESI at $QS_ESI_URL is reachable (HTTP $code): using it"
	else
		use_sim=1
		esi_log "ESI at $QS_ESI_URL is not reachable: using the local ESI simulator instead"
	fi
fi

if [ "$use_sim" = 1 ]; then
	if esi_sim_running "$ESI_CLUSTER_DIR"; then
		esi_log "reusing the ESI simulator already running at $ESI_SIM_URL"
	else
		esi_sim_start "$ESI_CLUSTER_DIR"
	fi
	server_options="OPTIONS (base_url '$ESI_SIM_URL')"
	source_desc="the ESI simulator at $ESI_SIM_URL (simulated data, not the live market)"
	QS_CA_FILE=
else
	esi_sim_stop "$ESI_CLUSTER_DIR"
	if [ -n "${ESI_QUICKSTART_URL:-}" ]; then
		server_options="OPTIONS (base_url '$QS_ESI_URL')"
		source_desc="ESI at $QS_ESI_URL (ESI_QUICKSTART_URL${QS_CA_FILE:+; CA file $QS_CA_FILE})"
	else
		server_options=
		source_desc="the real ESI at https://esi.evetech.net (live data)"
	fi
fi

# The CA that esi_fdw trusts: ESI_QUICKSTART_CA_FILE, else the system's
# (a superuser setting, read by new sessions after the reload)
if [ -n "$QS_CA_FILE" ]; then
	esi_as_pg test -r "$QS_CA_FILE" ||
		esi_die "the postgres user cannot read $QS_CA_FILE (ESI_QUICKSTART_CA_FILE); make it and its directories readable"
	esi_log "esi_fdw.ca_file = $QS_CA_FILE"
	printf '%s\n' "ALTER SYSTEM SET esi_fdw.ca_file = :'ca';" "SELECT pg_reload_conf();" |
		esi_psql -q -v ca="$QS_CA_FILE" >/dev/null
else
	esi_psql -q -c "ALTER SYSTEM RESET esi_fdw.ca_file" -c "SELECT pg_reload_conf()" >/dev/null
fi
for ((i = 0; i < 100; i++)); do
	[ "$(esi_psql -A -t -c "SHOW esi_fdw.ca_file" 2>/dev/null)" = "$QS_CA_FILE" ] && break
	sleep 0.1
done

esi_log "creating the extension, the server \"esi\" and the foreign tables in schema \"eve\""
esi_psql -q <<SQL
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS esi_fdw;
ALTER EXTENSION esi_fdw UPDATE;
DROP SERVER IF EXISTS esi CASCADE;
CREATE SERVER esi FOREIGN DATA WRAPPER esi_fdw $server_options;
DROP SCHEMA IF EXISTS eve CASCADE;
CREATE SCHEMA eve;
IMPORT FOREIGN SCHEMA markets FROM SERVER esi INTO eve;
IMPORT FOREIGN SCHEMA universe FROM SERVER esi INTO eve;
SQL

echo
echo "Data source: $source_desc"
echo

esi_psql -q -P pager=off <<'SQL'
\pset footer off
\pset title 'Best (lowest) Tritanium sell price in Jita 4-4 (region 10000002, station 60003760, type 34)'
SELECT min(price) AS best_sell
  FROM eve.market_orders
 WHERE region_id = 10000002 AND type_id = 34
   AND NOT is_buy_order AND location_id = 60003760;

\pset title 'PLEX (type 44992) spread in The Forge (region 10000002)'
SELECT round(best_sell::numeric, 2) AS best_sell,
       round(best_buy::numeric, 2) AS best_buy,
       round((best_sell - best_buy)::numeric, 2) AS spread,
       round((100 * (best_sell - best_buy) / nullif(best_sell, 0))::numeric, 2) AS spread_pct
  FROM (SELECT min(price) FILTER (WHERE NOT is_buy_order) AS best_sell,
               max(price) FILTER (WHERE is_buy_order) AS best_buy
          FROM eve.market_orders
         WHERE region_id = 10000002 AND type_id = 44992) AS o;

\pset title 'Tritanium in The Forge: the last ten days of market history'
SELECT date, average, highest, lowest, volume, order_count
  FROM eve.market_history
 WHERE region_id = 10000002 AND type_id = 34
 ORDER BY date DESC
 LIMIT 10;

\pset title 'The first query again: answered by the cluster-wide cache (ESI Cache Hits), nothing sent'
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT min(price)
  FROM eve.market_orders
 WHERE region_id = 10000002 AND type_id = 34
   AND NOT is_buy_order AND location_id = 60003760;

\pset title 'What each route cost ESI so far (esi.route_stats)'
SELECT route, requests, cache_hits, not_modified, errors FROM esi.route_stats ORDER BY route;

\pset title 'How the first query is run'
EXPLAIN (VERBOSE, COSTS OFF)
SELECT min(price)
  FROM eve.market_orders
 WHERE region_id = 10000002 AND type_id = 34
   AND NOT is_buy_order AND location_id = 60003760;
SQL

stop_cmd="bash test/quickstart.sh stop"
[ "$(pwd -P)" = "$ESI_ROOT" ] || stop_cmd="bash $ESI_ROOT/test/quickstart.sh stop"
if esi_is_root && [ -n "${SUDO_USER:-}" ]; then
	stop_cmd="sudo $stop_cmd"
fi

cat <<EOF

esi_fdw is installed and the cluster is running; the server "esi" uses
$source_desc.

Connect to it with:
    psql -h $ESI_CLUSTER_DIR/sock -p $ESI_CLUSTER_PORT -U postgres

then try for example:
    \\d eve.*
    SELECT * FROM eve.market_orders WHERE region_id = 10000002 AND type_id = 34 ORDER BY price LIMIT 5;

Stop the cluster$( [ "$use_sim" = 1 ] && echo " and the simulator" ) with:
    $stop_cmd
EOF
