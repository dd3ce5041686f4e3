#!/usr/bin/env bash
# test/t/130_function_args.sh - every SQL-callable function and procedure of
# esi_fdw (found from pg_proc through pg_depend on the extension, so a new
# one is covered without anyone listing it), called as an ordinary role, as
# one granted EXECUTE on all of them, and as a superuser: once with ordinary arguments, with each argument NULL in
# turn, with every argument NULL, and with each argument in turn set to
# awkward values of its type (empty text and arrays, NULL elements, very long
# text, 0, -1, the integer types' bounds, NaN and the infinities, ...).  One
# call a statement, each in its own transaction.  Each call must end in a
# result or a clean error: no backend crash (pg_postmaster_start_time()
# unchanged and no "terminated by signal" in the server log; the start time
# does not move on a crash restart, so the log and the lost sessions are what
# tell), no lost session, no internal error (XX000, what elog() reports).
# The superuser and the ordinary role each have a character logged in at the
# simulator's SSO, so calls get past the token; requests go to the simulator
# (server esi), with no retries and short timeouts.  Prints a TAP line per
# function with the number of calls made (issue 16 item 1).
set -uo pipefail
export LC_ALL=C
: "${PGHOST:?}" "${PGPORT:?}" "${PGUSER:?}" "${ESI_SIM_URL:?}"
TEST_DIR=${TEST_DIR:-$(mktemp -d)}
mkdir -p "$TEST_DIR"
DB=t_function_args
ROLE=esi_argfuzz
# an ordinary role that was also granted EXECUTE on every function
ROLE_X=esi_argfuzz_exec
# shellcheck source=test/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=test/tap.sh
. "$(dirname "$0")/../tap.sh"
# shellcheck source=test/simlib.sh
. "$(dirname "$0")/../simlib.sh"

SERVER_LOG=${PGHOST%/sock}/log/postgresql.log

finish() {
	sim /_sim/sso/reset >/dev/null 2>&1
	sim /_sim/reset >/dev/null 2>&1
	simlib_drop_db
	"$PSQL" -X -q -d postgres -c "DROP ROLE IF EXISTS $ROLE" -c "DROP ROLE IF EXISTS $ROLE_X" >/dev/null 2>&1
}
trap finish EXIT

# the functions' names and signatures, and the calls to make: one line per
# call, "function<TAB>statement".  Values are SQL expressions, cast to the
# argument's type (functions may be overloaded).  The first value of a type
# is its ordinary one; a type without values here is reported, not skipped.
GEN_SQL=$(cat <<'EOF'
WITH vals(typ, ord, v) AS (VALUES
  ('text', 0, $$'esi'$$), ('text', 1, $$''$$), ('text', 2, $$' '$$),
  ('text', 3, $$repeat('x', 1000000)$$), ('text', 4, $$'%s%n%x''"\;{}=,'$$),
  ('text', 5, $$'https://127.0.0.1:1/?code=x&state=y'$$), ('text', 6, $$'é☃'$$),
  ('name', 0, $$'esi'$$), ('name', 1, $$''$$), ('name', 2, $$repeat('n', 200)$$),
  ('name', 3, $$'a"b''c;'$$),
  ('bigint', 0, '1'), ('bigint', 1, '0'), ('bigint', 2, '-1'),
  ('bigint', 3, '9223372036854775807'), ('bigint', 4, '(-9223372036854775807 - 1)'),
  ('bigint', 5, '2147483648'),
  ('integer', 0, '1'), ('integer', 1, '0'), ('integer', 2, '-1'),
  ('integer', 3, '2147483647'), ('integer', 4, '(-2147483647 - 1)'),
  ('smallint', 0, '1'), ('smallint', 1, '0'), ('smallint', 2, '-1'),
  ('smallint', 3, '32767'), ('smallint', 4, '(-32767 - 1)'),
  ('double precision', 0, '1'), ('double precision', 1, '0'), ('double precision', 2, '-1'),
  ('double precision', 3, $$'NaN'$$), ('double precision', 4, $$'Infinity'$$),
  ('double precision', 5, $$'-Infinity'$$), ('double precision', 6, '1e308'),
  ('double precision', 7, '-1e308'), ('double precision', 8, '4.9e-324'),
  ('real', 0, '1'), ('real', 1, '0'), ('real', 2, '-1'), ('real', 3, $$'NaN'$$),
  ('real', 4, $$'Infinity'$$), ('real', 5, $$'-Infinity'$$), ('real', 6, '3.4e38'),
  ('numeric', 0, '1'), ('numeric', 1, '0'), ('numeric', 2, '-1'), ('numeric', 3, $$'NaN'$$),
  ('numeric', 4, $$'1e1000'$$), ('numeric', 5, $$'-1e1000'$$),
  ('boolean', 0, 'true'), ('boolean', 1, 'false'),
  ('jsonb', 0, $$'{}'$$), ('jsonb', 1, $$'[]'$$), ('jsonb', 2, $$'null'$$), ('jsonb', 3, $$'""'$$),
  ('jsonb', 4, $$'0'$$), ('jsonb', 5, $$'-9223372036854775809'$$), ('jsonb', 6, $$'1e1000'$$),
  ('jsonb', 7, $$'{"a": null, "type_id": "x", "flag": 1e400, "quantity": -1}'$$),
  ('jsonb', 8, $$'[[[[[[[[[[[]]]]]]]]]]]'$$), ('jsonb', 9, $$'[{}]'$$),
  ('jsonb', 10, $$'[{"type_id": -1, "flag": "", "quantity": 9223372036854775807}]'$$),
  ('jsonb', 11, $$'[null, 1, "x"]'$$), ('jsonb', 12, $$'{"x": []}'$$),
  ('jsonb', 13, $$repeat('[', 5000) || repeat(']', 5000)$$),
  ('jsonb', 14, $$'{"type_id": {"a": [1, {"b": null}]}, "": "", "\n\t": 1}'$$),
  ('bigint[]', 0, $$'{1}'$$), ('bigint[]', 1, $$'{}'$$), ('bigint[]', 2, $$'{NULL}'$$),
  ('bigint[]', 3, $$'{0,-1,9223372036854775807,-9223372036854775808}'$$),
  ('bigint[]', 4, $$'{{1,2},{3,4}}'$$), ('bigint[]', 5, $$array(SELECT generate_series(1, 1001)::bigint)$$),
  ('bigint[]', 6, $$'{1,1,1}'$$), ('bigint[]', 7, $$'[0:0]={7}'$$),
  ('text[]', 0, $$'{esi}'$$), ('text[]', 1, $$'{}'$$), ('text[]', 2, $$'{NULL}'$$),
  ('text[]', 3, $$'{""}'$$), ('text[]', 4, $$'{{a,b},{c,d}}'$$),
  ('text[]', 5, $$ARRAY[repeat('x', 100000)]$$), ('text[]', 6, $$'{=,a=,=b,"a=b=c"}'$$),
  ('text[]', 7, $$'{base_url=http://127.0.0.1:1,base_url=}'$$),
  -- options as the validator takes them, each with an awkward value
  ('text[]', 8, $$'{max_connections=-1}'$$), ('text[]', 9, $$'{max_connections=99999999999999999999}'$$),
  ('text[]', 10, $$'{cache_seconds=-2147483649}'$$), ('text[]', 11, $$'{compatibility_date=9999-99-99}'$$),
  ('text[]', 12, $$'{route=/x/{a}/{}'$$), ('text[]', 13, $$'{"route=/{a}{b}/{"}'$$),
  ('text[]', 14, $$'{paging=}'$$), ('text[]', 15, $$'{param=token,param_name=}'$$),
  ('text[]', 16, $$'{base_url=ftp://[::1}'$$), ('text[]', 17, $$'{sso_redirect_uri=http://%00@x/}'$$),
  ('text[]', 18, $$'{compat_date=,shape=values,query=%s}'$$), ('text[]', 19, $$'{http_version=,cache=}'$$),
  ('text[]', 20, $$array(SELECT 'e' || g FROM generate_series(1, 10000) g)$$),
  ('regclass', 0, $$'pg_class'$$), ('regclass', 1, '0'), ('regclass', 2, '4294967295'),
  ('regclass', 3, $$(SELECT min(ftrelid) FROM pg_foreign_table)$$),
  ('regclass', 4, $$'esi.targets'$$),
  ('regrole', 0, $$'esi_argfuzz'$$), ('regrole', 1, '0'), ('regrole', 2, '4294967295'),
  ('regrole', 3, $$'pg_read_all_data'$$),
  ('oid', 0, '1417'), ('oid', 1, '0'), ('oid', 2, '4294967295'), ('oid', 3, '3118'),
  ('oid', 4, '1418'), ('oid', 5, '2328'), ('oid', 6, '1249'),
  ('interval', 0, $$'1 day'$$), ('interval', 1, $$'0'$$), ('interval', 2, $$'-1 second'$$),
  ('interval', 3, $$'178000000 years'$$), ('interval', 4, $$'-178000000 years'$$),
  ('timestamp with time zone', 0, 'now()'), ('timestamp with time zone', 1, $$'infinity'$$),
  ('timestamp with time zone', 2, $$'-infinity'$$),
  ('timestamp with time zone', 3, $$'4713-01-01 00:00:00+00 BC'$$),
  ('timestamp with time zone', 4, $$'294276-12-31 23:59:59+00'$$)
),
fn AS (
  SELECT p.oid, p.prokind, p.proretset,
         format('%I.%I', n.nspname, p.proname) AS qname,
         format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) AS label,
         -- every argument a call passes: IN, INOUT and VARIADIC; for a
         -- procedure also OUT (given as NULL)
         array(SELECT format_type(t, NULL) FROM unnest(coalesce(p.proallargtypes, p.proargtypes::oid[]))
                        WITH ORDINALITY AS a(t, i)
                WHERE coalesce(p.proargmodes[i], 'i') IN ('i', 'b', 'v')
                   OR (p.prokind = 'p' AND p.proargmodes[i] = 'o')
                ORDER BY i) AS types,
         array(SELECT coalesce(p.proargmodes[i], 'i') FROM unnest(coalesce(p.proallargtypes, p.proargtypes::oid[]))
                        WITH ORDINALITY AS a(t, i)
                WHERE coalesce(p.proargmodes[i], 'i') IN ('i', 'b', 'v')
                   OR (p.prokind = 'p' AND p.proargmodes[i] = 'o')
                ORDER BY i) AS modes,
         array(SELECT coalesce(p.proargnames[i], '') FROM unnest(coalesce(p.proallargtypes, p.proargtypes::oid[]))
                        WITH ORDINALITY AS a(t, i)
                WHERE coalesce(p.proargmodes[i], 'i') IN ('i', 'b', 'v')
                   OR (p.prokind = 'p' AND p.proargmodes[i] = 'o')
                ORDER BY i) AS names
    FROM pg_depend d
    JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'esi_fdw'
    JOIN pg_proc p ON p.oid = d.objid
    JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE d.classid = 'pg_proc'::regclass AND d.refclassid = 'pg_extension'::regclass
     AND d.deptype = 'e' AND p.prokind IN ('f', 'p')
),
-- an argument's value: NULL, or the expression cast to its type
expr AS (
  SELECT typ, ord, format('(%s)::%s', v, typ) AS e
    FROM vals
),
arg AS (
  SELECT fn.oid, a.i, a.t, a.m,
         -- a character: the caller's own (logged in), so that calls get past
         -- the token to the simulator
         CASE WHEN a.t = 'bigint' AND fn.names[a.i] LIKE '%character_id'
              THEN '(SELECT coalesce(min(c.character_id), 1) FROM esi.characters c WHERE c.owner::text = current_user)'
              ELSE coalesce((SELECT e FROM expr WHERE expr.typ = a.t AND ord = 0), format('NULL::%s', a.t))
         END AS base
    FROM fn, unnest(fn.types, fn.modes) WITH ORDINALITY AS a(t, m, i)
),
-- the calls: ordinary values; argument i NULL; all NULL; argument i = each value
variant AS (
  SELECT oid, 0 AS i, NULL::text AS e, 0 AS k FROM fn
  UNION ALL SELECT oid, i, format('NULL::%s', t), 1 FROM arg WHERE m <> 'o'
  UNION ALL SELECT oid, -1, NULL, 2 FROM fn WHERE cardinality(types) > 1
  UNION ALL SELECT arg.oid, arg.i, expr.e, 3 + expr.ord FROM arg JOIN expr ON expr.typ = arg.t AND expr.ord > 0
   WHERE arg.m <> 'o'
),
stmt AS (
  SELECT fn.label, v.k, v.i,
         format(CASE WHEN fn.prokind = 'p' THEN 'CALL %s(%s)'
                     WHEN fn.proretset THEN 'SELECT * FROM %s(%s)'
                     ELSE 'SELECT %s(%s)' END,
                fn.qname,
                coalesce((SELECT string_agg(CASE WHEN v.i = -1 OR a.m = 'o' THEN format('NULL::%s', a.t)
                                                 WHEN a.i = v.i THEN v.e ELSE a.base END, ', ' ORDER BY a.i)
                            FROM arg a WHERE a.oid = fn.oid), '')) AS sql
    FROM fn JOIN variant v ON v.oid = fn.oid
)
SELECT line FROM (
  SELECT label || E'\t' || sql AS line, 0 AS g, label, k, i FROM stmt
  -- an argument type without values: "-<TAB>type"
  UNION SELECT '-' || E'\t' || t, 1, t, 0, 0 FROM arg
   WHERE m <> 'o' AND NOT EXISTS (SELECT FROM vals WHERE vals.typ = arg.t)
) lines ORDER BY g, label, k, i
EOF
)

# SSO on the simulator: the superuser logs in Ayla, the ordinary role Boris,
# the role granted EXECUTE Cira (below),
# each with every scope of the catalog; ESI's error budget is not what is tested
sim /_sim/reset >/dev/null
sim /_sim/sso/reset >/dev/null
sim "/_sim/config?error_limit=1000000" >/dev/null
simlib_setup_db \
	"ALTER SERVER esi OPTIONS (ADD sso_url '$ESI_SIM_URL', ADD sso_client_id 'sim-native-client', ADD sso_redirect_uri 'http://localhost/callback')" \
	"DROP ROLE IF EXISTS $ROLE" \
	"DROP ROLE IF EXISTS $ROLE_X" \
	"CREATE ROLE $ROLE LOGIN" \
	"CREATE ROLE $ROLE_X LOGIN" \
	"GRANT USAGE ON FOREIGN SERVER esi TO $ROLE, $ROLE_X" \
	"GRANT CREATE ON DATABASE $DB TO $ROLE, $ROLE_X" \
	"DO \$\$ DECLARE f regprocedure; BEGIN
	   FOR f IN SELECT d.objid FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'esi_fdw'
	             WHERE d.classid = 'pg_proc'::regclass AND d.deptype = 'e' LOOP
	     EXECUTE format('GRANT EXECUTE ON ROUTINE %s TO $ROLE_X', f);
	   END LOOP; END \$\$" \
	"ALTER DATABASE $DB SET esi_fdw.max_retries = 0" \
	"ALTER DATABASE $DB SET esi_fdw.max_retry_after = 0" \
	"ALTER DATABASE $DB SET esi_fdw.connect_timeout = '2s'" \
	"ALTER DATABASE $DB SET esi_fdw.request_timeout = '5s'" \
	"ALTER DATABASE $DB SET esi_fdw.auto_refresh = off" \
	"ALTER DATABASE $DB SET statement_timeout = '30s'"

# login USER CHARACTER - logs CHARACTER in as USER; prints its id
login() {
	local url loc
	# the calls of esi.login() above leave logins in progress, and a role
	# may have only so many: start afresh
	q "DELETE FROM esi.sso_logins WHERE role = '$1'::regrole" >/dev/null
	url=$(PGUSER=$1 q "SELECT esi.login('esi', (SELECT array_agg(DISTINCT scope ORDER BY scope)
	                                           FROM esi.catalog() WHERE scope IS NOT NULL))") || { echo "$url"; return 1; }
	loc=$(curl -sS -o /dev/null -w '%{redirect_url}' "$url&character_id=$2") || return 1
	PGUSER=$1 q "SELECT character_id FROM esi.login_callback('$loc')"
}
declare -A CHARACTER=(["$PGUSER"]=2112625428 ["$ROLE"]=2112625429 ["$ROLE_X"]=2112625430)
expect "the superuser logs a character in" "$(login "$PGUSER" "${CHARACTER[$PGUSER]}")" "${CHARACTER[$PGUSER]}"
expect "the ordinary role logs another character in" "$(login "$ROLE" "${CHARACTER[$ROLE]}")" "${CHARACTER[$ROLE]}"
expect "the role granted EXECUTE logs a third one in" "$(login "$ROLE_X" "${CHARACTER[$ROLE_X]}")" "${CHARACTER[$ROLE_X]}"
# relogin USER - logs USER's character in again when a call logged it out
# (esi.logout) or gave it away
relogin() {
	local c=${CHARACTER[$1]}
	[ "$(q "SELECT count(*) FROM esi.characters WHERE character_id = $c AND owner::text = '$1'")" = 1 ] ||
		[ "$(login "$1" "$c")" = "$c" ] ||
		echo "as $1: character $c could not be logged in again"
}

q "$GEN_SQL" >"$TEST_DIR/generated.tsv"
grep -v $'^-\t' "$TEST_DIR/generated.tsv" >"$TEST_DIR/calls.tsv"
expect "every argument type of the extension's functions has values to try" \
	"$(grep $'^-\t' "$TEST_DIR/generated.tsv" | cut -f2 | tr '\n' ' ')" ""
if ! grep -q $'\t' "$TEST_DIR/calls.tsv"; then
	not_ok "the calls are generated from pg_proc" "$TEST_DIR/calls.tsv"
	echo "Bail out! no calls"
	exit 1
fi
nfunc=$(cut -f1 "$TEST_DIR/calls.tsv" | sort -u | wc -l)
ncalls=$(wc -l <"$TEST_DIR/calls.tsv")
ok "generated $ncalls calls to $nfunc functions and procedures of esi_fdw from pg_proc"

started=$(q "SELECT pg_postmaster_start_time()")
log_from=$(($(stat -c %s "$SERVER_LOG" 2>/dev/null || echo 0) + 1))

# wait_ready - waits (up to 120 s) until the cluster takes connections again
wait_ready() {
	local i
	for ((i = 0; i < 1200; i++)); do
		"$PSQL" -X -q -d "$DB" -c "SELECT 1" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# run_calls USER FILE OUT - runs FILE's statements (one a line) in sessions
# of USER, each in its own transaction; OUT gets "R <line> <SQLSTATE>
# <message>" per statement run (SQLSTATE 00000: a result), and OUT.lost a
# line per statement that ended its session (the calls after it are made in
# a new session, once the cluster takes connections again)
run_calls() {
	local user=$1 file=$2 out=$3 total from=1 last rc
	total=$(wc -l <"$file")
	: >"$out"
	: >"$out.lost"
	while [ "$from" -le "$total" ]; do
		awk -v from="$from" 'BEGIN {
				print "\\set ON_ERROR_STOP 0"
				print "\\o /dev/null"
			}
			NR >= from {
				print $0 ";"
				printf "\\echo R %d :SQLSTATE :LAST_ERROR_MESSAGE\n", NR
				print "\\set LAST_ERROR_MESSAGE"
			}' "$file" >"$file.psql"
		"$PSQL" -X -q -U "$user" -d "$DB" -f "$file.psql" >>"$out" 2>"$out.err"
		rc=$?
		last=$(awk '/^R [0-9]+ / { l = $2 } END { print l + 0 }' "$out")
		[ "$last" -ge "$total" ] && [ "$rc" -eq 0 ] && break
		# the statement after the last one that reported ended the session
		printf 'as %s: the session was lost (psql exit status %d) at: %s\n%s\n' "$user" "$rc" \
			"$(sed -n "$((last + 1))p" "$file" | cut -c1-300)" "$(grep -v '^$' "$out.err" | tail -n 3)" >>"$out.lost"
		wait_ready
		from=$((last + 2))
	done
}

# check_calls USER FILE OUT - the bad outcomes of one run, one a line
check_calls() {
	local user=$1 file=$2 out=$3
	awk -v who="$user" '
		NR == FNR { sql[FNR] = $0; next }
		/^R / && ($3 ~ /^XX/ || $3 == "") {
			m = $0; sub(/^R [0-9]+ [^ ]* ?/, "", m)
			printf "as %s: %s: %s\n", who, ($3 == "" ? "no SQLSTATE" : $3 " " m), substr(sql[$2], 1, 300)
		}' "$file" "$out"
	cat "$out.lost"
}

results=0
errors=0
while IFS= read -r fn; do
	safe=$(printf '%s' "$fn" | md5sum | cut -c1-12)
	file=$TEST_DIR/$safe.sql
	awk -F'\t' -v f="$fn" '$1 == f { print $2 }' "$TEST_DIR/calls.tsv" >"$file"
	calls=$(wc -l <"$file")
	problems=
	for user in "$ROLE" "$ROLE_X" "$PGUSER"; do
		out=$TEST_DIR/$safe.$user.out
		run_calls "$user" "$file" "$out"
		p=$(check_calls "$user" "$file" "$out"; relogin "$user")
		[ -n "$p" ] && problems+="$p"$'\n'
		results=$((results + $(grep -c '^R [0-9]* 00000' "$out")))
		errors=$((errors + $(grep -c '^R [0-9]* [0-9A-Z]\{5\}' "$out") - $(grep -c '^R [0-9]* 00000' "$out")))
	done
	if [ -z "$problems" ]; then
		ok "$fn: $calls calls each as $ROLE, $ROLE_X and a superuser, each a result or a clean error"
	else
		not_ok "$fn: $calls calls each as $ROLE, $ROLE_X and a superuser" "$problems"
	fi
done < <(cut -f1 "$TEST_DIR/calls.tsv" | sort -u)
echo "# $results calls returned a result, $errors a clean error"

expect "the postmaster was not restarted (pg_postmaster_start_time unchanged)" \
	"$(q "SELECT pg_postmaster_start_time()")" "$started"
crashes=$(tail -c +"$log_from" "$SERVER_LOG" 2>/dev/null | grep -E "terminated by signal|was terminated by exception|server process .* exited with exit code|terminating any other active server processes" | head -5)
expect "the server log reports no crashed backend" "$crashes" ""

echo "1..$n"
[ "$failures" -eq 0 ]
