#!/usr/bin/env bash
# test/t/110_esi_pages.sh - paged results as ESI really serves them (issue
# 15, "ESI as it really behaves"):
# - the pages of one version may carry Last-Modified/Expires a second or so
#   apart (esi-issues #1149, #487, #194): up to 5 s from page 1's is one
#   version, read whole; further off (a new version moves it by the cache
#   period) is still 40001; a later page without X-Pages is read, another
#   X-Pages count is still 40001; the cache serves skewed pages as one
#   version;
# - cursor routes ask for 100 records a page (ESI's maximum; its default is
#   10): a walk of 230 records is exactly 4 requests; a limit of the table's
#   own (its query option, or a column feeding "limit") wins.
# Prints TAP.
set -uo pipefail
export LC_ALL=C
: "${PGHOST:?}" "${PGPORT:?}" "${PGUSER:?}" "${ESI_SIM_URL:?}"
TEST_DIR=${TEST_DIR:-$(mktemp -d)}
mkdir -p "$TEST_DIR"
DB=t_esi_pages
# shellcheck source=test/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=test/tap.sh
. "$(dirname "$0")/../tap.sh"
# shellcheck source=test/simlib.sh
. "$(dirname "$0")/../simlib.sh"

finish() { sim /_sim/reset >/dev/null 2>&1; }
trap finish EXIT

# The Citadel: 4 pages of orders
R=10000033
P=/markets/$R/orders
QS="SELECT count(*), md5(string_agg(order_id || ':' || price || ':' || volume_remain,
	',' ORDER BY order_id)) FROM market_orders WHERE region_id = $R"
# lm_of SINCE PAGE - the Last-Modified the simulator sent with that page
# after SINCE (epoch seconds)
lm_of() {
	sim "/_sim/requests?since=$1" | python3 -c '
import calendar, json, sys, time
page = int(sys.argv[1])
for e in json.load(sys.stdin):
    if (e["page"] or 1) == page and e["last_modified"]:
        print(calendar.timegm(time.strptime(e["last_modified"][:19], "%Y-%m-%dT%H:%M:%S")))
        break' "$2"
}
# err SQL - the error of SQL as "SQLSTATE|message|detail" (cache off)
err() {
	q "SET esi_fdw.cache = 'off'" "$1" 2>&1 |
		awk '/^ERROR:/ { sub(/^ERROR:  /, ""); e = $0 } /^DETAIL:/ { sub(/^DETAIL:  /, ""); d = $0 }
			END { print e "|" d }'
}

simlib_setup_db \
	"IMPORT FOREIGN SCHEMA freelance LIMIT TO (freelance_jobs) FROM SERVER esi INTO public" \
	"ALTER DATABASE $DB SET esi_fdw.max_retries = 0"
sim /_sim/reset >/dev/null
sim "/_sim/config?cache_seconds=600" >/dev/null
q "SELECT esi.cache_clear()" >/dev/null
ref=$(q "SET esi_fdw.cache = 'off'" "$QS")
expect "reference: The Citadel's orders, read with the cache off" "$(echo "$ref" | cut -d'|' -f1)" 3778

# --- Last-Modified a little off on one page: one version -----------------------
sim "/_sim/fault?path=$P&page=3&kind=skew&seconds=1" >/dev/null
s=$(sim_seq)
out=$(q "SET esi_fdw.cache = 'off'" "$QS")
expect "page 3 one second later than page 1: the same rows, no error" "$out" "$ref" "log:$s"
expect "... from 4 requests" "$(sim_count "$s" "$P")" 4 "log:$s"
expect "... and page 3 did carry a Last-Modified 1 s after page 1's" \
	"$(($(lm_of "$s" 3) - $(lm_of "$s" 1)))" 1 "log:$s"

sim "/_sim/fault?path=$P&page=2&kind=skew&seconds=-5" >/dev/null
s=$(sim_seq)
out=$(q "SET esi_fdw.cache = 'off'" "$QS")
expect "page 2 five seconds earlier (the bound): the same rows" "$out|$(sim_count "$s" "$P")" "$ref|4" "log:$s"

# --- further off: a new version, 40001 as before ---------------------------------
sim "/_sim/fault?path=$P&page=4&kind=skew&seconds=6" >/dev/null
s=$(sim_seq)
out=$(err "$QS")
expect_match "page 4 six seconds later: 40001, esi_fdw does not mix two versions" "$out" \
	"^40001: ESI data changed while foreign table \"market_orders\" was being read\|Page 4 of $P has Last-Modified \"[^\"]+\" but page 1 had \"[^\"]+\"; esi_fdw takes pages up to 5 seconds apart for one version and does not mix two versions of a result\.$" \
	"log:$s"
sim "/_sim/fault?path=$P&page=2&kind=xpages" >/dev/null
out=$(err "$QS")
expect_match "a page of the next version (Last-Modified a cache period later, another X-Pages): 40001" \
	"$out" "^40001: .*\|Page 2 of $P has Last-Modified "

# --- X-Pages -----------------------------------------------------------------------
sim "/_sim/fault?path=$P&page=2&kind=no_xpages" >/dev/null
s=$(sim_seq)
out=$(q "SET esi_fdw.cache = 'off'" "$QS")
expect "page 2 without X-Pages: the same rows from 4 requests" "$out|$(sim_count "$s" "$P")" "$ref|4" "log:$s"
sim "/_sim/fault?path=$P&page=3&kind=xpages_only&pages=5" >/dev/null
out=$(err "$QS")
expect "page 3 says X-Pages: 5 (page 1 said 4): 40001" "$out" \
	"40001: ESI data changed while foreign table \"market_orders\" was being read|Page 3 of $P has X-Pages \"5\" but page 1 had \"4\"; esi_fdw does not mix two versions of a result."

# --- the cache keeps skewed pages as one version ---------------------------------------
q "SELECT esi.cache_clear()" >/dev/null
sim "/_sim/fault?path=$P&page=3&kind=skew&seconds=2" >/dev/null
s=$(sim_seq)
out=$(q "$QS")
expect "cache on, page 3 two seconds later: the same rows, 4 requests" "$out|$(sim_count "$s" "$P")" "$ref|4" "log:$s"
s=$(sim_seq)
out=$(q "$QS")
expect "read again: all 4 pages from the cache, nothing sent" "$out|$(sim_count "$s" "$P")" "$ref|0" "log:$s"

# --- cursor routes: 100 records a request ---------------------------------------------
sim "/_sim/config?cursor_records=230" >/dev/null
s=$(sim_seq)
out=$(q "SELECT count(*), count(DISTINCT id) FROM freelance_jobs")
expect "a cursor walk over 230 records reads each once" "$out" "230|230" "log:$s"
queries=$(sim_log "$s" /freelance-jobs | awk -F'\t' '{ q = $5; sub(/&before=.*/, "\\&before=...", q); print $2 " " q }' | paste -sd, -)
expect "... in exactly 4 requests of limit=100 (100, 100, 30 records, then the empty page that ends it)" \
	"$queries" "200 limit=100,200 limit=100&before=...,200 limit=100&before=...,200 limit=100&before=..." "log:$s"

# a limit of the table's own wins: the query option ...
q "CREATE FOREIGN TABLE jobs_by_50 (id text, name text) SERVER esi
	OPTIONS (route '/freelance-jobs', paging 'cursor', records_key 'freelance_jobs', query 'limit=50')" >/dev/null
s=$(sim_seq)
out=$(q "SELECT count(*) FROM jobs_by_50")
queries=$(sim_log "$s" /freelance-jobs | awk -F'\t' '{ q = $5; sub(/&before=.*/, "", q); print q }' | sort | uniq -c | awk '{ print $1 " " $2 }' | paste -sd, -)
expect "the table's query option limit=50: 230 records in 6 requests, each with limit=50 only" \
	"$out|$queries" "230|6 limit=50" "log:$s"
# ... and a column that feeds "limit"
q "CREATE FOREIGN TABLE jobs_by (id text, lim integer OPTIONS (param 'query', param_name 'limit'))
	SERVER esi OPTIONS (route '/freelance-jobs', paging 'cursor', records_key 'freelance_jobs')" >/dev/null
s=$(sim_seq)
out=$(q "SELECT count(*) FROM jobs_by WHERE lim = 25")
queries=$(sim_log "$s" /freelance-jobs | awk -F'\t' '{ q = $5; sub(/&before=.*/, "", q); print q }' | sort | uniq -c | awk '{ print $1 " " $2 }' | paste -sd, -)
expect "WHERE lim = 25 on a column feeding limit: 230 records in 11 requests of limit=25" \
	"$out|$queries" "230|11 limit=25" "log:$s"
sim "/_sim/config?cursor_records=default" >/dev/null

echo "1..$n"
[ "$failures" -eq 0 ] && simlib_drop_db
[ "$failures" -eq 0 ]
