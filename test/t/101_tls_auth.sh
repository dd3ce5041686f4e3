#!/usr/bin/env bash
# test/t/101_tls_auth.sh - EVE SSO and ESI both over HTTPS (issue 15, item 2):
# Debian's nginx as a TLS front before the simulator (test/tlsfront.sh), in
# its two modes, HTTP/2 and HTTP/1.1 over TLS 1.3.  Through each: the SSO
# login with PKCE, token refreshes with rotation, an authenticated table with
# exact rows, and a write that reaches ESI exactly once.  The front's access
# log shows that every request went through it in the mode's protocol.
# Prints TAP.
set -uo pipefail
export LC_ALL=C
: "${PGHOST:?}" "${PGPORT:?}" "${PGUSER:?}" "${ESI_SIM_URL:?}"
TEST_DIR=${TEST_DIR:-$(mktemp -d)}
mkdir -p "$TEST_DIR"
DB=t_tls_auth
# shellcheck source=test/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=test/tap.sh
. "$(dirname "$0")/../tap.sh"
# shellcheck source=test/simlib.sh
. "$(dirname "$0")/../simlib.sh"
# shellcheck source=test/tlsfront.sh
. "$(dirname "$0")/../tlsfront.sh"

AYLA=2112625428
SCOPES="ARRAY['esi-wallet.read_character_wallet.v1', 'esi-characters.write_contacts.v1', 'esi-characters.read_contacts.v1']"
CERTS=$TEST_DIR    # tls_front_start finds the certificates in its DIR

finish() {
	local m
	for m in h2 h1; do tls_front_stop "$TEST_DIR" "front_$m"; done
	sim /_sim/sso/reset >/dev/null 2>&1
	sim /_sim/reset >/dev/null 2>&1
}
trap finish EXIT

# the postgres user reads the CA file
chmod 755 "$TEST_DIR"
if ! tls_make_certs "$CERTS" >"$TEST_DIR/certs.out" 2>&1; then
	not_ok "a test CA and certificates (openssl)" "$TEST_DIR/certs.out"
	echo "Bail out! no certificates"
	exit 1
fi

sim /_sim/sso/reset >/dev/null
sim /_sim/reset >/dev/null
# access tokens that live 30 s are refreshed at each use (esi_fdw refreshes
# 60 s before the expiry): every query with a token refreshes it first
sim "/_sim/sso/config?access_ttl=30" >/dev/null
simlib_setup_db \
	"ALTER SERVER esi OPTIONS (ADD sso_url '$ESI_SIM_URL', ADD sso_client_id 'sim-native-client', ADD sso_redirect_uri 'http://localhost/callback')" \
	"IMPORT FOREIGN SCHEMA characters LIMIT TO (character_wallet) FROM SERVER esi INTO public" \
	"IMPORT FOREIGN SCHEMA contacts LIMIT TO (character_contacts) FROM SERVER esi INTO public" \
	"ALTER DATABASE $DB SET esi_fdw.cache = off" \
	"ALTER DATABASE $DB SET esi_fdw.ca_file = '$CERTS/ca.pem'"

# sso_counter CHARACTER FIELD - one of the simulator's counters of a character
sso_counter() {
	sim /_sim/sso/characters | python3 -c "
import json, sys
for c in json.load(sys.stdin):
    if str(c.get('character_id')) == '$1':
        print(c.get('$2'))"
}
# writes_since SEQ PATH - the POST/PUT/DELETE requests to PATH after SEQ
# (token requests to SSO are POSTs too)
writes_since() {
	sim "/_sim/writes?since=$1" | python3 -c "
import json, sys
print(sum(1 for w in json.load(sys.stdin) if w.get('path') == '$2'))"
}
last_seq() { python3 "$(dirname "$0")/../simlog.py" "$ESI_SIM_URL" seq; }
# front_lines MODE ERE - how many of the front's log lines match ERE
front_lines() { tls_front_log "$TEST_DIR" "front_$1" | grep -cE -- "$2"; }

for mode in h2 h1; do
	case $mode in
		h2) proto="HTTP/2.0" what="HTTP/2" contact=90000011 ;;
		h1) proto="HTTP/1.1" what="HTTP/1.1 over TLS 1.3" contact=90000012 ;;
	esac
	front=$(tls_front_start "$TEST_DIR" "front_$mode" "$mode" "$ESI_SIM_URL" 2>"$TEST_DIR/front_$mode.err")
	if [ -z "$front" ]; then
		not_ok "$what: nginx starts as a TLS front" "$TEST_DIR/front_$mode.err"
		continue
	fi
	out=$(q "ALTER SERVER esi OPTIONS (SET base_url '$front', SET sso_url '$front')")
	expect "$what: the server's base_url and sso_url point at the front" "$out" ""

	# --- the login: esi.login(), the browser, esi.login_callback() --------------
	url=$(q "SELECT esi.login('esi', $SCOPES)")
	expect_match "$what: esi.login() gives the authorize URL on the HTTPS SSO, with PKCE S256" "$url" \
		"^$front/v2/oauth/authorize\?response_type=code&client_id=sim-native-client&.*&code_challenge=[A-Za-z0-9_-]{43}&code_challenge_method=S256$"
	loc=$(curl -sS --cacert "$CERTS/ca.pem" -o /dev/null -w '%{redirect_url}' "$url&character_id=$AYLA" 2>&1)
	out=$(q "SELECT character_id, name, array_length(scopes, 1) FROM esi.login_callback('$loc')")
	expect "$what: esi.login_callback() fetches the token over HTTPS and verifies it with the JWKS" \
		"$out" "$AYLA|Ayla Sim|3" "$TEST_DIR/front_$mode/logs/access.log"
	out=$(tls_front_log "$TEST_DIR" "front_$mode" | awk '{print $6, $7}' | sort -u)
	expect "$what: SSO's metadata, token and JWKS went through the front" "$out" \
		$'GET /.well-known/oauth-authorization-server\nGET /oauth/jwks\nGET /v2/oauth/authorize?'"${url#"$front"/v2/oauth/authorize?}&character_id=$AYLA"$'\nPOST /v2/oauth/token'
	expect "$what: ... one token request, the login's" "$(front_lines "$mode" " POST /v2/oauth/token$")" "1"

	# --- refresh with rotation, an authenticated table ----------------------------
	r0=$(sso_counter $AYLA refreshes)
	out=$(q "SELECT character_id, balance FROM character_wallet WHERE character_id = $AYLA")
	expect "$what: the character's wallet, read with a refreshed token (exact row)" "$out" "$AYLA|48433.7"
	out=$(q "SELECT character_id, balance FROM character_wallet WHERE character_id = $AYLA")
	expect "$what: again, with a token refreshed with the rotated refresh token" "$out" "$AYLA|48433.7"
	r1=$(sso_counter $AYLA refreshes)
	f1=$(sso_counter $AYLA refresh_failures)
	expect "$what: SSO saw two refreshes and no failure" "$((r1 - r0)) $f1" "2 0"
	expect "$what: ... both through the front" "$(front_lines "$mode" " POST /v2/oauth/token$")" "3"

	# --- a write, exactly once --------------------------------------------------
	s=$(last_seq)
	out=$(q "SELECT * FROM esi.post_character_contacts($AYLA, 5.0, ARRAY[$contact]::bigint[])")
	expect "$what: post_character_contacts returns the contact added" "$out" "$contact" "log:$s"
	expect "$what: ... ESI got the write exactly once" "$(writes_since "$s" "/characters/$AYLA/contacts")" "1" "log:$s"
	expect "$what: ... through the front" "$(front_lines "$mode" " POST /characters/$AYLA/contacts\?standing=5")" "1"
	out=$(q "SELECT contact_id, standing FROM character_contacts WHERE character_id = $AYLA AND contact_id = $contact")
	expect "$what: the contacts table shows it" "$out" "$contact|5"

	# --- the transport -----------------------------------------------------------
	out=$(tls_front_log "$TEST_DIR" "front_$mode" | awk '{print $3, $4}' | sort | uniq -c | awk '{print $2, $3}')
	expect "$what: every request went through the front as $proto over TLSv1.3" "$out" "$proto TLSv1.3" \
		"$TEST_DIR/front_$mode/logs/access.log"
	tls_front_stop "$TEST_DIR" "front_$mode"
done

[ "$failures" -eq 0 ] && simlib_drop_db
echo "1..$n"
[ "$failures" -eq 0 ]
