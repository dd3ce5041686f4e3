#!/usr/bin/env bash
# test/t/150_small_claims.sh - issue 16's small claims made true:
# esi._bulk_insert() checks INSERT before it locks the table (a role without
# it holds no lock after the error); esi.track() parses and quotes
# snapshot_table and refuses a target name too long for NOTIFY; a role's
# logins in progress are bounded; esi.limits shows a role only the base URLs
# of the servers it has USAGE on; a failed esi.login_callback() leaves its
# statement (code and state) out of the server log.  Prints TAP.
set -uo pipefail
export LC_ALL=C
: "${PGHOST:?}" "${PGPORT:?}" "${PGUSER:?}" "${ESI_SIM_URL:?}"
TEST_DIR=${TEST_DIR:-$(mktemp -d)}
mkdir -p "$TEST_DIR"
DB=t_small_claims
ROLE=esi_sc_user
ROLE_U=esi_sc_usage
# shellcheck source=test/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=test/tap.sh
. "$(dirname "$0")/../tap.sh"
# shellcheck source=test/simlib.sh
. "$(dirname "$0")/../simlib.sh"

SERVER_LOG=${PGHOST%/sock}/log/postgresql.log
# the server log from here on (the file may hold earlier runs)
LOG_FROM=$(($(stat -c %s "$SERVER_LOG" 2>/dev/null || echo 0) + 1))
new_log() { tail -c "+$LOG_FROM" "$SERVER_LOG"; }

finish() {
	sim /_sim/sso/reset >/dev/null 2>&1
	sim /_sim/reset >/dev/null 2>&1
	[ "$failures" -eq 0 ] && simlib_drop_db
	"$PSQL" -X -q -d postgres -c "DROP ROLE IF EXISTS $ROLE" -c "DROP ROLE IF EXISTS $ROLE_U" >/dev/null 2>&1
}
trap finish EXIT

"$PSQL" -X -q -d postgres -c "SET client_min_messages = warning" \
	-c "DROP ROLE IF EXISTS $ROLE" -c "DROP ROLE IF EXISTS $ROLE_U" \
	-c "CREATE ROLE $ROLE" -c "CREATE ROLE $ROLE_U" >/dev/null 2>&1
simlib_setup_db \
	"ALTER SERVER esi OPTIONS (ADD sso_url '$ESI_SIM_URL', ADD sso_client_id 'sim-native-client', ADD sso_redirect_uri 'http://localhost/callback')" \
	"GRANT USAGE ON FOREIGN SERVER esi TO $ROLE_U" \
	"CREATE TABLE public.sc_guarded (id bigint)"
sim /_sim/reset >/dev/null

# --- esi._bulk_insert: no lock without INSERT ------------------------------
# the session keeps its aborted transaction open while another counts the
# locks on the table
out=$("$PSQL" -X -q -A -t -v VERBOSITY=verbose -d "$DB" 2>&1 <<EOF | grep -v '^LOCATION:'
BEGIN;
SET ROLE $ROLE;
SELECT esi._bulk_insert('public.sc_guarded', 'SELECT 1');
\! "$PSQL" -X -q -A -t -d "$DB" -c "SELECT 'locks: ' || count(*) FROM pg_locks WHERE relation = 'public.sc_guarded'::regclass"
ROLLBACK;
EOF
)
expect "a role without INSERT is refused by esi._bulk_insert() and holds no lock on the table" "$out" \
	"ERROR:  42501: permission denied for table sc_guarded
HINT:  Ask the table's owner for INSERT on it (GRANT INSERT ON ... TO ...).
locks: 0"

# --- esi.track(snapshot_table => ...) ---------------------------------------
# what used to be spliced into CREATE TABLE is a name, or an error
out=$(q "SELECT esi.track('sc_inj', 'public.market_orders', '{\"region_id\": 10000002}', auto => false,
	snapshot_table => 'public.sc_a (id int); CREATE TABLE public.sc_injected (id int); CREATE TABLE public.sc_b')" \
	| grep -v '^LOCATION:')
expect "esi.track() refuses a snapshot_table that is not a name (42602)" "$out" \
	"ERROR:  42602: invalid snapshot table name \"public.sc_a (id int); CREATE TABLE public.sc_injected (id int); CREATE TABLE public.sc_b\"
DETAIL:  snapshot_table must be a table name with its schema, e.g. my_schema.my_table or \"My Schema\".\"My Table\".
HINT:  Double-quote a part that is not a plain lower-case identifier.
CONTEXT:  PL/pgSQL function esi.track(text,regclass,jsonb,text,text[],text,text,boolean) line 76 at RAISE"
out=$(q "SELECT esi.track('sc_one', 'public.market_orders', '{\"region_id\": 10000002}', auto => false,
	snapshot_table => 'sc_unqualified')" | grep -E '^ERROR|^HINT')
expect "esi.track() refuses a snapshot_table without its schema" "$out" \
	"ERROR:  42602: invalid snapshot table name \"sc_unqualified\"
HINT:  Give the schema and the table, separated by a dot."
out=$(q "CREATE SCHEMA \"SC Schema\"" \
	"SELECT esi.track('sc_quoted', 'public.market_orders', '{\"region_id\": 10000002}', auto => false,
	  snapshot_table => '\"SC Schema\".\"Snap; Table\"')" \
	"SELECT esi.track('sc_folded', 'public.market_orders', '{\"region_id\": 10000002}', auto => false,
	  snapshot_table => 'Public.SC_Folded')" \
	"SELECT snapshot_table FROM esi.targets WHERE target LIKE 'sc\\_%' ORDER BY target")
expect "esi.track() creates the table a quoted or unquoted name gives, as SQL reads it" "$out" \
	"\"SC Schema\".\"Snap; Table\"
sc_folded
sc_folded
\"SC Schema\".\"Snap; Table\""
out=$(q "SELECT count(*) FROM pg_class WHERE relname IN ('sc_a', 'sc_b', 'sc_injected', 'sc_unqualified')")
expect "no table from the refused names" "$out" "0"

# a snapshot table with a rule on INSERT is written with INSERT ... SELECT,
# so the rule applies (esi._bulk_insert() refuses such a table)
out=$(q "SET client_min_messages = warning" \
	"SELECT esi.track('sc_ruled', 'public.market_orders', '{\"region_id\": 10000033}', auto => false) IS NOT NULL" \
	"CREATE TABLE public.sc_rule_log (order_id bigint)" \
	"CREATE RULE sc_also AS ON INSERT TO esi_snapshots.sc_ruled DO ALSO INSERT INTO public.sc_rule_log VALUES (NEW.order_id)" \
	"CALL esi.refresh('sc_ruled')" \
	"SELECT outcome FROM esi.refresh_log WHERE target = 'sc_ruled'" \
	"SELECT (SELECT count(*) FROM esi_snapshots.sc_ruled) = (SELECT count(*) FROM public.sc_rule_log),
	        (SELECT count(*) FROM public.sc_rule_log) = (SELECT last_rows FROM esi.targets WHERE target = 'sc_ruled')")
expect "a refresh into a snapshot table with a DO ALSO rule runs the rule for every row" "$out" "t
ok
t|t"

# a target's name goes out in NOTIFY payloads (at most 7999 bytes)
out=$(q "SELECT esi.track(repeat('n', 7679), 'public.market_orders', '{\"region_id\": 10000002}', auto => false)" \
	| grep -E '^ERROR|^DETAIL')
expect "esi.track() refuses a target name too long for NOTIFY" "$out" \
	"ERROR:  22023: target name too long
DETAIL:  The name is 7681 bytes as JSON; NOTIFY payloads name the target, and a target's name may be 7680 bytes as JSON."
out=$(q "SET client_min_messages = warning" \
	"SELECT esi.track(repeat('n', 7678), 'public.market_orders', '{\"region_id\": 10000002}', auto => false) IS NOT NULL" \
	"SELECT pg_notify('esi_refresh', json_build_object('target', target, 'snapshot_at', now(), 'rows', 9223372036854775807)::text)
	   FROM esi.targets WHERE length(target) = 7678")
expect "a name of 7680 bytes as JSON is taken, and fits a NOTIFY payload" "$out" "t"
out=$(q "SELECT esi.track('sc_grp', 'public.market_orders', jsonb_build_object('region_id', jsonb_build_array(10000002, repeat('9', 7675))),
	  each => 'region_id', auto => false)" | grep -E '^ERROR')
expect "esi.track() refuses a group whose member's name (target:value) is too long" "$out" \
	"ERROR:  22023: target name too long"

# --- a role's logins in progress are bounded ----------------------------------
out=$(q "SET ROLE $ROLE_U" \
	"SELECT count(esi.login('esi', ARRAY['esi-wallet.read_character_wallet.v1'])) FROM generate_series(1, 10)")
expect "a role may start 10 logins" "$out" "10"
out=$(q "SET ROLE $ROLE_U" "SELECT esi.login('esi', ARRAY['esi-wallet.read_character_wallet.v1'])" | grep -E '^ERROR|^DETAIL')
expect "the 11th, with 10 in progress, is refused (54000)" "$out" \
	"ERROR:  54000: role \"$ROLE_U\" has too many EVE SSO logins in progress
DETAIL:  A role may have 10 logins started with esi.login() and not finished; each is forgotten 10 minutes after it started."
out=$(q "SELECT count(*) FROM esi.sso_logins WHERE role = '$ROLE_U'::regrole" \
	"SELECT esi.login('esi', ARRAY['esi-wallet.read_character_wallet.v1']) LIKE 'http%'")
expect "esi.sso_logins holds 10 of the role's; another role still logs in" "$out" "10
t"

# --- esi.limits: the servers a role may use -----------------------------------
LQ="SELECT count(*) FROM esi.limits WHERE kind = 'rate_limit' AND rate_group = 'market-order' AND base_url = '$ESI_SIM_URL'"
out=$(q "SET esi_fdw.cache = off" "SELECT count(*) FROM public.market_orders WHERE region_id = 10000033 AND order_id = 1" \
	"$LQ" "SET ROLE $ROLE_U" "$LQ" \
	"RESET ROLE" "SET ROLE $ROLE" "SELECT count(*) FROM esi.limits")
expect "esi.limits: the simulator's market-order bucket for a superuser and a role with USAGE, nothing for a role without" \
	"$out" "0
1
1
0"

# --- a failed esi.login_callback() stays out of the server log ----------------
out=$(q "SET log_min_error_statement = error" \
	"SELECT * FROM esi.login_callback('http://localhost/callback?code=SCCODE7Q4Z&state=SCSTATE7Q4Z')" | grep '^ERROR')
expect "a callback with an unknown state fails" "$out" "ERROR:  28000: unknown EVE SSO login state"
out=$(q "SET log_min_error_statement = error" \
	"SELECT * FROM esi.login_callback('http://localhost/callback?state=SCSTATE8Q4Z')" | grep '^ERROR')
expect "a callback without a code fails" "$out" "ERROR:  22023: the callback URL has no code"
q "SELECT pg_sleep(0)" >/dev/null   # the log is written by the backend as it reports
out=$(new_log | grep -c -e 'SCCODE7Q4Z' -e 'SCSTATE7Q4Z' -e 'SCSTATE8Q4Z')
expect "the server log holds neither their code nor their state (no STATEMENT line)" "$out" "0"
out=$(q "SET log_min_error_statement = error" "SELECT 1/0 AS sc_marker_9Q4Z" | grep -c '^ERROR'; \
	new_log | grep -c 'STATEMENT:  SELECT 1/0 AS sc_marker_9Q4Z')
expect "another failed statement is logged with its text (the check sees the log)" "$out" "1
1"

echo "1..$n"
[ "$failures" -eq 0 ]
