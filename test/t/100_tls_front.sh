#!/usr/bin/env bash
# test/t/100_tls_front.sh - the production transport (issue 15, "Make the
# production transport part of CI", items 1, 4 and 5): esi_fdw through
# Debian's nginx as a TLS front before the simulator (test/tlsfront.sh), with
# a CA the test makes in esi_fdw.ca_file, in both modes: h2 (HTTP/2 over
# TLS) and h1 (HTTP/1.1 over TLS 1.3 only).  In each mode:
#
#  (a) pg_regress files through the front, in a database of their own
#      (t_tls_regress_h2 / _h1; results in $TEST_DIR/regress_MODE): setup,
#      market, pushdown, pushdown_exact, paging, explain, planner,
#      sim_contract, sim_decoder, sim_lang, cache, writes and bulk_load: every
#      file whose queries read or write ESI and whose expected output depends
#      only on ESI's replies (single pages, crawls of hundreds of pages,
#      fan-out and joins at max_connections, LIMIT stopping a crawl, X-Pages
#      and Last-Modified changing mid-crawl, cursor walks, 304s, gzip, ESI's
#      languages, POST/PUT/DELETE).  Left out: options, definitions,
#      security, catalog, crypto and bi_views (SQL-side definitions; few or
#      no requests), and errors, writes_character and writes_tables: their
#      transport faults are rewritten by any front (nginx answers a TCP reset
#      or a reply the simulator dropped with 502, or sends an idempotent
#      DELETE or PUT upstream again, and passes a cut body on as an HTTP/2
#      stream error); (e) below has the front's own failures, and
#      test/t/101_tls_auth.sh the SSO logins and writes through a front;
#  (b) The Forge (10000002, 411 pages) crawled cold: count and md5 of every
#      row equal to the same query straight to the simulator;
#  (c) the cached repeat: fresh, nothing goes out; with esi_fdw.cache =
#      'refresh' every page is revalidated with If-None-Match and the 304s
#      go through the front (its log), the same rows;
#  (d) connections: under HTTP/2 the 411 requests are streams of ONE
#      connection; under HTTP/1.1 they use max_connections (8) connections;
#  (e) a front with keepalive_requests 25 (nginx sends GOAWAY under HTTP/2,
#      Connection: close under HTTP/1.1) closes connections all through the
#      crawl: the same rows, each page asked once, at most 25 requests on a
#      connection;
# and (f) the HTTP version: esi_fdw.http_version '1.1' against the h2 front
# gives HTTP/1.1, 'auto' HTTP/2, '2' against a plain-HTTP/2 front (h2c,
# prior knowledge) HTTP/2, '2' against the h1 front falls back to HTTP/1.1
# (ALPN), and the server option http_version overrides the setting.
# Prints TAP.
set -uo pipefail
export LC_ALL=C
: "${PGHOST:?}" "${PGPORT:?}" "${PGUSER:?}" "${ESI_SIM_URL:?}"
TEST_DIR=${TEST_DIR:-$(mktemp -d)}
mkdir -p "$TEST_DIR"
chmod 755 "$TEST_DIR"   # the postgres user reads the CA file below it
DB=t_tls
# shellcheck source=test/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=test/tap.sh
. "$(dirname "$0")/../tap.sh"
# shellcheck source=test/simlib.sh
. "$(dirname "$0")/../simlib.sh"
# shellcheck source=test/tlsfront.sh
. "$(dirname "$0")/../tlsfront.sh"

TLS=$TEST_DIR/tls
FRONTS="h2 h1 h2c h2ka h1ka"
FORGE=10000002
FORGE_PAGES=411
CITADEL=10000033   # 4 pages
KEEPALIVE=25
PG_REGRESS=$("$ESI_PG_CONFIG" --pkglibdir)/pgxs/src/test/regress/pg_regress
REGRESS_FILES="setup market pushdown pushdown_exact paging explain planner sim_contract sim_decoder sim_lang cache writes bulk_load"

finish() {
	local f
	for f in $FRONTS; do tls_front_stop "$TLS" "$f"; done
	"$PSQL" -X -q -d postgres -c "ALTER SYSTEM RESET esi_fdw.ca_file" -c "SELECT pg_reload_conf()" >/dev/null 2>&1
	sim /_sim/reset >/dev/null 2>&1
}
trap finish EXIT

# rows_of SCHEMA REGION - count and md5 of every column of every order
rows_of() {
	echo "SELECT count(*), md5(string_agg(o::text, ',' ORDER BY o.order_id))
	        FROM $1.market_orders o WHERE o.region_id = $2"
}
# front_mark NAME - how many requests the front has logged so far
front_mark() { tls_front_log "$TLS" "$1" | wc -l; }
# front_since NAME MARK [URI_PREFIX] - the front's log lines after MARK:
# "connection requests_on_it protocol tls status method uri"
front_since() {
	tls_front_log "$TLS" "$1" | tail -n +$(($2 + 1)) | awk -v p="${3:-}" 'index($7, p) == 1'
}
# protocols - "count protocol tls" per protocol of the log lines on stdin
protocols() { awk '{ n[$3 " " $4]++ } END { for (k in n) print n[k], k }' | sort; }
# statuses - "count status" of the log lines on stdin, one line
statuses() { awk '{ n[$5]++ } END { for (k in n) printf "%s%d %s", (i++ ? ", " : ""), n[k], k; print "" }'; }
# connections - how many connections the log lines on stdin used
connections() { awk '{ c[$1] = 1 } END { print length(c) }'; }
# most_on_a_connection - the most requests one connection carried
most_on_a_connection() { awk '{ if ($2 > m) m = $2 } END { print m + 0 }'; }
# pages_once SINCE PATH - "requests distinct_pages" at the simulator
pages_once() {
	sim_log "$1" "$2" | awk -F'\t' '{ n++; p[$3] = 1 } END { print n + 0, length(p) }'
}

# --- the CA, the fronts, the cluster trusting the CA ---------------------------
if tls_make_certs "$TLS" >"$TEST_DIR/certs.out" 2>&1; then
	chmod 755 "$TLS"
	ok "a throw-away CA and a certificate for localhost"
else
	not_ok "a throw-away CA and a certificate for localhost" "$TEST_DIR/certs.out"
	echo "Bail out! no certificates"
	exit 1
fi
declare -A URL
for f in $FRONTS; do
	case $f in
		h2 | h1 | h2c) mode=$f front_extra= ;;
		h2ka) mode=h2 front_extra="keepalive_requests $KEEPALIVE;" ;;
		h1ka) mode=h1 front_extra="keepalive_requests $KEEPALIVE;" ;;
	esac
	URL[$f]=$(tls_front_start "$TLS" "$f" "$mode" "$ESI_SIM_URL" server "$front_extra" 2>"$TEST_DIR/front_$f.err")
	if [ -z "${URL[$f]}" ]; then
		not_ok "nginx front $f starts" "$TEST_DIR/front_$f.err" "$TLS/$f/logs/error.log"
		echo "Bail out! no front $f"
		exit 1
	fi
done
ok "nginx fronts: h2 ${URL[h2]}, h1 ${URL[h1]}, h2c ${URL[h2c]}, keepalive_requests $KEEPALIVE: h2 ${URL[h2ka]}, h1 ${URL[h1ka]}"
out=$(curl -sS --cacert "$TLS/ca.pem" -o /dev/null -w '%{http_version} %{http_code}' "${URL[h2]}/status/" 2>&1)
expect "curl through the h2 front: HTTP/2, 200 (the front reaches the simulator)" "$out" "2 200"

"$PSQL" -X -q -d postgres -v ON_ERROR_STOP=1 -c "ALTER SYSTEM SET esi_fdw.ca_file = '$TLS/ca.pem'" \
	-c "SELECT pg_reload_conf()" >"$TEST_DIR/ca.out" 2>&1
for ((i = 0; i < 300; i++)); do
	[ "$("$PSQL" -X -A -t -d postgres -c "SHOW esi_fdw.ca_file" 2>/dev/null)" = "$TLS/ca.pem" ] && break
	sleep 0.1
done
expect "esi_fdw.ca_file is the test's CA (ALTER SYSTEM, reload)" \
	"$("$PSQL" -X -A -t -d postgres -c "SHOW esi_fdw.ca_file" 2>&1)" "$TLS/ca.pem" "$TEST_DIR/ca.out"

setup_sql=()
for f in $FRONTS; do
	setup_sql+=("CREATE SERVER tls_$f FOREIGN DATA WRAPPER esi_fdw OPTIONS (base_url '${URL[$f]}', user_agent 'esi_fdw tests (dev@example.com)')"
		"CREATE SCHEMA $f"
		"IMPORT FOREIGN SCHEMA markets LIMIT TO (market_orders) FROM SERVER tls_$f INTO $f")
done
simlib_setup_db "${setup_sql[@]}"

sim /_sim/reset >/dev/null
forge_rows=$(q "SET esi_fdw.cache = off" "$(rows_of public $FORGE)")
expect_match "The Forge straight from the simulator (the reference): 410466 rows" "$forge_rows" \
	'^410466\|[0-9a-f]{32}$'
citadel_rows=$(q "SET esi_fdw.cache = off" "$(rows_of public $CITADEL)")
expect_match "The Citadel straight from the simulator (the reference)" "$citadel_rows" '^[0-9]+\|[0-9a-f]{32}$'

for mode in h2 h1; do
	if [ "$mode" = h2 ]; then proto="HTTP/2.0 TLSv1.3" conns=1; else proto="HTTP/1.1 TLSv1.3" conns=8; fi
	ka=${mode}ka

	# --- (a) pg_regress through the front -------------------------------------------
	m=$(front_mark "$mode")
	rdir=$TEST_DIR/regress_$mode
	rm -rf "$rdir"
	mkdir -p "$rdir"
	# shellcheck disable=SC2086  # REGRESS_FILES is a word list
	if ESI_SIM_URL=${URL[$mode]} timeout -k 10 900 "$PG_REGRESS" --inputdir="$ESI_ROOT" \
		--bindir="$ESI_PG_BIN" --outputdir="$rdir" --dbname="t_tls_regress_$mode" \
		$REGRESS_FILES >"$rdir/pg_regress.out" 2>&1; then
		ok "$mode: pg_regress through the front ($REGRESS_FILES)"
	else
		not_ok "$mode: pg_regress through the front ($REGRESS_FILES)" "$rdir/pg_regress.out" \
			"$(head -n 200 "$rdir/regression.diffs" 2>/dev/null)"
	fi
	out=$(front_since "$mode" "$m" | protocols | sed 's/^[0-9]* //')
	expect "$mode: ... every request of theirs went through the front as $proto" "$out" "$proto"

	# --- (b) the Forge, cold ----------------------------------------------------------
	sim /_sim/reset >/dev/null
	# replies expire 10 minutes from now, not at the next 5-minute boundary
	# (ESI's period for orders), which could fall between the crawl and (c)
	sim "/_sim/config?cache_seconds=600" >/dev/null
	q "SELECT esi.cache_clear()" >/dev/null
	m=$(front_mark "$mode")
	s=$(sim_seq)
	out=$(q "$(rows_of "$mode" $FORGE)")
	expect "$mode: The Forge through the front, cold: the simulator's exact rows" "$out" "$forge_rows"
	lines=$(front_since "$mode" "$m" "/markets/$FORGE/orders")
	expect "$mode: ... $FORGE_PAGES requests at the front, all $proto, all 200" \
		"$(protocols <<<"$lines")|$(statuses <<<"$lines")" "$FORGE_PAGES $proto|$FORGE_PAGES 200"
	expect "$mode: ... each page asked once (the simulator's log)" "$(pages_once "$s" "/markets/$FORGE/orders")" \
		"$FORGE_PAGES $FORGE_PAGES" "log:$s"

	# --- (d) connections ----------------------------------------------------------------
	if [ "$mode" = h2 ]; then
		desc="h2: ... the $FORGE_PAGES pages multiplexed as streams of one connection"
	else
		desc="h1: ... the $FORGE_PAGES pages over max_connections = 8 connections"
	fi
	expect "$desc" "$(connections <<<"$lines")" "$conns" "$lines"

	# --- (c) the cached repeat: nothing, then 304s ------------------------------------------
	m=$(front_mark "$mode")
	out=$(q "$(rows_of "$mode" $FORGE)")
	expect "$mode: the repeat while fresh: the same rows, nothing through the front" \
		"$out|$(front_since "$mode" "$m" | wc -l)" "$forge_rows|0"
	s=$(sim_seq)
	m=$(front_mark "$mode")
	out=$(q "SET esi_fdw.cache = refresh" "$(rows_of "$mode" $FORGE)")
	expect "$mode: the repeat with esi_fdw.cache = refresh: the same rows" "$out" "$forge_rows"
	lines=$(front_since "$mode" "$m" "/markets/$FORGE/orders")
	expect "$mode: ... $FORGE_PAGES revalidations through the front, all 304" \
		"$(statuses <<<"$lines")" "$FORGE_PAGES 304"
	out=$(sim_log "$s" "/markets/$FORGE/orders" |
		awk -F'\t' '{ n++; if ($6 != "-") inm++; if ($2 == 304) nm++ } END { print n + 0, inm + 0, nm + 0 }')
	expect "$mode: ... the simulator got $FORGE_PAGES requests with If-None-Match and answered 304" \
		"$out" "$FORGE_PAGES $FORGE_PAGES $FORGE_PAGES" "log:$s"
	out=$(q "SET esi_fdw.cache = refresh" \
		"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM $mode.market_orders WHERE region_id = $FORGE" |
		grep -o 'ESI Not Modified: [0-9]*')
	expect "$mode: EXPLAIN ANALYZE of a revalidated scan shows its 304s" "$out" "ESI Not Modified: $FORGE_PAGES"

	# --- (e) the front closes connections mid-crawl --------------------------------------
	sim /_sim/reset >/dev/null
	m=$(front_mark "$ka")
	s=$(sim_seq)
	out=$(q "SET esi_fdw.cache = off" "$(rows_of "$ka" $FORGE)")
	if [ "$mode" = h2 ]; then how="GOAWAY"; else how="Connection: close"; fi
	expect "$mode: keepalive_requests $KEEPALIVE ($how every $KEEPALIVE requests): the exact rows" "$out" "$forge_rows"
	lines=$(front_since "$ka" "$m" "/markets/$FORGE/orders")
	expect "$mode: ... $FORGE_PAGES requests at the front, at most $KEEPALIVE on a connection, all 200" \
		"$(wc -l <<<"$lines") $(most_on_a_connection <<<"$lines") $(statuses <<<"$lines")" \
		"$FORGE_PAGES $KEEPALIVE $FORGE_PAGES 200" "$lines"
	expect "$mode: ... each page asked once (the simulator's log)" "$(pages_once "$s" "/markets/$FORGE/orders")" \
		"$FORGE_PAGES $FORGE_PAGES" "log:$s"
done

# --- (f) the HTTP version ------------------------------------------------------------------
# version_of FRONT SQL... - the Citadel's rows through FRONT after SQL, and
# the protocols of its requests at the front
version_of() {
	local front=$1 m rows
	shift
	m=$(front_mark "$front")
	rows=$(q "SET esi_fdw.cache = off" "$@" "$(rows_of "$front" $CITADEL)")
	printf '%s|%s' "$rows" "$(front_since "$front" "$m" "/markets/$CITADEL/orders" | protocols)"
}
expect "SHOW esi_fdw.http_version: auto by default" "$(q "SHOW esi_fdw.http_version")" auto
expect "http_version 'auto' against the h2 front: HTTP/2 (4 pages)" \
	"$(version_of h2 "SET esi_fdw.http_version = auto")" "$citadel_rows|4 HTTP/2.0 TLSv1.3"
expect "http_version '1.1' against the h2 front: HTTP/1.1" \
	"$(version_of h2 "SET esi_fdw.http_version = '1.1'")" "$citadel_rows|4 HTTP/1.1 TLSv1.3"
expect "http_version '2' against the h2 front: HTTP/2" \
	"$(version_of h2 "SET esi_fdw.http_version = '2'")" "$citadel_rows|4 HTTP/2.0 TLSv1.3"
expect "http_version '2' against the h2c front (plain http, prior knowledge): HTTP/2" \
	"$(version_of h2c "SET esi_fdw.http_version = '2'")" "$citadel_rows|4 HTTP/2.0 -"
expect "http_version '2' against the h1 front (TLS without h2 in ALPN): HTTP/1.1" \
	"$(version_of h1 "SET esi_fdw.http_version = '2'")" "$citadel_rows|4 HTTP/1.1 TLSv1.3"
out=$(version_of h2 "ALTER SERVER tls_h2 OPTIONS (ADD http_version '1.1')" "SET esi_fdw.http_version = '2'")
q "ALTER SERVER tls_h2 OPTIONS (DROP http_version)" >/dev/null
expect "the server option http_version '1.1' overrides SET esi_fdw.http_version = '2'" \
	"$out" "$citadel_rows|4 HTTP/1.1 TLSv1.3"

echo "1..$n"
if [ "$failures" -gt 0 ]; then
	echo "# $failures of $n tests failed (databases $DB, t_tls_regress_h2/_h1 and $TEST_DIR kept for inspection)"
	exit 1
fi
simlib_drop_db
for mode in h2 h1; do
	"$PSQL" -X -q -d postgres -c "DROP DATABASE IF EXISTS t_tls_regress_$mode WITH (FORCE)" >/dev/null 2>&1
done
