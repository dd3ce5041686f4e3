# shellcheck shell=bash
# test/bench.d/snapshots.sh - the snapshot figures of test/bench (issue 9),
# sourced by it after the cluster, the simulator and the CSV of region
# $FORGE are ready; adds its rows to the summary (bench_row).
#
#   F    CALL esi.refresh('forge'): a latest-mode target over the orders of
#        region $FORGE (esi.track()), cold (response cache emptied and
#        simulator reset before each run, untimed), against
#   B'   COPY of the same rows (the snapshot table's own rows, with their
#        snapshot_at, written to a CSV file once) into a table of the same
#        kind: LIKE the snapshot table INCLUDING INDEXES, logged; truncated
#        before each run.
#   F bulk  the same refresh written with esi._bulk_insert straight from
#        the foreign table: DELETE the old rows, then
#        _bulk_insert(snapshot, 'SELECT *, now() FROM market_orders ...'),
#        in one DO block (one transaction; readers see the old rows until
#        it commits), cold as F.
#        For information, F and F bulk from the cache (warmed once).
#        The snapshot table is vacuumed (untimed) before every F run, so
#        that each starts from the same table.
#   G    esi._asset_diffs() between two asset snapshots of 1,000,000 items
#        each (100 characters x 10,000 items) in a history-mode target,
#        1% of the items changed (2,500 each added, removed, quantity
#        changed, moved), generated in SQL and vacuumed/analyzed; the
#        diffs are deleted (untimed) after each run. Against
#   G copy  COPY of 1,000,000 rows of that snapshot (from a CSV file) into
#        a table LIKE its partition INCLUDING INDEXES; truncated before
#        each run. For information, 0.4.0's _asset_diffs on the same data.
#
# Same method as the rest of test/bench: one warm-up, $BENCH_REPS timed
# runs in one session, medians; the two sides of a ratio alternate run by
# run so that a busy spell of the machine hits both.

SNAP_CSV=$BENCH_WORK/forge_snapshot.csv
ASSETS_CSV=$BENCH_WORK/assets.csv
Q_F="CALL esi.refresh('forge')"
Q_FB="DO \$\$ BEGIN
	DELETE FROM esi_snapshots.forge;
	PERFORM esi._bulk_insert('esi_snapshots.forge',
		'SELECT *, now() FROM eve.market_orders WHERE region_id = $FORGE');
END \$\$"
Q_BP="COPY bench_snap FROM '$SNAP_CSV' (FORMAT csv)"
Q_SNAP_CHECK="SELECT $AGGS FROM esi_snapshots.forge"

section "F: refresh of region $FORGE ($FORGE_PAGES pages) into a latest-mode snapshot, against B': COPY of the same rows"
bench_psql -q >/dev/null <<SQL
SET client_min_messages = warning;
SELECT esi.track('forge', 'eve.market_orders', '{"region_id": $FORGE}', auto => false);
CREATE TABLE bench_snap (LIKE esi_snapshots.forge INCLUDING INDEXES);
TRUNCATE bench_orders;
$Q_B;
SQL
bench_script_new phase_f
bench_script_line "SET esi_fdw.max_connections = $BENCH_CONNS;"
bench_script_plain Fcsv "$Q_B_CHECK"
# the warm-up refresh also gives B' its file: the snapshot's own rows
bench_script_cold "F:0" "$Q_F" "$RESET"
bench_script_line "\\copy esi_snapshots.forge TO '$SNAP_CSV' (FORMAT csv)"
for ((i = 0; i <= BENCH_REPS; i++)); do
	if [ "$i" -gt 0 ]; then
		bench_script_line "VACUUM esi_snapshots.forge;"
		bench_script_cold "F:$i" "$Q_F" "$RESET"
		[ "$i" -lt "$BENCH_REPS" ] || bench_script_plain Fcheck "$Q_SNAP_CHECK"
	fi
	bench_script_line "VACUUM esi_snapshots.forge;"
	bench_script_cold "FB:$i" "$Q_FB" "$RESET"
	bench_script_line "TRUNCATE bench_snap;"
	bench_script_timed "BP:$i" "$Q_BP"
done
bench_script_plain FBcheck "$Q_SNAP_CHECK"
bench_script_plain BPcheck "SELECT $AGGS FROM bench_snap"
bench_script_plain Flog "SELECT count(*), count(*) FILTER (WHERE outcome = 'ok'), min(rows), max(rows) FROM esi.refresh_log WHERE target = 'forge'"
bench_run_script

# from the cache, for information (the same freshness guard as E)
fresh=$(bench_fresh_for "$FORGE")
if [ "$fresh" -lt 60 ]; then
	esi_log "the orders expire in ${fresh}s: waiting for the next cache period"
	sleep $((fresh + 1))
fi
bench_script_new phase_f_warm
bench_script_line "SET esi_fdw.max_connections = $BENCH_CONNS;" "$BENCH_CLEAR" "\\! $RESET"
bench_script_plain FWwarm "SELECT count(*) FROM eve.market_orders WHERE region_id = $FORGE"
bench_script_line "\\! $RESET"
for ((i = 0; i <= BENCH_REPS; i++)); do
	bench_script_line "VACUUM esi_snapshots.forge;"
	bench_script_timed "FW:$i" "$Q_F"
	bench_script_line "VACUUM esi_snapshots.forge;"
	bench_script_timed "FBW:$i" "$Q_FB"
done
bench_script_plain FWcheck "$Q_SNAP_CHECK"
bench_run_script
FW_SENT=$(curl -sSf "$ESI_SIM_URL/_sim/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["requests"])')

F_REFRESH_MED=$(bench_times F "$BENCH_REPS" | bench_median)
FB_MED=$(bench_times FB "$BENCH_REPS" | bench_median)
BP_MED=$(bench_times BP "$BENCH_REPS" | bench_median)
FW_MED=$(bench_times FW "$BENCH_REPS" | bench_median)
FBW_MED=$(bench_times FBW "$BENCH_REPS" | bench_median)
bench_report() { # LABEL NAME
	printf "%-24s median %8.1f ms  best %8.1f ms  warm-up %8.1f  runs: %s\n" "$2" \
		"$(bench_times "$1" "$BENCH_REPS" | bench_median)" "$(bench_times "$1" "$BENCH_REPS" | bench_min)" \
		"${BENCH_TIME[$1:0]}" "$(bench_times "$1" "$BENCH_REPS" | bench_list)"
}
bench_report F "F  CALL esi.refresh"
bench_report FB "F  bulk (_bulk_insert)"
bench_report BP "B' COPY"
bench_report FW "F  from the cache (info)"
bench_report FBW "F  bulk, cache (info)"
echo "    snapshot CSV: $(du -m "$SNAP_CSV" | cut -f1) MB; esi.refresh_log (runs, ok, min rows, max rows): ${BENCH_RESULT[Flog]}"
echo "    requests reaching the simulator during the $((2 * BENCH_REPS + 2)) cached refreshes: $FW_SENT"
check_same "F's snapshot vs COPY of the CSV" "${BENCH_RESULT[Fcheck]:-}" "${BENCH_RESULT[Fcsv]:-}"
check_same "F bulk's snapshot vs COPY of the CSV" "${BENCH_RESULT[FBcheck]:-}" "${BENCH_RESULT[Fcsv]:-}"
check_same "F bulk's snapshot (cached) vs COPY of the CSV" "${BENCH_RESULT[FWcheck]:-}" "${BENCH_RESULT[Fcsv]:-}"
check_same "B' vs COPY of the CSV" "${BENCH_RESULT[BPcheck]:-}" "${BENCH_RESULT[Fcsv]:-}"
R_FBP=$(bench_calc "$F_REFRESH_MED / $BP_MED")
R_FBBP=$(bench_calc "$FB_MED / $BP_MED")
printf "F/B' = %.3f    F bulk/B' = %.3f    (from the cache: %.3f, %.3f)\n" "$R_FBP" "$R_FBBP" \
	"$(bench_calc "$FW_MED / $BP_MED")" "$(bench_calc "$FBW_MED / $BP_MED")"

# ---------------------------------------------------------------------------
# G: asset diffs

G_ITEMS=1000000
G_T1=$(date -u -d '-2 hours' '+%Y-%m-%d %H:00:00+00')
G_T2=$(date -u -d "$G_T1 + 1 hour" '+%Y-%m-%d %H:00:00+00')
section "G: asset diff between two snapshots of $G_ITEMS items (1% changed), against COPY of $G_ITEMS rows"
# 0.4.0's function, for information: its text from the update script
sed -n '/^CREATE FUNCTION _asset_diffs(/,/^\$\$;/p' "$ESI_ROOT/src/esi_fdw--0.3.0--0.4.0.sql" |
	sed '1s/^CREATE FUNCTION _asset_diffs(/CREATE FUNCTION public.bench_asset_diffs_040(/' >"$BENCH_WORK/asset_diffs_040.sql"
[ -s "$BENCH_WORK/asset_diffs_040.sql" ] || bench_die "cannot find 0.4.0's _asset_diffs"
esi_log "generating two asset snapshots of $G_ITEMS items"
bench_psql -q -v t1="$G_T1" -v t2="$G_T2" -v n="$G_ITEMS" -f "$BENCH_WORK/asset_diffs_040.sql" -f - >/dev/null <<'SQL'
SET client_min_messages = warning;
IMPORT FOREIGN SCHEMA characters LIMIT TO (character_assets) FROM SERVER esi INTO eve;
SELECT esi.track('assets', 'eve.character_assets', '{"character_id": 90000000}', 'history', auto => false);
SELECT esi._history_partitions('esi_snapshots.assets', :'t1', '30 days');
SELECT esi._history_partitions('esi_snapshots.assets', :'t2', '30 days');
-- 100 characters x 10,000 items
INSERT INTO esi_snapshots.assets (character_id, is_blueprint_copy, is_singleton, item_id, location_flag,
                                  location_id, location_type, quantity, type_id, snapshot_at)
SELECT 90000000 + (i - 1) / 10000, NULL, false, i, 'Hangar', 60000000 + i % 1000, 'station',
       i % 100 + 1, 34 + i % 5000, :'t1'
  FROM generate_series(1, :n) i;
-- 1% changed: of every 400 items one is removed (and a new one added in
-- its place), one changes quantity, one moves
INSERT INTO esi_snapshots.assets (character_id, is_blueprint_copy, is_singleton, item_id, location_flag,
                                  location_id, location_type, quantity, type_id, snapshot_at)
SELECT 90000000 + (i - 1) / 10000, NULL, false,
       CASE WHEN i % 400 = 0 THEN :n + i / 400 ELSE i END,
       CASE WHEN i % 400 = 200 THEN 'Deliveries' ELSE 'Hangar' END,
       60000000 + i % 1000 + CASE WHEN i % 400 = 200 THEN 1 ELSE 0 END, 'station',
       i % 100 + 1 + CASE WHEN i % 400 = 100 THEN 5 ELSE 0 END, 34 + i % 5000, :'t2'
  FROM generate_series(1, :n) i;
VACUUM ANALYZE esi_snapshots.assets;
SQL
G_PART=$(bench_psql -A -t -c "SELECT c.oid::regclass FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
	WHERE i.inhparent = 'esi_snapshots.assets'::regclass ORDER BY c.relname LIMIT 1")
bench_psql -q -c "CREATE TABLE bench_assets (LIKE $G_PART INCLUDING INDEXES)" \
	-c "\\copy (SELECT * FROM esi_snapshots.assets WHERE snapshot_at = '$G_T1') TO '$ASSETS_CSV'"
chmod 644 "$ASSETS_CSV"
Q_G="SELECT esi._asset_diffs('assets', 'esi_snapshots.assets', 'character_id', '$G_T2')"
Q_G040="SELECT public.bench_asset_diffs_040('assets', 'esi_snapshots.assets', 'character_id', '$G_T2')"
Q_GC="COPY bench_assets FROM '$ASSETS_CSV'"
Q_G_DEL="DELETE FROM esi.asset_diffs WHERE target = 'assets';"
bench_script_new phase_g
for ((i = 0; i <= BENCH_REPS; i++)); do
	bench_script_timed "G:$i" "$Q_G"
	[ "$i" -gt 0 ] || bench_script_plain Gcheck "SELECT string_agg(change || '=' || n, ',' ORDER BY change) FROM (SELECT change, count(*) n FROM esi.asset_diffs WHERE target = 'assets' GROUP BY 1) c"
	bench_script_line "$Q_G_DEL"
	bench_script_line "TRUNCATE bench_assets;"
	bench_script_timed "GC:$i" "$Q_GC"
done
for ((i = 0; i <= BENCH_REPS; i++)); do
	bench_script_timed "G040:$i" "$Q_G040"
	bench_script_line "$Q_G_DEL"
done
bench_script_plain GCcheck "SELECT count(*) FROM bench_assets"
bench_run_script
G_MED=$(bench_times G "$BENCH_REPS" | bench_median)
GC_MED=$(bench_times GC "$BENCH_REPS" | bench_median)
G040_MED=$(bench_times G040 "$BENCH_REPS" | bench_median)
bench_report G "G  _asset_diffs"
bench_report GC "G  COPY of 1M rows"
bench_report G040 "G  0.4.0's (info)"
echo "    snapshots at $G_T1 and $G_T2 in $G_PART$( [ "${G_T1%% *}" = "${G_T2%% *}" ] || echo ' and the next day'); diffs per run: ${BENCH_RESULT[G:1]}, ${BENCH_RESULT[Gcheck]}; rows after COPY: ${BENCH_RESULT[GCcheck]}"
g_want="ADDED=2500,LOCATION_CHANGED=2500,QUANTITY_CHANGED=2500,REMOVED=2500"
[ "${BENCH_RESULT[Gcheck]:-}" = "$g_want" ] || { echo "    DATA MISMATCH: G's diffs: ${BENCH_RESULT[Gcheck]:-none}, expected $g_want"; data_check=FAIL; }
for ((i = 0; i <= BENCH_REPS; i++)); do
	for lab in "G:$i" "G040:$i"; do
		[ "${BENCH_RESULT[$lab]:-}" = 10000 ] || { echo "    DATA MISMATCH: $lab wrote ${BENCH_RESULT[$lab]:-nothing} diffs"; data_check=FAIL; }
	done
done
[ "${BENCH_RESULT[GCcheck]:-}" = "$G_ITEMS" ] || { echo "    DATA MISMATCH: COPY wrote ${BENCH_RESULT[GCcheck]:-nothing} rows"; data_check=FAIL; }
R_GGC=$(bench_calc "$G_MED / $GC_MED")
printf "G/COPY = %.3f    (0.4.0's: %.3f)\n" "$R_GGC" "$(bench_calc "$G040_MED / $GC_MED")"

fmt_ms() { printf '%.0f ms' "$1"; }
bench_row "F  CALL esi.refresh, cold" "$(fmt_ms "$F_REFRESH_MED")" "" ""
bench_row "F  bulk: DELETE + _bulk_insert, cold" "$(fmt_ms "$FB_MED")" "" ""
bench_row "B' COPY into a snapshot-like table" "$(fmt_ms "$BP_MED")" "" ""
bench_row "F  from the cache (info)" "$(fmt_ms "$FW_MED")" "" ""
bench_row "F  bulk from the cache (info)" "$(fmt_ms "$FBW_MED")" "" ""
bench_row "F/B' (CALL esi.refresh vs COPY)" "$(bench_fmt "$R_FBP" 3)" "<= 1.0" "$(bench_verdict "$R_FBP" 1.0)"
bench_row "F bulk/B' (with _bulk_insert)" "$(bench_fmt "$R_FBBP" 3)" "<= 1.0" "$(bench_verdict "$R_FBBP" 1.0)"
bench_row "G  _asset_diffs, 1M items, 1% changed" "$(fmt_ms "$G_MED")" "" ""
bench_row "G  COPY of 1M asset rows" "$(fmt_ms "$GC_MED")" "" ""
bench_row "G  0.4.0's _asset_diffs (info)" "$(fmt_ms "$G040_MED")" "" ""
bench_row "G/COPY" "$(bench_fmt "$R_GGC" 3)" "<= 1.0" "$(bench_verdict "$R_GGC" 1.0)"
