# shellcheck shell=bash
# test/bench.d/static.sh - the cold path against independent ESI-like pages
# served by nginx (issue 17, item 5), sourced by test/bench
# (BENCH_ONLY=static) once the cluster, the simulator and B's table are
# ready; adds its rows to the summary (bench_row).  The simulator's pages of
# region $FORGE are fetched once as they come (gzip) and served by nginx
# (Debian's package) as static files from a loopback port: gzip_static, an
# ETag and Last-Modified of the file, Cache-Control max-age 300 and
# Expires, X-Pages, keep-alive without a request limit.  So the figures are
# not bound by the Python simulator.  Each round, in one session:
#
#   SA, SA0  the cold count(*) through esi_fdw (cache on, then off);
#   SEC, SEC0  the cold INSERT ... SELECT (cache on, then off);
#   SB       COPY of the same rows;
# then SD, curl --compressed of the same pages from nginx to /dev/null.
# Ratios: SA/SD, SA0/SD, SEC/SB, SEC0/SB.

STATIC_NGINX=${STATIC_NGINX:-/usr/sbin/nginx}
[ -x "$STATIC_NGINX" ] || bench_die "nginx not found ($STATIC_NGINX): apt-get install nginx"

section "static: region $FORGE ($FORGE_PAGES pages) served by nginx as static gzip files"
SDIR=$BENCH_WORK/static
mkdir -p "$SDIR/root/p" "$SDIR/logs" "$SDIR/tmp"
chmod -R 755 "$SDIR"
bench_sim reset
curl -sSf --no-progress-meter --parallel --parallel-max "$BENCH_CONNS" -H 'Accept: application/json' \
	-H 'Accept-Encoding: gzip' -H 'X-Compatibility-Date: 2020-01-01' \
	-o "$SDIR/root/p/#1.json.gz" \
	"$ESI_SIM_URL/markets/$FORGE/orders?order_type=all&page=[1-$FORGE_PAGES]" ||
	bench_die "fetching the pages for nginx failed"
for f in "$SDIR"/root/p/*.json.gz; do
	gzip -t "$f" 2>/dev/null || bench_die "$f is not gzip (the simulator sent it plain?)"
	gzip -dc "$f" >"${f%.gz}"
done
chmod 644 "$SDIR"/root/p/*
STATIC_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$SDIR/nginx.conf" <<NGINX
daemon on;
pid $SDIR/nginx.pid;
error_log $SDIR/logs/error.log warn;
worker_processes 1;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $SDIR/tmp/body;
  proxy_temp_path $SDIR/tmp/proxy;
  fastcgi_temp_path $SDIR/tmp/fastcgi;
  uwsgi_temp_path $SDIR/tmp/uwsgi;
  scgi_temp_path $SDIR/tmp/scgi;
  keepalive_requests 1000000;
  sendfile on;
  types { }
  default_type application/json;
  map \$arg_page \$page { "" 1; default \$arg_page; }
  server {
    listen 127.0.0.1:$STATIC_PORT;
    root $SDIR/root;
    location /_sim/ { return 200 "{}"; }
    location ~ ^/markets/$FORGE/orders/?\$ {
      gzip_static on;
      expires 300s;
      add_header X-Pages $FORGE_PAGES always;
      try_files /p/\$page.json =404;
    }
    location / { return 404 '{"error":"not found"}'; }
  }
}
NGINX
"$STATIC_NGINX" -p "$SDIR" -c "$SDIR/nginx.conf" -e "$SDIR/logs/error.log" ||
	bench_die "nginx did not start (see $SDIR/logs/error.log)"
# shellcheck disable=SC2034  # read by test/bench's cleanup
STATIC_STARTED=1
STATIC_URL=http://127.0.0.1:$STATIC_PORT
echo "nginx:   $("$STATIC_NGINX" -v 2>&1) at $STATIC_URL, $(du -sh "$SDIR/root/p" | cut -f1) of pages (plain and gzip)"

bench_psql -q -v url="$STATIC_URL" <<'SQL'
SET client_min_messages = warning;
CREATE SERVER esi_static FOREIGN DATA WRAPPER esi_fdw OPTIONS (base_url :'url');
CREATE SCHEMA eve_static;
IMPORT FOREIGN SCHEMA markets LIMIT TO (market_orders) FROM SERVER esi_static INTO eve_static;
SQL
Q_SA="SELECT count(*) FROM eve_static.market_orders WHERE region_id = $FORGE"
Q_SE="INSERT INTO bench_orders SELECT order_id, type_id, location_id, system_id,
	volume_total, volume_remain, min_volume, price, is_buy_order, duration, issued, range
	FROM eve_static.market_orders WHERE region_id = $FORGE"

bench_script_new phase_static
bench_script_line "SET esi_fdw.max_connections = $BENCH_CONNS;"
for ((i = 0; i <= BENCH_REPS; i++)); do
	bench_script_cold "SA:$i" "$Q_SA"
	bench_script_line "SET esi_fdw.cache = off;"
	bench_script_cold "SA0:$i" "$Q_SA"
	bench_script_line "RESET esi_fdw.cache;" "TRUNCATE bench_orders;"
	bench_script_cold "SEC:$i" "$Q_SE"
	bench_script_line "SET esi_fdw.cache = off;" "TRUNCATE bench_orders;"
	bench_script_cold "SEC0:$i" "$Q_SE"
	bench_script_line "RESET esi_fdw.cache;" "TRUNCATE bench_orders;"
	bench_script_timed "SB:$i" "$Q_B"
done
bench_script_line "$BENCH_CLEAR"
bench_run_script
for ((i = 0; i <= BENCH_REPS; i++)); do
	bash "$ESI_ROOT/test/bench.d/fetch-pages" "$STATIC_URL" "$FORGE" "$FORGE_PAGES" "$BENCH_CONNS" \
		- "$BENCH_WORK/sdevnull.$i" || bench_die "fetch from nginx to /dev/null $i failed"
	BENCH_TIME[SD:$i]=$(cat "$BENCH_WORK/sdevnull.$i")
done
for lab in SA SA0 SEC SEC0 SB SD; do
	med=$(bench_times "$lab" "$BENCH_REPS" | bench_median)
	printf -v "S_${lab}" '%s' "$med"
	printf "%-5s median %8.1f ms  best %8.1f ms  warm-up %8.1f  runs: %s\n" "$lab" \
		"$med" "$(bench_times "$lab" "$BENCH_REPS" | bench_min)" "${BENCH_TIME[$lab:0]}" \
		"$(bench_times "$lab" "$BENCH_REPS" | bench_list)"
done
for ((i = 0; i <= BENCH_REPS; i++)); do
	for lab in "SA:$i" "SA0:$i"; do
		[ "${BENCH_RESULT[$lab]:-}" = "$csv_rows" ] || { echo "    DATA MISMATCH: $lab counted ${BENCH_RESULT[$lab]:-nothing}, CSV has $csv_rows"; data_check=FAIL; }
	done
done
# shellcheck disable=SC2153,SC2154  # S_* are set by printf -v above
{
	R_SAD=$(bench_calc "$S_SA / $S_SD")
	R_SA0D=$(bench_calc "$S_SA0 / $S_SD")
	R_SECB=$(bench_calc "$S_SEC / $S_SB")
	R_SEC0B=$(bench_calc "$S_SEC0 / $S_SB")
	printf "SA/SD = %.3f   SA0/SD = %.3f   SEC/SB = %.3f   SEC0/SB = %.3f   SA-SA0 = %.1f ms\n" \
		"$R_SAD" "$R_SA0D" "$R_SECB" "$R_SEC0B" "$(bench_calc "$S_SA - $S_SA0")"
	bench_row "static: A/D (cold count(*), nginx pages)" "$(bench_fmt "$R_SAD" 3)" "<= 1.0" "$(bench_verdict "$R_SAD" 1.0)"
	bench_row "static: A0/D (the same, cache off)" "$(bench_fmt "$R_SA0D" 3)" "" ""
	bench_row "static: EC/B (cold INSERT ... SELECT)" "$(bench_fmt "$R_SECB" 3)" "<= 1.0" "$(bench_verdict "$R_SECB" 1.0)"
	bench_row "static: EC0/B (the same, cache off)" "$(bench_fmt "$R_SEC0B" 3)" "" ""
}
