#!/usr/bin/env bash
# test/t/070_sso.sh - EVE SSO from SQL (issue 8) against the simulator's SSO:
# the login flow with PKCE, authenticated tables read with the character's
# token, refresh with rotation (also when the query rolls back, and in a
# read-only transaction), one refresh for concurrent sessions, a revoked
# token, each failed JWT check, a character sold, missing scope, role
# isolation and grants, re-keying, logout, and what pg_dump holds.
# Prints TAP.
set -uo pipefail
export LC_ALL=C
: "${PGHOST:?}" "${PGPORT:?}" "${PGUSER:?}" "${ESI_SIM_URL:?}"
TEST_DIR=${TEST_DIR:-$(mktemp -d)}
mkdir -p "$TEST_DIR"
DB=t_sso
# shellcheck source=test/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=test/tap.sh
. "$(dirname "$0")/../tap.sh"
# shellcheck source=test/simlib.sh
. "$(dirname "$0")/../simlib.sh"

AYLA=2112625428
BORIS=2112625429
SCOPES="ARRAY['esi-assets.read_assets.v1', 'esi-wallet.read_character_wallet.v1']"

finish() {
	esi_standby_stop "$TEST_DIR/standby" >/dev/null 2>&1
	sim /_sim/sso/reset >/dev/null 2>&1
	"$PSQL" -X -q -d postgres -c "DROP ROLE IF EXISTS sso_b" >/dev/null 2>&1
}
trap finish EXIT

sim /_sim/sso/reset >/dev/null
# access tokens that live 30 s are refreshed at each use (esi_fdw refreshes
# 60 s before the expiry), so every query below exercises the refresh
sim "/_sim/sso/config?access_ttl=30" >/dev/null
simlib_setup_db \
	"ALTER SERVER esi OPTIONS (ADD sso_url '$ESI_SIM_URL', ADD sso_client_id 'sim-native-client', ADD sso_redirect_uri 'http://localhost/callback')" \
	"IMPORT FOREIGN SCHEMA characters LIMIT TO (character_assets, character_wallet, character_skills, character_wallet_transactions) FROM SERVER esi INTO public" \
	"IMPORT FOREIGN SCHEMA corporations LIMIT TO (corporation_assets) FROM SERVER esi INTO public" \
	"ALTER DATABASE $DB SET esi_fdw.cache = off"
# (the response cache would answer repeated reads without a token: off, but
# for the role test below, which reads through it)

# login CHARACTER [SCOPES] - the whole flow: esi.login(), the browser (curl,
# which does not follow the redirect), esi.login_callback(); prints its row
login() {
	local url loc
	url=$(q "SELECT esi.login('esi', ${2:-$SCOPES})") || { echo "$url"; return 1; }
	loc=$(curl -sS -o /dev/null -w '%{redirect_url}' "$url&character_id=$1") || return 1
	q "SELECT character_id, name, array_length(scopes, 1) FROM esi.login_callback('$loc')"
}
# sso_counter CHARACTER FIELD - one of the simulator's counters of a character
sso_counter() {
	sim /_sim/sso/characters | python3 -c "
import json, sys
for c in json.load(sys.stdin):
    if str(c.get('character_id')) == '$1':
        print(c.get('$2'))"
}

# --- login --------------------------------------------------------------------
url=$(q "SELECT esi.login('esi', $SCOPES)")
expect_match "esi.login() returns SSO's authorize URL with PKCE S256 and a state" "$url" \
	"^$ESI_SIM_URL/v2/oauth/authorize\?response_type=code&client_id=sim-native-client&redirect_uri=http%3A%2F%2Flocalhost%2Fcallback&scope=esi-assets.read_assets.v1%20esi-wallet.read_character_wallet.v1&state=[A-Za-z0-9_-]{22}&code_challenge=[A-Za-z0-9_-]{43}&code_challenge_method=S256$"
out=$(login $AYLA)
expect "esi.login_callback() finishes the login: the character, its name, its scopes" "$out" "$AYLA|Ayla Sim|2"
out=$(q "SELECT server_name, character_id, name, needs_login, owner::text = current_user FROM esi.characters")
expect "esi.characters lists it for its role" "$out" "esi|$AYLA|Ayla Sim|f|t"
out=$(q "SELECT esi.login_callback('http://localhost/callback?code=abc&state=nope')")
expect_match "an unknown state is refused (28000)" "$out" "ERROR:  28000: unknown EVE SSO login state"

# --- authenticated tables -----------------------------------------------------
s=$(sim_seq)
# (the simulator's first version of Ayla's assets: 1820 items, two pages)
out=$(q "SELECT count(*), count(DISTINCT item_id) FROM character_assets WHERE character_id = $AYLA")
expect "the character's assets are read with its token: all 1820 items" "$out" "1820|1820" "log:$s"
out=$(q "SELECT count(*) FROM character_wallet WHERE character_id = $AYLA")
expect "... and its wallet" "$out" "1"
out=$(q "SELECT count(*), count(DISTINCT transaction_id) FROM character_wallet_transactions WHERE character_id = $AYLA")
expect "... and its 4250 wallet transactions, a from_id walk with the token" "$out" "4250|4250"
out=$(q "SELECT count(*) FROM character_assets WHERE character_id = $BORIS")
expect_match "a character that did not log in: 28000 with a HINT to log in" "$out" \
	"ERROR:  28000: no EVE SSO login of character $BORIS.*HINT:  Log the character in: SELECT esi.login\('esi'"
out=$(q "SELECT count(*) FROM character_skills WHERE character_id = $AYLA")
expect_match "a scope the login lacks: 28000 naming it and the login call" "$out" \
	"ERROR:  28000: the EVE SSO login of character $AYLA \(Ayla Sim\) lacks scope esi-skills.read_skills.v1.*SELECT esi.login\('esi', ARRAY\['esi-skills.read_skills.v1'\]\)"

# --- refresh and rotation -----------------------------------------------------
r0=$(sso_counter $AYLA refreshes)
out=$(q "BEGIN" "SELECT count(*) FROM character_assets WHERE character_id = $AYLA" "ROLLBACK")
expect "a query whose transaction rolls back refreshes the token" "$out" "1820"
out=$(q "SET default_transaction_read_only = on" "SELECT count(*) FROM character_assets WHERE character_id = $AYLA")
expect "the rotated refresh token was kept: the next refresh works, in a read-only transaction" "$out" "1820"
out=$(q "BEGIN ISOLATION LEVEL REPEATABLE READ" "SELECT count(*) FROM character_wallet WHERE character_id = $AYLA" \
	"SELECT count(*) FROM character_assets WHERE character_id = $AYLA AND false" \
	"SELECT count(*) FROM character_wallet WHERE character_id = $AYLA" "COMMIT")
expect "two refreshes in one REPEATABLE READ transaction: the second uses the rotated token" "$out" $'1\n0\n1'
r1=$(sso_counter $AYLA refreshes)
f1=$(sso_counter $AYLA refresh_failures)
expect "SSO saw four refreshes and no failure" "$((r1 - r0)) $f1" "4 0"
# four sessions at once need a new token: one refresh
for i in 1 2 3 4; do
	q_bg "$TEST_DIR/par$i.out" "SELECT count(*) FROM character_wallet WHERE character_id = $AYLA"
	pids[i]=$BG_PID
done
wait "${pids[@]}"
r2=$(sso_counter $AYLA refreshes)
out=$(cat "$TEST_DIR"/par{1,2,3,4}.out | sort | uniq -c | awk '{print $1, $2}')
expect "four concurrent sessions all read the wallet (its one row)" "$out" "4 1"
expect_match "... with one or two refreshes (not four): tokens are shared" "$((r2 - r1))" "^[12]$"

# --- JWT checks -----------------------------------------------------------------
for kind in bad_signature wrong_audience expired unknown_kid wrong_iss alg_none; do
	sim "/_sim/sso/flaw?kind=$kind&count=1" >/dev/null
	out=$(login $AYLA 2>&1)
	expect_match "a token with flaw $kind is refused at login (28000, names the check)" "$out" \
		"ERROR:  28000: EVE SSO's access token failed verification"
done
sim "/_sim/sso/flaw?kind=none" >/dev/null

# --- revoked, sold ------------------------------------------------------------
out=$(login $BORIS)
expect "a second character logs in" "$out" "$BORIS|Boris Sim|2"
out=$(q "SELECT count(*), string_agg(character_id::text, ',' ORDER BY character_id) FROM character_wallet")
expect "without a character_id condition a scan reads every character of the role" "$out" "2|$AYLA,$BORIS"
out=$(q "EXPLAIN (COSTS OFF) SELECT * FROM character_wallet" | grep "ESI Requests")
expect_match "... which EXPLAIN shows" "$out" "GET /characters/\{each character\}/wallet"
sim "/_sim/sso/revoke?character_id=$BORIS" >/dev/null
out=$(q "SELECT count(*) FROM character_wallet WHERE character_id = $BORIS")
expect_match "a revoked refresh token: 28000, the login is no longer valid" "$out" \
	"ERROR:  28000: the EVE SSO login of character $BORIS \(Boris Sim\) is no longer valid"
out=$(q "SELECT needs_login FROM esi.characters WHERE character_id = $BORIS")
expect "... and the character is marked as needing a new login" "$out" "t"
out=$(q "SELECT count(*) FROM character_wallet WHERE character_id = $BORIS")
expect_match "... which the next query says without asking SSO" "$out" "ERROR:  28000: character $BORIS \(Boris Sim\) needs a new EVE SSO login"
sim "/_sim/sso/sell?character_id=$AYLA&keep_tokens=1" >/dev/null
out=$(q "SELECT count(*) FROM character_wallet WHERE character_id = $AYLA")
expect_match "a character sold (new owner hash): 28000, changed hands" "$out" "ERROR:  28000: character $AYLA \(Ayla Sim\) changed hands"
out=$(login $AYLA)
expect "a new login makes it usable again" "$out" "$AYLA|Ayla Sim|2"

# --- roles --------------------------------------------------------------------
"$PSQL" -X -q -d postgres -c "DROP ROLE IF EXISTS sso_b" -c "CREATE ROLE sso_b LOGIN" >/dev/null 2>&1
q "GRANT USAGE ON SCHEMA esi TO sso_b" "GRANT USAGE ON FOREIGN SERVER esi TO sso_b" \
	"GRANT SELECT ON character_wallet TO sso_b" >/dev/null
qb() { PGUSER=sso_b q "$@"; }
out=$(qb "SELECT count(*) FROM esi.characters")
expect "another role sees none of the characters" "$out" "0"
"$PSQL" -X -q -d "$DB" -c "SET esi_fdw.cache = on" -c "SELECT count(*) FROM character_wallet WHERE character_id = $AYLA" >/dev/null 2>&1
out=$(qb "SET esi_fdw.cache = on" "SELECT count(*) FROM character_wallet WHERE character_id = $AYLA")
expect_match "... cannot read them (28000), not even what the cache holds" "$out" "ERROR:  28000: no EVE SSO login of character $AYLA for role \"sso_b\""
out=$(qb "SELECT count(*) FROM esi.sso_characters")
expect "... reads no row of the tokens table (row-level security)" "$out" "0"
out=$(qb "SELECT esi.logout('esi', $AYLA)")
expect_match "... cannot log them out" "$out" "ERROR:  42501"
PGUSER=sso_b "$ESI_PG_BIN/pg_dump" -d "$DB" >"$TEST_DIR/dump_b.sql" 2>"$TEST_DIR/dump_b.err"
if grep -q "sso_characters" "$TEST_DIR/dump_b.err" || ! grep -q "COPY esi.sso_characters" "$TEST_DIR/dump_b.sql"; then
	ok "pg_dump as that role does not get the tokens table"
else
	not_ok "pg_dump as that role does not get the tokens table" "$TEST_DIR/dump_b.err"
fi
q "SELECT esi.grant_character('esi', $AYLA, 'sso_b')" >/dev/null
out=$(qb "SELECT count(*) FROM character_wallet WHERE character_id = $AYLA" "SELECT name FROM esi.characters")
expect "after esi.grant_character() it reads the character, and sees it" "$out" $'1\nAyla Sim'
out=$(qb "SELECT string_agg(character_id::text, ',') FROM character_wallet")
expect "... and a scan without character_id covers just that one" "$out" "$AYLA"
q "SELECT esi.revoke_character('esi', $AYLA, 'sso_b')" >/dev/null
out=$(qb "SELECT count(*) FROM esi.characters")
expect "esi.revoke_character() takes it back" "$out" "0"

# --- a corporation's route: a character of it with one of the route's roles ----------
CIRA=2112625430
CSCOPES="ARRAY['esi-assets.read_corporation_assets.v1', 'esi-characters.read_corporation_roles.v1']"
out=$(login $CIRA "$CSCOPES")
expect "a character without corporation roles logs in" "$out" "$CIRA|Cira Sim|2"
out=$(q "SELECT count(*) FROM corporation_assets WHERE corporation_id = 98000001")
expect_match "its corporation's assets need the role Director: 28000 naming it" "$out" \
	"ERROR:  28000: no character of role \"postgres\" may read foreign table \"corporation_assets\" for corporation 98000001.*one of the corporation roles Director"
out=$(login $AYLA "ARRAY['esi-assets.read_assets.v1', 'esi-wallet.read_character_wallet.v1', 'esi-assets.read_corporation_assets.v1', 'esi-characters.read_corporation_roles.v1']")
expect "a Director of the corporation logs in" "$out" "$AYLA|Ayla Sim|4"
s=$(sim_seq)
out=$(q "SELECT count(*), count(DISTINCT item_id) FROM corporation_assets WHERE corporation_id = 98000001")
expect "the corporation's assets are read with the Director's token: all 2036 items" "$out" "2036|2036" "log:$s"
out=$(q "SELECT count(*) FROM corporation_assets WHERE corporation_id = 98000002")
expect_match "another corporation: 28000, no character of the role is in it" "$out" \
	"ERROR:  28000: no character of role \"postgres\" may read foreign table \"corporation_assets\" for corporation 98000002"

# --- a hot standby --------------------------------------------------------------
sb=$TEST_DIR/standby
if esi_standby_start "$sb" >"$TEST_DIR/standby.out" 2>&1 && esi_standby_catchup >>"$TEST_DIR/standby.out" 2>&1; then
	out=$(esi_standby_psql -q -A -t -v VERBOSITY=verbose -d "$DB" \
		-c "SELECT count(*) FROM character_wallet WHERE character_id = $AYLA" 2>&1)
	expect_match "on a hot standby an authenticated table is an error: tokens live on the primary (25006)" "$out" \
		"ERROR:  25006: foreign table \"character_wallet\" cannot be read on a hot standby"
	out=$(esi_standby_psql -q -A -t -d "$DB" -c "SELECT count(*) FROM esi.characters" 2>&1)
	expect "... where esi.characters still answers" "$out" "3"
else
	not_ok "a hot standby of the test cluster runs" "$TEST_DIR/standby.out"
fi
esi_standby_stop "$sb" >/dev/null 2>&1

# --- at rest ------------------------------------------------------------------
"$ESI_PG_BIN/pg_dump" -d "$DB" >"$TEST_DIR/dump.sql" 2>"$TEST_DIR/dump.err"
rows=$(awk '/^COPY esi.sso_characters /{f=1; next} /^\\\.$/{f=0} f' "$TEST_DIR/dump.sql")
expect_match "pg_dump holds the logins, each refresh token sealed (bytea)" "$rows" "\\\\x[0-9a-f]{60,}"
# refresh tokens are 24 characters of base64 (16 bytes); access tokens JWTs
if grep -qiE "sim-web-secret|Bearer |eyJ[A-Za-z0-9_-]{20,}\.|[^A-Za-z0-9+/][A-Za-z0-9+/]{22}==([^A-Za-z0-9+/=]|$)" "$TEST_DIR/dump.sql"; then
	not_ok "pg_dump holds no secret in clear" "$TEST_DIR/dump.sql"
else
	ok "pg_dump holds no secret in clear"
fi
before=$(q "SELECT md5(string_agg(refresh_token::text, ',' ORDER BY character_id)) FROM esi.sso_characters")
out=$(q "SELECT esi.rekey()" "SELECT count(*) FROM esi.sso_characters WHERE refresh_token IS NOT NULL" \
	"SELECT count(*) FROM esi.sso_clients WHERE secret IS NOT NULL" "SELECT count(*) FROM esi.sso_logins")
expect "esi.rekey() seals every value again: 3 refresh tokens and the 7 logins under way (no client secret yet)" "$out" $'10\n3\n0\n7'
after=$(q "SELECT md5(string_agg(refresh_token::text, ',' ORDER BY character_id)) FROM esi.sso_characters")
[ "$before" != "$after" ] && ok "... with new ciphertexts" || not_ok "... with new ciphertexts"
out=$(q "SELECT count(*) FROM character_wallet WHERE character_id = $AYLA")
expect "... that still open (a refresh after re-keying works)" "$out" "1"


# --- a confidential client: its secret, sealed, sent with HTTP Basic -----------------
out=$(q "CREATE SERVER esiweb FOREIGN DATA WRAPPER esi_fdw OPTIONS (base_url '$ESI_SIM_URL', sso_url '$ESI_SIM_URL', sso_client_id 'sim-web-client', sso_redirect_uri 'https://localhost/callback')" \
	"SELECT esi.set_client_secret('esiweb', 'sim-web-secret')" \
	"SELECT count(*) FROM esi.sso_clients WHERE server_name = 'esiweb' AND position('sim-web-secret' in encode(secret, 'escape')) = 0")
expect "a client secret is stored sealed" "$out" $'
1'
url=$(q "SELECT esi.login('esiweb', ARRAY['esi-wallet.read_character_wallet.v1'])")
loc=$(curl -sS -o /dev/null -w '%{redirect_url}' "$url&character_id=$BORIS")
out=$(q "SELECT character_id, name FROM esi.login_callback('$loc')")
expect "a login through the confidential client works" "$out" "$BORIS|Boris Sim"
out=$(q "CREATE FOREIGN TABLE web_wallet (character_id bigint OPTIONS (param 'path'), balance float8) SERVER esiweb OPTIONS (route '/characters/{character_id}/wallet', shape 'value', scope 'esi-wallet.read_character_wallet.v1')" \
	"SELECT count(*) FROM web_wallet WHERE character_id = $BORIS")
expect "... and its token reads the character (refreshed with the secret)" "$out" "1"
"$ESI_PG_BIN/pg_dump" -d "$DB" >"$TEST_DIR/dump2.sql" 2>&1
if grep -q "sim-web-secret" "$TEST_DIR/dump2.sql" || ! grep -q "COPY esi.sso_clients" "$TEST_DIR/dump2.sql"; then
	not_ok "pg_dump holds the client secret sealed only" "$TEST_DIR/dump2.sql"
else
	ok "pg_dump holds the client secret sealed only"
fi

# --- SSO out of reach ---------------------------------------------------------------
out=$(q "ALTER SERVER esi OPTIONS (SET sso_url 'http://127.0.0.1:9')" "SELECT esi.login('esi', $SCOPES)")
expect_match "SSO out of reach: a clear error (HV00N) naming the metadata" "$out" \
	"ERROR:  HV00N: could not reach EVE SSO for its metadata.*HINT:  Check the server's sso_url option"
q "ALTER SERVER esi OPTIONS (SET sso_url '$ESI_SIM_URL')" >/dev/null

# --- logout -------------------------------------------------------------------
v0=$(sso_counter $AYLA revocations)
out=$(q "SELECT esi.logout('esi', $AYLA)" "SELECT count(*) FROM esi.characters WHERE character_id = $AYLA")
expect "esi.logout() forgets the character" "$out" $'\n0'
v1=$(sso_counter $AYLA revocations)
expect "... after revoking its refresh token at SSO" "$((v1 - v0))" "1"
s=$(sim_seq)
if sim "/_sim/requests?since=0" | grep -qE "sim-web-secret|eyJ[A-Za-z0-9_-]{20,}"; then
	not_ok "the simulator's request log holds no token or secret"
else
	ok "the simulator's request log holds no token or secret"
fi
log=$(grep -hE "eyJ[A-Za-z0-9_-]{20,}\.|refresh_token=" "${PGHOST%/sock}/log/postgresql.log" 2>/dev/null | head -3)
expect "the server log holds no token" "$log" ""

[ "$failures" -eq 0 ] && simlib_drop_db
echo "1..$n"
[ "$failures" -eq 0 ]
