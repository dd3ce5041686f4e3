#!/usr/bin/env bash
# test/t/175_doc_examples.sh - the examples of README.md and doc/*.md run as
# written, in document order, against the simulator (issue 17, item 14).
# test/doc_examples.py extracts them (the convention is in
# doc/development.md, "The examples of the documentation"); they run in one
# psql session in a new database of a cluster of their own, started with
# pg_cron preloaded (doc/snapshots.md schedules with it), esi_fdw.base_url
# at the simulator (so the pages' `CREATE SERVER esi` without base_url
# reaches it, as it reaches ESI elsewhere) and no background refresh
# workers (which would refresh the pages' targets at the same time as
# their CALL esi.refresh(), 55P03).  Then what the pages name must exist:
# every esi_fdw.* setting, esi.* function, view, table and column, every
# option of the options tables; every esi_fdw.* setting must be in
# doc/settings.md with its default; every relative link must lead to a page
# and heading.  Prints TAP.
set -uo pipefail
export LC_ALL=C
: "${ESI_SIM_URL:?}"
TEST_DIR=${TEST_DIR:-$(mktemp -d)}
mkdir -p "$TEST_DIR"
PORT=54375
DB=t_docs
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=test/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=test/tap.sh
. "$(dirname "$0")/../tap.sh"
# shellcheck source=test/simlib.sh
. "$(dirname "$0")/../simlib.sh"

simlib_own_cluster docs "$PORT" "shared_preload_libraries = 'esi_fdw,pg_cron'
cron.database_name = '$DB'
cron.use_background_workers = on
max_worker_processes = 16
esi_fdw.refresh_workers = 0
esi_fdw.base_url = '$ESI_SIM_URL'"
P() { "$PSQL" -X -q -A -t -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -d "$DB" "$@" 2>&1; }
"$PSQL" -X -q -d postgres -c "CREATE DATABASE $DB" >/dev/null

# --- the blocks: how many of each page run (a lost block shows here) -------------------
out=$(python3 "$ROOT/test/doc_examples.py" "$ROOT" counts 2>&1)
expect "the examples of each page (page, blocks run, of them failing on purpose, sql not run)" "$out" \
"README.md 6 1 0
doc/connecting.md 3 0 0
doc/queries.md 0 0 0
doc/options.md 1 0 0
doc/cache-and-limits.md 2 0 0
doc/sso.md 8 0 2
doc/writes.md 3 0 0
doc/snapshots.md 7 0 0
doc/monitoring.md 3 0 0
doc/bi.md 1 0 0
doc/replication.md 3 0 2
doc/security.md 0 0 0
doc/settings.md 0 0 0
doc/errors.md 0 0 0
doc/tables.md 0 0 0
doc/benchmarks.md 0 0 0
doc/development.md 0 0 0
doc/simulator.md 0 0 0"

# --- run them, in order, in one session --------------------------------------------------
if python3 "$ROOT/test/doc_examples.py" "$ROOT" script "$ESI_SIM_URL" >"$TEST_DIR/docs.sql" 2>"$TEST_DIR/docs.err"; then
	(cd "$TEST_DIR" && "$PSQL" -X -q -v VERBOSITY=verbose -d "$DB" -f docs.sql) >"$TEST_DIR/docs.out" 2>&1
	rc=$?
else
	rc=-1
	cp "$TEST_DIR/docs.err" "$TEST_DIR/docs.out"
fi
last=$(grep -a '^@@ ' "$TEST_DIR/docs.out" | tail -n 1)
if [ "$rc" = 0 ] && [ "$last" = "@@ end" ]; then
	ok "every example runs as written, in order, against the simulator"
else
	not_ok "every example runs as written, in order, against the simulator" \
		"psql exit $rc; the block that failed: ${last#@@ }" \
		"$(grep -a -A 12 -F -- "$last" "$TEST_DIR/docs.out" | grep -a -m 8 -E '^(psql|ERROR|DETAIL|HINT|@@)')"
fi
# every block began (37: the sum of the counts above)
expect "psql began each of the 37 blocks (blocks in the script, blocks begun)" \
	"$(grep -c -E "^.echo '@@ (README|doc/)" "$TEST_DIR/docs.sql") $(grep -a -c -E '^@@ (README|doc/)' "$TEST_DIR/docs.out")" "37 37"

# --- what the pages name exists ---------------------------------------------------------
python3 "$ROOT/test/doc_examples.py" "$ROOT" names >"$TEST_DIR/names.txt"
absent=
while read -r kind name; do
	case $kind in
	setting) sql="SELECT count(*) FROM pg_settings WHERE name = '$name'" ;;
	function) sql="SELECT count(*) FROM pg_proc WHERE pronamespace = 'esi'::regnamespace AND proname = '${name#esi.}'" ;;
	object) sql="SELECT (SELECT count(*) FROM pg_class WHERE relnamespace = 'esi'::regnamespace AND relname = '${name#esi.}')
			+ (SELECT count(*) FROM pg_proc WHERE pronamespace = 'esi'::regnamespace AND proname = '${name#esi.}')" ;;
	column)
		rel=${name#esi.}
		sql="SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass('esi.${rel%%.*}')
			AND attname = '${rel#*.}' AND NOT attisdropped" ;;
	esac
	[ "$(P -c "$sql")" != 0 ] || absent="$absent $kind:$name"
done <"$TEST_DIR/names.txt"
expect "every setting, function, view, table and column the pages name exists ($(wc -l <"$TEST_DIR/names.txt") names)" \
	"${absent# }" ""

documented=$(grep -o '^| `esi_fdw\.[a-z_]*`' "$ROOT/doc/settings.md" | sed 's/^| `//; s/`$//' | sort)
expect "doc/settings.md has a row for every esi_fdw.* setting, and no other" "$documented" \
	"$(P -c "SELECT name FROM pg_settings WHERE name LIKE 'esi\_fdw.%' ORDER BY name COLLATE \"C\"")"

expect "every relative link of the pages leads to a page and heading that exist" \
	"$(python3 "$ROOT/test/doc_examples.py" "$ROOT" links 2>&1)" ""

# the default doc/settings.md gives (its first `value`, or empty) against the
# setting's value in a session (but the two this cluster sets)
documented=$(awk -F'|' '/^\| `esi_fdw\./ {
		name = $2; gsub(/[ `]/, "", name)
		d = $3; sub(/^ */, "", d)
		if (d ~ /^empty/) v = ""; else { v = d; sub(/^`/, "", v); sub(/`.*/, "", v) }
		if (name != "esi_fdw.base_url" && name != "esi_fdw.refresh_workers") print name "|" v }' "$ROOT/doc/settings.md" | sort)
expect "doc/settings.md gives each setting's default" "$documented" \
	"$(P -c "SELECT x FROM (SELECT name || '|' || current_setting(name) AS x FROM pg_settings
		WHERE name LIKE 'esi\_fdw.%' AND name NOT IN ('esi_fdw.base_url', 'esi_fdw.refresh_workers')) s
		ORDER BY x COLLATE \"C\"")"

# options_table HEADER - the options of the rows of doc/options.md's table headed so
options_table() {
	awk -v h="$1" '
		index($0, h) == 1 { on = 1; next }
		on && /^\|---/ { next }
		on && !/^\|/ { on = 0 }
		on { split($0, c, "|"); print c[2] }' "$ROOT/doc/options.md" |
		grep -o '`[a-z_]*`' | tr -d '`' | sort
}
# valid_options SQL - the options the validator lists in its HINT for a bogus one
valid_options() {
	P -c "$1" | sed -n 's/^HINT:  Valid options in this context are: \(.*\)\.$/\1/p' | tr -d ' ' | tr ',' '\n' | sort
}
P -c "CREATE SERVER doc_probe FOREIGN DATA WRAPPER esi_fdw" >/dev/null
expect "doc/options.md lists every server option" "$(options_table '| option | default |')" \
	"$(valid_options "CREATE SERVER doc_bogus FOREIGN DATA WRAPPER esi_fdw OPTIONS (zz_bogus 'x')")"
expect "doc/options.md lists every foreign table option" "$(options_table '| table option |')" \
	"$(valid_options "CREATE FOREIGN TABLE doc_bogus (a int) SERVER doc_probe OPTIONS (zz_bogus 'x')")"
expect "doc/options.md lists every column option" "$(options_table '| column option |')" \
	"$(valid_options "CREATE FOREIGN TABLE doc_bogus (a int OPTIONS (zz_bogus 'x')) SERVER doc_probe OPTIONS (route '/x')")"

expect "doc/options.md: user mappings take no options" \
	"$(valid_options "CREATE USER MAPPING FOR CURRENT_USER SERVER doc_probe OPTIONS (zz_bogus 'x')")" ""

# the README's first block: the two commands; .ci/run runs the second
first=$(awk '/^```/ { if (on) exit; on = 1; next } on' "$ROOT/README.md" | sed 's/ *#.*//')
expect "README.md starts with the two commands" "$first" $'bash test/quickstart.sh\nbash test/run_tests.sh'
expect ".ci/run runs the README's test command" "$(grep -c '^exec bash test/run_tests.sh$' "$ROOT/.ci/run")" 1

# the numbers of routes the README gives, against the catalog
readme=$(grep -o "Every one of ESI's [0-9]* GET routes\|its [0-9]* other routes" "$ROOT/README.md" | grep -o '[0-9]*' | paste -sd' ')
expect "README.md: the numbers of GET and other routes ($readme) are the catalog's" "$readme" \
	"$(P -c "SELECT count(*) FILTER (WHERE method = 'GET') || ' ' || count(*) FILTER (WHERE method <> 'GET') FROM esi.catalog()")"

simlib_drop_db
echo "1..$n"
[ "$failures" -eq 0 ]
