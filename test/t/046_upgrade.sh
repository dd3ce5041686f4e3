#!/usr/bin/env bash
# test/t/046_upgrade.sh - ALTER EXTENSION esi_fdw UPDATE: a database created
# at each released version (src/sql/released) and updated step by step ends
# with exactly what a fresh CREATE EXTENSION makes, compared property by
# property: the members; every table's columns (type, NOT NULL, default,
# collation, privileges, comment), constraints (pg_get_constraintdef),
# indexes, triggers, policies (pg_policies), options, row-level security,
# privileges and comment; every view's definition (pg_get_viewdef); every
# function's and procedure's full definition (pg_get_functiondef: body,
# arguments, defaults, volatility, SECURITY DEFINER, the pinned
# search_path), with proconfig, prosecdef and proacl spelled out; schemas,
# the foreign data wrapper, event triggers, sequences and the dumped tables
# (extconfig).  Then shows that the comparison catches an update that
# forgets something: the current update script with one function's
# "SET search_path" removed.  Uses the suite's cluster (PGHOST/PGPORT);
# prints TAP.
set -uo pipefail
export LC_ALL=C
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tap.sh"

psql_q() { "$ESI_PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -U postgres "$@"; }
current=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$ESI_ROOT/esi_fdw.control")
# every released version that a database can be created at (it has an
# install script of its own, or one before it and the update scripts on)
released=$(grep -v '^#' "$ESI_ROOT/src/sql/released" | awk 'NF { if (!seen[$1]++) print $1 }')

# describe DB - every property of the extension's objects, one per line
# (a function's definition spans several), in a stable order
describe() {
	psql_q -d "$1" <<'EOF'
CREATE TEMP VIEW m AS
  SELECT d.classid, d.objid FROM pg_depend d
   WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
     AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'esi_fdw');
CREATE TEMP VIEW rel AS
  SELECT c.* FROM pg_class c JOIN m ON m.classid = 'pg_class'::regclass AND m.objid = c.oid;
CREATE TEMP VIEW facts(obj, prop, val) AS
  -- the members
  SELECT pg_describe_object(classid, objid, 0), 'member', '' FROM m
  -- relations
  UNION ALL SELECT c.oid::regclass::text, 'relation',
         format('kind=%s persistence=%s options=%s rls=%s force_rls=%s acl=%s comment=%s',
                c.relkind, c.relpersistence, c.reloptions, c.relrowsecurity, c.relforcerowsecurity,
                c.relacl, obj_description(c.oid, 'pg_class'))
    FROM rel c
  UNION ALL SELECT c.oid::regclass::text, 'column ' || a.attnum || ' ' || a.attname,
         format('type=%s notnull=%s default=%s identity=%s generated=%s collation=%s acl=%s comment=%s',
                format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(ad.adbin, ad.adrelid),
                a.attidentity, a.attgenerated, a.attcollation::regcollation, a.attacl,
                col_description(c.oid, a.attnum))
    FROM rel c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
  UNION ALL SELECT co.conrelid::regclass::text, 'constraint ' || co.conname,
         format('%s deferrable=%s validated=%s comment=%s', pg_get_constraintdef(co.oid),
                co.condeferrable, co.convalidated, obj_description(co.oid, 'pg_constraint'))
    FROM pg_constraint co JOIN rel c ON c.oid = co.conrelid
  UNION ALL SELECT i.indrelid::regclass::text, 'index ' || i.indexrelid::regclass,
         pg_get_indexdef(i.indexrelid)
    FROM pg_index i JOIN rel c ON c.oid = i.indrelid
  UNION ALL SELECT t.tgrelid::regclass::text, 'trigger ' || t.tgname,
         format('%s enabled=%s', pg_get_triggerdef(t.oid), t.tgenabled)
    FROM pg_trigger t JOIN rel c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal
  UNION ALL SELECT p.schemaname || '.' || p.tablename, 'policy ' || p.policyname,
         format('permissive=%s roles=%s cmd=%s using=%s check=%s', p.permissive, p.roles, p.cmd,
                p.qual, p.with_check)
    FROM pg_policies p JOIN rel c ON c.oid = format('%I.%I', p.schemaname, p.tablename)::regclass
  UNION ALL SELECT c.oid::regclass::text, 'view definition', pg_get_viewdef(c.oid)
    FROM rel c WHERE c.relkind IN ('v', 'm')
  UNION ALL SELECT s.seqrelid::regclass::text, 'sequence',
         format('type=%s start=%s inc=%s min=%s max=%s cache=%s cycle=%s', s.seqtypid::regtype,
                s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle)
    FROM pg_sequence s JOIN rel c ON c.oid = s.seqrelid
  -- functions and procedures
  UNION ALL SELECT p.oid::regprocedure::text, 'definition', pg_get_functiondef(p.oid)
    FROM pg_proc p JOIN m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid
  UNION ALL SELECT p.oid::regprocedure::text, 'attributes',
         format('kind=%s secdef=%s config=%s acl=%s leakproof=%s strict=%s volatile=%s parallel=%s comment=%s',
                p.prokind, p.prosecdef, p.proconfig, p.proacl, p.proleakproof, p.proisstrict,
                p.provolatile, p.proparallel, obj_description(p.oid, 'pg_proc'))
    FROM pg_proc p JOIN m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid
  -- schemas: the extension's own and its members
  UNION ALL SELECT n.nspname::text, 'schema', format('acl=%s comment=%s', n.nspacl,
                obj_description(n.oid, 'pg_namespace'))
    FROM pg_namespace n
   WHERE n.oid = (SELECT extnamespace FROM pg_extension WHERE extname = 'esi_fdw')
      OR n.oid IN (SELECT objid FROM m WHERE classid = 'pg_namespace'::regclass)
  -- the foreign data wrapper
  UNION ALL SELECT w.fdwname::text, 'foreign data wrapper',
         format('handler=%s validator=%s options=%s acl=%s comment=%s', w.fdwhandler::regproc,
                w.fdwvalidator::regproc, w.fdwoptions, w.fdwacl, obj_description(w.oid, 'pg_foreign_data_wrapper'))
    FROM pg_foreign_data_wrapper w JOIN m ON m.classid = 'pg_foreign_data_wrapper'::regclass AND m.objid = w.oid
  -- event triggers
  UNION ALL SELECT e.evtname::text, 'event trigger',
         format('event=%s function=%s enabled=%s tags=%s', e.evtevent, e.evtfoid::regproc, e.evtenabled, e.evttags)
    FROM pg_event_trigger e JOIN m ON m.classid = 'pg_event_trigger'::regclass AND m.objid = e.oid
  -- the tables pg_dump dumps (pg_extension_config_dump)
  UNION ALL SELECT 'extension esi_fdw', 'dumped ' || x.c::regclass, coalesce(x.w, '')
    FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS x(c, w)
   WHERE e.extname = 'esi_fdw';
SELECT obj || ' | ' || prop || ' | ' || coalesce(val, '<null>') FROM facts ORDER BY obj, prop, val;
EOF
}

dbs=(esi_upgrade_fresh esi_upgrade_script esi_upgrade_broken)
for v in $released; do
	dbs+=("esi_upgrade_$(echo "$v" | tr . _)")
done
for db in "${dbs[@]}"; do
	psql_q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
done

psql_q -d esi_upgrade_fresh -c "CREATE EXTENSION esi_fdw" >/dev/null
v=$(psql_q -d esi_upgrade_fresh -c "SELECT extversion FROM pg_extension WHERE extname = 'esi_fdw'")
[ "$v" = "$current" ] && ok "a fresh install is $current" || not_ok "a fresh install is $current" "extversion: $v"
if describe esi_upgrade_fresh > "$TEST_DIR/upgrade_fresh.txt" 2> "$TEST_DIR/upgrade_fresh.err"; then
	ok "the fresh install is described"
else
	not_ok "the fresh install is described" "$TEST_DIR/upgrade_fresh.err"
fi
# the description holds what it claims to compare (a query that lost a
# part would compare nothing there)
missing=
for want in " | member | " " | column " " | constraint " " | index " " | trigger " " | policy " \
	" | view definition | " " | definition | CREATE OR REPLACE FUNCTION" \
	" | definition | CREATE OR REPLACE PROCEDURE" 'config={"search_path=pg_catalog, pg_temp"}' \
	"secdef=f " " | schema | " " | foreign data wrapper | " " | event trigger | " " | sequence | " \
	" | dumped esi.targets | "; do
	grep -qF -- "$want" "$TEST_DIR/upgrade_fresh.txt" || missing="$missing '$want'"
done
[ -z "$missing" ] && ok "the description shows members, columns, constraints, indexes, triggers, policies, views, function definitions and attributes, schemas, the FDW, event triggers, sequences and dumped tables" ||
	not_ok "the description shows every kind of property" "missing:$missing"

# the catalog's size: every GET route and every generated function
routes=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["routes"]))' "$ESI_ROOT/test/sim_catalog.json")
calls=$(grep -c '^CREATE OR REPLACE FUNCTION' "$ESI_ROOT/src/sql/calls.sql")

for v in $released; do
	db=esi_upgrade_$(echo "$v" | tr . _)
	if out=$(psql_q -d "$db" -c "CREATE EXTENSION esi_fdw VERSION '$v'" -c "ALTER EXTENSION esi_fdw UPDATE" 2>&1); then
		ok "created at $v, then ALTER EXTENSION esi_fdw UPDATE"
	else
		not_ok "created at $v, then ALTER EXTENSION esi_fdw UPDATE" "$out"
		continue
	fi
	got=$(psql_q -d "$db" -c "SELECT extversion FROM pg_extension WHERE extname = 'esi_fdw'")
	describe "$db" > "$TEST_DIR/upgrade_$v.txt" 2>&1
	if [ "$got" = "$current" ] && diff -u "$TEST_DIR/upgrade_fresh.txt" "$TEST_DIR/upgrade_$v.txt" > "$TEST_DIR/upgrade_$v.diff"; then
		ok "created at $v and updated to $current: exactly a fresh install"
	else
		not_ok "created at $v and updated to $current: exactly a fresh install" "extversion: $got" "$TEST_DIR/upgrade_$v.diff"
	fi
	# the catalog and the shared-memory views answer after the update
	out=$(psql_q -d "$db" -c "SELECT count(*) FROM esi.catalog()" \
		-c "SELECT count(*) FROM (SELECT * FROM esi.route_stats LIMIT 0) s" \
		-c "SELECT count(*) FROM (SELECT * FROM esi.limits LIMIT 0) l" 2>&1)
	[ "$out" = "$(printf '%s\n0\n0' $((routes + calls)))" ] &&
		ok "updated from $v: esi.catalog() lists $routes routes and $calls functions; esi.route_stats and esi.limits answer" ||
		not_ok "updated from $v: esi.catalog() lists $routes routes and $calls functions; esi.route_stats and esi.limits answer" "$out"
done

out=$(psql_q -d esi_upgrade_fresh -c "SELECT count(*) FROM esi.catalog()")
[ "$out" = $((routes + calls)) ] && ok "a fresh install: esi.catalog() lists $routes routes and $calls functions" ||
	not_ok "a fresh install: esi.catalog() lists $routes routes and $calls functions" "count: $out"

# An update that forgets something fails the comparison: the current
# update script (as built) run on the last released version, once as it
# is and once with the SET search_path of esi.names_of() left out.  Both
# run through psql, as ALTER EXTENSION would run them (MODULE_PATHNAME
# replaced, in schema esi), though objects they create do not join the
# extension: the two databases are compared with each other, and the one
# with the broken copy with a fresh install.
last=$(echo "$released" | tail -n 1)
script="$ESI_ROOT/src/sql/built/esi_fdw--$last--$current.sql"
if [ -f "$script" ]; then
	grep -v '^\\echo' "$script" | sed 's|MODULE_PATHNAME|$libdir/esi_fdw|' > "$TEST_DIR/upgrade_script.sql"
	awk '/^CREATE OR REPLACE FUNCTION names_of\(/ { f = 1 }
	     f && /^SET search_path = pg_catalog, pg_temp$/ { f = 0; next } { print }' \
		"$TEST_DIR/upgrade_script.sql" > "$TEST_DIR/upgrade_broken.sql"
	n_removed=$(diff "$TEST_DIR/upgrade_script.sql" "$TEST_DIR/upgrade_broken.sql" | grep -c '^<')
	out=
	for kind in script broken; do
		out=$out$(psql_q -d esi_upgrade_$kind -c "CREATE EXTENSION esi_fdw VERSION '$last'" \
			-c "SET search_path = esi" -f "$TEST_DIR/upgrade_$kind.sql" 2>&1)
		describe esi_upgrade_$kind > "$TEST_DIR/upgrade_$kind.txt" 2>&1
	done
	diff -u "$TEST_DIR/upgrade_script.txt" "$TEST_DIR/upgrade_broken.txt" > "$TEST_DIR/upgrade_broken.diff"
	# exactly names_of's pinned search_path differs: in its definition and
	# in its attributes
	changed=$(grep '^[-+]' "$TEST_DIR/upgrade_broken.diff" | grep -v '^[-+][-+][-+] ' |
		sed -E 's/^([-+]esi\.[^|]*\| [^|]*) \|.*(config=.*) acl=.*/\1 \2/' | sort | tr "\n" ";")
	want="+esi.names_of(bigint[],text) | attributes config=;- SET search_path TO 'pg_catalog', 'pg_temp';-esi.names_of(bigint[],text) | attributes config={\"search_path=pg_catalog, pg_temp\"};"
	if [ "$n_removed" = 1 ] && [ "$changed" = "$want" ]; then
		ok "an update that leaves out one SET search_path differs exactly there (names_of: definition and config)"
	else
		not_ok "an update that leaves out one SET search_path differs exactly there (names_of: definition and config)" \
			"lines removed: $n_removed" "changed: $changed" "$out" "$TEST_DIR/upgrade_broken.diff"
	fi
	# and the comparison with a fresh install fails on it
	diff -u "$TEST_DIR/upgrade_fresh.txt" "$TEST_DIR/upgrade_broken.txt" > "$TEST_DIR/upgrade_broken_fresh.diff"
	if grep -qxF -- "- SET search_path TO 'pg_catalog', 'pg_temp'" "$TEST_DIR/upgrade_broken_fresh.diff" &&
		grep -q '^+esi\.names_of(bigint\[\],text) | attributes | .* config= acl=' "$TEST_DIR/upgrade_broken_fresh.diff"; then
		ok "... and the comparison with a fresh install shows it"
	else
		not_ok "... and the comparison with a fresh install shows it" "$TEST_DIR/upgrade_broken_fresh.diff"
	fi
else
	not_ok "the update script $script was built" "run make"
fi

for db in "${dbs[@]}"; do
	psql_q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null
done
echo "1..$n"
[ "$failures" -eq 0 ]
