#!/usr/bin/env bash
# test/t/076_sso_esi.sh - EVE SSO and ESI as they really behave (issue 15):
# ESI reports a token it could not check, or an expired one, as a 403 with
# an sso_status field or naming SSO (esi-issues #83, #130, #1055, #1266):
# a read and a write get a fresh token and one more try, the 403 is not
# remembered, and the HINT says it is SSO's trouble; a 403 for a missing
# role is remembered and its HINT names the role.  Access tokens signed
# ES256 (SSO's EC P-256 key) log in and refresh; flawed ES256 tokens are
# refused.  SSO's requests carry the server's user_agent.  Prints TAP.
set -uo pipefail
export LC_ALL=C
: "${PGHOST:?}" "${PGPORT:?}" "${PGUSER:?}" "${ESI_SIM_URL:?}"
TEST_DIR=${TEST_DIR:-$(mktemp -d)}
mkdir -p "$TEST_DIR"
DB=t_sso_esi
# shellcheck source=test/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=test/tap.sh
. "$(dirname "$0")/../tap.sh"
# shellcheck source=test/simlib.sh
. "$(dirname "$0")/../simlib.sh"

AYLA=2112625428
BORIS=2112625429
# the server's user_agent (simlib_setup_db), not esi_fdw.user_agent
UA='esi_fdw tests (dev@example.com)'
SCOPES="ARRAY['esi-wallet.read_character_wallet.v1', 'esi-assets.read_corporation_assets.v1',
	'esi-characters.read_corporation_roles.v1', 'esi-characters.write_contacts.v1',
	'esi-characters.read_contacts.v1', 'esi-planets.manage_planets.v1']"

finish() {
	sim /_sim/sso/reset >/dev/null 2>&1
	sim /_sim/reset >/dev/null 2>&1
}
trap finish EXIT

sim /_sim/sso/reset >/dev/null
sim /_sim/reset >/dev/null
first=$(sim_seq)
simlib_setup_db \
	"ALTER SERVER esi OPTIONS (ADD sso_url '$ESI_SIM_URL', ADD sso_client_id 'sim-native-client', ADD sso_redirect_uri 'http://localhost/callback')" \
	"IMPORT FOREIGN SCHEMA characters LIMIT TO (character_wallet) FROM SERVER esi INTO public" \
	"IMPORT FOREIGN SCHEMA corporations LIMIT TO (corporation_assets) FROM SERVER esi INTO public" \
	"IMPORT FOREIGN SCHEMA contacts LIMIT TO (character_contacts) FROM SERVER esi INTO public" \
	"IMPORT FOREIGN SCHEMA planets LIMIT TO (character_planet_details) FROM SERVER esi INTO public" \
	"ALTER DATABASE $DB SET esi_fdw.cache = off"

# login CHARACTER SCOPES - esi.login(), the browser (curl), esi.login_callback()
login() {
	local url loc
	url=$(q "SELECT esi.login('esi', $2)") || { echo "$url"; return 1; }
	loc=$(curl -sS -o /dev/null -w '%{redirect_url}' "$url&character_id=$1") || return 1
	q "SELECT character_id FROM esi.login_callback('$loc')"
}
# sso_counter CHARACTER FIELD - one of the simulator's counters of a character
sso_counter() {
	sim /_sim/sso/characters | python3 -c "
import json, sys
for c in json.load(sys.stdin):
    if str(c.get('character_id')) == '$1':
        print(c.get('$2'))"
}
# statuses SEQ PATH - the statuses ESI answered to PATH after SEQ, in order
statuses() { sim_log "$1" "$2" | awk -F'\t' '{ printf "%s%s", sep, $2; sep = " " }'; }
wallet="SELECT count(*) FROM character_wallet WHERE character_id = $AYLA"

out=$(login $AYLA "$SCOPES")
expect "Ayla logs in" "$out" "$AYLA"
out=$(q "$wallet")
expect "her wallet is read with her token" "$out" "1"

# --- a 403 about the token: a fresh token, once more ---------------------------------
for style in sso_status message; do
	r0=$(sso_counter $AYLA refreshes)
	s=$(sim_seq)
	sim "/_sim/sso/trouble?style=$style&count=1" >/dev/null
	out=$(q "$wallet")
	expect "a 403 as ESI reports SSO's trouble ($style): read with a fresh token" "$out" "1" "log:$s"
	expect "... ESI answered 403, then 200" "$(statuses "$s" /wallet)" "403 200" "log:$s"
	expect "... after one refresh at SSO" "$(($(sso_counter $AYLA refreshes) - r0))" "1"
done

sim "/_sim/sso/config?token_errors=403" >/dev/null
sim "/_sim/sso/rotate_key?keep_old=0" >/dev/null
s=$(sim_seq)
out=$(q "$wallet")
expect "a token ESI no longer takes, refused with 403 and sso_status (esi-issues #1055): refreshed, read" \
	"$out" "1" "log:$s"
expect "... ESI answered 403, then 200" "$(statuses "$s" /wallet)" "403 200" "log:$s"

# two requests in flight with the token ESI no longer takes: the second 403,
# arriving after the first had the token refreshed, keeps the new one
planets="SELECT count(*) FROM character_planet_details WHERE character_id = $AYLA AND planet_id IN (40000001, 40000002)"
out=$(q "$planets")
expect "two planets read at once" "$out" "2"
sim "/_sim/sso/rotate_key?keep_old=0" >/dev/null
sim "/_sim/fault?path=/characters/$AYLA/planets/40000002&kind=latency&ms=1500" >/dev/null
r0=$(sso_counter $AYLA refreshes)
s=$(sim_seq)
out=$(q "$planets")
expect "both refused with 403 (the second late): read with a fresh token" "$out" "2" "log:$s"
expect "... each sent again once" "$(statuses "$s" /planets/ | tr ' ' '\n' | sort | tr '\n' ' ')" "200 200 403 403 " "log:$s"
expect "... one refresh at SSO, not one per refused request" "$(($(sso_counter $AYLA refreshes) - r0))" "1" "log:$s"
sim "/_sim/sso/config?token_errors=401" >/dev/null

# the response cache is the cluster's: what other tests left in it goes
q "SELECT esi.cache_clear()" >/dev/null
s=$(sim_seq)
sim "/_sim/sso/trouble?style=sso_status&count=2" >/dev/null
out=$(q "SET esi_fdw.cache = on" "$wallet")
expect_match "refused again with the fresh token: 28000 with ESI's message and a HINT about SSO, not a login" "$out" \
	"ERROR:  28000: ESI returned HTTP 403 for GET /characters/$AYLA/wallet \(foreign table \"character_wallet\"\).*unexpected end of JSON input.*HINT:  ESI could not check the character's token with EVE SSO \(sso_status 401\), also a token refreshed just before: trouble at EVE SSO, not a missing login or scope\. Try again in a few minutes\." \
	"log:$s"
expect "... two requests" "$(statuses "$s" /wallet)" "403 403" "log:$s"
s=$(sim_seq)
out=$(q "SET esi_fdw.cache = on" "$wallet")
expect "... not remembered (negative cache): the next query asks ESI again and reads" "$out" "1" "log:$s"
expect "... with one request" "$(statuses "$s" /wallet)" "200" "log:$s"

# --- a 403 about the character: remembered, the HINT names the role ----------------------
corp="SELECT count(*) FROM corporation_assets WHERE corporation_id = 98000001"
s=$(sim_seq)
sim "/_sim/sso/trouble?style=sso_status&count=1" >/dev/null
out=$(q "$corp")
expect "a Director reads her corporation's assets (the simulator's 2036 items)" "$out" 2036 "log:$s"
expect "... her roles (to choose her) asked again with a fresh token after a 403 about the token" \
	"$(statuses "$s" /roles)" "403 200" "log:$s"
sim "/_sim/sso/roles?character_id=$AYLA&roles=&stale=1" >/dev/null
r0=$(sso_counter $AYLA refreshes)
s=$(sim_seq)
out=$(q "SET esi_fdw.cache = on" "$corp")
expect_match "the role taken in game, ESI's roles list behind: 28000, HINT naming the role, not a login" "$out" \
	"ERROR:  28000: ESI returned HTTP 403 for GET /corporations/98000001/assets\?page=1 \(foreign table \"corporation_assets\"\).*Character does not have required role\(s\).*HINT:  The character does not hold one of the corporation roles Director that the route needs: roles are granted in the game, and ESI's list of a character's roles \(/characters/\{id\}/roles\) can lag behind by an hour\." \
	"log:$s"
expect "... one request, no new token" "$(statuses "$s" /corporations/98000001/assets) $(($(sso_counter $AYLA refreshes) - r0))" "403 0" "log:$s"
s=$(sim_seq)
out=$(q "SET esi_fdw.cache = on" "$corp")
expect_match "... remembered (esi_fdw.negative_cache_ttl): the same error" "$out" \
	"ERROR:  28000: ESI returned HTTP 403 for GET /corporations/98000001/assets\?page=1.*HINT:  The character does not hold one of the corporation roles Director"
expect "... without asking ESI" "$(statuses "$s" /corporations/98000001/assets)" "" "log:$s"
sim "/_sim/sso/roles?character_id=$AYLA&roles=Director" >/dev/null

# --- writes ------------------------------------------------------------------------------
s=$(sim_seq)
sim "/_sim/sso/trouble?style=message&count=1" >/dev/null
out=$(q "SELECT * FROM esi.post_character_contacts($AYLA, 5.0, ARRAY[90000001]::bigint[])")
expect "a write refused with a 403 naming SSO (esi-issues #130): sent again with a fresh token, done" \
	"$out" "90000001" "log:$s"
expect "... ESI answered 403 (nothing done), then 201" "$(statuses "$s" /contacts)" "403 201" "log:$s"
s=$(sim_seq)
sim "/_sim/sso/trouble?style=message&count=2" >/dev/null
out=$(q "SELECT * FROM esi.post_character_contacts($AYLA, 5.0, ARRAY[90000003]::bigint[])")
expect_match "refused twice: 28000, the write did not happen, the HINT says SSO's trouble" "$out" \
	"ERROR:  28000: ESI returned HTTP 403 for POST /characters/$AYLA/contacts.*SSO responded with a 400: Invalid token.*HINT:  ESI could not check the character's token with EVE SSO, also a token refreshed just before: trouble at EVE SSO, not a missing login or scope\. Try again in a few minutes\..*the write did not happen" \
	"log:$s"
expect "... two requests" "$(statuses "$s" /contacts)" "403 403" "log:$s"
out=$(q "SELECT string_agg(contact_id::text, ',' ORDER BY contact_id) FROM character_contacts
	WHERE character_id = $AYLA AND contact_id IN (90000001, 90000003)")
expect "... ESI holds the first contact, not the second" "$out" "90000001"

# --- ES256 -------------------------------------------------------------------------------
sim "/_sim/sso/config?alg=ES256&s_form=high&access_ttl=30" >/dev/null
out=$(sim /_sim/sso/keys | python3 -c "import json, sys; print(' '.join('%s:%s' % (k['kid'], k['signing']) for k in json.load(sys.stdin)))")
expect "the simulator's SSO signs with its EC key, listed after the RSA key" "$out" \
	"JWT-Signature-Key-3:False JWT-Signature-Key-ES256:True"
out=$(login $BORIS "ARRAY['esi-wallet.read_character_wallet.v1']")
expect "a login whose access token is ES256 (EC P-256, an s above half the order)" "$out" "$BORIS"
r0=$(sso_counter $BORIS refreshes)
out=$(q "SELECT count(*) FROM character_wallet WHERE character_id = $BORIS")
expect "... the token refreshed (ES256 again, 30 s tokens) reads the wallet" "$out" "1"
sim "/_sim/sso/config?s_form=low" >/dev/null
out=$(q "SELECT count(*) FROM character_wallet WHERE character_id = $BORIS")
expect "... and once more (an s below half the order)" "$out" "1"
expect "... two refreshes at SSO" "$(($(sso_counter $BORIS refreshes) - r0))" "2"
for case in alg_mismatch:bad_algorithm der_signature:bad_signature bad_signature:bad_signature \
	unknown_kid:unknown_key; do
	sim "/_sim/sso/flaw?kind=${case%%:*}&count=1" >/dev/null
	out=$(login $BORIS "ARRAY['esi-wallet.read_character_wallet.v1']")
	expect_match "an ES256 token with flaw ${case%%:*} is refused at login: ${case#*:}" "$out" \
		"ERROR:  28000: EVE SSO's access token failed verification: ${case#*:}"
done
sim "/_sim/sso/config?alg=RS256" >/dev/null
sim "/_sim/sso/flaw?kind=alg_mismatch&count=1" >/dev/null
out=$(login $BORIS "ARRAY['esi-wallet.read_character_wallet.v1']")
expect_match "an ES256 header naming SSO's RSA key is refused: bad_algorithm" "$out" \
	"ERROR:  28000: EVE SSO's access token failed verification: bad_algorithm.*DETAIL:  key \"JWT-Signature-Key-3\" of the JWKS is an RSA key; an ES256 token needs an EC key"

# --- User-Agent ----------------------------------------------------------------------------
out=$(q "SELECT esi.logout('esi', $BORIS)")
expect "a logout (revoked at SSO)" "$out" ""
agents=$(sim_log "$first" | awk -F'\t' '$4 ~ /^\/(\.well-known\/|oauth\/jwks|v2\/oauth\/(token|revoke))/ { print $4 "|" $9 }' | sort -u)
expect "SSO's metadata, JWKS, token and revocation requests carry the server's user_agent" "$agents" \
	"/.well-known/oauth-authorization-server|$UA
/oauth/jwks|$UA
/v2/oauth/revoke|$UA
/v2/oauth/token|$UA"
agents=$(sim_log "$first" /roles | awk -F'\t' '{ print $4 "|" $9 }' | sort -u)
expect "... and so does the lookup of a character's roles at ESI" "$agents" "/characters/$AYLA/roles|$UA"

# --- choosing a corporation's character: ESI's requests through the crawl (issue 17) -------
# Her corporation (/characters/{id}) and her roles (/characters/{id}/roles,
# with her token) are asked like any request: counted in esi.route_stats
# under their routes, cached, and held back by ESI's error limit.
q "SELECT esi.route_stats_reset()" "SELECT esi.cache_clear() >= 0" >/dev/null
# paths_sent SINCE - the paths asked for after SINCE, each with its count
paths_sent() {
	sim_log "$1" | awk -F'\t' '{ print $4 }' | sort | uniq -c | awk '{ print $2 ":" $1 }' | tr '\n' ' '
}
corp_stats="SELECT route || ':' || requests || ':' || cache_hits FROM esi.route_stats
	WHERE route IN ('/characters/{character_id}', '/characters/{character_id}/roles',
	                '/corporations/{corporation_id}/assets') ORDER BY route"
s=$(sim_seq)
out=$(q "$corp")
expect "a Director reads her corporation's assets (cache off)" "$out" 2036 "log:$s"
expect "... her corporation and roles asked once each, beside the assets" \
	"$(paths_sent "$s")" \
	"/characters/$AYLA:1 /characters/$AYLA/roles:1 /corporations/98000001/assets:3 " "log:$s"
out=$(q "$corp_stats")
expect "... esi.route_stats counts them under their GET routes" "$out" \
	"/characters/{character_id}:1:0
/characters/{character_id}/roles:1:0
/corporations/{corporation_id}/assets:3:0" "sql:SELECT * FROM esi.route_stats"
s=$(sim_seq)
out=$(q "SET esi_fdw.cache = on" "$corp" "$corp")
expect "twice more with the cache on" "$out" $'2036\n2036' "log:$s"
expect "... the lookups went out once (ESI caches them for a day and an hour), then came from the cache" \
	"$(paths_sent "$s")" \
	"/characters/$AYLA:1 /characters/$AYLA/roles:1 /corporations/98000001/assets:3 " "log:$s"
out=$(q "$corp_stats")
expect "... esi.route_stats: one more request and one cache hit each (and page)" "$out" \
	"/characters/{character_id}:2:1
/characters/{character_id}/roles:2:1
/corporations/{corporation_id}/assets:6:3" "sql:SELECT * FROM esi.route_stats"
# A broken reply to her corporation's lookup: the scan's error, naming the
# route and the choice (issue 17: read with the scan's decoder)
q "SELECT esi.cache_clear() >= 0" >/dev/null
s=$(sim_seq)
sim "/_sim/fault?path=/characters/$AYLA&kind=malformed&method=GET" >/dev/null
out=$(q "$corp")
expect_match "a malformed reply to /characters/{id}: HV00A naming the route, CONTEXT the choice" "$out" \
	"ERROR:  HV00A: invalid JSON in ESI reply for route /characters/\{character_id\}
DETAIL:  .* at byte [0-9]+ of [0-9]+, near .*
HINT:  ESI or a proxy sent a broken reply; run the query again, and check the server's base_url option if it persists.
CONTEXT:  choosing the character that reads foreign table \"corporation_assets\" for corporation 98000001" "log:$s"
expect "... one lookup, no assets asked" "$(paths_sent "$s")" "/characters/$AYLA:1 " "log:$s"
out=$(q "$corp")
expect "... the next query reads them" "$out" 2036
# ESI's error limit runs low: the lookup waits for it like a scan.  Only
# routes outside a rate-limit group speak of the error limit (her roles and
# the assets have groups): her corporation's lookup learns it ...
out=$(sim "/_sim/error_limit?remain=5&reset=10")
expect_match "the simulator: 5 errors left, reset in 10 s" "$out" '"remain":5,"reset":10'
s=$(sim_seq)
out=$(q "$corp")
expect "the corporation's assets read once more (cache off)" "$out" 2036 "log:$s"
out=$(q "SELECT remaining FROM esi.limits WHERE kind = 'error_limit' AND base_url = '$ESI_SIM_URL'")
expect "... her corporation's lookup learned X-ESI-Error-Limit-Remain: 5" "$out" "5" \
	"sql:SELECT * FROM esi.limits"
# ... and waits for it next time
s=$(sim_seq)
out=$(q "SET statement_timeout = '1s'" "$corp")
expect_match "choosing the character waits on the error limit like a scan: past statement_timeout, 53400 at once" \
	"$out" "ERROR:  53400: .*error limit.*CONTEXT:  choosing the character that reads foreign table \"corporation_assets\" for corporation 98000001" \
	"log:$s"
expect "... nothing was sent" "$(sim_log "$s" | awk -F'\t' '{ print $4 }' | tr '\n' ' ')" "" "log:$s"

[ "$failures" -eq 0 ] && simlib_drop_db
echo "1..$n"
[ "$failures" -eq 0 ]
