#!/usr/bin/env bash
# test/t/080_snapshots.sh - snapshots kept inside the database (issue 9):
# esi.track() and its three modes (latest replaces, history keeps each
# snapshot in daily partitions with a retention, incremental de-duplicates by
# key), CALL esi.refresh(): the log and its bound, NOTIFY, a failed refresh
# leaves the previous snapshot, a reader is not blocked while ESI is read;
# asset diffs of a character between two snapshots and their rollup, checked
# against the snapshots themselves.  Prints TAP.
set -uo pipefail
export LC_ALL=C
: "${PGHOST:?}" "${PGPORT:?}" "${PGUSER:?}" "${ESI_SIM_URL:?}"
TEST_DIR=${TEST_DIR:-$(mktemp -d)}
mkdir -p "$TEST_DIR"
DB=t_snapshots
# shellcheck source=test/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=test/tap.sh
. "$(dirname "$0")/../tap.sh"
# shellcheck source=test/simlib.sh
. "$(dirname "$0")/../simlib.sh"

AYLA=2112625428
REGION=10000033
SCOPES="ARRAY['esi-assets.read_assets.v1']"

finish() {
	sim /_sim/reset >/dev/null 2>&1
	sim /_sim/sso/reset >/dev/null 2>&1
}
trap finish EXIT

sim /_sim/reset >/dev/null
sim /_sim/sso/reset >/dev/null
sim "/_sim/config?cache_seconds=600" >/dev/null
# market reads go through the cache (a direct query then sees what the
# refresh read); assets are read anew each time (they change by bumps)
simlib_setup_db \
	"ALTER SERVER esi OPTIONS (ADD sso_url '$ESI_SIM_URL', ADD sso_client_id 'sim-native-client', ADD sso_redirect_uri 'http://localhost/callback')" \
	"IMPORT FOREIGN SCHEMA characters LIMIT TO (character_assets) FROM SERVER esi INTO public" \
	"ALTER FOREIGN TABLE character_assets OPTIONS (ADD cache 'off')" \
	"SELECT esi.cache_clear()" \
	"ALTER DATABASE $DB SET esi_fdw.auto_refresh = off"

# the foreign table's columns, for comparisons without snapshot_at
cols_of() {
	q "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
	    WHERE attrelid = '$1'::regclass AND attnum > 0 AND NOT attisdropped"
}
OCOLS=$(cols_of market_orders)

# --- track --------------------------------------------------------------------
out=$(q "SELECT esi.track('forge', 'market_orders', '{\"region_id\": $REGION}')")
expect "esi.track() creates the snapshot table in esi_snapshots" "$out" "esi_snapshots.forge"
out=$(q "SELECT target, foreign_table, mode, snapshot_table, owner_column IS NULL FROM esi.targets")
expect "... and declares the target in esi.targets" "$out" "forge|market_orders|latest|esi_snapshots.forge|t"
out=$(q "SELECT string_agg(attname || ':' || format_type(atttypid, atttypmod), ',' ORDER BY attnum) FROM pg_attribute
	WHERE attrelid = 'esi_snapshots.forge'::regclass AND attnum > 0 AND NOT attisdropped")
want=$(q "SELECT string_agg(attname || ':' || format_type(atttypid, atttypmod), ',' ORDER BY attnum) || ',snapshot_at:timestamp with time zone,snapshot_row:bigint'
	FROM pg_attribute WHERE attrelid = 'market_orders'::regclass AND attnum > 0 AND NOT attisdropped")
expect "the snapshot table has the foreign table's columns and types, plus snapshot_at and its key snapshot_row" "$out" "$want"
out=$(q "SELECT esi.track('bad', 'market_orders', '{\"no_such\": 1}')")
expect_match "a params key that is not a column: 42703" "$out" 'ERROR:  42703: column "no_such" of params does not exist'
out=$(q "SELECT esi.track('bad', 'market_history', '{}', 'incremental')")
expect_match "incremental mode without key columns: 22023" "$out" 'ERROR:  22023: incremental mode needs key columns'
out=$(q "SELECT esi.track('forge', 'market_orders')")
expect_match "a target name already taken: 42710" "$out" 'ERROR:  42710: target "forge" already exists'
out=$(q "SELECT esi.track('bad', 'market_orders', '{}', 'sometimes')")
expect_match "an unknown mode: 22023" "$out" 'ERROR:  22023: invalid mode "sometimes"'

# --- latest -------------------------------------------------------------------
out=$(q "CALL esi.refresh('forge')")
expect "CALL esi.refresh('forge') succeeds" "$out" ""
direct=$(q "SELECT count(*) FROM market_orders WHERE region_id = $REGION")
out=$(q "SELECT count(*) FROM esi_snapshots.forge")
expect "latest: the snapshot has as many rows as a direct query" "$out" "$direct"
diffq="SELECT count(*) FROM ((SELECT $OCOLS FROM esi_snapshots.forge EXCEPT ALL
	SELECT $OCOLS FROM market_orders WHERE region_id = $REGION) UNION ALL
	(SELECT $OCOLS FROM market_orders WHERE region_id = $REGION EXCEPT ALL
	SELECT $OCOLS FROM esi_snapshots.forge)) d"
expect "... and the same rows (EXCEPT ALL both ways)" "$(q "$diffq")" "0"
out=$(q "SELECT outcome, rows, rows_added, finished >= started, error IS NULL FROM esi.refresh_log WHERE target = 'forge'")
expect "esi.refresh_log: one ok refresh with its row count" "$out" "ok|$direct|$direct|t|t"
t1=$(q "SELECT min(snapshot_at) FROM esi_snapshots.forge")
out=$(q "LISTEN esi_refresh" "CALL esi.refresh('forge')" 2>&1)
expect_match "NOTIFY esi_refresh with the target, the snapshot time and the row count" "$out" \
	"Asynchronous notification \"esi_refresh\" with payload \"\\{\"target\" : \"forge\", \"snapshot_at\" : \"[^\"]+\", \"rows\" : $direct\\}\" received"
out=$(q "SELECT count(*), count(DISTINCT snapshot_at), min(snapshot_at) > '$t1' FROM esi_snapshots.forge")
expect "latest: a second refresh replaces the contents (one snapshot, a newer one)" "$out" "$direct|1|t"
out=$(q "SELECT last_rows, last_snapshot_at = (SELECT max(snapshot_at) FROM esi_snapshots.forge), last_error IS NULL
	FROM esi.targets WHERE target = 'forge'")
expect "esi.targets shows the last snapshot" "$out" "$direct|t|t"

# --- a failed refresh ---------------------------------------------------------
before=$(q "SELECT count(*), min(snapshot_at), md5(string_agg(order_id::text, ',' ORDER BY order_id)) FROM esi_snapshots.forge")
q "SELECT esi.cache_clear()" >/dev/null
sim "/_sim/fault?path=/markets/$REGION/orders&kind=status&status=503&count=0" >/dev/null
out=$(q "CALL esi.refresh('forge')")
expect_match "a refresh that fails (ESI answers 503) is an error saying the old snapshot is kept" "$out" \
	'refresh of target "forge" failed: .*HINT:  The previous snapshot is unchanged'
sim /_sim/reset >/dev/null
sim "/_sim/config?cache_seconds=600" >/dev/null
out=$(q "SELECT count(*), min(snapshot_at), md5(string_agg(order_id::text, ',' ORDER BY order_id)) FROM esi_snapshots.forge")
expect "... and leaves the previous snapshot untouched" "$out" "$before"
out=$(q "SELECT outcome, rows IS NULL, error ~ '503' FROM esi.refresh_log WHERE target = 'forge' ORDER BY id DESC LIMIT 1")
expect "... and logs the error" "$out" "error|t|t" "sql:SELECT * FROM esi.refresh_log"
out=$(q "SELECT last_error ~ '503' FROM esi.targets WHERE target = 'forge'")
expect "... which esi.targets shows too" "$out" "t"
out=$(q "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
expect "... and releases its lock (no advisory lock left)" "$out" "0"

out=$(q "BEGIN" "CALL esi.refresh('forge')")
expect_match "CALL esi.refresh() inside a transaction block is refused (it commits)" "$out" \
	'ERROR:  2D000: invalid transaction termination'
out=$(q "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
expect "... before it takes its lock" "$out" "0"

# --- a refresh cancelled by statement_timeout -------------------------------------
before=$(q "SELECT count(*), min(snapshot_at) FROM esi_snapshots.forge")
q "SELECT esi.cache_clear()" >/dev/null
sim "/_sim/fault?path=/markets/$REGION/orders&kind=latency&ms=5000&count=0" >/dev/null
out=$(q "SET statement_timeout = '300ms'" "CALL esi.refresh('forge')")
expect_match "a refresh stopped by statement_timeout while ESI is read is an error (57014)" "$out" \
	'ERROR:  57014: refresh of target "forge" failed: canceling statement due to statement timeout'
sim /_sim/reset >/dev/null
sim "/_sim/config?cache_seconds=600" >/dev/null
out=$(q "SELECT count(*), min(snapshot_at) FROM esi_snapshots.forge")
expect "... leaves the previous snapshot" "$out" "$before"
out=$(q "SELECT outcome, error FROM esi.refresh_log WHERE target = 'forge' ORDER BY id DESC LIMIT 1" \
	"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
expect "... is logged, and leaves no lock" "$out" $'error|canceling statement due to statement timeout\n0'

# --- a reader during a refresh ------------------------------------------------
before=$(q "SELECT count(*), min(snapshot_at) FROM esi_snapshots.forge")
q "SELECT esi.cache_clear()" >/dev/null
sim "/_sim/fault?path=/markets/$REGION/orders&kind=latency&ms=4000&count=0" >/dev/null
q_bg "$TEST_DIR/slow.out" "CALL esi.refresh('forge')"
slow=$BG_PID
for ((i = 0; i < 600; i++)); do
	[ "$(q "SELECT count(*) FROM esi.refresh_log WHERE target = 'forge' AND outcome = 'running'")" = 1 ] && break
	sleep 0.05
done
out=$(q "SET lock_timeout = '1s'" "SELECT count(*), min(snapshot_at) FROM esi_snapshots.forge" \
	"SELECT count(*) FROM esi.refresh_log WHERE target = 'forge' AND outcome = 'running'")
expect "a SELECT (lock_timeout 1s) while a refresh reads ESI returns the previous snapshot at once" "$out" \
	"$before"$'\n1'
out=$(q "CALL esi.refresh('forge')")
expect_match "a second refresh of the same target meanwhile is refused (55P03)" "$out" \
	'ERROR:  55P03: target "forge" is being refreshed by another session'
wait "$slow"
sim /_sim/reset >/dev/null
sim "/_sim/config?cache_seconds=600" >/dev/null
out=$(q "SELECT count(*) = $direct, min(snapshot_at) > '${before#*|}' FROM esi_snapshots.forge")
expect "... then the slow refresh completes with a new snapshot" "$out" "t|t" "$TEST_DIR/slow.out"

# --- the log's bound ----------------------------------------------------------
q "UPDATE esi.targets SET log_retention = 2 WHERE target = 'forge'" >/dev/null
out=$(q "CALL esi.refresh('forge')" "SELECT count(*), max(outcome) FROM esi.refresh_log WHERE target = 'forge'")
expect "the log keeps the last log_retention refreshes of a target" "$out" "2|ok"

# --- history ------------------------------------------------------------------
out=$(q "SELECT esi.track('forge_h', 'market_orders', '{\"region_id\": [$REGION]}', 'history')" \
	"SELECT relkind FROM pg_class WHERE oid = 'esi_snapshots.forge_h'::regclass")
expect "history: the snapshot table is partitioned" "$out" $'esi_snapshots.forge_h\np'
out=$(q "CALL esi.refresh('forge_h')" "CALL esi.refresh('forge_h')" \
	"SELECT count(DISTINCT snapshot_at), count(*) FROM esi_snapshots.forge_h")
expect "history: two refreshes keep two snapshots" "$out" "2|$((direct * 2))"
out=$(q "SELECT count(*) FROM pg_inherits WHERE inhparent = 'esi_snapshots.forge_h'::regclass")
expect "... in one partition a day" "$out" "1"
q "CREATE TABLE esi_snapshots.forge_h_p20200101 PARTITION OF esi_snapshots.forge_h
	FOR VALUES FROM ('2020-01-01 00:00+00') TO ('2020-01-02 00:00+00')" >/dev/null
q "INSERT INTO esi_snapshots.forge_h_p20200101 SELECT $OCOLS, '2020-01-01 12:00+00' FROM market_orders WHERE region_id = $REGION LIMIT 5" >/dev/null
out=$(q "SELECT count(*) FROM esi_snapshots.forge_h WHERE snapshot_at < '2021-01-01'")
expect "(an old partition with an old snapshot)" "$out" "5"
out=$(q "CALL esi.refresh('forge_h')" \
	"SELECT to_regclass('esi_snapshots.forge_h_p20200101') IS NULL, count(DISTINCT snapshot_at) FROM esi_snapshots.forge_h")
expect "history: a refresh drops partitions older than history_retention" "$out" "t|3"

# --- incremental --------------------------------------------------------------
out=$(q "SELECT esi.track('hist', 'market_history', '{\"region_id\": 10000002, \"type_id\": [34, 35]}', 'incremental',
	key => ARRAY['region_id', 'type_id', 'date'])")
expect "incremental: track() with key columns" "$out" "esi_snapshots.hist"
out=$(q "CALL esi.refresh('hist')" \
	"SELECT count(*), count(DISTINCT (region_id, type_id, date)), count(DISTINCT type_id) FROM esi_snapshots.hist")
expect "incremental: a refresh with a type_id array reads both types (400 days each)" "$out" "800|800|2"
n1=$(q "SELECT count(*) FROM esi_snapshots.hist")
out=$(q "CALL esi.refresh('hist')" "SELECT count(*) FROM esi_snapshots.hist")
expect "incremental: a second refresh adds no duplicates" "$out" "$n1"
out=$(q "SELECT rows, rows_added FROM esi.refresh_log WHERE target = 'hist' ORDER BY id DESC LIMIT 1")
expect "... (the log: every row read, none added)" "$out" "$n1|0"
out=$(q "SELECT indexdef ~ 'UNIQUE' FROM pg_indexes WHERE schemaname = 'esi_snapshots' AND tablename = 'hist'")
expect "... thanks to a unique index on the key" "$out" "t"

# --- untrack ------------------------------------------------------------------
out=$(q "SELECT esi.untrack('hist', true)" \
	"SELECT to_regclass('esi_snapshots.hist') IS NULL, count(*) FROM esi.targets WHERE target = 'hist'")
expect "esi.untrack(target, true) forgets the target and drops its table" "$out" $'\nt|0'
out=$(q "SELECT esi.untrack('hist')")
expect_match "esi.untrack() of an unknown target: 42704" "$out" 'ERROR:  42704: no target "hist"'

# --- asset diffs --------------------------------------------------------------
url=$(q "SELECT esi.login('esi', $SCOPES)")
loc=$(curl -sS -o /dev/null -w '%{redirect_url}' "$url&character_id=$AYLA")
out=$(q "SELECT character_id FROM esi.login_callback('$loc')")
expect "the character logs in" "$out" "$AYLA"
out=$(q "SELECT esi.track('ayla_assets', 'character_assets', '{\"character_id\": $AYLA}', 'history')" \
	"SELECT owner_column FROM esi.targets WHERE target = 'ayla_assets'")
expect "history over character_assets: diffs per character_id" "$out" $'esi_snapshots.ayla_assets\ncharacter_id'
out=$(q "CALL esi.refresh('ayla_assets')" "SELECT count(*) FROM esi_snapshots.ayla_assets" \
	"SELECT count(*) FROM esi.asset_diffs")
expect "the first asset snapshot (the simulator's 1820 items) records no diffs" "$out" $'1820\n0'
sim "/_sim/sso/assets_bump?character_id=$AYLA" >/dev/null
out=$(q "LISTEN esi_asset_diffs" "CALL esi.refresh('ayla_assets')" 2>&1)
expect_match "the second snapshot's diffs are announced (NOTIFY esi_asset_diffs)" "$out" \
	"Asynchronous notification \"esi_asset_diffs\" with payload \"\\{\"target\" : \"ayla_assets\", .*\"diffs\" : 190\\}\" received"
SNAPS="o AS (SELECT * FROM esi_snapshots.ayla_assets WHERE snapshot_at = (SELECT min(snapshot_at) FROM esi_snapshots.ayla_assets)),
	n AS (SELECT * FROM esi_snapshots.ayla_assets WHERE snapshot_at = (SELECT max(snapshot_at) FROM esi_snapshots.ayla_assets))"
out=$(q "WITH $SNAPS SELECT (SELECT count(*) FROM o) <> (SELECT count(*) FROM n) OR EXISTS (
	SELECT FROM o FULL JOIN n USING (item_id) WHERE o IS DISTINCT FROM n)")
expect "(the bump changed the assets)" "$out" "t"
out=$(q "SELECT string_agg(change, ',' ORDER BY change) FROM (SELECT DISTINCT change FROM esi.asset_diffs) c")
expect "diffs of all four kinds" "$out" "ADDED,LOCATION_CHANGED,QUANTITY_CHANGED,REMOVED"
# the diffs, computed independently: one full outer join on item_id
EXPECTED="WITH $SNAPS, j AS (SELECT o.item_id AS o_item, n.item_id AS n_item, coalesce(n.item_id, o.item_id) AS item_id,
	coalesce(n.type_id, o.type_id) AS type_id,
	o.quantity AS oq, n.quantity AS nq, o.location_id AS ol, n.location_id AS nl,
	o.location_flag AS of, n.location_flag AS nf FROM o FULL JOIN n ON o.item_id = n.item_id)
	SELECT $AYLA::bigint, item_id::bigint, type_id::bigint, 'ADDED' AS change, oq::bigint, nq::bigint, ol, nl, of, nf FROM j WHERE o_item IS NULL
	UNION ALL SELECT $AYLA, item_id, type_id, 'REMOVED', oq, nq, ol, nl, of, nf FROM j WHERE n_item IS NULL
	UNION ALL SELECT $AYLA, item_id, type_id, 'QUANTITY_CHANGED', oq, nq, ol, nl, of, nf FROM j
	  WHERE o_item IS NOT NULL AND n_item IS NOT NULL AND oq <> nq
	UNION ALL SELECT $AYLA, item_id, type_id, 'LOCATION_CHANGED', oq, nq, ol, nl, of, nf FROM j
	  WHERE o_item IS NOT NULL AND n_item IS NOT NULL AND (ol <> nl OR of <> nf)"
GOT="SELECT owner_id, item_id, type_id, change, old_quantity, new_quantity, old_location_id, new_location_id,
	old_location_flag, new_location_flag FROM esi.asset_diffs WHERE target = 'ayla_assets'"
out=$(q "SELECT count(*) FROM (($EXPECTED) EXCEPT ALL ($GOT)) a" "SELECT count(*) FROM (($GOT) EXCEPT ALL ($EXPECTED)) b" \
	"SELECT count(*) FROM ($GOT) c")
# (the simulator's second version: 54 items added, 43 removed, 64 with another
# quantity, 29 moved; 1831 items)
expect "esi.asset_diffs holds exactly the differences of the two snapshots (full outer join on item_id): 190" "$out" \
	$'0\n0\n190'
out=$(q "SELECT count(DISTINCT (old_snapshot_at, new_snapshot_at)), min(old_snapshot_at) < min(new_snapshot_at),
	min(new_snapshot_at) = (SELECT max(snapshot_at) FROM esi_snapshots.ayla_assets) FROM esi.asset_diffs")
expect "... with both snapshot times" "$out" "1|t|t"
# the rollup, computed independently: net quantity per location and type
SUMS="WITH $SNAPS, s AS (SELECT location_id, type_id, -quantity::bigint AS q FROM o
	UNION ALL SELECT location_id, type_id, quantity FROM n)
	SELECT location_id::bigint, type_id::bigint, sum(q)::bigint FROM s GROUP BY 1, 2 HAVING sum(q) <> 0"
ROLL="SELECT location_id, type_id, net_quantity FROM esi.asset_changes_rollup WHERE target = 'ayla_assets' AND owner_id = $AYLA"
out=$(q "SELECT count(*) FROM (($SUMS) EXCEPT ALL ($ROLL)) a" "SELECT count(*) FROM (($ROLL) EXCEPT ALL ($SUMS)) b" \
	"SELECT count(*) FROM ($ROLL) c")
expect "esi.asset_changes_rollup equals the per-location, per-type net sums of the two snapshots: 219" "$out" $'0\n0\n219'
out=$(q "SELECT count(*) FROM esi.asset_changes_rollup WHERE net_quantity = 0")
expect "... and shows no zero net change" "$out" "0"
n2=$(q "SELECT count(*) FROM esi.asset_diffs")
out=$(q "CALL esi.refresh('ayla_assets')" "SELECT count(*) FROM esi.asset_diffs")
expect "a refresh without changes records no new diffs" "$out" "$n2"

# --- objects are commented ----------------------------------------------------
out=$(q "SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_class c
	WHERE c.relnamespace = 'esi'::regnamespace AND c.relkind IN ('r', 'v') AND obj_description(c.oid, 'pg_class') IS NULL
	AND c.relname IN ('targets', 'refresh_log', 'asset_diffs', 'asset_changes_rollup')")
expect "the tables and views of snapshots have comments" "$out" ""

out=$(q "DROP EXTENSION esi_fdw")
expect_match "DROP EXTENSION without CASCADE keeps the snapshot tables (2BP01)" "$out" \
	'ERROR:  2BP01: cannot drop extension esi_fdw because other objects depend on it'

[ "$failures" -eq 0 ] && simlib_drop_db
echo "1..$n"
[ "$failures" -eq 0 ]
