#!/usr/bin/env bash
# test/t/040_iso8601.sh - dates and times in ESI replies are read as ISO 8601
# whatever the session's DateStyle and TimeZone, and nothing else is
# accepted ("now", "today", "epoch", 01/02/2024 are errors, not values).
#
# A small loopback server (Python stdlib) answers /ts/<case> with a fixed
# body, so each case is exactly the bytes under test.  Prints TAP.
set -uo pipefail
export LC_ALL=C
: "${PGHOST:?}" "${PGPORT:?}" "${PGUSER:?}"
TEST_DIR=${TEST_DIR:-$(mktemp -d)}
mkdir -p "$TEST_DIR"
PSQL=psql
[ -x /usr/lib/postgresql/15/bin/psql ] && PSQL=/usr/lib/postgresql/15/bin/psql
DB=t_iso8601

. "$(dirname "$0")/../tap.sh"

cat >"$TEST_DIR/server.py" <<'PY'
import http.server, json, sys
CASES = {
    "utc":      '[{"t":"2024-01-02T03:04:05Z","u":"2024-01-02T03:04:05Z","d":"2024-01-02"}]',
    "nozone":   '[{"t":"2024-01-02T03:04:05","u":"2024-01-02T03:04:05","d":"2024-01-02"}]',
    "offset":   '[{"t":"2024-01-02T05:04:05+02:00","u":"2024-01-02T01:04:05-0200","d":"2024-01-02"}]',
    "fraction": '[{"t":"2024-01-02T03:04:05.1234567Z","u":"2024-01-02T03:04:05.5Z","d":"2024-01-02"}]',
    "dateonly": '[{"t":"2024-01-02","u":"2024-01-02","d":"2024-01-02T23:59:59Z"}]',
    "now":      '[{"t":"now"}]',
    "today":    '[{"t":"today"}]',
    "epoch":    '[{"t":"epoch"}]',
    "infinity": '[{"t":"infinity"}]',
    "slashes":  '[{"d":"01/02/2024"}]',
    "dmy":      '[{"t":"02-01-2024 03:04:05"}]',
    "named_tz": '[{"t":"2024-01-02 03:04:05 PST"}]',
    "number":   '[{"d":20240102}]',
    "badday":   '[{"d":"2023-02-29"}]',
    "trailing": '[{"t":"2024-01-02T03:04:05Zjunk"}]',
    "escaped":  '[{"t":"2024-01-02T03:04:05\\u005a"}]',
}
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = CASES.get(self.path.rsplit("/", 1)[-1])
        if body is None:
            self.send_response(404); body = '{"error":"not found"}'
        else:
            self.send_response(200)
        data = body.encode()
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(srv.server_address[1]))
srv.serve_forever()
PY
rm -f "$TEST_DIR/port"
python3 "$TEST_DIR/server.py" "$TEST_DIR/port" &
SRV=$!
trap 'kill $SRV 2>/dev/null; "$PSQL" -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1' EXIT
for _ in $(seq 100); do [ -s "$TEST_DIR/port" ] && break; sleep 0.1; done
PORT=$(cat "$TEST_DIR/port")

"$PSQL" -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null
"$PSQL" -X -q -d $DB >/dev/null <<SQL
CREATE EXTENSION esi_fdw;
CREATE SERVER s FOREIGN DATA WRAPPER esi_fdw OPTIONS (base_url 'http://127.0.0.1:$PORT');
CREATE FOREIGN TABLE ts (name text OPTIONS (param 'path'), t timestamptz, u timestamp, d date)
  SERVER s OPTIONS (route '/ts/{name}');
SQL

# q SETTINGS CASE EXPR - the value of EXPR over case CASE under SETTINGS
q() {
	"$PSQL" -X -q -A -t -d $DB -c "$1" -c "SELECT $3 FROM ts WHERE name = '$2'" 2>&1
}
# the same answer under very different session settings
SESSIONS=(
	"SET DateStyle = 'ISO, MDY'; SET TimeZone = 'UTC'"
	"SET DateStyle = 'SQL, DMY'; SET TimeZone = 'Pacific/Auckland'"
	"SET DateStyle = 'German'; SET TimeZone = 'America/Los_Angeles'"
)
expect() { # expect CASE EXPR WANT
	local s got bad=
	for s in "${SESSIONS[@]}"; do
		got=$(q "$s" "$1" "$2")
		[ "$got" = "$3" ] || bad+="$s: got '$got', want '$3'"$'\n'
	done
	if [ -z "$bad" ]; then ok "$1: $2 = $3 in every session"; else not_ok "$1: $2" "$bad"; fi
}
EPOCH="extract(epoch FROM t)::float8 || ' ' || extract(epoch FROM u)::float8 || ' ' || (d - date '2000-01-01')"
expect utc "$EPOCH" "1704164645 1704164645 8767"
expect nozone "$EPOCH" "1704164645 1704164645 8767"
expect offset "$EPOCH" "1704164645 1704164645 8767"
expect fraction "$EPOCH" "1704164645.123457 1704164645.5 8767"
expect dateonly "$EPOCH" "1704153600 1704153600 8767"
expect escaped "extract(epoch FROM t)::float8" "1704164645"

# reject CASE COLUMN [MESSAGE] - the case is an error with that message
# (default: SQLSTATE 22007, invalid ISO 8601) and a context line
reject() {
	local s got bad= want=${3:-"22007: invalid ISO 8601"}
	for s in "${SESSIONS[@]}"; do
		got=$("$PSQL" -X -q -A -t -d $DB -v VERBOSITY=verbose -c "$s" \
			-c "SELECT $2 FROM ts WHERE name = '$1'" 2>&1)
		case $got in
			*"ERROR:  $want"*"ESI route /ts/{name}, JSON field \"$2\", column $2"*) ;;
			*) bad+="$s: $got"$'\n' ;;
		esac
	done
	if [ -z "$bad" ]; then ok "$1: rejected ($want) with a context"; else not_ok "$1 is rejected" "$bad"; fi
}
for c in now today epoch infinity dmy named_tz trailing; do reject $c t; done
for c in slashes number; do reject $c d; done
reject badday d "22008: date out of range"

# the server is still fine
got=$("$PSQL" -X -q -A -t -d $DB -c "SELECT 1")
[ "$got" = 1 ] && ok "the session still works" || not_ok "the session still works" "$got"

echo "1..$n"
[ "$failures" -eq 0 ]
