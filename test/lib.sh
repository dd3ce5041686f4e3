# shellcheck shell=bash
# test/lib.sh - helpers shared by test/quickstart.sh and test/run_tests.sh.
#
# Source it with:  . "$(dirname "$0")/lib.sh"
#
# Everything here works both as root (the PostgreSQL cluster then belongs to,
# and runs as, the "postgres" OS user) and as an ordinary user (the cluster
# belongs to that user; packages are installed with sudo when missing).

ESI_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
ESI_PG_VERSION=15
# ESI_PG_BIN from the environment: another installation of PostgreSQL 15
# (test/sanitize.sh uses a private copy of the system's)
ESI_PG_BIN=${ESI_PG_BIN:-/usr/lib/postgresql/$ESI_PG_VERSION/bin}
ESI_PG_CONFIG=$ESI_PG_BIN/pg_config
ESI_PACKAGES=(
	postgresql-15 postgresql-server-dev-15 postgresql-15-cron
	libcurl4-openssl-dev libjson-c-dev libdeflate-dev libssl-dev
	pkg-config make gcc python3 curl ca-certificates
)

# Set by esi_cluster_start; used by esi_psql.
ESI_CLUSTER_DIR=
ESI_CLUSTER_PORT=

esi_log() { printf '==> %s\n' "$*" >&2; }
esi_warn() { printf 'warning: %s\n' "$*" >&2; }
esi_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

esi_is_root() { [ "$(id -u)" -eq 0 ]; }

# Run "$@" as root: directly when we are root, else through sudo.
esi_as_root() {
	if esi_is_root; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		esi_die "need root to run: $* (run this script as root, or install sudo)"
	fi
}

# Run "$@" as the OS user that owns the clusters: postgres when we are
# root, ourselves otherwise. Runs from / so that the postgres user never
# depends on being able to read the caller's current directory.
esi_as_pg() {
	if esi_is_root; then
		(cd / && runuser -u postgres -- "$@")
	else
		(cd / && "$@")
	fi
}

# ---------------------------------------------------------------------------
# Packages

esi_missing_packages() {
	local p status
	for p in "${ESI_PACKAGES[@]}"; do
		status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
		if [ "$status" != "install ok installed" ]; then
			printf '%s\n' "$p"
		fi
	done
}

esi_install_packages() {
	local missing
	mapfile -t missing < <(esi_missing_packages)
	if [ "${#missing[@]}" -eq 0 ]; then
		esi_log "all required packages are installed"
		return 0
	fi
	if ! esi_is_root && ! command -v sudo >/dev/null 2>&1; then
		esi_die "missing packages: ${missing[*]}
  install them as root:  apt-get install ${missing[*]}
  or run this script as root (or with sudo)"
	fi
	esi_log "installing missing packages: ${missing[*]}"
	esi_as_root env DEBIAN_FRONTEND=noninteractive apt-get update \
		|| esi_die "apt-get update failed"
	esi_as_root env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y --no-install-recommends "${missing[@]}" \
		|| esi_die "apt-get install failed for: ${missing[*]}"
	mapfile -t missing < <(esi_missing_packages)
	[ "${#missing[@]}" -eq 0 ] || esi_die "still missing after apt-get install: ${missing[*]}"
}

# ---------------------------------------------------------------------------
# Build

esi_build_install() {
	[ -x "$ESI_PG_CONFIG" ] || esi_die "$ESI_PG_CONFIG not found (is postgresql-server-dev-$ESI_PG_VERSION installed?)"
	local jobs
	jobs=$(nproc 2>/dev/null || echo 2)
	esi_log "building esi_fdw"
	# ESI_WERROR=1 (set by run_tests.sh) turns warnings into errors
	make -C "$ESI_ROOT" -s -j"$jobs" PG_CONFIG="$ESI_PG_CONFIG" WERROR="${ESI_WERROR:-0}" \
		|| esi_die "build failed"
	esi_log "installing esi_fdw into $("$ESI_PG_CONFIG" --pkglibdir)"
	esi_as_root make -C "$ESI_ROOT" -s install PG_CONFIG="$ESI_PG_CONFIG" || esi_die "make install failed"
}

# ---------------------------------------------------------------------------
# Throw-away PostgreSQL cluster
#
# Layout of a cluster directory DIR:
#   DIR/data                 PGDATA
#   DIR/sock                 unix socket directory (the only way in; no TCP)
#   DIR/log/postgresql.log   server log
#   DIR/sim.{log,pid,port}   the simulator, when started by esi_sim_start

# esi_cluster_dir DIR [quiet]
# Prints the directory really used for DIR. A relative DIR is taken relative
# to the checkout. Falls back to /tmp/esi_fdw-<hash of checkout>/<name> when
# the postgres user cannot reach DIR or the socket path would be too long.
esi_cluster_dir() {
	local dir=$1 quiet=${2:-} parent hash fallback reason=
	case $dir in
		/*) ;;
		*) dir=$ESI_ROOT/$dir ;;
	esac
	dir=${dir%/}
	parent=$(dirname "$dir")
	# sockaddr_un.sun_path is 108 bytes; "/.s.PGSQL.NNNNN" is 15 of them.
	if [ $(( ${#dir} + 5 + 15 )) -gt 100 ]; then
		reason="the socket path under $dir would be too long"
	elif esi_is_root; then
		mkdir -p "$parent" 2>/dev/null || true
		if ! (cd / && runuser -u postgres -- test -x "$parent" -a -r "$parent") 2>/dev/null; then
			reason="the postgres user cannot traverse $parent"
		fi
	fi
	if [ -z "$reason" ]; then
		printf '%s\n' "$dir"
		return 0
	fi
	hash=$(printf '%s' "$ESI_ROOT" | sha1sum | cut -c1-12)
	fallback=/tmp/esi_fdw-$hash/$(basename "$dir")
	[ -n "$quiet" ] || esi_warn "$reason; using $fallback instead"
	printf '%s\n' "$fallback"
}

esi_cluster_running() {
	local dir=$1
	[ -f "$dir/data/PG_VERSION" ] || return 1
	esi_as_pg "$ESI_PG_BIN/pg_ctl" status -D "$dir/data" >/dev/null 2>&1
}

# esi_cluster_start DIR PORT
# Starts (creating it first if needed) a cluster in DIR listening only on
# the unix socket DIR/sock/.s.PGSQL.PORT. A cluster already running in DIR
# is stopped first. With ESI_CLUSTER_FRESH=1 the data directory is wiped
# and recreated. Extra lines for postgresql.conf can be passed in
# ESI_CLUSTER_EXTRA_CONF, and VAR=VALUE words for the postmaster's
# environment in ESI_CLUSTER_ENV (test/sanitize.sh preloads libasan this
# way; values without spaces). Sets ESI_CLUSTER_DIR and ESI_CLUSTER_PORT.
esi_cluster_start() {
	local dir port owner conf
	dir=$(esi_cluster_dir "$1") || return 1
	port=$2
	[ -n "$port" ] || esi_die "esi_cluster_start: no port given"
	[ -x "$ESI_PG_BIN/initdb" ] || esi_die "$ESI_PG_BIN/initdb not found (is postgresql-$ESI_PG_VERSION installed?)"

	if esi_cluster_running "$dir"; then
		esi_log "stopping the cluster left running in $dir"
		esi_as_pg "$ESI_PG_BIN/pg_ctl" stop -D "$dir/data" -m fast -w -s \
			|| esi_die "could not stop the cluster in $dir"
	fi

	mkdir -p "$dir/sock" "$dir/log" || esi_die "cannot create $dir"
	if esi_is_root; then
		# /tmp/esi_fdw-<hash> (fallback) must be reachable too
		chmod 755 "$(dirname "$dir")" 2>/dev/null || true
		owner=postgres
	else
		owner=$(id -un)
	fi
	chmod 755 "$dir" "$dir/sock" "$dir/log"

	if [ "${ESI_CLUSTER_FRESH:-0}" = 1 ] && [ -e "$dir/data" ]; then
		rm -rf "$dir/data"
	fi
	if [ -e "$dir/data" ] && [ ! -f "$dir/data/PG_VERSION" ]; then
		rm -rf "$dir/data"      # half-created by an interrupted initdb
	fi
	if [ -f "$dir/data/PG_VERSION" ] && [ "$(cat "$dir/data/PG_VERSION")" != "$ESI_PG_VERSION" ]; then
		esi_log "$dir/data is not a PostgreSQL $ESI_PG_VERSION cluster; recreating it"
		rm -rf "$dir/data"
	fi
	if esi_is_root; then
		chown -R postgres:postgres "$dir"
	elif [ -e "$dir/data" ] && [ "$(stat -c %U "$dir/data")" != "$owner" ]; then
		esi_die "$dir/data belongs to $(stat -c %U "$dir/data"), not $owner; remove $dir (as root) and retry"
	fi

	if [ ! -f "$dir/data/PG_VERSION" ]; then
		esi_log "creating a PostgreSQL $ESI_PG_VERSION cluster in $dir/data (OS user $owner)"
		esi_as_pg "$ESI_PG_BIN/initdb" -D "$dir/data" -A trust -U postgres --no-sync \
			-E UTF8 --locale=C.UTF-8 >"$dir/log/initdb.log" 2>&1 || {
			tail -n 30 "$dir/log/initdb.log" >&2
			esi_die "initdb failed"
		}
		printf "\ninclude_if_exists = 'esi_fdw_test.conf'\n" >>"$dir/data/postgresql.conf"
	fi

	# Rewritten on every start so that a moved checkout or another port works.
	conf=$dir/data/esi_fdw_test.conf
	{
		echo "# written by test/lib.sh (esi_cluster_start); rewritten on each start"
		echo "listen_addresses = ''"
		echo "port = $port"
		echo "unix_socket_directories = '$dir/sock'"
		echo "unix_socket_permissions = 0777"
		echo "fsync = off"
		echo "synchronous_commit = off"
		echo "full_page_writes = off"
		echo "lc_messages = 'C'"
		echo "log_line_prefix = '%m [%p] %q%a '"
		echo "log_min_messages = warning"
		echo "shared_preload_libraries = 'esi_fdw'"
		# a hot standby can be streamed from it (esi_standby_start)
		echo "wal_level = replica"
		echo "max_wal_senders = 4"
		if [ -n "${ESI_CLUSTER_EXTRA_CONF:-}" ]; then
			printf '%s\n' "$ESI_CLUSTER_EXTRA_CONF"
		fi
	} >"$conf"
	esi_is_root && chown postgres:postgres "$conf"
	# replication over the unix socket (initdb -A trust writes this line;
	# make sure of it for clusters created otherwise)
	if ! grep -Eq '^local[[:space:]]+replication[[:space:]]+all[[:space:]]+trust' "$dir/data/pg_hba.conf"; then
		printf 'local   replication     all                                     trust\n' >>"$dir/data/pg_hba.conf"
	fi

	esi_log "starting the cluster in $dir (socket $dir/sock, port $port)"
	# shellcheck disable=SC2086  # ESI_CLUSTER_ENV: words, see above
	if ! esi_as_pg env ${ESI_CLUSTER_ENV:-} "$ESI_PG_BIN/pg_ctl" start -D "$dir/data" \
		-l "$dir/log/postgresql.log" -w -t 120 -s; then
		tail -n 30 "$dir/log/postgresql.log" >&2
		esi_die "the cluster in $dir did not start"
	fi
	ESI_CLUSTER_DIR=$dir
	ESI_CLUSTER_PORT=$port
}

# esi_cluster_stop DIR - stops the cluster in DIR if it is running.
esi_cluster_stop() {
	local dir
	dir=$(esi_cluster_dir "$1" quiet) || return 1
	if esi_cluster_running "$dir"; then
		esi_log "stopping the cluster in $dir"
		esi_as_pg "$ESI_PG_BIN/pg_ctl" stop -D "$dir/data" -m fast -w -t 60 -s \
			|| esi_as_pg "$ESI_PG_BIN/pg_ctl" stop -D "$dir/data" -m immediate -w -s
	fi
}

# ---------------------------------------------------------------------------
# Hot standby of a test cluster
#
# Layout of a standby directory DIR (like a cluster's): DIR/data, DIR/sock,
# DIR/log/postgresql.log.

# Set by esi_standby_start.
ESI_STANDBY_DIR=
ESI_STANDBY_PORT=

# esi_standby_primary - prints "SOCKDIR PORT" of the primary: the cluster of
# esi_cluster_start in this shell, else PGHOST/PGPORT (a test in test/t).
esi_standby_primary() {
	if [ -n "$ESI_CLUSTER_DIR" ] && [ -n "$ESI_CLUSTER_PORT" ]; then
		printf '%s %s\n' "$ESI_CLUSTER_DIR/sock" "$ESI_CLUSTER_PORT"
	elif [ -n "${PGHOST:-}" ] && [ -n "${PGPORT:-}" ]; then
		printf '%s %s\n' "$PGHOST" "$PGPORT"
	else
		return 1
	fi
}

# esi_standby_start DIR [PRIMARY_SOCKDIR PRIMARY_PORT]
# Clones the primary (default: see esi_standby_primary) with pg_basebackup -R
# over its unix socket into DIR/data (wiped first) and starts it as a hot
# standby streaming from it, on the primary's port + 1, with esi_fdw
# preloaded like the primary. Returns when it accepts connections. Sets
# ESI_STANDBY_DIR and ESI_STANDBY_PORT.
esi_standby_start() {
	local dir psock pport port conf primary
	dir=$(esi_cluster_dir "$1") || return 1
	if [ $# -ge 3 ]; then
		psock=$2 pport=$3
	else
		primary=$(esi_standby_primary) || esi_die "esi_standby_start: no primary (start a cluster or set PGHOST/PGPORT)"
		psock=${primary% *} pport=${primary#* }
	fi
	port=$((pport + 1))

	if esi_cluster_running "$dir"; then
		esi_as_pg "$ESI_PG_BIN/pg_ctl" stop -D "$dir/data" -m fast -w -s || true
	fi
	rm -rf "$dir/data"
	mkdir -p "$dir/sock" "$dir/log" || esi_die "cannot create $dir"
	if esi_is_root; then
		chmod 755 "$(dirname "$dir")" 2>/dev/null || true
		chown -R postgres:postgres "$dir"
	fi
	chmod 755 "$dir" "$dir/sock" "$dir/log"

	esi_log "cloning the primary ($psock, port $pport) into $dir/data"
	esi_as_pg "$ESI_PG_BIN/pg_basebackup" -h "$psock" -p "$pport" -U postgres \
		-D "$dir/data" -R -X stream -c fast --no-sync >"$dir/log/basebackup.log" 2>&1 || {
		tail -n 30 "$dir/log/basebackup.log" >&2
		esi_warn "pg_basebackup failed"
		return 1
	}
	# the copied esi_fdw_test.conf names the primary's port and socket
	conf=$dir/data/esi_fdw_test.conf
	{
		echo "# written by test/lib.sh (esi_standby_start)"
		echo "listen_addresses = ''"
		echo "port = $port"
		echo "unix_socket_directories = '$dir/sock'"
		echo "unix_socket_permissions = 0777"
		echo "fsync = off"
		echo "lc_messages = 'C'"
		echo "log_line_prefix = '%m [%p] %q%a '"
		echo "log_min_messages = warning"
		echo "shared_preload_libraries = 'esi_fdw'"
		echo "hot_standby = on"
		echo "hot_standby_feedback = on"
		echo "wal_level = replica"
		echo "max_wal_senders = 4"
	} >"$conf"
	esi_is_root && chown postgres:postgres "$conf"
	[ -f "$dir/data/standby.signal" ] || esi_die "pg_basebackup -R wrote no standby.signal"

	esi_log "starting the hot standby in $dir (socket $dir/sock, port $port)"
	# shellcheck disable=SC2086  # ESI_CLUSTER_ENV: words, see above
	if ! esi_as_pg env ${ESI_CLUSTER_ENV:-} "$ESI_PG_BIN/pg_ctl" start -D "$dir/data" \
		-l "$dir/log/postgresql.log" -w -t 120 -s; then
		tail -n 30 "$dir/log/postgresql.log" >&2
		esi_warn "the standby in $dir did not start"
		return 1
	fi
	ESI_STANDBY_DIR=$dir
	ESI_STANDBY_PORT=$port
}

# esi_standby_catchup [PRIMARY_SOCKDIR PRIMARY_PORT] - waits (up to 120 s)
# until the standby of esi_standby_start has replayed everything the primary
# had written when called, e.g. tables created after the clone.
esi_standby_catchup() {
	local psock pport primary lsn i caught
	[ -n "$ESI_STANDBY_DIR" ] || esi_die "esi_standby_catchup: no standby started"
	if [ $# -ge 2 ]; then
		psock=$1 pport=$2
	else
		primary=$(esi_standby_primary) || esi_die "esi_standby_catchup: no primary"
		psock=${primary% *} pport=${primary#* }
	fi
	lsn=$("$ESI_PG_BIN/psql" -X -A -t -h "$psock" -p "$pport" -U postgres -d postgres \
		-c "SELECT pg_current_wal_insert_lsn()") || return 1
	for ((i = 0; i < 1200; i++)); do
		caught=$(esi_standby_psql -A -t -d postgres \
			-c "SELECT pg_last_wal_replay_lsn() >= '$lsn'::pg_lsn" 2>/dev/null) || caught=
		[ "$caught" = t ] && return 0
		sleep 0.1
	done
	esi_warn "the standby did not replay up to $lsn"
	return 1
}

# esi_standby_psql [psql arguments...] - psql against the standby.
esi_standby_psql() {
	[ -n "$ESI_STANDBY_DIR" ] || esi_die "esi_standby_psql: no standby started"
	"$ESI_PG_BIN/psql" -h "$ESI_STANDBY_DIR/sock" -p "$ESI_STANDBY_PORT" -U postgres \
		-X -v ON_ERROR_STOP=1 "$@"
}

# esi_standby_stop DIR - stops the standby in DIR if it runs (its data stays
# for inspection; esi_standby_start wipes it).
esi_standby_stop() {
	local dir
	dir=$(esi_cluster_dir "$1" quiet) || return 1
	if esi_cluster_running "$dir"; then
		esi_log "stopping the standby in $dir"
		esi_as_pg "$ESI_PG_BIN/pg_ctl" stop -D "$dir/data" -m fast -w -t 60 -s \
			|| esi_as_pg "$ESI_PG_BIN/pg_ctl" stop -D "$dir/data" -m immediate -w -s
	fi
	if [ "$ESI_STANDBY_DIR" = "$dir" ]; then
		ESI_STANDBY_DIR=
		ESI_STANDBY_PORT=
	fi
}

# esi_psql [psql arguments...] - psql against the cluster of esi_cluster_start.
esi_psql() {
	[ -n "$ESI_CLUSTER_DIR" ] || esi_die "esi_psql: no cluster started"
	"$ESI_PG_BIN/psql" -h "$ESI_CLUSTER_DIR/sock" -p "$ESI_CLUSTER_PORT" -U postgres \
		-X -v ON_ERROR_STOP=1 "$@"
}

# ---------------------------------------------------------------------------
# ESI simulator (test/esi_sim.py)

# esi_pid_alive PID - true when PID exists and is not a zombie (an exited
# child not yet reaped still answers kill -0).
esi_pid_alive() {
	local state
	kill -0 "$1" 2>/dev/null || return 1
	state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# esi_sim_pid DIR - prints the pid of the simulator started in DIR, if it
# is still alive (and really is the simulator).
esi_sim_pid() {
	local dir=$1 pid
	[ -f "$dir/sim.pid" ] || return 1
	pid=$(cat "$dir/sim.pid" 2>/dev/null) || return 1
	case $pid in '' | *[!0-9]*) return 1 ;; esac
	esi_pid_alive "$pid" || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'esi_sim\.py' || return 1
	printf '%s\n' "$pid"
}

# esi_sim_running DIR - true (and ESI_SIM_URL exported) when the simulator
# started in DIR is alive and answers.
esi_sim_running() {
	local dir=$1 port
	esi_sim_pid "$dir" >/dev/null || return 1
	port=$(cat "$dir/sim.port" 2>/dev/null) || return 1
	case $port in '' | *[!0-9]*) return 1 ;; esac
	curl -fsS -m 5 -o /dev/null "http://127.0.0.1:$port/_sim/requests" 2>/dev/null || return 1
	export ESI_SIM_URL=http://127.0.0.1:$port
}

# esi_sim_start DIR - starts the simulator in the background (it keeps
# running after the script ends, until esi_sim_stop) and exports ESI_SIM_URL.
# A simulator still running from an earlier start in DIR is stopped first.
# ESI_SIM_ARGS: more arguments for test/esi_sim.py (e.g. --market-regions 60).
esi_sim_start() {
	local dir=$1 pid port i timeout=${ESI_SIM_START_TIMEOUT:-120}
	[ -f "$ESI_ROOT/test/esi_sim.py" ] || esi_die "$ESI_ROOT/test/esi_sim.py not found"
	mkdir -p "$dir"
	esi_sim_stop "$dir"
	rm -f "$dir/sim.port" "$dir/sim.pid"
	esi_log "starting the ESI simulator (log: $dir/sim.log)"
	# nohup: survive the terminal going away; background jobs of a
	# non-interactive shell already ignore SIGINT (Ctrl-C).
	nohup "${ESI_PYTHON:-python3}" "$ESI_ROOT/test/esi_sim.py" --port 0 --seed 1 \
		--port-file "$dir/sim.port" --quiet ${ESI_SIM_ARGS:-} </dev/null >"$dir/sim.log" 2>&1 &
	pid=$!
	echo "$pid" >"$dir/sim.pid"
	for ((i = 0; i < timeout * 5; i++)); do
		if [ -s "$dir/sim.port" ]; then
			port=$(cat "$dir/sim.port")
			case $port in
				'' | *[!0-9]*) ;;
				*)
					export ESI_SIM_URL=http://127.0.0.1:$port
					esi_log "ESI simulator (pid $pid) listening at $ESI_SIM_URL"
					return 0
					;;
			esac
		fi
		if ! esi_pid_alive "$pid"; then
			wait "$pid" 2>/dev/null || true
			echo "--- last lines of $dir/sim.log ---" >&2
			tail -n 40 "$dir/sim.log" >&2
			rm -f "$dir/sim.pid"
			esi_die "the ESI simulator exited before it was ready"
		fi
		sleep 0.2
	done
	echo "--- last lines of $dir/sim.log ---" >&2
	tail -n 40 "$dir/sim.log" >&2
	esi_sim_stop "$dir"
	esi_die "the ESI simulator did not write $dir/sim.port within ${timeout}s"
}

# esi_sim_stop DIR - stops the simulator started in DIR, if any.
esi_sim_stop() {
	local dir=$1 pid i
	if pid=$(esi_sim_pid "$dir"); then
		esi_log "stopping the ESI simulator (pid $pid)"
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 50; i++)); do
			esi_pid_alive "$pid" || break
			sleep 0.2
		done
		if esi_pid_alive "$pid"; then
			esi_warn "the ESI simulator did not exit on SIGTERM; killing it"
			kill -KILL "$pid" 2>/dev/null || true
		fi
		# reap it when it is our child (no-op otherwise)
		wait "$pid" 2>/dev/null || true
	fi
	rm -f "$dir/sim.pid" "$dir/sim.port"
}
