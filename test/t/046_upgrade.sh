#!/usr/bin/env bash
# test/t/046_upgrade.sh - ALTER EXTENSION esi_fdw UPDATE: a database created
# with every older version and updated step by step ends with exactly the
# objects of a fresh CREATE EXTENSION (same names, signatures, view columns,
# privileges).  Uses the suite's cluster (PGHOST/PGPORT); prints TAP.
set -uo pipefail
export LC_ALL=C
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tap.sh"

psql_q() { "$ESI_PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -U postgres "$@"; }
current=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$ESI_ROOT/esi_fdw.control")

# every object of the extension, described, with the privileges on it
describe() {
	psql_q -d "$1" -c "
SELECT pg_describe_object(classid, objid, 0) || coalesce(' ' || (
  SELECT string_agg(a.attname || ':' || format_type(a.atttypid, a.atttypmod), ',' ORDER BY a.attnum)
    FROM pg_attribute a WHERE classid = 'pg_class'::regclass AND a.attrelid = objid
     AND a.attnum > 0), '')
  || coalesce(' ' || (SELECT relacl::text FROM pg_class WHERE classid = 'pg_class'::regclass AND oid = objid), '')
  || coalesce(' ' || (SELECT proacl::text FROM pg_proc WHERE classid = 'pg_proc'::regclass AND oid = objid), '')
  FROM pg_depend WHERE refclassid = 'pg_extension'::regclass
   AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'esi_fdw')
   AND deptype = 'e'
 ORDER BY 1"
}

for db in esi_upgrade_fresh esi_upgrade_old; do
	psql_q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
done
psql_q -d esi_upgrade_fresh -c "CREATE EXTENSION esi_fdw" >/dev/null
if out=$(psql_q -d esi_upgrade_old -c "CREATE EXTENSION esi_fdw VERSION '0.1.0'" 2>&1); then
	ok "CREATE EXTENSION esi_fdw VERSION '0.1.0'"
else
	not_ok "CREATE EXTENSION esi_fdw VERSION '0.1.0'" "$out"
fi
if out=$(psql_q -d esi_upgrade_old -c "ALTER EXTENSION esi_fdw UPDATE" 2>&1); then
	ok "ALTER EXTENSION esi_fdw UPDATE"
else
	not_ok "ALTER EXTENSION esi_fdw UPDATE" "$out"
fi
v=$(psql_q -d esi_upgrade_old -c "SELECT extversion FROM pg_extension WHERE extname = 'esi_fdw'")
[ "$v" = "$current" ] && ok "updated to $current" || not_ok "updated to $current" "extversion: $v"

describe esi_upgrade_fresh > "$TEST_DIR/upgrade_fresh.txt"
describe esi_upgrade_old > "$TEST_DIR/upgrade_old.txt"
if [ -s "$TEST_DIR/upgrade_fresh.txt" ] && diff -u "$TEST_DIR/upgrade_fresh.txt" "$TEST_DIR/upgrade_old.txt" > "$TEST_DIR/upgrade.diff"; then
	ok "the updated extension has exactly the objects of a fresh one"
else
	not_ok "the updated extension has exactly the objects of a fresh one" "$TEST_DIR/upgrade.diff"
fi
out=$(psql_q -d esi_upgrade_old -c "SELECT count(*) >= 0 FROM esi.route_stats" -c "SELECT count(*) >= 0 FROM esi.limits" 2>&1)
[ "$out" = "$(printf 't\nt')" ] && ok "the new views answer after the update" || not_ok "the new views answer after the update" "$out"

for db in esi_upgrade_fresh esi_upgrade_old; do
	psql_q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null
done
echo "1..$n"
[ "$failures" -eq 0 ]
