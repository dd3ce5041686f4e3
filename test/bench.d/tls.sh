# shellcheck shell=bash
# test/bench.d/tls.sh - the production transport's figures of test/bench
# (issue 15), sourced by it once the cluster, the simulator and B's table
# are ready; adds its rows to the summary (bench_row).
#
# Two nginx fronts before the bench's simulator (test/tlsfront.sh, a CA of
# their own made with openssl, in the cluster's esi_fdw.ca_file): h2 speaks
# HTTP/2 over TLS (esi_fdw's 8 concurrent requests are 8 streams of one
# connection), h1 HTTP/1.1 over TLS 1.3 only (8 connections). Each round,
# in one session, alternates:
#
#   T0   the cold count(*) of region $FORGE straight to the simulator
#        (plain HTTP, as A), the baseline of the TLS overhead;
#   T2   the same through the h2 front, T1 through the h1 front
#        (esi_fdw.max_connections = $BENCH_CONNS; response cache emptied
#        before each run, as A);
#   D2, D1  curl --compressed of the same pages through the same front,
#        $BENCH_CONNS parallel transfers (--http2: multiplexed on one
#        connection; --http1.1: $BENCH_CONNS connections), --cacert, bodies to
#        /dev/null (test/bench.d/fetch-pages, timed around curl);
#   E0, E2, E1  the cold INSERT ... SELECT of E (cache emptied, table
#        truncated before each run), straight and through each front.
#   L2, L1  the cold count(*) through each front with $BENCH_LATENCY_MS ms added
#        to every request by the simulator ($BENCH_LAT_REPS runs): under
#        HTTP/2 the $BENCH_CONNS requests in flight are streams of one
#        connection, under HTTP/1.1 $BENCH_CONNS connections; against the
#        ideal ceil(pages / $BENCH_CONNS) x $BENCH_LATENCY_MS ms.
#
# Ratios: T2/D2 and T1/D1 (the wrapper against curl through the same front),
# E2/D2 and E1/D1, and for information T2/T0, T1/T0, E2/E0 and E1/E0 (what
# TLS and the front cost), all medians of the same run.

TLS_DIR=$BENCH_WORK/tls
. "$ESI_ROOT/test/tlsfront.sh"

section "TLS: region $FORGE through nginx TLS fronts (HTTP/2, HTTP/1.1 over TLS 1.3) against curl through the same front"
tls_make_certs "$TLS_DIR" >/dev/null 2>&1 || bench_die "tls_make_certs failed"
chmod 755 "$TLS_DIR"
# nginx closes a connection after 1000 requests by default; one session of
# the bench sends many more: keep its connections for the whole run
TLS_KEEP="keepalive_requests 100000;"
TLS_URL_H2=$(tls_front_start "$TLS_DIR" h2 h2 "$ESI_SIM_URL" server "$TLS_KEEP") || bench_die "the h2 front did not start"
TLS_URL_H1=$(tls_front_start "$TLS_DIR" h1 h1 "$ESI_SIM_URL" server "$TLS_KEEP") || bench_die "the h1 front did not start"
# shellcheck disable=SC2034  # read by test/bench's cleanup
BENCH_TLS_STARTED=1
esi_psql -q -d postgres -v ca="$TLS_DIR/ca.pem" >/dev/null <<'SQL'
ALTER SYSTEM SET esi_fdw.ca_file = :'ca';
SELECT pg_reload_conf();
SQL
for ((i = 0; i < 100; i++)); do
	[ "$(bench_psql -A -t -c 'SHOW esi_fdw.ca_file')" = "$TLS_DIR/ca.pem" ] && break
	sleep 0.1
done
bench_psql -q -v h2="$TLS_URL_H2" -v h1="$TLS_URL_H1" <<'SQL'
SET client_min_messages = warning;
CREATE SERVER esi_h2 FOREIGN DATA WRAPPER esi_fdw OPTIONS (base_url :'h2');
CREATE SCHEMA eve_h2;
IMPORT FOREIGN SCHEMA markets LIMIT TO (market_orders) FROM SERVER esi_h2 INTO eve_h2;
CREATE SERVER esi_h1 FOREIGN DATA WRAPPER esi_fdw OPTIONS (base_url :'h1');
CREATE SCHEMA eve_h1;
IMPORT FOREIGN SCHEMA markets LIMIT TO (market_orders) FROM SERVER esi_h1 INTO eve_h1;
SQL
echo "fronts:  h2 $TLS_URL_H2 (HTTP/2, TLS 1.2-1.3), h1 $TLS_URL_H1 (HTTP/1.1, TLS 1.3); $(/usr/sbin/nginx -v 2>&1)"

# tls_fetch FRONT HTTP I - curl of the pages through FRONT (a \! line)
tls_fetch() {
	local url
	[ "$1" = h2 ] && url=$TLS_URL_H2 || url=$TLS_URL_H1
	printf 'FETCH_CACERT=%s FETCH_HTTP=%s bash %s %s %s %s %s - %s' "$(bench_q "$TLS_DIR/ca.pem")" "$2" \
		"$(bench_q "$ESI_ROOT/test/bench.d/fetch-pages")" "$(bench_q "$url")" "$FORGE" "$FORGE_PAGES" \
		"$BENCH_CONNS" "$(bench_q "$BENCH_WORK/tls_$1.$3")"
}
Q_T0=$Q_A
Q_T2=${Q_A//eve./eve_h2.}
Q_T1=${Q_A//eve./eve_h1.}
bench_script_new phase_tls
bench_script_line "SET esi_fdw.max_connections = $BENCH_CONNS;"
for ((i = 0; i <= BENCH_REPS; i++)); do
	bench_script_cold "T0:$i" "$Q_T0" "$RESET"
	bench_script_line "\\! $(tls_fetch h2 2 "$i")"
	bench_script_cold "T2:$i" "$Q_T2" "$RESET"
	bench_script_line "\\! $(tls_fetch h1 1.1 "$i")"
	bench_script_cold "T1:$i" "$Q_T1" "$RESET"
done
# the requests of one cold scan through each front, from its log
for f in h2 h1; do
	bench_script_line "\\! $RESET" "$BENCH_CLEAR" "\\! wc -l <$(bench_q "$TLS_DIR/$f/logs/access.log") >$(bench_q "$BENCH_WORK/tls_$f.mark")"
	if [ "$f" = h2 ]; then q=$Q_T2; else q=$Q_T1; fi
	bench_script_plain "Tlog$f" "$q"
	bench_script_line "\\! wc -l <$(bench_q "$TLS_DIR/$f/logs/access.log") >>$(bench_q "$BENCH_WORK/tls_$f.mark")"
done
for ((i = 0; i <= BENCH_REPS; i++)); do
	for e in 0 2 1; do
		bench_script_line "TRUNCATE bench_orders;"
		case $e in
			0) q=$Q_E ;;
			2) q=${Q_E//eve./eve_h2.} ;;
			1) q=${Q_E//eve./eve_h1.} ;;
		esac
		bench_script_cold "E$e:$i" "$q" "$RESET"
	done
done
bench_script_plain TEcheck "$Q_B_CHECK"
TLS_LAT_PRE="$RESET && $(bench_sim_cmd "config?latency_ms=$BENCH_LATENCY_MS")"
for ((i = 0; i <= BENCH_LAT_REPS; i++)); do
	bench_script_cold "L2:$i" "$Q_T2" "$TLS_LAT_PRE"
	bench_script_cold "L1:$i" "$Q_T1" "$TLS_LAT_PRE"
done
bench_script_line "\\! $RESET && $(bench_sim_cmd "config?latency_ms=0")"
bench_run_script

for ((i = 0; i <= BENCH_REPS; i++)); do
	for f in h2 h1; do
		[ -s "$BENCH_WORK/tls_$f.$i" ] || bench_die "curl through the $f front, run $i, failed (see above)"
	done
	BENCH_TIME[D2:$i]=$(cat "$BENCH_WORK/tls_h2.$i")
	BENCH_TIME[D1:$i]=$(cat "$BENCH_WORK/tls_h1.$i")
	for lab in T0 T2 T1; do
		[ "${BENCH_RESULT[$lab:$i]:-}" = "$csv_rows" ] ||
			{ echo "    DATA MISMATCH: $lab:$i counted ${BENCH_RESULT[$lab:$i]:-nothing}, CSV has $csv_rows"; data_check=FAIL; }
	done
done
declare -A TMED
for lab in T0 T2 T1 D2 D1 E0 E2 E1; do
	TMED[$lab]=$(bench_times "$lab" "$BENCH_REPS" | bench_median)
done
for lab in L2 L1; do
	TMED[$lab]=$(bench_times "$lab" "$BENCH_LAT_REPS" | bench_median)
	for ((i = 0; i <= BENCH_LAT_REPS; i++)); do
		[ "${BENCH_RESULT[$lab:$i]:-}" = "$csv_rows" ] ||
			{ echo "    DATA MISMATCH: $lab:$i counted ${BENCH_RESULT[$lab:$i]:-nothing}, CSV has $csv_rows"; data_check=FAIL; }
	done
done
TLS_IDEAL=$(((FORGE_PAGES + BENCH_CONNS - 1) / BENCH_CONNS * BENCH_LATENCY_MS))
tls_line() {
	printf "%-3s %-34s median %8.1f ms  best %8.1f ms  warm-up %8.1f  runs: %s\n" "$1" "$2" "${TMED[$1]}" \
		"$(bench_times "$1" "$BENCH_REPS" | bench_min)" "${BENCH_TIME[$1:0]}" "$(bench_times "$1" "$BENCH_REPS" | bench_list)"
}
tls_line T0 "count(*) plain HTTP (baseline)"
tls_line T2 "count(*) HTTP/2 over TLS"
tls_line T1 "count(*) HTTP/1.1 over TLS 1.3"
tls_line D2 "curl --http2, same front"
tls_line D1 "curl --http1.1, same front"
tls_line E0 "INSERT..SELECT cold, plain HTTP"
tls_line E2 "INSERT..SELECT cold, HTTP/2"
tls_line E1 "INSERT..SELECT cold, HTTP/1.1"
tls_lat_line() {
	printf "%-3s %-34s median %8.1f ms  best %8.1f ms  runs: %-16s ideal ceil(%d/%d)x%d = %d ms -> %.2fx\n" "$1" "$2" \
		"${TMED[$1]}" "$(bench_times "$1" "$BENCH_LAT_REPS" | bench_min)" "$(bench_times "$1" "$BENCH_LAT_REPS" | bench_list)" \
		"$FORGE_PAGES" "$BENCH_CONNS" "$BENCH_LATENCY_MS" "$TLS_IDEAL" "$(bench_calc "${TMED[$1]} / $TLS_IDEAL")"
}
tls_lat_line L2 "latency ${BENCH_LATENCY_MS}ms, HTTP/2 (8 streams)"
tls_lat_line L1 "latency ${BENCH_LATENCY_MS}ms, HTTP/1.1 (8 conns)"
for f in h2 h1; do
	{ read -r mark; read -r mark_end; } <"$BENCH_WORK/tls_$f.mark"
	echo "    one cold scan through the $f front (its log): $(sed -n "$((mark + 1)),${mark_end}p" "$TLS_DIR/$f/logs/access.log" |
		awk '{ n++; c[$1] = 1; p[$3 " " $4] = 1 } END { printf "%d requests over %d connection(s),", n, length(c); for (k in p) printf " %s", k }')"
done
echo "    table after the last E: ${BENCH_RESULT[TEcheck]}"
[ -z "${BENCH_RESULT[Bcheck]:-}" ] || check_same "E through the TLS fronts vs COPY" "${BENCH_RESULT[TEcheck]:-}" "${BENCH_RESULT[Bcheck]:-}"

R_T2D2=$(bench_calc "${TMED[T2]} / ${TMED[D2]}")
R_T1D1=$(bench_calc "${TMED[T1]} / ${TMED[D1]}")
R_E2D2=$(bench_calc "${TMED[E2]} / ${TMED[D2]}")
R_E1D1=$(bench_calc "${TMED[E1]} / ${TMED[D1]}")
R_T2T0=$(bench_calc "${TMED[T2]} / ${TMED[T0]}")
R_T1T0=$(bench_calc "${TMED[T1]} / ${TMED[T0]}")
R_E2E0=$(bench_calc "${TMED[E2]} / ${TMED[E0]}")
R_E1E0=$(bench_calc "${TMED[E1]} / ${TMED[E0]}")
printf "T2/D2 = %.3f    T1/D1 = %.3f    E2/D2 = %.3f    E1/D1 = %.3f\n" "$R_T2D2" "$R_T1D1" "$R_E2D2" "$R_E1D1"
printf "T2/T0 = %.3f    T1/T0 = %.3f    E2/E0 = %.3f    E1/E0 = %.3f  (information: what TLS and the front cost)\n" \
	"$R_T2T0" "$R_T1T0" "$R_E2E0" "$R_E1E0"

for f in h2 h1; do tls_front_stop "$TLS_DIR" "$f"; done
esi_psql -q -d postgres -c "ALTER SYSTEM RESET esi_fdw.ca_file" -c "SELECT pg_reload_conf()" >/dev/null

bench_row "T0 count(*) plain HTTP (TLS baseline)" "$(printf '%.0f ms' "${TMED[T0]}")" "" ""
bench_row "T2 count(*) HTTP/2 over TLS" "$(printf '%.0f ms' "${TMED[T2]}")" "" ""
bench_row "T1 count(*) HTTP/1.1 over TLS 1.3" "$(printf '%.0f ms' "${TMED[T1]}")" "" ""
bench_row "D2 / D1 curl through the same fronts" "$(printf '%.0f / %.0f ms' "${TMED[D2]}" "${TMED[D1]}")" "" ""
bench_row "E0 / E2 / E1 INSERT ... SELECT cold" "$(printf '%.0f / %.0f / %.0f ms' "${TMED[E0]}" "${TMED[E2]}" "${TMED[E1]}")" "" ""
bench_row "T2/D2, T1/D1 (vs curl, same front)" "$(printf '%.3f, %.3f' "$R_T2D2" "$R_T1D1")" "" ""
bench_row "E2/D2, E1/D1 (vs curl, same front)" "$(printf '%.3f, %.3f' "$R_E2D2" "$R_E1D1")" "" ""
bench_row "T2/T0, T1/T0 (TLS + front, info)" "$(printf '%.3f, %.3f' "$R_T2T0" "$R_T1T0")" "" ""
bench_row "latency ${BENCH_LATENCY_MS}ms via TLS: HTTP/2, HTTP/1.1" \
	"$(printf '%.0f, %.0f ms = %.2fx, %.2fx' "${TMED[L2]}" "${TMED[L1]}" "$(bench_calc "${TMED[L2]} / $TLS_IDEAL")" "$(bench_calc "${TMED[L1]} / $TLS_IDEAL")")" \
	"ideal $TLS_IDEAL ms" ""
