#!/usr/bin/env bash
# test/t/103_quickstart_tls.sh - the quickstart's real-ESI branch in CI
# (issue 15, "Make the production transport part of CI", item 3):
# test/quickstart.sh with ESI_QUICKSTART_URL pointing at an nginx TLS front
# (HTTP/2) before the simulator and ESI_QUICKSTART_CA_FILE at the test's CA.
# Its reachability check finds "ESI" there, its server "esi" uses that URL
# with the CA in esi_fdw.ca_file, and its queries print exactly what the same
# statements print straight from the simulator.  The quickstart runs its own
# cluster (.tmp/quickstart of the checkout, port 54329); the test stops it
# with `bash test/quickstart.sh stop`.  Prints TAP.
set -uo pipefail
export LC_ALL=C
: "${PGHOST:?}" "${PGPORT:?}" "${PGUSER:?}" "${ESI_SIM_URL:?}"
TEST_DIR=${TEST_DIR:-$(mktemp -d)}
mkdir -p "$TEST_DIR"
chmod 755 "$TEST_DIR"   # the postgres user reads the CA file below it
DB=t_quickstart_tls
# shellcheck source=test/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=test/tap.sh
. "$(dirname "$0")/../tap.sh"
# shellcheck source=test/simlib.sh
. "$(dirname "$0")/../simlib.sh"
# shellcheck source=test/tlsfront.sh
. "$(dirname "$0")/../tlsfront.sh"

TLS=$TEST_DIR/tls
QS=$ESI_ROOT/test/quickstart.sh

finish() {
	ESI_QUICKSTART_URL='' without_inherited_fds bash "$QS" stop >"$TEST_DIR/stop.out" 2>&1
	tls_front_stop "$TLS" h2
	sim /_sim/reset >/dev/null 2>&1
}
trap finish EXIT

# without_inherited_fds COMMAND... - COMMAND without the descriptors above 2
# that this test inherited (a lock its runner holds, say): the quickstart's
# cluster must not keep them open
without_inherited_fds() {
	(
		for fd in /proc/$BASHPID/fd/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] && eval "exec $fd>&-"
		done
		exec "$@"
	)
}

# block FILE - the quickstart's query results: from the first query's title
# up to the title of esi.route_stats (cluster-wide counts, left out)
block() { sed -n '/Best (lowest) Tritanium/,/What each route cost/p' "$1" | sed '$d'; }

if tls_make_certs "$TLS" >"$TEST_DIR/certs.out" 2>&1; then
	chmod 755 "$TLS"
	ok "a throw-away CA and a certificate for localhost"
else
	not_ok "a throw-away CA and a certificate for localhost" "$TEST_DIR/certs.out"
	echo "Bail out! no certificates"
	exit 1
fi
url=$(tls_front_start "$TLS" h2 h2 "$ESI_SIM_URL" 2>"$TEST_DIR/front.err")
if [ -z "$url" ]; then
	not_ok "an nginx front (HTTP/2 over TLS) before the simulator" "$TEST_DIR/front.err"
	echo "Bail out! no front"
	exit 1
fi
ok "an nginx front (HTTP/2 over TLS) before the simulator: $url"

# --- the reference: the quickstart's statements straight to the simulator -------
simlib_setup_db "CREATE SCHEMA eve" "IMPORT FOREIGN SCHEMA markets FROM SERVER esi INTO eve"
sed -n "/^esi_psql -q -P pager=off <<'SQL'\$/,/^SQL\$/p" "$QS" | sed '1d;$d' >"$TEST_DIR/queries.sql"
expect "the quickstart's statements (psql script in $QS): $(wc -l <"$TEST_DIR/queries.sql") lines" \
	"$(grep -c 'FROM eve.market_orders' "$TEST_DIR/queries.sql")" 4
q "SELECT esi.cache_clear()" >/dev/null
sim /_sim/reset >/dev/null
"$PSQL" -X -q -v ON_ERROR_STOP=1 -P pager=off -d "$DB" -f "$TEST_DIR/queries.sql" >"$TEST_DIR/straight.out" 2>&1
block "$TEST_DIR/straight.out" >"$TEST_DIR/straight.block"
expect "the same statements straight to the simulator print 3 titled results and a plan" \
	"$(grep -c '^Best (lowest)\|^PLEX (type 44992)\|^Tritanium in The Forge\|ESI Cache Hits' "$TEST_DIR/straight.block")" 4 \
	"$TEST_DIR/straight.out"
straight_requests=$(sim_count 0 /markets/)

# --- the quickstart against the front ------------------------------------------------
sim /_sim/reset >/dev/null
without_inherited_fds env -u ESI_USE_SIM ESI_QUICKSTART_URL="$url" ESI_QUICKSTART_CA_FILE="$TLS/ca.pem" \
	timeout -k 10 900 bash "$QS" >"$TEST_DIR/quickstart.out" 2>"$TEST_DIR/quickstart.err"
rc=$?
expect "test/quickstart.sh with ESI_QUICKSTART_URL and ESI_QUICKSTART_CA_FILE exits 0" "$rc" 0 \
	"$TEST_DIR/quickstart.err" "$TEST_DIR/quickstart.out"
expect "its reachability check found ESI at the front (curl with the CA)" \
	"$(grep -c "^==> ESI at $url is reachable (HTTP 200): using it\$" "$TEST_DIR/quickstart.err")" 1 \
	"$TEST_DIR/quickstart.err"
expect "its data source line names the URL and the CA file" \
	"$(grep '^Data source: ' "$TEST_DIR/quickstart.out")" \
	"Data source: ESI at $url (ESI_QUICKSTART_URL; CA file $TLS/ca.pem)" "$TEST_DIR/quickstart.out"
expect "it started no simulator of its own" \
	"$(grep -c 'starting the ESI simulator' "$TEST_DIR/quickstart.err")" 0 "$TEST_DIR/quickstart.err"
block "$TEST_DIR/quickstart.out" >"$TEST_DIR/quickstart.block"
if [ -s "$TEST_DIR/straight.block" ] && cmp -s "$TEST_DIR/straight.block" "$TEST_DIR/quickstart.block"; then
	ok "its results (best Tritanium sell, PLEX spread, ten days of history, ESI Cache Hits) are the simulator's exact values"
else
	not_ok "its results (best Tritanium sell, PLEX spread, ten days of history, ESI Cache Hits) are the simulator's exact values" \
		"$(diff "$TEST_DIR/straight.block" "$TEST_DIR/quickstart.block" | head -n 60)"
fi
lines=$(tls_front_log "$TLS" h2 | awk 'index($7, "/markets/") == 1')
expect "its $straight_requests requests to ESI went through the front, HTTP/2 over TLS 1.3, all 200" \
	"$(awk '{ n[$3 " " $4 " " $5]++ } END { for (k in n) print n[k], k }' <<<"$lines")" \
	"$straight_requests HTTP/2.0 TLSv1.3 200" "$(tls_front_log "$TLS" h2)"

# --- the quickstart's cluster: the setting, then stop it -------------------------------------------
qs_dir=$(esi_cluster_dir .tmp/quickstart quiet)
out=$("$PSQL" -X -A -t -h "$qs_dir/sock" -p 54329 -U postgres -d postgres \
	-c "SHOW esi_fdw.ca_file" -c "SELECT srvoptions FROM pg_foreign_server WHERE srvname = 'esi'" 2>&1)
expect "the quickstart's cluster: esi_fdw.ca_file is the CA, the server esi's base_url the front" \
	"$out" "$TLS/ca.pem"$'\n'"{base_url=$url}"
ESI_QUICKSTART_URL='' without_inherited_fds bash "$QS" stop >"$TEST_DIR/stop.out" 2>&1
expect "bash test/quickstart.sh stop stops its cluster" \
	"$(esi_cluster_running "$qs_dir" && echo running || echo stopped)" stopped "$TEST_DIR/stop.out"

echo "1..$n"
if [ "$failures" -gt 0 ]; then
	echo "# $failures of $n tests failed (database $DB and $TEST_DIR kept for inspection)"
	exit 1
fi
simlib_drop_db
