#!/usr/bin/env bash
# test/t/030_hostile.sh - esi_fdw against a rude server (test/hostile_server.py):
# absurd and malformed X-Pages, oversized replies, gzip bodies good and
# broken, 429 forever and with an HTTP-date Retry-After, cursor walks that
# loop or smuggle query syntax, a response smuggled after a body, control
# characters bound for the wire, and a from_id walk under LIMIT.
#
# Needs PGHOST, PGPORT, PGUSER (a cluster with esi_fdw installed); TEST_DIR
# is a scratch directory. Starts the hostile server on a free loopback port
# and stops it at the end. Prints TAP. No wall-clock assertions: a safety
# statement_timeout only keeps a broken build from hanging the suite (a
# scan that ignores the limits would run into it and fail the check).
set -uo pipefail
export LC_ALL=C

: "${PGHOST:?PGHOST is not set}" "${PGPORT:?PGPORT is not set}" "${PGUSER:?PGUSER is not set}"
TEST_DIR_TMP=
if [ -z "${TEST_DIR:-}" ]; then
	TEST_DIR=$(mktemp -d)
	TEST_DIR_TMP=$TEST_DIR
fi
mkdir -p "$TEST_DIR"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

PSQL=psql
[ -x /usr/lib/postgresql/15/bin/psql ] && PSQL=/usr/lib/postgresql/15/bin/psql
DB=t_hostile
SAFETY="SET statement_timeout = '60s'"

. "$(dirname "$0")/../tap.sh"

srv_pid=
finish() {
	if [ -n "$srv_pid" ] && kill -0 "$srv_pid" 2>/dev/null; then
		kill -TERM "$srv_pid" 2>/dev/null
		wait "$srv_pid" 2>/dev/null
	fi
	srv_pid=
}
trap 'finish; [ -z "$TEST_DIR_TMP" ] || rm -rf "$TEST_DIR_TMP"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- the hostile server ----------------------------------------------------------
rm -f "$TEST_DIR/hostile.port"
python3 "$ROOT/test/hostile_server.py" --port 0 --port-file "$TEST_DIR/hostile.port" \
	</dev/null >"$TEST_DIR/hostile.log" 2>&1 &
srv_pid=$!
for ((i = 0; i < 100; i++)); do
	[ -s "$TEST_DIR/hostile.port" ] && break
	kill -0 "$srv_pid" 2>/dev/null || break
	sleep 0.1
done
if [ ! -s "$TEST_DIR/hostile.port" ]; then
	echo "1..0 # the hostile server did not start"
	cat "$TEST_DIR/hostile.log" >&2
	exit 1
fi
URL=http://127.0.0.1:$(cat "$TEST_DIR/hostile.port")
hs() { curl -fsS -m 10 "$URL$1"; }
# hs_count PATH-PREFIX - requests the hostile server logged under a path prefix
hs_count() {
	hs /_log | python3 -c '
import json, sys
print(sum(1 for r in json.load(sys.stdin) if r["path"].startswith(sys.argv[1])))' "$1"
}
# hs_field PATH FIELD - FIELD of every logged request of PATH, one a line
hs_field() {
	hs /_log | python3 -c '
import json, sys
for r in json.load(sys.stdin):
    if r["path"] == sys.argv[1]:
        print(r[sys.argv[2]])' "$1" "$2"
}

# --- setup ---------------------------------------------------------------------------
if "$PSQL" -X -q -d postgres -v ON_ERROR_STOP=1 >"$TEST_DIR/setup.out" 2>"$TEST_DIR/setup.err" <<EOF &&
SET client_min_messages = warning;
DROP DATABASE IF EXISTS $DB WITH (FORCE);
CREATE DATABASE $DB;
EOF
	"$PSQL" -X -q -d "$DB" -v ON_ERROR_STOP=1 >>"$TEST_DIR/setup.out" 2>>"$TEST_DIR/setup.err" <<EOF
CREATE EXTENSION esi_fdw;
CREATE SERVER hostile FOREIGN DATA WRAPPER esi_fdw OPTIONS (base_url '$URL');
CREATE FOREIGN TABLE h_pages (kind text OPTIONS (param 'path'), id bigint)
  SERVER hostile OPTIONS (route '/xpages/{kind}', paging 'pages');
CREATE FOREIGN TABLE h_big (mode text OPTIONS (param 'path'), kb integer OPTIONS (param 'query'),
  id bigint, pad text) SERVER hostile OPTIONS (route '/big/{mode}');
CREATE FOREIGN TABLE h_rate (kind text OPTIONS (param 'path'), id bigint)
  SERVER hostile OPTIONS (route '/ratelimit/{kind}');
CREATE FOREIGN TABLE h_cursor (kind text OPTIONS (param 'path'), id bigint)
  SERVER hostile OPTIONS (route '/cursor/{kind}', paging 'cursor', records_key 'records');
CREATE FOREIGN TABLE h_walk (transaction_id bigint, n integer)
  SERVER hostile OPTIONS (route '/fromid', paging 'from_id');
CREATE FOREIGN TABLE h_walk_noid (id bigint, n integer)
  SERVER hostile OPTIONS (route '/fromid', paging 'from_id', id_field 'id');
CREATE FOREIGN TABLE h_smuggle (kind text OPTIONS (param 'path'), id bigint, v text)
  SERVER hostile OPTIONS (route '/smuggle/{kind}');
CREATE FOREIGN TABLE h_plain (id bigint, v text) SERVER hostile OPTIONS (route '/plain');
CREATE FOREIGN TABLE h_gzip (kind text OPTIONS (param 'path'), id bigint, v text)
  SERVER hostile OPTIONS (route '/gzip/{kind}');
CREATE SERVER hostile_plain FOREIGN DATA WRAPPER esi_fdw
  OPTIONS (base_url '$URL', compression 'off');
CREATE FOREIGN TABLE h_gzip_plain (kind text OPTIONS (param 'path'), id bigint, v text)
  SERVER hostile_plain OPTIONS (route '/gzip/{kind}');
ALTER DATABASE $DB SET esi_fdw.retry_delay = '10ms';
EOF
then
	ok "setup: database $DB, a server at the hostile server, one table per scenario"
else
	not_ok "setup" "$TEST_DIR/setup.err"
	echo "Bail out! setup failed"
	exit 1
fi

# q NAME SQL... - runs the statements in one session (after the safety
# timeout); output in $TEST_DIR/NAME.out, errors (verbose: SQLSTATE) in NAME.err
q() {
	local name=$1
	shift
	local args=(-c "$SAFETY")
	local s
	for s in "$@"; do args+=(-c "$s"); done
	"$PSQL" -X -q -A -t -d "$DB" -v VERBOSITY=verbose "${args[@]}" \
		>"$TEST_DIR/$name.out" 2>"$TEST_DIR/$name.err"
}
# expect_error NAME SQLSTATE PATTERN DESCRIPTION
expect_error() {
	if grep -q "ERROR:  $2:" "$TEST_DIR/$1.err" && grep -Eq "$3" "$TEST_DIR/$1.err"; then
		ok "$4"
	else
		not_ok "$4 (want SQLSTATE $2 matching /$3/)" "$TEST_DIR/$1.out" "$TEST_DIR/$1.err"
	fi
}
# expect_out NAME EXPECTED DESCRIPTION - the whole output of a run
expect_out() {
	local got
	got=$(cat "$TEST_DIR/$1.out")
	if [ "$got" = "$2" ]; then
		ok "$3"
	else
		echo "# got: $got"
		echo "# want: $2"
		not_ok "$3" "$TEST_DIR/$1.err"
	fi
}
check() { # check DESCRIPTION COMMAND...
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

# --- X-Pages ---------------------------------------------------------------------------
q pages_ok "SELECT count(*), sum(id) FROM h_pages WHERE kind = 'ok'"
expect_out pages_ok "3|6" "X-Pages: 3 gives pages 1, 2 and 3"

hs /_reset >/dev/null
q pages_huge "SELECT count(*) FROM h_pages WHERE kind = 'huge'"
expect_error pages_huge 54000 'esi_fdw.max_pages' \
	"X-Pages: 1000000000 is refused (SQLSTATE 54000, names esi_fdw.max_pages)"
check "... after page 1 only (nothing was queued for the other pages)" \
	test "$(hs_count /xpages/huge)" = 1

q pages_20 "SET esi_fdw.max_pages = 10" "SELECT count(*) FROM h_pages WHERE kind = '20'"
expect_error pages_20 54000 'HINT:  .*SET esi_fdw.max_pages' \
	"X-Pages above esi_fdw.max_pages is an error with a HINT to raise it"
q pages_20b "SET esi_fdw.max_pages = 20" "SELECT count(*) FROM h_pages WHERE kind = '20'"
expect_out pages_20b "20" "... and X-Pages equal to esi_fdw.max_pages is read in full"

for kind in 3abc neg overflow empty twice long longtwice; do
	q "pages_$kind" "SELECT count(*) FROM h_pages WHERE kind = '$kind'"
	expect_error "pages_$kind" HV00A 'DETAIL:  X-Pages: ".*" is not a page count' \
		"malformed X-Pages ($kind) is an error (HV00A) with the header in DETAIL"
done

# --- reply size ----------------------------------------------------------------------------
for mode in length chunked gzip; do
	q "big_$mode" "SET esi_fdw.max_reply_size = '1MB'" \
		"SELECT count(*) FROM h_big WHERE mode = '$mode' AND kb = 4096" \
		"SELECT v FROM h_plain"
	expect_error "big_$mode" 54000 'HINT:  .*esi_fdw.max_reply_size' \
		"a 4 MB reply ($mode) over esi_fdw.max_reply_size = 1MB is an error (54000) with a HINT"
done
check "... and the same session's next query reads a clean reply (connection not reused mid-body)" \
	grep -qx good "$TEST_DIR/big_chunked.out"
q big_small "SET esi_fdw.max_reply_size = '1MB'" \
	"SELECT count(*) FROM h_big WHERE mode = 'chunked' AND kb = 512"
expect_out big_small "513" "a 512 kB reply under the limit is read: all 513 records of 1 kB"

# --- gzip ---------------------------------------------------------------------------------------
# hs_accept PATH - the Accept-Encoding of every logged request of PATH, one a line
hs_accept() {
	hs /_log | python3 -c '
import json, sys
for r in json.load(sys.stdin):
    if r["path"] == sys.argv[1]:
        print(r["headers"].get("accept-encoding", "none"))' "$1"
}
# same_as_plain KIND - rows of h_gzip for KIND against h_gzip_plain for 'ok'
# (no compression), EXCEPT ALL both ways
same_as_plain() {
	printf "SELECT count(*) FROM h_gzip WHERE kind = '%s'
UNION ALL SELECT count(*) FROM (SELECT id, v FROM h_gzip WHERE kind = '%s'
  EXCEPT ALL SELECT id, v FROM h_gzip_plain WHERE kind = 'ok') a
UNION ALL SELECT count(*) FROM (SELECT id, v FROM h_gzip_plain WHERE kind = 'ok'
  EXCEPT ALL SELECT id, v FROM h_gzip WHERE kind = '%s') b" "$1" "$1" "$1"
}
hs /_reset >/dev/null
q gzip_ok "$(same_as_plain ok)"
expect_out gzip_ok "3000
0
0" "a gzip reply (inflated by esi_fdw) gives exactly the rows of the same reply without compression"
check "... asked with Accept-Encoding: gzip, and without it when compression is off" \
	test "$(hs_accept /gzip/ok | sort | uniq -c | awk '{ printf "%s:%s ", $2, $1 }')" = "gzip:3 none:2 "
q gzip_two "$(same_as_plain two)"
expect_out gzip_two "3000
0
0" "two gzip members, the trailer telling only the last one's length: every row, inflated in a grown buffer"
q gzip_identity "$(same_as_plain identity)"
expect_out gzip_identity "3000
0
0" "Content-Encoding: identity passes the body through"
for kind in corrupt isize_small isize_big crc trunc garbage; do
	hs /_reset >/dev/null
	q "gzip_$kind" "SET esi_fdw.max_retries = 1" "SELECT count(*) FROM h_gzip WHERE kind = '$kind'" \
		"SELECT v FROM h_plain"
	expect_error "gzip_$kind" HV00N 'DETAIL:  corrupt gzip body \(2 attempts\)' \
		"a broken gzip body ($kind) fails like a broken reply: retried, then HV00N naming the corrupt body"
	check "... after 1 + esi_fdw.max_retries requests, and the session's next query reads its own reply" \
		test "$(hs_count /gzip/$kind)" = 2 -a "$(cat "$TEST_DIR/gzip_$kind.out")" = good
done
q gzip_br "SET esi_fdw.max_retries = 1" "SELECT count(*) FROM h_gzip WHERE kind = 'br'"
expect_error gzip_br HV00N 'unsupported Content-Encoding "br"' \
	"a coding esi_fdw did not ask for (br) fails the transfer (HV00N), naming it"
q gzip_bomb "SET esi_fdw.max_reply_size = '1MB'" "SELECT count(*) FROM h_gzip WHERE kind = 'bomb'"
expect_error gzip_bomb 54000 'HINT:  .*esi_fdw.max_reply_size' \
	"18 kB of gzip inflating to 4 MB, its trailer saying 10 bytes: stopped at esi_fdw.max_reply_size (54000)"
q gzip_err404 "SELECT count(*) FROM h_gzip WHERE kind = 'err404'"
expect_error gzip_err404 HV000 'HTTP 404.*|ESI said: gone fishing' \
	"a 404 with a gzip body: the error shows ESI's message, inflated"
check "... (DETAIL: ESI said: gone fishing)" grep -q 'ESI said: gone fishing' "$TEST_DIR/gzip_err404.err"

# --- 429 -------------------------------------------------------------------------------------
hs /_reset >/dev/null
q rate_forever "SET esi_fdw.max_retries = 2" "SELECT count(*) FROM h_rate WHERE kind = 'forever'"
expect_error rate_forever HV00L 'HTTP 429' "429 forever ends in HV00L ..."
check "... after 1 + esi_fdw.max_retries requests" test "$(hs_count /ratelimit/forever)" = 3
q rate_noheader "SET esi_fdw.max_retries = 2" "SELECT count(*) FROM h_rate WHERE kind = 'noheader'"
expect_error rate_noheader HV00L 'HTTP 429' "429 without Retry-After: backs off, then HV00L ..."
check "... after 1 + esi_fdw.max_retries requests" test "$(hs_count /ratelimit/noheader)" = 3
q rate_date "SELECT count(*) FROM h_rate WHERE kind = 'date'"
expect_out rate_date "1" "429 with Retry-After as an HTTP date: the scan waits until then and reads the page ..."
check "... in exactly two requests (the retry did not come before the date)" \
	test "$(hs_count /ratelimit/date)" = 2
q rate_fardate "SELECT count(*) FROM h_rate WHERE kind = 'fardate'"
expect_error rate_fardate HV00L 'try again in [0-9]+ seconds' \
	"Retry-After an hour ahead (HTTP date) is longer than esi_fdw.max_retry_after: HV00L"
q rate_bad "SELECT count(*) FROM h_rate WHERE kind = 'bad'"
expect_error rate_bad HV00A 'Retry-After: "soon"' "a malformed Retry-After is an error (HV00A)"

# --- cursors ------------------------------------------------------------------------------------
q cursor_loop "SELECT count(*) FROM h_cursor WHERE kind = 'loop'"
expect_error cursor_loop HV00A 'circle' "cursor tokens A -> B -> A: an error (HV00A), not an endless walk"
hs /_reset >/dev/null
q cursor_amp "SELECT count(*) FROM h_cursor WHERE kind = 'amp'"
expect_out cursor_amp "1" "a cursor token with & and = is followed ..."
check "... percent-encoded: the next query string is limit=100&before=x%26type_id%3D35, no extra parameter" \
	test "$(hs_field /cursor/amp query | tail -n 1)" = "limit=100&before=x%26type_id%3D35"
q cursor_long "SET esi_fdw.max_pages = 5" "SELECT count(*) FROM h_cursor WHERE kind = 'long'"
expect_error cursor_long 54000 'esi_fdw.max_pages' "a cursor walk longer than esi_fdw.max_pages is an error (54000)"

# --- from_id -------------------------------------------------------------------------------------
q walk_all "SELECT count(*), count(DISTINCT transaction_id), min(transaction_id), max(transaction_id) FROM h_walk"
expect_out walk_all "300|300|701|1000" "a from_id walk (50 a page, each starting with its from record) reads every record once"
q walk_limit "SELECT count(*) FROM (SELECT transaction_id FROM h_walk LIMIT 100) s"
expect_out walk_limit "100" "LIMIT 100 over the walk gives exactly 100 rows (the skipped record does not count)"
q walk_limit2 "SELECT count(*) FROM (SELECT transaction_id FROM h_walk LIMIT 149) s"
expect_out walk_limit2 "149" "LIMIT 149 gives 149 rows"
q walk_noid "SELECT count(*) FROM h_walk_noid"
expect_error walk_noid HV00A 'has no "id" to page on' \
	"a from_id walk whose records lack the id field is an error, not a result cut after page 1"

# --- a response smuggled after a body --------------------------------------------------------------
for kind in now late; do
	hs /_reset >/dev/null
	# the late one goes out 0.2 s after the reply: the next query waits for it
	q "smuggle_$kind" "SELECT v FROM h_smuggle WHERE kind = '$kind'" \
		"SELECT pg_sleep(0.5)" "SELECT v FROM h_plain" "SELECT v FROM h_plain"
	expect_out "smuggle_$kind" "ok

good
good" "smuggled response ($kind): the next queries of the session read their own replies, never 'evil'"
	conns=$(hs /_log | python3 -c '
import json, sys
print(" ".join(str(r["conn"]) for r in json.load(sys.stdin)))')
	set -- $conns
	check "... the smuggling connection was not reused ($conns), the next one was" \
		test "$#" = 3 -a "$1" != "$2" -a "$2" = "$3"
done

# a scan cancelled in the middle of a body leaves no half-read connection behind
hs /_reset >/dev/null
q smuggle_slow "SET statement_timeout = '500ms'" "SELECT v FROM h_smuggle WHERE kind = 'slow'" \
	"$SAFETY" "SELECT v FROM h_plain"
expect_error smuggle_slow 57014 'statement timeout' "a scan cancelled mid-body by statement_timeout ..."
check "... and the session's next query reads its own reply" grep -qx good "$TEST_DIR/smuggle_slow.out"

# --- control characters never reach the wire ---------------------------------------------------------
hs /_reset >/dev/null
q crlf_ua "SET esi_fdw.user_agent = E'x\\r\\nX-Evil: 1'" "SELECT v FROM h_plain"
check "a User-Agent with CR/LF is refused (at SET or before sending)" grep -q "ERROR:" "$TEST_DIR/crlf_ua.err"
q crlf_tenant "ALTER SERVER hostile OPTIONS (ADD tenant E'a\\nX-Evil: 2')" "SELECT v FROM h_plain"
check "a tenant with LF is refused (at ALTER SERVER or before sending)" grep -q "ERROR:" "$TEST_DIR/crlf_tenant.err"
"$PSQL" -X -q -d "$DB" -c "ALTER SERVER hostile OPTIONS (DROP tenant)" >/dev/null 2>&1
check "... and no request carrying them reached the server" \
	test "$(hs /_log | grep -ci 'evil')" = 0

finish
echo "1..$n"

if [ "$failures" -gt 0 ]; then
	echo "# $failures of $n tests failed (database $DB kept for inspection)"
	exit 1
fi
"$PSQL" -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1
exit 0
