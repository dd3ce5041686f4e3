#!/usr/bin/env bash
# test/t/102_transport.sh - around the transport (issue 15): TLS checks
# (expired, wrong host, unknown CA: one attempt each and the cause in
# DETAIL; the system CA bundle when esi_fdw.ca_file is empty; a server that
# speaks only TLS 1.1 and older), base_url on [::1], a host that does not
# resolve, the proxy (superuser only, CONNECT through tinyproxy, no_proxy,
# the postmaster's https_proxy/http_proxy ignored), and HTTP/2 stream errors
# from test/h2_hostile.py (RST_STREAM on a read and on a write, REFUSED_STREAM
# and GOAWAY on a write: resent only when HTTP/2 says the server did not
# process it).
#
# It runs in a network namespace of its own (unshare --net, loopback only),
# so that the DNS query for a name that does not resolve cannot leave the
# machine, with a cluster and a simulator of its own: the cluster's
# postmaster starts with proxy variables in its environment that point at a
# dead port.  Without unshare the DNS case is skipped.  Prints TAP.
set -uo pipefail
export LC_ALL=C
TEST_DIR=${TEST_DIR:-$(mktemp -d)}
mkdir -p "$TEST_DIR"

# into a network namespace with nothing but loopback, once
if [ -z "${ESI_T102_NETNS:-}" ] && unshare --net true 2>/dev/null; then
	exec env ESI_T102_NETNS=1 TEST_DIR="$TEST_DIR" unshare --net -- bash "$0" "$@"
fi
NETNS=0
if [ "${ESI_T102_NETNS:-}" = 1 ]; then
	# lo up (SIOCGIFFLAGS, SIOCSIFFLAGS | IFF_UP): 127.0.0.1 and ::1
	python3 -c '
import fcntl, socket, struct
s = socket.socket()
flags = struct.unpack("16sh", fcntl.ioctl(s, 0x8913, struct.pack("16sh", b"lo", 0)))[1]
fcntl.ioctl(s, 0x8914, struct.pack("16sh", b"lo", flags | 1))' && NETNS=1
fi

DB=t_transport
# shellcheck source=test/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=test/tap.sh
. "$(dirname "$0")/../tap.sh"
# shellcheck source=test/simlib.sh
. "$(dirname "$0")/../simlib.sh"
# shellcheck source=test/tlsfront.sh
. "$(dirname "$0")/../tlsfront.sh"

H2_PYTHON=/usr/bin/python3      # Debian's, with python3-h2
AYLA=2112625428
PG_REL=$TEST_DIR/pg
H2_PID=
FRONTS=()

finish() {
	local f
	[ -n "$H2_PID" ] && kill "$H2_PID" 2>/dev/null
	for f in ${FRONTS[@]+"${FRONTS[@]}"}; do tls_front_stop "$TEST_DIR" "$f"; done
	tls_proxy_stop "$TEST_DIR"
	esi_sim_stop "$PG_DIR" >/dev/null 2>&1
	esi_cluster_stop "$PG_REL" >/dev/null 2>&1
}
trap finish EXIT

# front NAME MODE [CERT] - a TLS front before the simulator; its URL in URL
front() {
	FRONTS+=("$1")
	URL=$(tls_front_start "$TEST_DIR" "$1" "$2" "$ESI_SIM_URL" "${3:-server}" 2>>"$TEST_DIR/fronts.err")
}
# set_ca FILE - esi_fdw.ca_file for the whole cluster, once new sessions see it
set_ca() {
	local i
	q "ALTER SYSTEM SET esi_fdw.ca_file = '$1'" "SELECT pg_reload_conf()" >/dev/null
	for ((i = 0; i < 100; i++)); do
		[ "$(q "SHOW esi_fdw.ca_file")" = "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
# front_port NAME - its port
front_port() { cat "$TEST_DIR/$1/port"; }
# query SERVER TYPE_ID - the name of a type read through a server (schema of
# the same name)
query() { q "SELECT name FROM $1.universe_type_details WHERE type_id = $2"; }
# server NAME BASE_URL [OPTIONS] - a server and its universe_type_details
server() {
	q "CREATE SERVER $1 FOREIGN DATA WRAPPER esi_fdw OPTIONS (base_url '$2'${3:+, $3})" \
		"CREATE SCHEMA $1" \
		"IMPORT FOREIGN SCHEMA universe LIMIT TO (universe_type_details) FROM SERVER $1 INTO $1" >/dev/null
}

# --- a cluster of our own: proxies in the postmaster's environment ----------------
chmod 755 "$TEST_DIR"
tls_make_certs "$TEST_DIR" >"$TEST_DIR/certs.out" 2>&1 || {
	not_ok "a test CA and certificates (openssl)" "$TEST_DIR/certs.out"
	echo "Bail out! no certificates"
	exit 1
}
DEAD=http://127.0.0.1:$(tls_free_port)     # nothing listens there
https_proxy=$DEAD http_proxy=$DEAD all_proxy=$DEAD \
	ESI_CLUSTER_FRESH=1 esi_cluster_start "$PG_REL" 54332 >"$TEST_DIR/cluster.out" 2>&1
PG_DIR=$ESI_CLUSTER_DIR
esi_sim_start "$PG_DIR" >>"$TEST_DIR/cluster.out" 2>&1
export PGHOST=$PG_DIR/sock PGPORT=54332 PGUSER=postgres ESI_SIM_URL
simlib_setup_db "ALTER DATABASE $DB SET esi_fdw.cache = off"
set_ca "$TEST_DIR/ca.pem"
if [ "$NETNS" = 1 ]; then
	out=$(awk -F: 'NR > 2 {gsub(/ /, "", $1); print $1}' /proc/net/dev)
	expect "the test runs in a network namespace with loopback only" "$out" "lo"
fi
pm=$(head -1 "$PG_DIR/data/postmaster.pid")
out=$(tr '\0' '\n' <"/proc/$pm/environ" | grep -E '^(https?|all)_proxy=' | sort | tr '\n' ' ')
expect "the postmaster's environment names a proxy on a dead port (libcurl reads these)" "$out" \
	"all_proxy=$DEAD http_proxy=$DEAD https_proxy=$DEAD "

# --- TLS checks -----------------------------------------------------------------
declare -A CAUSE=(
	[expired]="SSL certificate problem: certificate has expired"
	[wronghost]="SSL: no alternative certificate subject name matches target host name 'localhost'"
	[unknownca]="SSL certificate problem: unable to get local issuer certificate"
)
declare -A ALERT=([expired]="alert certificate expired" [unknownca]="alert unknown ca")
for cert in expired wronghost unknownca; do
	front "bad_$cert" h2 "$cert"
	url=$URL
	server "bad_$cert" "$url"
	out=$(query "bad_$cert" 34)
	expect_match "$cert certificate: HV00N, the cause in DETAIL, one attempt (not retried)" "$out" \
		"^ERROR:  HV00N: could not read GET /universe/types/34 from ESI \(foreign table \"universe_type_details\"\)
DETAIL:  the server's TLS certificate was refused: ${CAUSE[$cert]//./\\.} \(1 attempt\)\.
HINT:  Check that base_url names the host its certificate is for; a private CA goes in esi_fdw\.ca_file"
	# the front's next connection number tells how many came before it
	curl -sk -o /dev/null "$url/_sim/stats"
	out=$(tls_front_log "$TEST_DIR" "bad_$cert" | awk 'END {print $1}')
	expect "... the front saw one connection from esi_fdw" "$out" "2"
	if [ -n "${ALERT[$cert]:-}" ]; then
		out=$(grep -c "${ALERT[$cert]}" "$TEST_DIR/bad_$cert/logs/error.log")
		expect "... whose handshake esi_fdw ended with the TLS alert '${ALERT[$cert]}'" "$out" "1"
	fi
	tls_front_stop "$TEST_DIR" "bad_$cert"
done

# esi_fdw.ca_file empty: the system's bundle, which does not hold the test CA
front good h2
server good "$URL"
out=$(query good 34)
expect "a good certificate with esi_fdw.ca_file = the test CA: the row" "$out" "Tritanium"
set_ca ""
out=$(query good 34)
expect_match "esi_fdw.ca_file = '': the system CA bundle is used, and the test CA is not in it" "$out" \
	"DETAIL:  the server's TLS certificate was refused: SSL certificate problem: unable to get local issuer certificate \(1 attempt\)\."
set_ca "$TEST_DIR/ca.pem"

# a server that speaks TLS 1.0 and 1.1 only (nginx allows it at OpenSSL's
# security level 0): esi_fdw asks for TLS 1.2 at least
front legacy h1
legacy=$URL
tls_front_stop "$TEST_DIR" legacy
sed -i 's/ssl_protocols TLSv1.3;/ssl_protocols TLSv1 TLSv1.1; ssl_ciphers DEFAULT@SECLEVEL=0;/' "$TEST_DIR/legacy/nginx.conf"
"$TLS_NGINX" -p "$TEST_DIR/legacy" -c "$TEST_DIR/legacy/nginx.conf" -g 'user nobody nogroup;' \
	2>>"$TEST_DIR/fronts.err"
for ((i = 0; i < 50; i++)); do [ -s "$TEST_DIR/legacy/nginx.pid" ] && break; sleep 0.1; done
served=$(curl -sS --tlsv1.1 --tls-max 1.1 --ciphers 'DEFAULT@SECLEVEL=0' --cacert "$TEST_DIR/ca.pem" \
	-o /dev/null -w '%{http_code}' "$legacy/_sim/stats" 2>&1)
if [ "$served" = 200 ]; then
	server legacy "$legacy"
	out=$(q "SET esi_fdw.max_retries = 1" "SELECT name FROM legacy.universe_type_details WHERE type_id = 34")
	expect_match "a server speaking only TLS 1.1 and older is refused: the handshake fails (HV00N)" "$out" \
		"^ERROR:  HV00N: could not read GET /universe/types/34 from ESI .*
DETAIL:  the TLS handshake failed: .*alert protocol version \(2 attempts\)\.
HINT:  esi_fdw speaks TLS 1.2 or 1.3"
	out=$(grep -c "unsupported protocol" "$TEST_DIR/legacy/logs/error.log")
	expect "... the front refused both attempts (unsupported protocol)" "$out" "2"
	out=$(tls_front_log "$TEST_DIR" legacy | grep -vc "/_sim/stats")
	expect "... and served esi_fdw nothing" "$out" "0"
else
	ok "# skip a TLS 1.1 server: this nginx/OpenSSL does not serve TLS 1.1 ($served)"
fi
tls_front_stop "$TEST_DIR" legacy

# --- base_url on the IPv6 loopback ------------------------------------------------
if python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
	front v6 h2c
	server v6 "http://[::1]:$(front_port v6)" "http_version '2'"
	out=$(query v6 36)
	expect "base_url 'http://[::1]:PORT' (a plain HTTP/2 front on ::1): the row" "$out" "Mexallon"
	out=$(tls_front_log "$TEST_DIR" v6 | awk '{print $3, $5, $6, $7}')
	expect "... which the front served" "$out" "HTTP/2.0 200 GET /universe/types/36"
	tls_front_stop "$TEST_DIR" v6
else
	ok "# skip base_url on [::1]: this machine has no IPv6 loopback"
fi

# --- a host that does not resolve ----------------------------------------------
if [ "$NETNS" = 1 ]; then
	server nodns "http://esi-fdw-test.invalid"
	out=$(q "SET esi_fdw.max_retries = 2" "SELECT name FROM nodns.universe_type_details WHERE type_id = 34")
	expect_match "a host that does not resolve: HV00N naming the host, tried max_retries + 1 times" "$out" \
		"^ERROR:  HV00N: could not read GET /universe/types/34 from ESI .*
DETAIL:  Could not resolve host: esi-fdw-test\.invalid \(3 attempts\)\.
HINT:  Check the host name in the server's base_url \(or sso_url\) option"
else
	ok "# skip a host that does not resolve: no network namespace (its DNS query would leave loopback)"
fi

# --- the proxy --------------------------------------------------------------------
"$PSQL" -X -q -d postgres -c "DROP ROLE IF EXISTS t102_user" -c "CREATE ROLE t102_user LOGIN" >/dev/null 2>&1
out=$(PGUSER=t102_user q "SET esi_fdw.proxy = 'http://127.0.0.1:3128'")
expect_match "esi_fdw.proxy is refused to a role that is not a superuser (42501)" "$out" \
	"^ERROR:  42501: permission denied to set parameter \"esi_fdw.proxy\""
out=$(PGUSER=t102_user q "SET esi_fdw.no_proxy = '*'")
expect_match "... and so is esi_fdw.no_proxy" "$out" \
	"^ERROR:  42501: permission denied to set parameter \"esi_fdw.no_proxy\""
out=$(query public 34)
expect "the postmaster's http_proxy is ignored: plain HTTP reaches the simulator" "$out" "Tritanium"
out=$(query good 35)
expect "... and its https_proxy: HTTPS reaches the front directly" "$out" "Pyerite"
proxy=$(tls_proxy_start "$TEST_DIR" 2>"$TEST_DIR/proxy.err")
gport=$(front_port good)
out=$(q "SET esi_fdw.proxy = '$proxy'" "SELECT name FROM good.universe_type_details WHERE type_id = 37")
expect "with esi_fdw.proxy set to tinyproxy a scan of the HTTPS front works" "$out" "Isogen"
out=$(grep -c "Request (file descriptor [0-9]*): CONNECT localhost:$gport HTTP/1.1" "$TEST_DIR/proxy/tinyproxy.log")
expect "... through a CONNECT tunnel (tinyproxy's log)" "$out" "1" "$TEST_DIR/proxy/tinyproxy.log"
out=$(q "SET esi_fdw.proxy = '$proxy'" "SET esi_fdw.no_proxy = 'localhost'" \
	"SELECT name FROM good.universe_type_details WHERE type_id = 38")
expect "esi_fdw.no_proxy names hosts reached directly" "$out" "Nocxium"
out=$(grep -c "CONNECT localhost:$gport" "$TEST_DIR/proxy/tinyproxy.log")
expect "... no new CONNECT" "$out" "1"
out=$(tls_front_log "$TEST_DIR" good | awk '{print $7}' | tr '\n' ' ')
expect "the front served each of these reads once" "$out" \
	"/universe/types/34 /universe/types/35 /universe/types/37 /universe/types/38 "
tls_proxy_stop "$TEST_DIR"

# --- HTTP/2 stream errors (test/h2_hostile.py) ------------------------------------
rm -f "$TEST_DIR/h2.port"
"$H2_PYTHON" "$ESI_ROOT/test/h2_hostile.py" --cert "$TEST_DIR/server.pem" --key "$TEST_DIR/server.key" \
	--port-file "$TEST_DIR/h2.port" >"$TEST_DIR/h2.log" 2>&1 &
H2_PID=$!
for ((i = 0; i < 100; i++)); do [ -s "$TEST_DIR/h2.port" ] && break; sleep 0.1; done
read -r H2_PORT H2_CTL <"$TEST_DIR/h2.port" 2>/dev/null
if [ -z "${H2_CTL:-}" ]; then
	not_ok "test/h2_hostile.py starts" "$TEST_DIR/h2.log"
	echo "1..$n"
	exit 1
fi
h2() { curl -fsS -m 10 "http://127.0.0.1:$H2_CTL$1"; }
# h2log - what the server got since the last reset: one line a request,
# "connection method path outcome"
h2log() {
	h2 /log | python3 -c '
import json, sys
for e in json.load(sys.stdin):
    q = "?" + e["query"] if e["query"] else ""
    print(e["conn"], e["method"], e["path"] + q, e["outcome"])'
}
write() {
	q "SELECT * FROM esi.post_character_contacts($AYLA, 5.0, ARRAY[$1]::bigint[], server => 'hostile')"
}
q "CREATE SERVER hostile FOREIGN DATA WRAPPER esi_fdw OPTIONS (base_url 'https://localhost:$H2_PORT', sso_url '$ESI_SIM_URL', sso_client_id 'sim-native-client', sso_redirect_uri 'http://localhost/callback')" \
	"CREATE SCHEMA hostile" \
	"IMPORT FOREIGN SCHEMA universe LIMIT TO (universe_types) FROM SERVER hostile INTO hostile" >/dev/null
lurl=$(q "SELECT esi.login('hostile', ARRAY['esi-characters.write_contacts.v1'])")
loc=$(curl -sS -o /dev/null -w '%{redirect_url}' "$lurl&character_id=$AYLA")
out=$(q "SELECT character_id FROM esi.login_callback('$loc')")
expect "HTTP/2 server: a login for its writes (SSO at the simulator)" "$out" "$AYLA"

h2 /reset >/dev/null
out=$(q "SELECT string_agg(type_id::text, ',' ORDER BY type_id) FROM hostile.universe_types")
expect "an HTTP/2 server with ESI's headers: 3 pages, exact rows" "$out" \
	"101,102,103,104,105,201,202,203,204,205,301,302,303,304,305"
out=$(h2log | awk '{print $1}' | sort -u)
expect "... multiplexed on one connection" "$out" "1"

h2 /reset >/dev/null
h2 "/fault?kind=rst&method=GET&path=/universe/types&count=1" >/dev/null
out=$(q "SELECT string_agg(type_id::text, ',' ORDER BY type_id) FROM hostile.universe_types")
expect "RST_STREAM INTERNAL_ERROR on a read's first attempt: retried, exact rows" "$out" \
	"101,102,103,104,105,201,202,203,204,205,301,302,303,304,305"
out=$(h2log | awk '{print $2, $3, $4}' | sort)
expect "... page 1 was asked twice" "$out" \
	$'GET /universe/types?page=1 answered\nGET /universe/types?page=1 processed_reset\nGET /universe/types?page=2 answered\nGET /universe/types?page=3 answered'

h2 /reset >/dev/null
h2 "/fault?kind=rst&method=POST&path=/characters/" >/dev/null
out=$(write 90000001)
expect_match "RST_STREAM after a write was received: 08007, the write may have happened, not sent again" "$out" \
	"^ERROR:  08007: the reply of ESI to POST /characters/$AYLA/contacts\\?standing=5 was lost: the write may have happened
DETAIL:  The request was sent, then: the server broke off HTTP/2: HTTP/2 stream 1 was not closed cleanly: INTERNAL_ERROR \\(err 2\\)\\.  It is not sent again\\.
HINT:  Check with the matching GET route before sending it again\\."
out=$(h2log)
expect "... the server got it exactly once" "$out" "1 POST /characters/$AYLA/contacts?standing=5 processed_reset"

h2 /reset >/dev/null
h2 "/fault?kind=refused&method=POST&path=/characters/" >/dev/null
out=$(write 90000002)
expect "REFUSED_STREAM on a write: sent again (HTTP/2: not processed), and it succeeds" "$out" "90000002"
out=$(h2log)
expect "... on a new connection, processed once" "$out" \
	"1 POST /characters/$AYLA/contacts?standing=5 refused
2 POST /characters/$AYLA/contacts?standing=5 answered"

h2 /reset >/dev/null
h2 "/fault?kind=refused&method=POST&path=/characters/&count=10" >/dev/null
out=$(write 90000006)
expect_match "REFUSED_STREAM each time: libcurl gives up after 5 more tries; HV00N, the write did not happen" "$out" \
	"^ERROR:  HV00N: could not send POST /characters/$AYLA/contacts\\?standing=5 to ESI: the write did not happen"
out=$(h2log | awk '{print $4}' | sort | uniq -c | awk '{print $1, $2}')
expect "... never processed" "$out" "6 refused"

h2 /reset >/dev/null
h2 "/fault?kind=goaway&method=POST&path=/characters/" >/dev/null
out=$(write 90000003)
expect "GOAWAY whose last stream id is below a write's stream: sent again, and it succeeds" "$out" "90000003"
out=$(h2log)
expect "... on a new connection, processed once" "$out" \
	"1 POST /characters/$AYLA/contacts?standing=5 goaway
2 POST /characters/$AYLA/contacts?standing=5 answered"

h2 /reset >/dev/null
h2 "/fault?kind=goaway&method=POST&path=/characters/&count=5" >/dev/null
out=$(q "SET esi_fdw.max_retries = 1" "SELECT * FROM esi.post_character_contacts($AYLA, 5.0, ARRAY[90000004]::bigint[], server => 'hostile')")
expect_match "GOAWAY each time: sent max_retries + 1 times, then HV00N, the write did not happen" "$out" \
	"^ERROR:  HV00N: could not send POST /characters/$AYLA/contacts\?standing=5 to ESI: the write did not happen
DETAIL:  the server broke off HTTP/2: "
out=$(h2log | awk '{print $1, $4}' | tr '\n' ' ')
expect "... never processed" "$out" "1 goaway 2 goaway "

h2 /reset >/dev/null
h2 "/fault?kind=goaway_processed&method=POST&path=/characters/" >/dev/null
out=$(write 90000005)
expect_match "GOAWAY that covers the write's stream, no answer: 08007, not sent again" "$out" \
	"^ERROR:  08007: the reply of ESI to POST /characters/$AYLA/contacts\?standing=5 was lost: the write may have happened"
out=$(h2log)
expect "... the server got it exactly once" "$out" "1 POST /characters/$AYLA/contacts?standing=5 processed_goaway"

[ "$failures" -eq 0 ] && simlib_drop_db
echo "1..$n"
[ "$failures" -eq 0 ]
