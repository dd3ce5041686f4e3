#!/usr/bin/env bash
# test/t/092_bi_jdbc.sh - a BI tool browsing the database over JDBC (issue 9,
# item 7): after esi.bi_setup() and a few refreshes, test/jdbc/Browse.java
# (pgjdbc, the JDK's source launcher) reads the metadata of every table and
# view, then runs "WHERE 1=0" and "LIMIT 0" on each: no error, as a
# superuser and as a new role with default privileges, and not one request
# reaches ESI meanwhile.  The new role sees no row of another role's
# character (row-level security), until the character is granted to it.
# Starts its own small cluster listening on 127.0.0.1 (JDBC speaks TCP).
# Prints TAP.
set -uo pipefail
export LC_ALL=C
: "${ESI_SIM_URL:?}"
. "$(dirname "$0")/../lib.sh"
TEST_DIR=${TEST_DIR:-$(mktemp -d)}
mkdir -p "$TEST_DIR"
PORT=54342
DB=t_bi_jdbc
AYLA=2112625428
JAR=/usr/share/java/postgresql.jar
. "$(dirname "$0")/../tap.sh"
. "$(dirname "$0")/../simlib.sh"

dir=$TEST_DIR/jdbccluster
finish() {
	esi_cluster_stop "$dir" >/dev/null 2>&1
	sim /_sim/reset >/dev/null 2>&1
	sim /_sim/sso/reset >/dev/null 2>&1
}
trap finish EXIT
if ! command -v java >/dev/null 2>&1 || [ ! -f "$JAR" ]; then
	echo "not ok 1 - java and $JAR (packages openjdk-17-jdk-headless, libpostgresql-jdbc-java)"
	echo "1..1"
	exit 1
fi
# background refresh off: this test refreshes by hand, and the browse must
# be the only thing that could reach ESI meanwhile
ESI_CLUSTER_FRESH=1 ESI_CLUSTER_EXTRA_CONF="listen_addresses = '127.0.0.1'
esi_fdw.refresh_workers = 0" \
	esi_cluster_start "$dir" "$PORT" >"$TEST_DIR/start.out" 2>&1 ||
	{ echo "not ok 1 - start a cluster on 127.0.0.1:$PORT"; sed 's/^/# /' "$TEST_DIR/start.out"; echo "1..1"; exit 1; }
dir=$ESI_CLUSTER_DIR
export PGHOST=$dir/sock PGPORT=$PORT PGUSER=postgres
sim /_sim/reset >/dev/null
sim /_sim/sso/reset >/dev/null

# only what esi_fdw and esi.bi_setup() create: the tables a user makes are
# the user's to grant
out=$(DB=postgres q "CREATE DATABASE $DB" && q "CREATE EXTENSION esi_fdw" \
	"CREATE SERVER esi FOREIGN DATA WRAPPER esi_fdw OPTIONS (base_url '$ESI_SIM_URL', user_agent 'esi_fdw tests 092_bi_jdbc (dev@example.com)',
	   sso_url '$ESI_SIM_URL', sso_client_id 'sim-native-client', sso_redirect_uri 'http://localhost/callback')" \
	"ALTER DATABASE $DB SET esi_fdw.retry_delay = '10ms'" "CREATE ROLE bi_reader LOGIN")
expect "setup: database $DB, esi_fdw, server esi on the simulator, a role bi_reader" "$out" ""
# postgresql.conf's value holds: every esi_fdw.* setting is defined before
# the prefix is reserved (else the server drops it with a WARNING at start)
out="$(q "SHOW esi_fdw.refresh_workers")|$(grep -c "invalid configuration parameter" "$dir/log/postgresql.log")"
expect "esi_fdw.refresh_workers = 0 from postgresql.conf is kept, with no WARNING at start" "$out" "0|0" \
	"$dir/log/postgresql.log"
url=$(q "SELECT esi.login('esi', ARRAY['esi-assets.read_assets.v1', 'esi-wallet.read_character_wallet.v1', 'esi-industry.read_character_jobs.v1'])")
loc=$(curl -sS -o /dev/null -w '%{redirect_url}' "$url&character_id=$AYLA")
out=$(q "SELECT character_id FROM esi.login_callback('$loc')")
expect "a character logs in (as postgres)" "$out" "$AYLA"

out=$(q "SELECT string_agg(t, ',' ORDER BY t) FROM esi.bi_setup() t")
expect "esi.bi_setup() declares its targets" "$out" \
	"esi_bi_assets,esi_bi_history,esi_bi_jobs,esi_bi_journal,esi_bi_orders,esi_bi_prices,esi_bi_wallet"
out=$(q "SELECT params FROM esi.targets WHERE target = 'esi_bi_assets'")
expect "... the characters' targets read the logged-in character" "$out" "{\"character_id\": [$AYLA]}"
for t in prices assets wallet journal jobs; do
	out=$(q "CALL esi.refresh('esi_bi_$t')" "SELECT outcome FROM esi.refresh_log WHERE target = 'esi_bi_$t' ORDER BY id DESC LIMIT 1")
	expect "CALL esi.refresh('esi_bi_$t')" "$out" "ok"
done
out=$(q "SELECT count(*) FROM esi_snapshots.esi_bi_assets" "SELECT count(*) FROM esi_bi.character_net_worth")
expect "the superuser sees the character's assets (the simulator's 1820 items) and net worth" "$out" $'1820\n1'
out=$(q "SELECT c.relrowsecurity, has_table_privilege('bi_reader', c.oid, 'SELECT') FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
	WHERE i.inhparent = 'esi_snapshots.esi_bi_assets'::regclass")
expect "the assets' daily partition got row-level security and the parent's grant" "$out" "t|t"

# --- the browse ---------------------------------------------------------------------
browse() {
	java -cp "$JAR" "$ESI_ROOT/test/jdbc/Browse.java" "jdbc:postgresql://127.0.0.1:$PORT/$DB" "$1" >"$TEST_DIR/browse_$1.out" 2>&1
}
for role in postgres bi_reader; do
	seq=$(sim_seq)
	browse "$role"
	rc=$?
	errs=$(grep -c '^error' "$TEST_DIR/browse_$role.out")
	expect "JDBC browse as $role: no error on metadata, WHERE 1=0 and LIMIT 0 (exit status 0)" "$rc|$errs" "0|0" \
		"$TEST_DIR/browse_$role.out"
	out=$(grep -c '^relation ' "$TEST_DIR/browse_$role.out")
	want=$(q "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p', 'v', 'f', 'm') AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'")
	expect "... it browsed every table, view and foreign table ($want)" "$out" "$want"
	for r in "VIEW esi.cache" "TABLE esi.sso_clients" "TABLE esi.sso_characters" "TABLE esi.asset_diffs" \
		"FOREIGN TABLE esi_bi_src.market_orders" "PARTITIONED TABLE esi_snapshots.esi_bi_assets" \
		"VIEW esi_bi.hub_arbitrage" "VIEW esi_bi.character_net_worth"; do
		grep -q "^relation $r " "$TEST_DIR/browse_$role.out" || not_ok "... including $r" "$TEST_DIR/browse_$role.out"
	done
	# (this cluster's requests: the test suite's main cluster shares the simulator)
	expect "... and no request reached ESI meanwhile" \
		"$(python3 "$ESI_ROOT/test/simlog.py" "$ESI_SIM_URL" count --since "$seq" --agent 092_bi_jdbc)" 0 "log:$seq"
done

# --- what the new role sees -------------------------------------------------------
rq() { q "SET ROLE bi_reader" "$@"; }
out=$(rq "SELECT count(*) FROM esi.sso_characters" "SELECT count(*) FROM esi.sso_clients" \
	"SELECT count(*) FROM esi.cache" "SELECT count(*) FROM esi_snapshots.esi_bi_assets" \
	"SELECT count(*) FROM esi_bi.character_net_worth" "SELECT count(*) FROM esi_bi.asset_changes")
expect "the new role reads zero rows of the token tables, the cache and another role's character" "$out" \
	$'0\n0\n0\n0\n0\n0'
part=$(q "SELECT i.inhrelid::regclass FROM pg_inherits i WHERE i.inhparent = 'esi_snapshots.esi_bi_assets'::regclass")
out=$(rq "SELECT count(*) FROM $part")
expect "... nor through the partition directly" "$out" "0"
out=$(q "SELECT count(*) > 0 FROM esi.cache" "SELECT count(*) FROM esi.sso_characters")
expect "the superuser sees them" "$out" $'t\n1'
out=$(rq "SELECT count(*) > 0 FROM esi_bi.price_history WHERE false" "SELECT count(*) = (SELECT count(*) FROM esi_snapshots.esi_bi_prices) FROM esi_snapshots.esi_bi_prices")
expect "market snapshots are public data: the new role reads them" "$out" $'f\nt'
q "SELECT esi.grant_character('esi', $AYLA, 'bi_reader')" >/dev/null
out=$(rq "SELECT count(*) FROM esi_bi.character_net_worth" \
	"SELECT count(*) = (SELECT count(*) FROM esi_snapshots.esi_bi_assets) FROM esi_snapshots.esi_bi_assets WHERE character_id = $AYLA")
expect "granted the character, the new role sees its net worth and assets" "$out" $'1\nt'
out=$(rq "SELECT count(*) FROM esi.sso_clients")
expect "... but still no client secret" "$out" "0"

# --- a real query keeps its clear error ----------------------------------------------
out=$(q "SELECT * FROM esi_bi_src.market_orders")
expect_match "a query without region_id still fails at once with the condition to add" "$out" \
	'ERROR:  HV002: foreign table "market_orders" needs a value for column "region_id"'

[ "$failures" -eq 0 ] && simlib_drop_db
echo "1..$n"
[ "$failures" -eq 0 ]
