#!/usr/bin/env bash
# test/t/138_names_budget.sh - issue 16 items 6 and 7.
# (6) esi.names keeps only ESI's answers, for the ids asked: a role's own
# server on a path below an allowed URL (a forging name server) cannot change
# what esi.names_of() or esi.names show for ESI; a superuser's server is
# trusted, but a row for an id nobody asked for is not kept.
# (7) a statement's lookups send at most esi_fdw.lookup_error_budget (20)
# failing requests: 1000 unknown ids cost 20 404s, not 90 (one unknown id among 1000 known
# ones takes 11 to find), and the NOTICE
# says how many ids were left unknown.  Prints TAP.
set -uo pipefail
export LC_ALL=C
: "${PGHOST:?}" "${PGPORT:?}" "${PGUSER:?}" "${ESI_SIM_URL:?}"
TEST_DIR=${TEST_DIR:-$(mktemp -d)}
mkdir -p "$TEST_DIR"
DB=t_names_budget
# shellcheck source=test/tap.sh
. "$(dirname "$0")/../tap.sh"
# shellcheck source=test/simlib.sh
. "$(dirname "$0")/../simlib.sh"

AYLA=2112625428
POISON_PID=
finish() {
	[ -n "$POISON_PID" ] && kill -TERM "$POISON_PID" 2>/dev/null && wait "$POISON_PID" 2>/dev/null
	"$PSQL" -X -q -d postgres -c "DROP ROLE IF EXISTS t138_mallory" >/dev/null 2>&1
	sim /_sim/reset >/dev/null 2>&1
}
trap finish EXIT

# a name server that forges: every id asked is "FORGED <id>", and id 99 comes
# along unasked
python3 - "$TEST_DIR/poison.port" <<'EOF' &
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class H(BaseHTTPRequestHandler):
    def do_POST(self):
        ids = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"[]")
        rows = [{"id": i, "name": "FORGED %d" % i, "category": "character"} for i in ids]
        rows.append({"id": 99, "name": "FORGED 99", "category": "character"})
        b = json.dumps(rows).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a):
        pass
s = HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1] + ".tmp", "w").write(str(s.server_port))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
s.serve_forever()
EOF
POISON_PID=$!
for _ in $(seq 100); do [ -s "$TEST_DIR/poison.port" ] && break; sleep 0.1; done
POISON_URL="http://127.0.0.1:$(cat "$TEST_DIR/poison.port")"

sim /_sim/reset >/dev/null
"$PSQL" -X -q -d postgres -c "DROP ROLE IF EXISTS t138_mallory" >/dev/null 2>&1
simlib_setup_db \
	"CREATE ROLE t138_mallory LOGIN" \
	"GRANT USAGE ON FOREIGN DATA WRAPPER esi_fdw TO t138_mallory" \
	"GRANT USAGE ON FOREIGN SERVER esi TO t138_mallory" \
	"ALTER DATABASE $DB SET esi_fdw.allowed_base_urls = '$ESI_SIM_URL, $POISON_URL'" \
	"CREATE SERVER trusted_forger FOREIGN DATA WRAPPER esi_fdw OPTIONS (base_url '$POISON_URL')"
qm() { PGUSER=t138_mallory q "$@"; }

out=$(qm "CREATE SERVER evil FOREIGN DATA WRAPPER esi_fdw OPTIONS (base_url '$POISON_URL/evil')" \
	"SELECT string_agg(id || '=' || name, ',' ORDER BY id) FROM esi.names_of(ARRAY[$AYLA, 30000142]::bigint[], 'evil')")
expect "item 6: the forging server's answer reaches the role that asked it" "$out" \
	"30000142=FORGED 30000142,2112625428=FORGED 2112625428"
out=$(q "SELECT count(*) FROM esi.names")
expect "item 6: esi.names kept nothing of a role's own server below an allowed URL" "$out" "0"
out=$(q "SELECT string_agg(id || '=' || name, ',' ORDER BY id) FROM esi.names_of(ARRAY[$AYLA, 30000142]::bigint[])")
want=$(q "SELECT string_agg(id || '=' || name, ',' ORDER BY id) FROM esi.post_universe_names(ARRAY[$AYLA, 30000142]::bigint[])")
expect "item 6: esi.names_of() for ESI shows ESI's names" "$out" "$want"
expect_match "item 6: ... which are not the forged ones" "$out" '^30000142=Jita,2112625428=[^F]'
qm "SELECT count(*) FROM esi.post_universe_names(ARRAY[$AYLA, 30000142, 34]::bigint[], 'evil')" >/dev/null
out=$(q "SELECT string_agg(id || '=' || name, ',' ORDER BY id) FROM esi.names")
expect "item 6: a later forged answer does not overwrite or add to esi.names" "$out" "$want"
out=$(q "SELECT string_agg(id || '=' || name, ',' ORDER BY id) FROM esi.post_universe_names(ARRAY[5]::bigint[], 'trusted_forger')" \
	"SELECT string_agg(id || '=' || name, ',' ORDER BY id) FROM esi.names WHERE id IN (5, 99)")
expect "item 6: a superuser's server is trusted, but the unasked id 99 is not kept" "$out" \
	"5=FORGED 5,99=FORGED 99
5=FORGED 5"

# a new error-limit window, and a reply that tells esi_fdw so
fresh_window() {
	sim /_sim/reset >/dev/null
	q "SELECT count(*) FROM esi.post_universe_names(ARRAY[$1]::bigint[])" >/dev/null
}
fresh_window 34
seq0=$(sim_seq)
out=$(q "SELECT count(*) FROM esi.post_universe_names(ARRAY(SELECT g::bigint FROM generate_series(1500000000, 1500000999) g))")
n404=$(sim_log "$seq0" /universe/names | awk -F'\t' '$2 == 404' | wc -l)
expect "item 7: 1000 unknown ids cost exactly 20 failing requests" "$n404" "20"
expect_match "item 7: the NOTICE says 1000 ids were left unknown" "$out" \
	'NOTICE:  00000: ESI does not know 0 of the 1000 ids given to post_universe_names; 1000 more were left unknown'
expect_match "item 7: ... and why" "$out" 'esi_fdw.lookup_error_budget'

fresh_window 35
seq0=$(sim_seq)
out=$(q "SELECT sum((SELECT count(*) FROM esi.post_universe_names(ARRAY[g::bigint]))) FROM generate_series(1600000000, 1600000029) g")
n404=$(sim_log "$seq0" /universe/names | awk -F'\t' '$2 == 404' | wc -l)
expect "item 7: thirty lookups in one statement share the budget: 20 failing requests" "$n404" "20"
expect_match "item 7: the later ones leave their id unknown" "$out" 'ESI does not know 0 of the 1 ids given to post_universe_names; 1 more were left unknown'
expect "item 7: ... ten of them" "$(grep -c 'more were left unknown' <<<"$out")" "10"
expect "item 7: ... the first twenty were found unknown" "$(grep -c 'ESI does not know 1 of the 1 ids' <<<"$out")" "20"

fresh_window 36
seq0=$(sim_seq)
out=$(q "SELECT string_agg(id::text, ',') FROM esi.post_universe_names(ARRAY[30000142, 1700000000, 34]::bigint[])")
n404=$(sim_log "$seq0" /universe/names | awk -F'\t' '$2 == 404' | wc -l)
expect_match "item 7: a new statement has its budget again: one unknown id among known ones is found" "$out" \
	'ESI does not know 1 of the 3 ids given to post_universe_names'
expect "item 7: ... at 3 failing requests" "$n404" "3"

echo "1..$n"
if [ "$failures" -gt 0 ]; then
	echo "# $failures of $n tests failed (database $DB kept for inspection)"
	exit 1
fi
simlib_drop_db
