# shellcheck shell=bash
# test/bench.d/cache.sh - the response cache's share of the cold path
# (issue 17, item 5), sourced by test/bench (BENCH_ONLY=cache) once the
# cluster, the simulator and B's table are ready; adds its rows to the
# summary (bench_row).  Each round, in one session, alternates:
#
#   A    the cold count(*) of region $FORGE (cache emptied; every page
#        stored), as in the full bench;
#   A0   the same with esi_fdw.cache = off (nothing read, nothing stored):
#        A - A0 is what storing the replies costs the cold path;
#   EC, EC0  the cold INSERT ... SELECT of E, with the cache on and off
#        (table truncated before each run);
#   E    the same INSERT ... SELECT answered from the cache (no request);
#   B    COPY of the same rows;
# and then D, curl --compressed of the same pages to /dev/null.
# Ratios: A/D, A0/D, EC/B, EC0/B, E/B, all medians of the same run; the
# bytes the cache holds after A (esi.cache) are shown.

section "cache: what storing the replies costs the cold path (region $FORGE, $FORGE_PAGES pages)"
bench_script_new phase_cache
bench_script_line "SET esi_fdw.max_connections = $BENCH_CONNS;"
for ((i = 0; i <= BENCH_REPS; i++)); do
	bench_script_cold "KA:$i" "$Q_A" "$RESET"
	bench_script_line "SET esi_fdw.cache = off;"
	bench_script_cold "KA0:$i" "$Q_A" "$RESET"
	bench_script_line "RESET esi_fdw.cache;" "TRUNCATE bench_orders;"
	bench_script_cold "KEC:$i" "$Q_E" "$RESET"
	bench_script_line "TRUNCATE bench_orders;"
	bench_script_timed "KE:$i" "$Q_E"
	bench_script_line "SET esi_fdw.cache = off;" "TRUNCATE bench_orders;"
	bench_script_cold "KEC0:$i" "$Q_E" "$RESET"
	bench_script_line "RESET esi_fdw.cache;" "TRUNCATE bench_orders;"
	bench_script_timed "KB:$i" "$Q_B"
done
bench_script_line "$BENCH_CLEAR" "\\! $RESET"
bench_script_plain Kwarm "SELECT count(*) FROM eve.market_orders WHERE region_id = $FORGE"
bench_script_plain Kbytes "SELECT count(*), round(sum(size) / 1048576.0, 1) FROM esi.cache"
bench_run_script
for ((i = 0; i <= BENCH_REPS; i++)); do
	bash "$ESI_ROOT/test/bench.d/fetch-pages" "$ESI_SIM_URL" "$FORGE" "$FORGE_PAGES" "$BENCH_CONNS" \
		- "$BENCH_WORK/kdevnull.$i" || bench_die "fetch to /dev/null $i failed"
	BENCH_TIME[KD:$i]=$(cat "$BENCH_WORK/kdevnull.$i")
done
for lab in KA KA0 KEC KE KEC0 KB KD; do
	med=$(bench_times "$lab" "$BENCH_REPS" | bench_median)
	printf -v "K_${lab#K}" '%s' "$med"
	printf "%-5s median %8.1f ms  best %8.1f ms  warm-up %8.1f  runs: %s\n" "${lab#K}" \
		"$med" "$(bench_times "$lab" "$BENCH_REPS" | bench_min)" "${BENCH_TIME[$lab:0]}" \
		"$(bench_times "$lab" "$BENCH_REPS" | bench_list)"
done
echo "    the cache after one cold count(*): ${BENCH_RESULT[Kbytes]} (entries, MB of files)"
for ((i = 0; i <= BENCH_REPS; i++)); do
	for lab in "KA:$i" "KA0:$i"; do
		[ "${BENCH_RESULT[$lab]:-}" = "$csv_rows" ] || { echo "    DATA MISMATCH: $lab counted ${BENCH_RESULT[$lab]:-nothing}, CSV has $csv_rows"; data_check=FAIL; }
	done
done
# shellcheck disable=SC2154  # K_* are set by printf -v above
{
	R_KAD=$(bench_calc "$K_A / $K_D")
	R_KA0D=$(bench_calc "$K_A0 / $K_D")
	R_KECB=$(bench_calc "$K_EC / $K_B")
	R_KEC0B=$(bench_calc "$K_EC0 / $K_B")
	R_KEB=$(bench_calc "$K_E / $K_B")
	printf "A/D = %.3f   A0/D = %.3f   EC/B = %.3f   EC0/B = %.3f   E/B = %.3f   A-A0 = %.1f ms\n" \
		"$R_KAD" "$R_KA0D" "$R_KECB" "$R_KEC0B" "$R_KEB" "$(bench_calc "$K_A - $K_A0")"
	bench_row "cache: A/D (cold count(*), pages stored)" "$(bench_fmt "$R_KAD" 3)" "<= 1.0" "$(bench_verdict "$R_KAD" 1.0)"
	bench_row "cache: A0/D (the same, cache off)" "$(bench_fmt "$R_KA0D" 3)" "" ""
	bench_row "cache: EC/B (cold INSERT ... SELECT)" "$(bench_fmt "$R_KECB" 3)" "<= 1.0" "$(bench_verdict "$R_KECB" 1.0)"
	bench_row "cache: EC0/B (the same, cache off)" "$(bench_fmt "$R_KEC0B" 3)" "" ""
	bench_row "cache: E/B (INSERT ... SELECT from the cache)" "$(bench_fmt "$R_KEB" 3)" "<= 1.0" "$(bench_verdict "$R_KEB" 1.0)"
}
