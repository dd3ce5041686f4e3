#!/usr/bin/env bash
# test/t/170_logical_replication.sh - a second node for BI by logical
# replication (issue 18, item 4).
#
# Two clusters of the test's own: a publisher (wal_level = logical), the one
# node that reads ESI (the simulator), and a subscriber with esi_fdw, whose
# background refresh is off and whose server names another user agent, so
# that the simulator's log shows it never asks.  On the publisher:
#   - the original failure is gone: CREATE PUBLICATION ... FOR TABLE of a
#     latest-mode snapshot table, then CALL esi.refresh() twice (the second
#     deletes the first snapshot) succeeds, with a table keyed by
#     snapshot_row (no key) and one keyed by its target's key (order_id);
#   - a database made at 0.7.0 with such targets, updated to 0.8.0: its
#     tables get their keys and are refreshed while published;
#   - esi.bi_setup() for a logged-in character (the market orders of two
#     hubs' regions: latest; assets: history with diffs; ...), a history
#     target of market prices, esi.publish().
# On the subscriber: the same esi.bi_setup() and esi.track() calls,
# esi.prepare_subscriber(), CREATE SUBSCRIPTION.  Then, after the first copy
# and after each of three rounds of refreshes (the assets bumped each
# time): every published table has the same rows on both nodes (count and
# md5 of the rows in order), the asset diffs are there, and every BI view
# of esi_bi gives the same rows on both.  During each round a session on
# the subscriber polls the orders and the history table: every state it
# sees is a whole snapshot (the orders: all their rows, one snapshot_at;
# the history: k whole snapshots).  A target tracked later reaches the
# subscriber by esi.publish() and ALTER SUBSCRIPTION ... REFRESH
# PUBLICATION.  The subscriber sent the simulator no request and
# refreshed nothing.  Waits are polls with generous bounds,
# never timing assertions.  Prints TAP.
set -uo pipefail
export LC_ALL=C
: "${ESI_SIM_URL:?}"
# shellcheck source=test/lib.sh
. "$(dirname "$0")/../lib.sh"
TEST_DIR=${TEST_DIR:-$(mktemp -d)}
mkdir -p "$TEST_DIR"
PPORT=54373
SPORT=54374
DB=t_logical
AYLA=2112625428
# shellcheck source=test/tap.sh
. "$(dirname "$0")/../tap.sh"
# shellcheck source=test/simlib.sh
. "$(dirname "$0")/../simlib.sh"

pdir=$TEST_DIR/lrpub
sdir=$TEST_DIR/lrsub
finish() {
	[ -n "${POLL_PID:-}" ] && kill "$POLL_PID" >/dev/null 2>&1
	qs "DROP SUBSCRIPTION IF EXISTS esi_bi_sub" >/dev/null 2>&1
	esi_cluster_stop "$sdir" >/dev/null 2>&1
	esi_cluster_stop "$pdir" >/dev/null 2>&1
	sim /_sim/reset >/dev/null 2>&1
	sim /_sim/sso/reset >/dev/null 2>&1
}
trap finish EXIT
sim /_sim/reset >/dev/null
sim /_sim/sso/reset >/dev/null

start() {
	local name=$1 port=$2 conf=$3
	if ! ESI_CLUSTER_FRESH=1 ESI_CLUSTER_EXTRA_CONF="$conf" \
		esi_cluster_start "$TEST_DIR/$name" "$port" >"$TEST_DIR/$name.start.out" 2>&1; then
		echo "not ok 1 - start the cluster $name"
		sed 's/^/# /' "$TEST_DIR/$name.start.out"
		echo "1..1"
		exit 1
	fi
}
# the publisher: refreshes only when the test calls them
start lrpub "$PPORT" "wal_level = logical
esi_fdw.auto_refresh = off"
pdir=$ESI_CLUSTER_DIR
# the subscriber: esi_fdw installed, background refresh off
start lrsub "$SPORT" "esi_fdw.auto_refresh = off"
sdir=$ESI_CLUSTER_DIR
export PGUSER=postgres

# qp / qs SQL... - q on the publisher / on the subscriber
qp() { PGHOST=$pdir/sock PGPORT=$PPORT q "$@"; }
qs() { PGHOST=$sdir/sock PGPORT=$SPORT q "$@"; }
# setup_db NODE AGENT - database $DB with esi_fdw, a server esi on the simulator
setup_db() {
	local node=$1
	# shellcheck disable=SC2097,SC2098  # the database to create is $DB; psql connects to postgres
	DB=postgres $node "CREATE DATABASE $DB" &&
		$node "CREATE EXTENSION esi_fdw" \
			"CREATE SERVER esi FOREIGN DATA WRAPPER esi_fdw OPTIONS (base_url '$ESI_SIM_URL', user_agent 'esi_fdw tests $2 (dev@example.com)',
			   sso_url '$ESI_SIM_URL', sso_client_id 'sim-native-client', sso_redirect_uri 'http://localhost/callback')" \
			"ALTER DATABASE $DB SET esi_fdw.retry_delay = '10ms'"
}
out=$(setup_db qp "170 publisher" 2>&1; qp "SHOW wal_level")
expect "publisher: wal_level logical, database $DB, esi_fdw, server esi on the simulator" "$out" "logical"
out=$(setup_db qs "170 subscriber" 2>&1; qs "SHOW esi_fdw.auto_refresh")
expect "subscriber: database $DB, esi_fdw (auto_refresh off), server esi under another user agent" "$out" "off"

# --- the original failure: publication, then refresh -------------------------------------
REGION=10000033
out=$(qp "IMPORT FOREIGN SCHEMA markets LIMIT TO (market_orders) FROM SERVER esi INTO public" \
	"SELECT esi.track('citadel', 'market_orders', '{\"region_id\": $REGION}')" \
	"SELECT esi.track('citadel_keyed', 'market_orders', '{\"region_id\": $REGION}', key => '{order_id}')" \
	"CREATE PUBLICATION plain FOR TABLE esi_snapshots.citadel, esi_snapshots.citadel_keyed" 2>&1)
expect "two latest targets (one with key order_id), published with CREATE PUBLICATION ... FOR TABLE" "$out" \
	$'esi_snapshots.citadel\nesi_snapshots.citadel_keyed'
out=$(qp "SELECT conrelid::regclass, pg_get_constraintdef(oid) FROM pg_constraint
	WHERE contype = 'p' AND conrelid IN ('esi_snapshots.citadel'::regclass, 'esi_snapshots.citadel_keyed'::regclass) ORDER BY conrelid::regclass::text")
expect "esi.track() keys them: snapshot_row without a key, the target's key with one" "$out" \
	$'esi_snapshots.citadel|PRIMARY KEY (snapshot_row)\nesi_snapshots.citadel_keyed|PRIMARY KEY (order_id)'
direct=$(qp "SELECT count(*) FROM market_orders WHERE region_id = $REGION")
for t in citadel citadel_keyed; do
	out=$(qp "CALL esi.refresh('$t')" "CALL esi.refresh('$t')" \
		"SELECT count(*), count(DISTINCT snapshot_at) FROM esi_snapshots.$t" 2>&1)
	expect "published $t: a second CALL esi.refresh() replaces the first snapshot" "$out" "$direct|1"
done
out=$(qp "DROP PUBLICATION plain" "SELECT esi.untrack('citadel', true)" "SELECT esi.untrack('citadel_keyed', true)" 2>&1)
expect "(publication dropped, targets untracked)" "$out" ""

# --- a database made at 0.7.0, updated ----------------------------------------------------
old() { DB=t_logical_old qp "$@"; }
out=$(DB=postgres qp "CREATE DATABASE t_logical_old" && old "CREATE EXTENSION esi_fdw VERSION '0.7.0'" \
	"CREATE SERVER esi FOREIGN DATA WRAPPER esi_fdw OPTIONS (base_url '$ESI_SIM_URL', user_agent 'esi_fdw tests 170 publisher (dev@example.com)')" \
	"IMPORT FOREIGN SCHEMA markets LIMIT TO (market_orders) FROM SERVER esi INTO public" \
	"SELECT esi.track('plain', 'market_orders', '{\"region_id\": $REGION}', auto => false)" \
	"SELECT esi.track('keyed', 'market_orders', '{\"region_id\": $REGION}', key => '{order_id}', auto => false)" \
	"SELECT esi.track('grouped', 'market_orders', '{\"region_id\": [$REGION, 10000016]}', each => 'region_id', auto => false)" \
	"CALL esi.refresh('plain')" "CALL esi.refresh('keyed')" "CALL esi.refresh('grouped')" \
	"ALTER EXTENSION esi_fdw UPDATE TO '0.8.0'" \
	"SELECT extversion FROM pg_extension WHERE extname = 'esi_fdw'" 2>&1)
expect "0.7.0 with three latest targets (no key, key order_id, a group), refreshed, then updated to 0.8.0" "$out" \
	$'esi_snapshots.plain\nesi_snapshots.keyed\nesi_snapshots.grouped\n0.8.0'
out=$(old "SELECT conrelid::regclass, pg_get_constraintdef(oid) FROM pg_constraint
	WHERE contype = 'p' AND connamespace IN ('esi_snapshots'::regnamespace, 'esi'::regnamespace)
	  AND conrelid IN ('esi_snapshots.plain'::regclass, 'esi_snapshots.keyed'::regclass, 'esi_snapshots.grouped'::regclass, 'esi.asset_diffs'::regclass) ORDER BY conrelid::regclass::text")
expect "the update keyed the existing tables (and esi.asset_diffs)" "$out" \
	$'esi.asset_diffs|PRIMARY KEY (id)\nesi_snapshots.grouped|PRIMARY KEY (snapshot_row)\nesi_snapshots.keyed|PRIMARY KEY (order_id)\nesi_snapshots.plain|PRIMARY KEY (snapshot_row)'
grouped_direct=$(old "SELECT count(*) FROM market_orders WHERE region_id IN ($REGION, 10000016)")
out=$(old "CREATE PUBLICATION p FOR TABLE esi_snapshots.plain, esi_snapshots.keyed, esi_snapshots.grouped, esi.asset_diffs" \
	"CALL esi.refresh('plain')" "CALL esi.refresh('keyed')" "CALL esi.refresh('grouped')" \
	"SELECT count(*) FROM esi_snapshots.plain" "SELECT count(*) FROM esi_snapshots.keyed" \
	"SELECT count(*), count(DISTINCT snapshot_at) FROM esi_snapshots.grouped" "SELECT esi.untrack('grouped:$REGION')" \
	"SELECT count(*) FROM esi_snapshots.grouped WHERE region_id = $REGION" 2>&1)
expect "... published, they are refreshed again (and a group member untracked)" "$out" \
	"$direct"$'\n'"$direct"$'\n'"$grouped_direct|2"$'\n\n0'
DB=postgres qp "DROP DATABASE t_logical_old WITH (FORCE)" >/dev/null 2>&1

# --- the publisher: BI targets, a history target, esi.publish() ---------------------------
url=$(qp "SELECT esi.login('esi', ARRAY['esi-assets.read_assets.v1', 'esi-wallet.read_character_wallet.v1', 'esi-industry.read_character_jobs.v1'])")
loc=$(curl -sS -o /dev/null -w '%{redirect_url}' "$url&character_id=$AYLA")
out=$(qp "SELECT character_id FROM esi.login_callback('$loc')")
expect "publisher: a character logs in" "$out" "$AYLA"
# two hubs of 25 pages each (Rens, Hek): the orders of their two regions;
# assets read anew each time (they change by bumps)
bi_setup() {
	$1 "SET client_min_messages = warning" \
		"SELECT count(*) FROM esi.bi_setup(characters => ARRAY[$AYLA]::bigint[])" \
		"DELETE FROM esi_bi.trade_hubs WHERE location_id NOT IN (60004588, 60005686)" \
		"UPDATE esi.targets SET params = '{\"region_id\": [10000030, 10000042]}' WHERE target = 'esi_bi_orders'" \
		"ALTER FOREIGN TABLE esi_bi_src.character_assets OPTIONS (ADD cache 'off')" \
		"SELECT esi.track('prices_daily', 'esi_bi_src.market_prices', '{}', 'history')" \
		"SELECT params FROM esi.targets WHERE target = 'esi_bi_orders'"
}
out=$(bi_setup qp 2>&1)
expect "publisher: esi.bi_setup() (hubs Rens and Hek) and a history target of market prices" "$out" \
	$'7\nesi_snapshots.prices_daily\n{"region_id": [10000030, 10000042]}'
TARGETS="esi_bi_orders esi_bi_prices esi_bi_history esi_bi_assets esi_bi_wallet esi_bi_journal esi_bi_jobs prices_daily"
refresh_all() {
	local t r=""
	for t in $TARGETS; do
		r+=$(qp "CALL esi.refresh('$t')" 2>&1)
	done
	echo "$r"
}
out=$(refresh_all)
expect "publisher: every target refreshed" "$out" ""
out=$(qp "SELECT count(*) FROM esi.names_of(ARRAY[10000030, 10000042, 60004588, 60005686, 34, 35, 36, 37, 38, 39, 40, $AYLA]::bigint[])")
expect "publisher: names of the regions, hubs, types and the character" "$out" "12"
out=$(qp "SELECT conrelid::regclass, pg_get_constraintdef(oid) FROM pg_constraint
	WHERE contype = 'p' AND connamespace = 'esi_snapshots'::regnamespace ORDER BY conrelid::regclass::text")
expect "publisher: the latest-mode tables are keyed by snapshot_row" "$out" \
	"esi_snapshots.esi_bi_jobs|PRIMARY KEY (snapshot_row)
esi_snapshots.esi_bi_orders|PRIMARY KEY (snapshot_row)
esi_snapshots.esi_bi_prices|PRIMARY KEY (snapshot_row)
esi_snapshots.esi_bi_wallet|PRIMARY KEY (snapshot_row)"
TABLES="esi.asset_diffs
esi.names
esi_snapshots.esi_bi_assets
esi_snapshots.esi_bi_history
esi_snapshots.esi_bi_jobs
esi_snapshots.esi_bi_journal
esi_snapshots.esi_bi_orders
esi_snapshots.esi_bi_prices
esi_snapshots.esi_bi_wallet
esi_snapshots.prices_daily"
out=$(qp "SELECT * FROM esi.publish()")
expect "esi.publish() publishes every snapshot table, esi.asset_diffs and esi.names" "$out" "$TABLES"
out=$(qp "SELECT pubname, pubviaroot, pubinsert AND pubupdate AND pubdelete AND pubtruncate FROM pg_publication" \
	"SELECT count(*) FROM pg_publication_tables WHERE pubname = 'esi_fdw'" "SELECT count(*) FROM esi.publish()")
expect "... as publication esi_fdw, publish_via_partition_root; a second call adds nothing" "$out" \
	$'esi_fdw|t|t\n10\n10'

# --- the subscriber ------------------------------------------------------------------------
out=$(bi_setup qs 2>&1)
expect "subscriber: the same esi.bi_setup() and esi.track() calls" "$out" \
	$'7\nesi_snapshots.prices_daily\n{"region_id": [10000030, 10000042]}'
out=$(qs "SELECT * FROM esi.prepare_subscriber()" \
	"SELECT count(*) FILTER (WHERE auto) FROM esi.targets" \
	"SELECT i.inhparent::regclass, c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE c.relkind = 'r' ORDER BY i.inhparent::regclass::text")
expect "subscriber: esi.prepare_subscriber(): no background refresh, a DEFAULT partition per history table" "$out" \
	"$TABLES
0
esi_snapshots.esi_bi_assets|esi_bi_assets_default|DEFAULT
esi_snapshots.prices_daily|prices_daily_default|DEFAULT"
out=$(qp "SELECT * FROM esi.prepare_subscriber()")
expect_match "esi.prepare_subscriber() refuses the publisher (its tables hold rows)" "$out" \
	'ERROR:  55000: esi.asset_diffs is not empty|ERROR:  55000: esi.names is not empty'
qs "CREATE SUBSCRIPTION esi_bi_sub CONNECTION 'host=$pdir/sock port=$PPORT dbname=$DB user=postgres' PUBLICATION esi_fdw" >"$TEST_DIR/sub.out" 2>&1
out=$(qs "SELECT subname, subenabled, subpublications FROM pg_subscription" && qp "SELECT slot_name, plugin FROM pg_replication_slots WHERE slot_name = 'esi_bi_sub'")
expect "subscriber: CREATE SUBSCRIPTION ... PUBLICATION esi_fdw (its slot on the publisher)" "$out" \
	$'esi_bi_sub|t|{esi_fdw}\nesi_bi_sub|pgoutput' "$TEST_DIR/sub.out"
if PGHOST=$sdir/sock PGPORT=$SPORT wait_for "SELECT count(*) = 10 AND bool_and(srsubstate = 'r') FROM pg_subscription_rel" 300; then
	ok "subscriber: the first copy of the 10 tables is done"
else
	not_ok "subscriber: the first copy of the 10 tables is done" "$(qs "SELECT srrelid::regclass, srsubstate FROM pg_subscription_rel")" "$sdir/log/postgresql.log"
fi

# fingerprint NODE - per published table: rows and md5 of the rows in order
fingerprint() {
	local t sql=""
	for t in $TABLES; do
		[ -n "$sql" ] && sql+=" UNION ALL "
		sql+="SELECT '$t', count(*), md5(coalesce(string_agg(r.x, E'\\n' ORDER BY r.x), '')) FROM (SELECT t::text AS x FROM $t t) r"
	done
	$1 "SELECT string_agg(f.t || ':' || f.count || ':' || f.md5, ' ' ORDER BY f.t) FROM ($sql) f(t, count, md5)"
}
# views NODE - per BI view of esi_bi: rows and md5 of the rows as JSON in
# order (industry_jobs_active without time_left and finished: they move with now())
views() {
	local v sql=""
	for v in $($1 "SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'esi_bi'::regnamespace AND c.relkind = 'v' ORDER BY 1"); do
		[ -n "$sql" ] && sql+=" UNION ALL "
		sql+="SELECT '$v', count(*), md5(coalesce(string_agg(r.x, E'\\n' ORDER BY r.x), '')) FROM (SELECT (to_jsonb(v) - 'time_left' - 'finished')::text AS x FROM esi_bi.$v v) r"
	done
	$1 "SELECT string_agg(f.v || ':' || f.count || ':' || f.md5, ' ' ORDER BY f.v) FROM ($sql) f(v, count, md5)"
}
# same_rows WHAT - the subscriber has caught up: its fingerprint is the publisher's
same_rows() {
	local want got i
	want=$(fingerprint qp)
	for ((i = 0; i < 1200; i++)); do
		got=$(fingerprint qs)
		[ "$got" = "$want" ] && break
		sleep 0.25
	done
	expect "$1: every published table has the same rows on the subscriber (count, md5)" \
		"$(tr ' ' '\n' <<<"$got")" "$(tr ' ' '\n' <<<"$want")" "$sdir/log/postgresql.log"
}
same_views() {
	expect "$1: every BI view of esi_bi gives the same rows on the subscriber" \
		"$(views qs | tr ' ' '\n')" "$(views qp | tr ' ' '\n')"
}
same_rows "after the first copy"
same_views "after the first copy"
n_views=$(qp "SELECT count(*) FROM pg_class c WHERE c.relnamespace = 'esi_bi'::regnamespace AND c.relkind = 'v'")
out=$(qs "SELECT count(*) FROM esi_bi.market_best_prices" "SELECT count(*) FROM esi_bi.character_net_worth")
expect "(the subscriber's BI views: $n_views of them; best prices and net worth as on the publisher)" "$out" \
	"$(qp "SELECT count(*) FROM esi_bi.market_best_prices" "SELECT count(*) FROM esi_bi.character_net_worth")"

# --- rounds of refreshes ---------------------------------------------------------------------
# the poller: samples the subscriber's orders and history table until both
# show the round's new snapshot, then 20 more; prints each distinct state
# (orders rows|their snapshot_at values|history rows|its snapshot_at values)
POLL="DO \$\$
DECLARE
  s0 timestamptz := (SELECT max(snapshot_at) FROM esi_snapshots.esi_bi_orders);
  k0 bigint := (SELECT count(DISTINCT snapshot_at) FROM esi_snapshots.prices_daily);
  c bigint; d bigint; m timestamptz; pc bigint; pd bigint;
  seen text[] := '{}';
  obs text;
  after int := 0;
  samples int := 0;
  t0 timestamptz := clock_timestamp();
BEGIN
  LOOP
    SELECT count(*), count(DISTINCT snapshot_at), max(snapshot_at) INTO c, d, m FROM esi_snapshots.esi_bi_orders;
    SELECT count(*), count(DISTINCT snapshot_at) INTO pc, pd FROM esi_snapshots.prices_daily;
    samples := samples + 1;
    obs := format('%s|%s|%s|%s', c, d, pc, pd);
    IF NOT obs = ANY (seen) THEN
      seen := seen || obs;
    END IF;
    IF m > s0 AND pd > k0 THEN
      after := after + 1;
    END IF;
    EXIT WHEN after >= 20 OR clock_timestamp() > t0 + interval '280 seconds';
    PERFORM pg_sleep(0.002);
  END LOOP;
  RAISE NOTICE 'seen % samples=%', array_to_string(seen, ' '), samples;
END \$\$"
norders=$(qp "SELECT count(*) FROM esi_snapshots.esi_bi_orders")
nprices=$(qp "SELECT count(*) / count(DISTINCT snapshot_at) FROM esi_snapshots.prices_daily")
for round in 1 2 3; do
	sim "/_sim/sso/assets_bump?character_id=$AYLA" >/dev/null
	k0=$(qp "SELECT count(DISTINCT snapshot_at) FROM esi_snapshots.prices_daily")
	ndiffs0=$(qp "SELECT count(*) FROM esi.asset_diffs")
	PGAPPNAME=poller PGHOST=$sdir/sock PGPORT=$SPORT q_bg "$TEST_DIR/poll$round.out" "$POLL"
	POLL_PID=$BG_PID
	PGHOST=$sdir/sock PGPORT=$SPORT wait_for "SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'poller' AND state = 'active'" 60
	out=$(refresh_all)
	expect "round $round: every target refreshed on the publisher" "$out" ""
	wait "$POLL_PID"
	POLL_PID=
	seen=$(sed -n 's/^NOTICE:  00000: seen \(.*\) samples=[0-9]*$/\1/p' "$TEST_DIR/poll$round.out" | tr ' ' '\n')
	before="$norders|1|$((nprices * k0))|$k0"
	after="$norders|1|$((nprices * (k0 + 1)))|$((k0 + 1))"
	expect "round $round: the subscriber saw only whole snapshots: $norders orders of one snapshot, history $k0 then $((k0 + 1)) snapshots of $nprices" \
		"$seen" "$before"$'\n'"$after" "$TEST_DIR/poll$round.out"
	same_rows "round $round"
	ndiffs=$(qp "SELECT count(*) FROM esi.asset_diffs")
	out=$(qs "SELECT count(*) FROM esi.asset_diffs WHERE new_snapshot_at = (SELECT max(snapshot_at) FROM esi_snapshots.esi_bi_assets)")
	expect "round $round: the asset diffs of the new snapshot arrived ($((ndiffs - ndiffs0)) of them, as on the publisher)" \
		"$out" "$((ndiffs - ndiffs0))"
	same_views "round $round"
done
out=$(qp "SELECT count(*) > count(DISTINCT new_snapshot_at) FROM esi.asset_diffs" "SELECT count(DISTINCT new_snapshot_at) FROM esi.asset_diffs")
expect "(the bumps made diffs in each round)" "$out" $'t\n3'

# --- a new target later: esi.publish() extends the publication ---------------------------------
out=$(qp "SELECT esi.track('citadel', 'esi_bi_src.market_orders', '{\"region_id\": $REGION}')" "CALL esi.refresh('citadel')" \
	"SELECT count(*) FROM esi.publish()" "SELECT count(*) FROM pg_publication_tables WHERE pubname = 'esi_fdw'" 2>&1)
expect "publisher: a new latest target, refreshed; esi.publish() adds its table" "$out" \
	$'esi_snapshots.citadel\n11\n11'
qs "SELECT esi.track('citadel', 'esi_bi_src.market_orders', '{\"region_id\": $REGION}', auto => false)" \
	"ALTER SUBSCRIPTION esi_bi_sub REFRESH PUBLICATION" >"$TEST_DIR/refreshpub.out" 2>&1
if PGHOST=$sdir/sock PGPORT=$SPORT wait_for "SELECT count(*) = 11 AND bool_and(srsubstate = 'r') FROM pg_subscription_rel" 300; then
	ok "subscriber: the same esi.track(), ALTER SUBSCRIPTION ... REFRESH PUBLICATION: the new table is copied"
else
	not_ok "subscriber: the same esi.track(), ALTER SUBSCRIPTION ... REFRESH PUBLICATION: the new table is copied" \
		"$TEST_DIR/refreshpub.out" "$(qs "SELECT srrelid::regclass, srsubstate FROM pg_subscription_rel")"
fi
TABLES="$TABLES
esi_snapshots.citadel"
out=$(qp "CALL esi.refresh('citadel')" 2>&1)
expect "publisher: the new target refreshed again" "$out" ""
same_rows "the new target"
out=$(qs "SELECT count(*), count(DISTINCT snapshot_at) FROM esi_snapshots.citadel")
expect "... its $direct orders of one snapshot" "$out" "$direct|1"

# --- the subscriber never asked ESI ------------------------------------------------------------
out=$(python3 "$ESI_ROOT/test/simlog.py" "$ESI_SIM_URL" count --since 0 --agent "170 subscriber")
expect "the simulator got no request from the subscriber" "$out" "0"
out=$(qs "SELECT count(*) FROM esi.refresh_log")
expect "the subscriber refreshed nothing (esi.refresh_log is empty)" "$out" "0"

qs "DROP SUBSCRIPTION esi_bi_sub" >"$TEST_DIR/dropsub.out" 2>&1
out=$(qs "SELECT count(*) FROM pg_subscription" && qp "SELECT count(*) FROM pg_replication_slots")
expect "DROP SUBSCRIPTION (and its slot on the publisher)" "$out" $'0\n0' "$TEST_DIR/dropsub.out"
echo "1..$n"
[ "$failures" -eq 0 ]
