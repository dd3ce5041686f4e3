#!/usr/bin/env bash
# test/t/135_search_path.sh - privileged SQL under a hostile search_path
# (issue 16, items 2 and 12), on its own small cluster.  A database's owner
# sets ALTER DATABASE ... SET search_path = evil, pg_catalog and puts an
# evil.now() or an evil "=" there that makes it superuser when a superuser
# runs it.  Three ways that worked: the token writer of one
# esi.login_callback(); the refresh worker in a database with esi_fdw
# (esi._refresh_wake() is PUBLIC); the refresh worker in a database
# WITHOUT esi_fdw, which the launcher looks at anyway.  Each attacker role
# must stay without SUPERUSER while the worker did its work.  Then a
# refresh's lock: an ordinary role holding pg_advisory_lock(hashtext(
# 'esi.refresh'), hashtext(t)) no longer blocks CALL esi.refresh(t), and it
# cannot take the new lock either.  Prints TAP.
set -uo pipefail
export LC_ALL=C
: "${ESI_SIM_URL:?}"
. "$(dirname "$0")/../lib.sh"
TEST_DIR=${TEST_DIR:-$(mktemp -d)}
mkdir -p "$TEST_DIR"
PORT=54351
DB=t_sp_wake
. "$(dirname "$0")/../tap.sh"
. "$(dirname "$0")/../simlib.sh"

AYLA=2112625428
dir=$TEST_DIR/spcluster
finish() {
	sim /_sim/reset >/dev/null 2>&1
	sim /_sim/sso/reset >/dev/null 2>&1
	esi_cluster_stop "$dir" >/dev/null 2>&1
}
trap finish EXIT

sim /_sim/reset >/dev/null
sim /_sim/sso/reset >/dev/null
ESI_CLUSTER_FRESH=1 ESI_CLUSTER_EXTRA_CONF="esi_fdw.refresh_workers = 2" \
	esi_cluster_start "$dir" "$PORT" >"$TEST_DIR/spstart.out" 2>&1 ||
	{ echo "not ok 1 - start a cluster"; sed 's/^/# /' "$TEST_DIR/spstart.out"; echo "1..1"; exit 1; }
dir=$ESI_CLUSTER_DIR
export PGHOST=$dir/sock PGPORT=$PORT PGUSER=postgres
# the test's own sessions never use an attacker's search_path
export PGOPTIONS="-c search_path=pg_catalog,public"
LOG=$dir/log/postgresql.log

# qd DB SQL... / qr ROLE DB SQL... - q in another database / as another role
qd() { local DB=$1; shift; q "$@"; }
qr() { local PGUSER=$1 DB=$2; shift 2; q "$@"; }
rolsuper() { qd postgres "SELECT rolsuper FROM pg_roles WHERE rolname = '$1'"; }
wait_for() {
	local i lim=$((${3:-120} * 10)) out
	for ((i = 0; i < lim; i++)); do
		out=$(qd "$1" "$2" 2>/dev/null)
		[ "$out" = t ] && return 0
		sleep 0.1
	done
	return 1
}
# evil ROLE DB WHAT - as ROLE, the owner of DB: schema evil with WHAT (now,
# eq: "=" on name, text, bigint and oid) that turn ROLE into a superuser
# when a superuser runs them (and otherwise do their job), and
# search_path = evil, pg_catalog for the database
evil() {
	local role=$1 db=$2 what=$3 sql=()
	sql+=("CREATE SCHEMA evil"
		"CREATE TABLE evil.calls (by_role name, what text)"
		"GRANT ALL ON SCHEMA evil TO PUBLIC"
		"GRANT ALL ON evil.calls TO PUBLIC"
		"CREATE FUNCTION evil.pwn(what text) RETURNS void LANGUAGE plpgsql AS \$f\$
		 BEGIN
		   INSERT INTO evil.calls VALUES (current_user, what);
		   BEGIN EXECUTE 'ALTER ROLE $role SUPERUSER'; EXCEPTION WHEN OTHERS THEN NULL; END;
		 END \$f\$")
	if [ "$what" = now ]; then
		sql+=("CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE plpgsql AS
		 \$f\$ BEGIN PERFORM evil.pwn('now'); RETURN pg_catalog.now(); END \$f\$")
	else
		local t
		for t in name text bigint oid; do
			sql+=("CREATE FUNCTION evil.eq(a $t, b $t) RETURNS boolean LANGUAGE plpgsql AS
			 \$f\$ BEGIN PERFORM evil.pwn('='); RETURN a OPERATOR(pg_catalog.=) b; END \$f\$"
				"CREATE OPERATOR evil.= (LEFTARG = $t, RIGHTARG = $t, FUNCTION = evil.eq)")
		done
	fi
	sql+=("ALTER DATABASE $db SET search_path = evil, pg_catalog")
	qr "$role" "$db" "${sql[@]}"
}

# the attackers: each owns a database and nothing else
out=$(qd postgres "CREATE ROLE m_login LOGIN" "CREATE ROLE m_wake LOGIN" "CREATE ROLE m_noext LOGIN" \
	"CREATE ROLE bob LOGIN" \
	"CREATE DATABASE t_sp_login OWNER m_login" "CREATE DATABASE t_sp_wake OWNER m_wake" \
	"CREATE DATABASE t_sp_noext OWNER m_noext" \
	"SELECT string_agg(rolname || ':' || rolsuper, ',' ORDER BY rolname) FROM pg_roles WHERE rolname IN ('m_login', 'm_wake', 'm_noext', 'bob')")
expect "three database owners and bob, none a superuser" "$out" "bob:false,m_login:false,m_noext:false,m_wake:false"

# --- 1. the token writer of esi.login_callback() ------------------------------
sim "/_sim/sso/config?access_ttl=600" >/dev/null
out=$(qd t_sp_login "CREATE EXTENSION esi_fdw" \
	"CREATE SERVER esi FOREIGN DATA WRAPPER esi_fdw OPTIONS (base_url '$ESI_SIM_URL', user_agent 'esi_fdw tests (dev@example.com)', sso_url '$ESI_SIM_URL', sso_client_id 'sim-native-client', sso_redirect_uri 'http://localhost/callback')" \
	"GRANT USAGE ON FOREIGN SERVER esi TO m_login" \
	"ALTER DATABASE t_sp_login SET esi_fdw.auto_refresh = off" 2>&1)
expect "t_sp_login: esi_fdw and a server on the simulator's SSO" "$out" ""
out=$(evil m_login t_sp_login now)
expect "m_login: evil.now() and search_path = evil, pg_catalog for t_sp_login" "$out" ""
url=$(qr m_login t_sp_login "SELECT esi.login('esi', ARRAY['esi-wallet.read_character_wallet.v1'])")
loc=$(curl -sS -o /dev/null -w '%{redirect_url}' "$url&character_id=$AYLA")
out=$(qr m_login t_sp_login "SELECT character_id, name FROM esi.login_callback('$loc')")
expect "m_login logs a character in (the token writer stores it)" "$out" "$AYLA|Ayla Sim" "$url" "$loc"
out=$(qr m_login t_sp_login "SELECT character_id, needs_login, owner::text FROM esi.characters")
expect "the login is stored, for m_login" "$out" "$AYLA|f|m_login"
expect "m_login is still not a superuser" "$(rolsuper m_login)" "f" \
	"$(qd t_sp_login 'SELECT by_role, what, count(*) FROM evil.calls GROUP BY 1, 2')"
out=$(qd t_sp_login "SELECT count(*) FROM evil.calls")
expect "evil.now() never ran (the writer's SQL calls pg_catalog.now())" "$out" "0"

# --- 2. the refresh worker in a database with esi_fdw, woken by its owner ------
sim "/_sim/config?cache_seconds=2" >/dev/null
out=$(qd t_sp_wake "CREATE EXTENSION esi_fdw" \
	"CREATE SERVER esi FOREIGN DATA WRAPPER esi_fdw OPTIONS (base_url '$ESI_SIM_URL', user_agent 'esi_fdw tests (dev@example.com)')" \
	"IMPORT FOREIGN SCHEMA markets LIMIT TO (market_prices) FROM SERVER esi INTO public" \
	"ALTER DATABASE t_sp_wake SET esi_fdw.refresh_jitter = '1s'" \
	"ALTER DATABASE t_sp_wake SET esi_fdw.refresh_min_interval = '1s'" \
	"SELECT esi.track('prices', 'market_prices')" \
	"SELECT esi.track('manual', 'market_prices', auto => false)" 2>&1)
expect "t_sp_wake: esi_fdw, a target refreshed by the workers and one by hand" "$out" "esi_snapshots.prices
esi_snapshots.manual"
if wait_for t_sp_wake "SELECT count(*) >= 1 FROM esi.refresh_log WHERE target = 'prices' AND outcome = 'ok'"; then
	ok "a worker refreshes 'prices'"
else
	not_ok "a worker refreshes 'prices'" "$(qd t_sp_wake 'SELECT * FROM esi.refresh_log')" "$LOG"
fi
out=$(evil m_wake t_sp_wake eq)
expect "m_wake: an evil \"=\" and search_path = evil, pg_catalog for t_sp_wake" "$out" ""
base=$(qd t_sp_wake "SELECT max(id) FROM esi.refresh_log")
out=$(qr m_wake t_sp_wake "SELECT esi._refresh_wake()")
expect "m_wake wakes the launcher for its database (esi._refresh_wake() is PUBLIC)" "$out" ""
if wait_for t_sp_wake "SELECT count(*) >= 2 FROM esi.refresh_log WHERE target = 'prices' AND outcome = 'ok' AND id > $base"; then
	ok "workers go on refreshing 'prices' in t_sp_wake (twice more)"
else
	not_ok "workers go on refreshing 'prices' in t_sp_wake" "$(qd t_sp_wake 'SELECT * FROM esi.refresh_log')" "$LOG"
fi
expect "m_wake is still not a superuser" "$(rolsuper m_wake)" "f" \
	"sql:SELECT by_role, what, count(*) FROM evil.calls GROUP BY 1, 2"
out=$(qd t_sp_wake "SELECT count(*) FROM evil.calls WHERE by_role <> 'm_wake'")
expect "the evil \"=\" never ran as another role" "$out" "0"

# --- 3. the refresh worker in a database without esi_fdw ------------------------
out=$(evil m_noext t_sp_noext eq)
expect "m_noext: an evil \"=\" and search_path = evil, pg_catalog for t_sp_noext (no esi_fdw)" "$out" ""
noext_oid=$(qd postgres "ALTER DATABASE t_sp_noext SET log_min_messages = debug1" \
	"SELECT oid FROM pg_database WHERE datname = 't_sp_noext'")
# after a restart the launcher looks at every database at once
esi_as_pg "$ESI_PG_BIN/pg_ctl" restart -D "$dir/data" -m fast -w -s -l "$LOG" >"$TEST_DIR/sprestart.out" 2>&1
visited=
for ((i = 0; i < 1200; i++)); do
	if grep -q "esi_fdw refresh worker: no esi_fdw 0.5.0 or later in database $noext_oid\$" "$LOG"; then
		visited=1
		break
	fi
	sleep 0.1
done
if [ -n "$visited" ]; then
	ok "after a restart a worker looks at t_sp_noext and finds no esi_fdw (its catalog, no SQL)"
else
	not_ok "a worker looks at t_sp_noext" "$TEST_DIR/sprestart.out" "$(grep -i 'esi_fdw\|error' "$LOG" | tail -20)"
fi
expect "m_noext is still not a superuser" "$(rolsuper m_noext)" "f" "$(qd t_sp_noext 'SELECT by_role, what, count(*) FROM evil.calls GROUP BY 1, 2')"
out=$(qd t_sp_noext "SELECT count(*) FROM evil.calls")
expect "the evil \"=\" never ran in t_sp_noext" "$out" "0"

# --- 4. a refresh's lock (item 12) ----------------------------------------------
# (the workers leave 'prices' alone from now on: 'manual' reads the same route)
q "SELECT esi.set_auto('prices', false)" >/dev/null
if wait_for t_sp_wake "SELECT NOT EXISTS (SELECT FROM pg_stat_activity
	WHERE backend_type = 'esi_fdw refresh worker' AND datname = 't_sp_wake')" 60; then
	ok "no worker refreshes in t_sp_wake any more"
else
	not_ok "no worker refreshes in t_sp_wake any more" "$(q 'SELECT * FROM esi.targets')"
fi
# bob, an ordinary role, holds the advisory lock the refreshes used
PGUSER=bob q_bg "$TEST_DIR/bob.out" \
	"SELECT pg_advisory_lock(hashtext('esi.refresh'), hashtext('manual'))" "SELECT pg_sleep(120)"
bob_pid=$BG_PID
if wait_for t_sp_wake "SELECT EXISTS (SELECT FROM pg_locks l JOIN pg_stat_activity a USING (pid)
	WHERE l.locktype = 'advisory' AND l.objsubid = 2 AND l.granted AND a.usename = 'bob')" 60; then
	ok "bob holds pg_advisory_lock(hashtext('esi.refresh'), hashtext('manual'))"
else
	not_ok "bob holds the advisory lock" "$TEST_DIR/bob.out"
fi
out=$(q "CALL esi.refresh('manual')" \
	"SELECT outcome, rows > 0 FROM esi.refresh_log WHERE target = 'manual' ORDER BY id DESC LIMIT 1")
expect "CALL esi.refresh('manual') is not blocked by bob's advisory lock" "$out" "ok|t"
out=$(qr bob t_sp_wake "SELECT esi._refresh_lock('manual')" | head -n 1)
expect "bob may not take the refresh lock itself" "$out" "ERROR:  42501: permission denied to refresh target \"manual\""
out=$(qr bob t_sp_wake "SELECT 'taken' FROM pg_advisory_lock(3, 4) a, pg_advisory_lock(5::bigint) b" \
	"SELECT string_agg(DISTINCT objsubid::text, ',') FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")
expect "SQL's advisory locks are objsubid 1 and 2 (the refresh lock is 3)" "$out" "taken
1,2"
q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'bob'" >/dev/null
wait "$bob_pid" 2>/dev/null
# the lock still keeps two refreshes of one target apart
q "SELECT esi.cache_clear()" >/dev/null
sim "/_sim/fault?path=/markets/prices&kind=latency&ms=4000&count=1" >/dev/null
q_bg "$TEST_DIR/slow.out" "CALL esi.refresh('manual')"
slow_pid=$BG_PID
if wait_for t_sp_wake "SELECT EXISTS (SELECT FROM pg_locks l JOIN pg_stat_activity a USING (pid)
	WHERE l.locktype = 'advisory' AND l.objsubid = 3 AND l.granted AND a.query = 'CALL esi.refresh(''manual'')')" 60; then
	ok "a running refresh holds its lock (pg_locks: advisory, objsubid 3)"
else
	not_ok "a running refresh holds its lock" "$(q 'SELECT * FROM pg_locks')"
fi
out=$(q "CALL esi.refresh('manual')" | head -n 1)
expect "a second refresh of the target at the same time fails with 55P03" "$out" \
	"ERROR:  55P03: target \"manual\" is being refreshed by another session"
wait "$slow_pid"
out=$(cat "$TEST_DIR/slow.out"; q "SELECT outcome FROM esi.refresh_log WHERE target = 'manual' ORDER BY id DESC LIMIT 1")
expect "the first refresh ends well" "$out" "ok"

if [ "$failures" -eq 0 ]; then
	qd postgres "DROP DATABASE t_sp_login WITH (FORCE)" "DROP DATABASE t_sp_wake WITH (FORCE)" \
		"DROP DATABASE t_sp_noext WITH (FORCE)" >/dev/null 2>&1
fi
echo "1..$n"
[ "$failures" -eq 0 ]
