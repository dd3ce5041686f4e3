# test/tlsfront.sh - the production transport in front of the simulator:
# a throw-away CA and certificates (openssl), Debian's nginx as a TLS front
# (HTTP/2, or HTTP/1.1 over TLS 1.3 only) before the plain-HTTP simulator,
# and tinyproxy as a forward proxy (CONNECT for HTTPS).  Everything listens
# on loopback only.  Sourced by test scripts after test/lib.sh:
#
#   tls_make_certs DIR            CA + certificates in DIR (see below)
#   tls_front_start DIR NAME MODE UPSTREAM [CERT] [EXTRA]
#                                 nginx in DIR/NAME; MODE: h2 | h1 | h2c;
#                                 CERT: server (default) | wronghost |
#                                 expired | unknownca; EXTRA: more nginx
#                                 directives for the server block (e.g.
#                                 "keepalive_requests 10;"); prints the
#                                 front's base URL (https://localhost:PORT)
#   tls_front_stop DIR NAME
#   tls_proxy_start DIR           tinyproxy in DIR/proxy; prints its URL
#   tls_proxy_stop DIR
#   tls_free_port                 prints a free loopback TCP port
#
# Certificates made by tls_make_certs (PEM, in DIR):
#   ca.pem                 the test CA (what esi_fdw.ca_file points at)
#   server.{pem,key}       localhost, 127.0.0.1, ::1, signed by ca.pem
#   wronghost.{pem,key}    wrong.example only, signed by ca.pem
#   expired.{pem,key}      localhost, signed by ca.pem, expired in 2020
#   unknownca.{pem,key}    localhost, signed by another CA (not ca.pem)

TLS_NGINX=${TLS_NGINX:-/usr/sbin/nginx}
TLS_TINYPROXY=${TLS_TINYPROXY:-/usr/bin/tinyproxy}

tls_free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# _tls_sign DIR NAME SAN CA [STARTDATE ENDDATE] - a key and a certificate
# for SAN signed by CA (DIR/CA.pem, DIR/CA.key), with openssl ca so that
# the validity can lie in the past
_tls_sign() {
	local dir=$1 name=$2 san=$3 ca=$4 start=${5:-} end=${6:-} db=$1/.ca-$2
	rm -rf "$db"
	mkdir -p "$db"
	: >"$db/index.txt"
	echo 1000 >"$db/serial"
	cat >"$db/ca.cnf" <<EOF
[ ca ]
default_ca = test_ca
[ test_ca ]
dir = $db
database = $db/index.txt
serial = $db/serial
new_certs_dir = $db
certificate = $dir/$ca.pem
private_key = $dir/$ca.key
default_md = sha256
default_days = 30
policy = any
copy_extensions = none
unique_subject = no
x509_extensions = leaf
[ any ]
commonName = supplied
[ leaf ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = $san
EOF
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$dir/$name.key" -subj "/CN=$name" -out "$db/req.csr" 2>/dev/null || return 1
	if [ -n "$start" ]; then
		openssl ca -batch -config "$db/ca.cnf" -in "$db/req.csr" -out "$dir/$name.pem" \
			-startdate "$start" -enddate "$end" -notext 2>"$db/err" || { cat "$db/err" >&2; return 1; }
	else
		openssl ca -batch -config "$db/ca.cnf" -in "$db/req.csr" -out "$dir/$name.pem" \
			-notext 2>"$db/err" || { cat "$db/err" >&2; return 1; }
	fi
	rm -rf "$db"
}

# _tls_ca DIR NAME - a self-signed CA certificate DIR/NAME.pem and its key
_tls_ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$1/$2.key" -out "$1/$2.pem" -days 30 -subj "/CN=esi_fdw test $2" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

tls_make_certs() {
	local dir=$1 local_san="DNS:localhost,IP:127.0.0.1,IP:::1"
	mkdir -p "$dir"
	[ -s "$dir/server.pem" ] && [ -s "$dir/ca.pem" ] && return 0
	_tls_ca "$dir" ca || return 1
	_tls_ca "$dir" otherca || return 1
	_tls_sign "$dir" server "$local_san" ca || return 1
	_tls_sign "$dir" wronghost "DNS:wrong.example" ca || return 1
	_tls_sign "$dir" expired "$local_san" ca 20200101000000Z 20200201000000Z || return 1
	_tls_sign "$dir" unknownca "$local_san" otherca || return 1
	# nginx's workers (nobody) read the keys; the directory is a test's own
	chmod 644 "$dir"/*.pem "$dir"/*.key
}

# tls_front_start DIR NAME MODE UPSTREAM [CERT] [EXTRA]
tls_front_start() {
	local dir=$1 name=$2 mode=$3 upstream=$4 cert=${5:-server} extra=${6:-}
	local fdir=$1/$2 port listen_opts protocols i
	mkdir -p "$fdir/logs" "$fdir/tmp"
	chmod 755 "$fdir" "$fdir/logs" "$fdir/tmp"
	tls_front_stop "$dir" "$name"
	port=$(tls_free_port)
	case $mode in
		h2) listen_opts="ssl http2"; protocols="TLSv1.2 TLSv1.3" ;;
		h1) listen_opts="ssl"; protocols="TLSv1.3" ;;
		h2c) listen_opts="http2"; protocols= ;;
		*) echo "tls_front_start: unknown mode $mode" >&2; return 1 ;;
	esac
	{
		echo "daemon on;"
		echo "pid $fdir/nginx.pid;"
		echo "error_log $fdir/logs/error.log info;"
		echo "worker_processes 1;"
		echo "events { worker_connections 1024; }"
		echo "http {"
		echo "  log_format front '\$connection \$connection_requests \$server_protocol \$ssl_protocol \$status \$request_method \$request_uri';"
		echo "  access_log $fdir/logs/access.log front;"
		echo "  client_body_temp_path $fdir/tmp/body;"
		echo "  proxy_temp_path $fdir/tmp/proxy;"
		echo "  fastcgi_temp_path $fdir/tmp/fastcgi;"
		echo "  uwsgi_temp_path $fdir/tmp/uwsgi;"
		echo "  scgi_temp_path $fdir/tmp/scgi;"
		echo "  upstream sim { server ${upstream#http://}; keepalive 16; }"
		echo "  server {"
		echo "    listen 127.0.0.1:$port $listen_opts;"
		if python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
			echo "    listen [::1]:$port $listen_opts;"
		fi
		echo "    server_name localhost;"
		if [ -n "$protocols" ]; then
			echo "    ssl_certificate $dir/$cert.pem;"
			echo "    ssl_certificate_key $dir/$cert.key;"
			echo "    ssl_protocols $protocols;"
		fi
		echo "    client_max_body_size 10m;"
		echo "    $extra"
		echo "    location / {"
		echo "      proxy_pass http://sim;"
		echo "      proxy_http_version 1.1;"
		echo "      proxy_set_header Connection \"\";"
		echo "      proxy_set_header Host \$http_host;"
		# the simulator's SSO metadata then names https:// endpoints
		echo "      proxy_set_header X-Forwarded-Proto \$scheme;"
		echo "      proxy_buffering off;"
		echo "      proxy_read_timeout 120s;"
		echo "    }"
		echo "  }"
		echo "}"
	} >"$fdir/nginx.conf"
	"$TLS_NGINX" -p "$fdir" -c "$fdir/nginx.conf" -g 'user nobody nogroup;' 2>"$fdir/logs/start.log" || {
		cat "$fdir/logs/start.log" >&2
		return 1
	}
	for ((i = 0; i < 100; i++)); do
		[ -s "$fdir/nginx.pid" ] && break
		sleep 0.1
	done
	echo "$port" >"$fdir/port"
	if [ "$mode" = h2c ]; then
		echo "http://127.0.0.1:$port"
	else
		echo "https://localhost:$port"
	fi
}

tls_front_stop() {
	local fdir=$1/$2 pid i
	[ -s "$fdir/nginx.pid" ] || return 0
	pid=$(cat "$fdir/nginx.pid" 2>/dev/null)
	case $pid in '' | *[!0-9]*) return 0 ;; esac
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	rm -f "$fdir/nginx.pid"
}

# tls_front_log DIR NAME - the front's access log: one line a request,
# "connection requests_on_it protocol tls status method uri"
tls_front_log() { cat "$1/$2/logs/access.log" 2>/dev/null; }

tls_proxy_start() {
	local dir=$1/proxy port i
	mkdir -p "$dir"
	chmod 755 "$dir"
	tls_proxy_stop "$1"
	port=$(tls_free_port)
	cat >"$dir/tinyproxy.conf" <<EOF
Port $port
Listen 127.0.0.1
Timeout 120
MaxClients 64
Allow 127.0.0.1
DisableViaHeader Yes
LogFile "$dir/tinyproxy.log"
LogLevel Connect
PidFile "$dir/tinyproxy.pid"
EOF
	chmod 777 "$dir"
	"$TLS_TINYPROXY" -c "$dir/tinyproxy.conf" 2>"$dir/start.log" || { cat "$dir/start.log" >&2; return 1; }
	for ((i = 0; i < 100; i++)); do
		[ -s "$dir/tinyproxy.pid" ] && break
		sleep 0.1
	done
	echo "http://127.0.0.1:$port"
}

tls_proxy_stop() {
	local dir=$1/proxy pid i
	[ -s "$dir/tinyproxy.pid" ] || return 0
	pid=$(cat "$dir/tinyproxy.pid" 2>/dev/null)
	case $pid in '' | *[!0-9]*) return 0 ;; esac
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	rm -f "$dir/tinyproxy.pid"
}
