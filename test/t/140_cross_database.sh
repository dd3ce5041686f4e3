#!/usr/bin/env bash
# test/t/140_cross_database.sh - nothing of one database's EVE SSO logins
# crosses into another database of the cluster (issue 16, item 4).  Two
# databases each have a server named "esi" on the simulator; in A a role
# logs character Ayla in (application sim-native-client), in B a role that
# owns B's server logs the same character id in through another application
# (sim-b-client), as an attacker with an SSO of its own could.  The
# simulator's request log names the application each bearer token was
# issued to (token_client), so it shows whose token each request carried:
# B's requests never carry A's token (shared-memory token slots), B is not
# served A's cached replies of the character (response cache), and A's
# sealed refresh token copied into B's table does not unseal there (the
# sealing's associated data names the database).  Prints TAP.
set -uo pipefail
export LC_ALL=C
: "${PGHOST:?}" "${PGPORT:?}" "${PGUSER:?}" "${ESI_SIM_URL:?}"
TEST_DIR=${TEST_DIR:-$(mktemp -d)}
mkdir -p "$TEST_DIR"
DB=t_xdb_a
DBB=t_xdb_b
# shellcheck source=test/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=test/tap.sh
. "$(dirname "$0")/../tap.sh"
# shellcheck source=test/simlib.sh
. "$(dirname "$0")/../simlib.sh"

AYLA=2112625428
SCOPES="ARRAY['esi-assets.read_assets.v1', 'esi-wallet.read_character_wallet.v1']"
A_CLIENT=sim-native-client
B_CLIENT=sim-b-client

finish() {
	sim /_sim/sso/reset >/dev/null 2>&1
	if [ "$failures" -eq 0 ]; then
		"$PSQL" -X -q -d postgres -c "DROP DATABASE IF EXISTS $DBB WITH (FORCE)" >/dev/null 2>&1
		simlib_drop_db
		"$PSQL" -X -q -d postgres -c "DROP ROLE IF EXISTS xdb_alice" -c "DROP ROLE IF EXISTS xdb_mallory" \
			-c "DROP ROLE IF EXISTS xdb_nobody" >/dev/null 2>&1
	fi
}
trap finish EXIT

sim /_sim/sso/reset >/dev/null
sim "/_sim/sso/client?client_id=$B_CLIENT&redirect_uri=http://localhost/callback" >/dev/null
# roles: alice uses A's server; mallory owns B's; nobody uses B's, no login
"$PSQL" -X -q -d postgres -c "SET client_min_messages = warning" \
	-c "DROP DATABASE IF EXISTS $DBB WITH (FORCE)" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" \
	-c "DROP ROLE IF EXISTS xdb_alice" -c "DROP ROLE IF EXISTS xdb_mallory" -c "DROP ROLE IF EXISTS xdb_nobody" \
	-c "CREATE ROLE xdb_alice LOGIN" -c "CREATE ROLE xdb_mallory LOGIN" -c "CREATE ROLE xdb_nobody LOGIN" \
	>"$TEST_DIR/roles.out" 2>&1 || { cat "$TEST_DIR/roles.out"; echo "Bail out! roles"; exit 1; }
simlib_setup_db \
	"ALTER SERVER esi OPTIONS (ADD sso_url '$ESI_SIM_URL', ADD sso_client_id '$A_CLIENT', ADD sso_redirect_uri 'http://localhost/callback')" \
	"IMPORT FOREIGN SCHEMA characters LIMIT TO (character_assets, character_wallet) FROM SERVER esi INTO public" \
	"GRANT USAGE ON SCHEMA esi TO xdb_alice" "GRANT USAGE ON FOREIGN SERVER esi TO xdb_alice" \
	"GRANT SELECT ON character_assets, character_wallet TO xdb_alice" \
	"ALTER DATABASE $DB SET esi_fdw.cache = on"
# B: the server is mallory's, on a base URL allowed to non-superusers
if "$PSQL" -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $DBB" >"$TEST_DIR/setup_b.out" 2>&1 &&
	"$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$DBB" -c "CREATE EXTENSION esi_fdw" \
		-c "ALTER DATABASE $DBB SET esi_fdw.allowed_base_urls = '$ESI_SIM_URL'" \
		-c "ALTER DATABASE $DBB SET esi_fdw.retry_delay = '10ms'" \
		-c "ALTER DATABASE $DBB SET esi_fdw.cache = on" \
		-c "GRANT USAGE ON FOREIGN DATA WRAPPER esi_fdw TO xdb_mallory" \
		-c "GRANT USAGE ON SCHEMA esi TO xdb_mallory, xdb_nobody" \
		-c "CREATE SCHEMA m AUTHORIZATION xdb_mallory" \
		-c "GRANT USAGE ON SCHEMA m TO xdb_nobody" >>"$TEST_DIR/setup_b.out" 2>&1 &&
	PGUSER=xdb_mallory "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$DBB" \
		-c "CREATE SERVER esi FOREIGN DATA WRAPPER esi_fdw OPTIONS (base_url '$ESI_SIM_URL', user_agent 'esi_fdw tests (dev@example.com)', sso_url '$ESI_SIM_URL', sso_client_id '$B_CLIENT', sso_redirect_uri 'http://localhost/callback')" \
		-c "IMPORT FOREIGN SCHEMA characters LIMIT TO (character_assets, character_wallet) FROM SERVER esi INTO m" \
		-c "GRANT USAGE ON FOREIGN SERVER esi TO xdb_nobody" \
		-c "GRANT SELECT ON m.character_assets, m.character_wallet TO xdb_nobody" >>"$TEST_DIR/setup_b.out" 2>&1; then
	ok "setup: database $DBB with a server esi on the simulator, owned by a role that is not a superuser"
else
	not_ok "setup: database $DBB with a server esi on the simulator, owned by a role that is not a superuser" "$TEST_DIR/setup_b.out"
	echo "Bail out! setup failed"
	exit 1
fi

# as ROLE DATABASE SQL... - q as another role in another database
as() {
	local role=$1 db=$2
	shift 2
	PGUSER=$role DB=$db q "$@"
}
# login ROLE DATABASE CHARACTER - the whole login flow; prints its row
login() {
	local url loc
	url=$(as "$1" "$2" "SELECT esi.login('esi', $SCOPES)") || { echo "$url"; return 1; }
	loc=$(curl -sS -o /dev/null -w '%{redirect_url}' "$url&character_id=$3") || return 1
	as "$1" "$2" "SELECT character_id, name FROM esi.login_callback('$loc')"
}
# bearers SINCE - the requests to ESI's character routes after SINCE, one a
# line: path, then the application whose token it carried ("-": none)
bearers() {
	sim "/_sim/requests?since=$1" | python3 -c '
import json, sys
for e in json.load(sys.stdin):
    if e["path"].startswith("/characters/"):
        print(e["path"], e.get("token_client") or "-")'
}
# sso_counters - refreshes and refresh failures SSO counted for Ayla
sso_counters() {
	sim /_sim/sso/characters | python3 -c "
import json, sys
for c in json.load(sys.stdin):
    if str(c.get('character_id')) == '$AYLA':
        print(c['refreshes'], c['refresh_failures'])"
}

# --- the logins: B's first, then A's (the one in shared memory last) ------------
out=$(login xdb_mallory $DBB $AYLA)
expect "in B, mallory logs character $AYLA in through B's server (application $B_CLIENT)" "$out" "$AYLA|Ayla Sim"
out=$(login xdb_alice $DB $AYLA)
expect "in A, alice logs the same character in through A's server (application $A_CLIENT)" "$out" "$AYLA|Ayla Sim"
s=$(sim_seq)
out=$(as xdb_alice $DB "SELECT count(*) FROM character_wallet WHERE character_id = $AYLA")
expect "alice reads the character's wallet in A" "$out" "1"
out=$(bearers "$s")
expect "... with A's token (one request, A's application)" "$out" "/characters/$AYLA/wallet $A_CLIENT" "log:$s"

# --- access tokens ----------------------------------------------------------------
s=$(sim_seq)
out=$(as xdb_mallory $DBB "SELECT count(*) FROM m.character_assets WHERE character_id = $AYLA")
expect "mallory reads the character's assets in B (all 1820 items)" "$out" "1820"
out=$(bearers "$s" | sort -u)
expect "... every request carried B's own token, none A's (token slots per database and server)" "$out" \
	"/characters/$AYLA/assets $B_CLIENT" "log:$s"

# --- the response cache ----------------------------------------------------------------
s=$(sim_seq)
out=$(as xdb_mallory $DBB "SELECT count(*) FROM m.character_wallet WHERE character_id = $AYLA")
expect "mallory reads the wallet in B, which A's cache holds for the same base URL" "$out" "1"
out=$(bearers "$s")
expect "... from ESI with B's token, not from A's cached reply" "$out" "/characters/$AYLA/wallet $B_CLIENT" "log:$s"
s=$(sim_seq)
out=$(as xdb_alice $DB "SELECT count(*) FROM character_wallet WHERE character_id = $AYLA")
expect "A's cached reply still serves alice" "$out" "1"
out=$(bearers "$s")
expect "... without a request" "$out" "" "log:$s"

# --- a role of B without a login ------------------------------------------------------
s=$(sim_seq)
out=$(as xdb_nobody $DBB "SELECT count(*) FROM m.character_wallet WHERE character_id = $AYLA")
expect_match "a role of B without a login of the character: 28000, no login (A's and mallory's do not count)" "$out" \
	"^ERROR:  28000: no EVE SSO login of character $AYLA for role \"xdb_nobody\" on server \"esi\""
out=$(bearers "$s")
expect "... and nothing was sent" "$out" "" "log:$s"

# --- sealed refresh tokens ----------------------------------------------------------------
# access tokens that live 30 s are refreshed at each use: after new logins,
# each database's next query that asks ESI (the cache off: a reply from the
# cache needs no token) unseals the refresh token in its own table
sim "/_sim/sso/config?access_ttl=30" >/dev/null
out=$(login xdb_mallory $DBB $AYLA; login xdb_alice $DB $AYLA)
expect "mallory and alice log the character in again (tokens now live 30 s)" "$out" "$AYLA|Ayla Sim
$AYLA|Ayla Sim"
sealed=$(q "SELECT encode(refresh_token, 'hex') FROM esi.sso_characters WHERE character_id = $AYLA")
out=$(DB=$DBB q "UPDATE esi.sso_characters SET refresh_token = decode('$sealed', 'hex') WHERE server_name = 'esi' AND character_id = $AYLA")
expect "A's sealed refresh token is copied into B's table (as whoever may write it)" "$out" ""
c0=$(sso_counters)
out=$(as xdb_mallory $DBB "SET esi_fdw.cache = off" "SELECT count(*) FROM m.character_wallet WHERE character_id = $AYLA")
expect_match "in B it does not unseal: XX001, sealed for another database" "$out" \
	"^ERROR:  XX001: sealed value failed authentication.*another row, purpose or database"
c1=$(sso_counters)
expect "... so it never reached B's SSO (no refresh, no failed refresh)" "$c1" "$c0"
out=$(as xdb_alice $DB "SET esi_fdw.cache = off" "SELECT count(*) FROM character_wallet WHERE character_id = $AYLA")
c2=$(sso_counters)
expect "in A it still unseals: alice's next query refreshes with it (one refresh, no failure)" \
	"$out $c2" "1 $(( ${c0%% *} + 1 )) ${c0##* }"

# --- values sealed before 0.6.0: bound to the database by the update -------------------
# A database at 0.5.0 holding a client secret and a refresh token sealed
# the way esi_fdw sealed them before (format 1: header and row in the
# associated data, no database), made here from the key file.
DBC=t_xdb_c
seal_v1() {
	python3 - "$1" "$2" "$3" <<'PY'
import os, sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
path, plain, aad = sys.argv[1], sys.argv[2].encode(), sys.argv[3].encode()
keys = [l.split() for l in open(path) if l.strip() and not l.startswith("#")]
kid, key = keys[-1]
hdr = bytes([0xE5, 1]) + bytes.fromhex(kid)
nonce = os.urandom(12)
print((hdr + nonce + AESGCM(bytes.fromhex(key)).encrypt(nonce, plain, hdr + aad)).hex())
PY
}
keyfile=$(q "CREATE FUNCTION pg_temp.kf() RETURNS text AS 'esi_fdw', 'esi_test_key_file' LANGUAGE C" "SELECT pg_temp.kf()")
rt_v1=$(seal_v1 "$keyfile" "rt-before-0.6" "refresh_token:esi:$AYLA")
cs_v1=$(seal_v1 "$keyfile" "secret-before-0.6" "client_secret:esi")
TESTFN="CREATE FUNCTION pg_temp.unseal(bytea, text) RETURNS text AS 'esi_fdw', 'esi_test_unseal' LANGUAGE C STRICT"
if out=$("$PSQL" -X -q -v ON_ERROR_STOP=1 -d postgres -c "DROP DATABASE IF EXISTS $DBC WITH (FORCE)" -c "CREATE DATABASE $DBC" 2>&1 &&
	DB=$DBC q "CREATE EXTENSION esi_fdw VERSION '0.5.0'" \
		"INSERT INTO esi.sso_clients VALUES ('esi', decode('$cs_v1', 'hex'))" \
		"INSERT INTO esi.sso_characters (server_name, character_id, name, owner_hash, scopes, owner_role, refresh_token, logged_in_at, refreshed_at)
		 VALUES ('esi', $AYLA, 'Ayla Sim', 'h', '{}', 10, decode('$rt_v1', 'hex'), now(), now())"); then
	ok "a database at 0.5.0 holds a refresh token and a client secret sealed in format 1"
else
	not_ok "a database at 0.5.0 holds a refresh token and a client secret sealed in format 1" "$out"
fi
out=$(DB=$DBC q "$TESTFN" "SELECT pg_temp.unseal(refresh_token, 'refresh_token:esi:$AYLA') FROM esi.sso_characters")
expect_match "format 1 is refused when read (XX001, not bound to a database; HINT esi.rekey())" "$out" \
	"^ERROR:  XX001: sealed value is not bound to a database.*HINT:  A superuser binds the values stored in this database to it with SELECT esi.rekey\(\);"
out=$(DB=$DBC q "ALTER EXTENSION esi_fdw UPDATE" "$TESTFN" \
	"SELECT get_byte(refresh_token, 1), pg_temp.unseal(refresh_token, 'refresh_token:esi:$AYLA') FROM esi.sso_characters" \
	"SELECT get_byte(secret, 1), pg_temp.unseal(secret, 'client_secret:esi') FROM esi.sso_clients")
expect "ALTER EXTENSION UPDATE seals them again in format 2, bound to the database, same plaintext" "$out" \
	"2|rt-before-0.6
2|secret-before-0.6"
out=$(DB=$DBC q "SELECT count(*) FROM pg_proc WHERE proname = '_bind_sealed'")
expect "... and leaves no function behind" "$out" "0"
bound=$(DB=$DBC q "SELECT encode(refresh_token, 'hex') FROM esi.sso_characters")
out=$(q "$TESTFN" "SELECT pg_temp.unseal(decode('$bound', 'hex'), 'refresh_token:esi:$AYLA')")
expect_match "... so that the value does not open in another database (XX001)" "$out" \
	"^ERROR:  XX001: sealed value failed authentication"
out=$(DB=$DBC q \
	"UPDATE esi.sso_clients SET secret = decode('$(seal_v1 "$keyfile" "restored" "client_secret:esi")', 'hex')" \
	"SELECT esi.rekey() > 0" "$TESTFN" "SELECT get_byte(secret, 1), pg_temp.unseal(secret, 'client_secret:esi') FROM esi.sso_clients")
expect "a format-1 value restored later (an old dump) is bound by esi.rekey()" "$out" "t
2|restored"
[ "$failures" -eq 0 ] && "$PSQL" -X -q -d postgres -c "DROP DATABASE IF EXISTS $DBC WITH (FORCE)" >/dev/null 2>&1

echo "1..$n"
[ "$failures" -eq 0 ]
