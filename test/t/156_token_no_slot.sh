#!/usr/bin/env bash
# test/t/156_token_no_slot.sh - a rotated refresh token is never lost for
# want of a background worker slot (issue 16, item 10), and a session
# waiting for another's refresh shows the wait (issue 17, item 6).
#
# On its own small cluster (max_worker_processes = 3: esi_fdw's refresh
# launcher and two parallel workers of sleeping queries take every slot),
# scans of a character whose access token is due refresh it at the
# simulator, which rotates the refresh token and kills the old one: each
# scan reads, with a WARNING that the new token is kept in shared memory;
# a second refresh uses the kept token (SSO took it); nothing is written
# while no slot is free.  Once the slots are free the next scan stores the
# kept token without asking SSO, and after a server restart (shared memory
# gone) the stored token refreshes.  With every one of the 256 token slots
# holding a kept token, a refresh fails before SSO is asked.  Then a session that waits for
# another's refresh shows wait_event_type Extension, wait_event Extension
# in pg_stat_activity, and uses that refresh's token.  Waits are polls with
# generous bounds, never timing assertions.  Prints TAP.
set -uo pipefail
export LC_ALL=C
: "${ESI_SIM_URL:?}"
. "$(dirname "$0")/../lib.sh"
TEST_DIR=${TEST_DIR:-$(mktemp -d)}
mkdir -p "$TEST_DIR"
PORT=54371
DB=t_token_slot
. "$(dirname "$0")/../tap.sh"
. "$(dirname "$0")/../simlib.sh"

AYLA=2112625428
dir=$TEST_DIR/tscluster
finish() {
	[ -n "${ESI_CLUSTER_DIR:-}" ] && "$PSQL" -X -q -d postgres -c \
		"SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'slot_hog%'" >/dev/null 2>&1
	sim /_sim/reset >/dev/null 2>&1
	sim /_sim/sso/reset >/dev/null 2>&1
	esi_cluster_stop "$dir" >/dev/null 2>&1
}
trap finish EXIT

sim /_sim/reset >/dev/null
sim /_sim/sso/reset >/dev/null
# no logical replication launcher: the slots are esi_fdw's launcher's and
# the parallel workers'
ESI_CLUSTER_FRESH=1 ESI_CLUSTER_EXTRA_CONF="max_worker_processes = 3
max_parallel_workers = 3
max_logical_replication_workers = 0" \
	esi_cluster_start "$dir" "$PORT" >"$TEST_DIR/tsstart.out" 2>&1 ||
	{ echo "not ok 1 - start a cluster"; sed 's/^/# /' "$TEST_DIR/tsstart.out"; echo "1..1"; exit 1; }
dir=$ESI_CLUSTER_DIR
export PGHOST=$dir/sock PGPORT=$PORT PGUSER=postgres

simlib_setup_db \
	"ALTER SERVER esi OPTIONS (ADD sso_url '$ESI_SIM_URL', ADD sso_client_id 'sim-native-client', ADD sso_redirect_uri 'http://localhost/callback')" \
	"IMPORT FOREIGN SCHEMA characters LIMIT TO (character_wallet) FROM SERVER esi INTO public" \
	"ALTER DATABASE $DB SET esi_fdw.cache = off"

# wait_for SQL [SECONDS] - polls until SQL returns t (default bound 120 s)
wait_for() {
	local i lim=$((${2:-120} * 10))
	for ((i = 0; i < lim; i++)); do
		[ "$(q "$1" 2>/dev/null)" = t ] && return 0
		sleep 0.1
	done
	return 1
}
wait_up() {
	local i
	for ((i = 0; i < 1200; i++)); do
		q "SELECT 1" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
# sso_counter CHARACTER FIELD - one of the simulator's counters of a character
sso_counter() {
	sim /_sim/sso/characters | python3 -c "
import json, sys
for c in json.load(sys.stdin):
    if str(c.get('character_id')) == '$1':
        print(c.get('$2'))"
}
login() {
	local url loc
	url=$(q "SELECT esi.login('esi', ARRAY['esi-wallet.read_character_wallet.v1'])") || { echo "$url"; return 1; }
	loc=$(curl -sS -o /dev/null -w '%{redirect_url}' "$url&character_id=$1") || return 1
	q "SELECT character_id FROM esi.login_callback('$loc')"
}
wallet="SELECT count(*) FROM character_wallet WHERE character_id = $AYLA"
stored="SELECT md5(refresh_token), needs_login FROM esi.sso_characters WHERE character_id = $AYLA"
# the rows of a scan's output that are not a WARNING's (message, DETAIL, HINT, LOCATION)
rows_of() { grep -v -E '^(WARNING|DETAIL|HINT|LOCATION): '; }
KEPT="WARNING:  53000: the rotated EVE SSO refresh token of character $AYLA is kept in shared memory until it can be stored"
NOSLOT="DETAIL:  esi_fdw stores refresh tokens with a background worker, and no worker slot is free."
HINT="HINT:  Raise max_worker_processes. The next query of this database that uses an EVE SSO character stores it; if the server restarts first, the character needs a new login."

# access tokens live 30 s: less than the 60 s margin, so each scan refreshes
sim "/_sim/sso/config?access_ttl=30" >/dev/null
out=$(login $AYLA)
expect "Ayla logs in (a token writer stores her login)" "$out" "$AYLA"
md5_login=$(q "SELECT md5(refresh_token) FROM esi.sso_characters WHERE character_id = $AYLA")
# 256 more characters: with Ayla's, one more than esi_fdw's 256 token slots
PILOTS="SELECT g FROM generate_series(2112700001, 2112700256) g"
bad=0
for ((c = 2112700001; c <= 2112700256; c++)); do
	[ "$(login $c)" = "$c" ] || bad=$((bad + 1))
done
expect "256 more characters log in" "$bad|$(q "SELECT count(*) FROM esi.sso_characters WHERE character_id IN ($PILOTS)")" "0|256"

# --- every worker slot taken ------------------------------------------------------------
for h in 1 2; do
	PGAPPNAME=slot_hog$h q_bg "$TEST_DIR/hog$h.out" "SET force_parallel_mode = on" \
		"SET parallel_setup_cost = 0" "SELECT pg_sleep(280)"
done
if wait_for "SELECT count(*) FILTER (WHERE backend_type = 'parallel worker') = 2
	AND count(*) FILTER (WHERE backend_type = 'esi_fdw refresh launcher') = 1 FROM pg_stat_activity"; then
	ok "all 3 worker slots taken: esi_fdw's refresh launcher and 2 parallel workers of sleeping queries"
else
	not_ok "all 3 worker slots taken" "$(q 'SELECT backend_type, application_name, state FROM pg_stat_activity')"
fi

r0=$(sso_counter $AYLA refreshes)
f0=$(sso_counter $AYLA refresh_failures)
out=$(q "$wallet")
expect "a scan refreshes the token with no worker slot free, and reads" "$(rows_of <<<"$out")" "1"
expect "... WARNING: the rotated refresh token is kept in shared memory (no secret in it)" \
	"$(grep -E '^(WARNING|DETAIL|HINT):' <<<"$out")" "$KEPT
$NOSLOT
$HINT"
expect "... SSO rotated the refresh token (one refresh)" "$(($(sso_counter $AYLA refreshes) - r0))" "1"
expect "... nothing stored while no slot is free" "$(q "$stored")" "$md5_login|f"

out=$(q "$wallet")
expect "a second refresh while the token is kept: reads, kept again" "$(rows_of <<<"$out")|$(grep -c '^WARNING' <<<"$out")" "1|1"
expect "... it used the kept refresh token: SSO refreshed, refused none (the old one is dead at SSO)" \
	"$(($(sso_counter $AYLA refreshes) - r0))|$(($(sso_counter $AYLA refresh_failures) - f0))" "2|0"
expect "... the login does not need a new login, still nothing stored" "$(q "$stored")" "$md5_login|f"

# the next access token lives 20 minutes: later scans use it
sim "/_sim/sso/config?access_ttl=1200" >/dev/null
out=$(q "$wallet")
expect "a third refresh (a long-lived access token), kept again" "$(rows_of <<<"$out")|$(grep -c '^WARNING' <<<"$out")|$(($(sso_counter $AYLA refreshes) - r0))" "1|1|3"

# --- every token slot holds a kept token: a refresh fails before SSO is asked ------------------------
out=$(q "SELECT count(*) FROM character_wallet WHERE character_id IN ($PILOTS)")
expect_match "a scan of the 256 characters: Ayla's slot and 255 more hold kept tokens, the last refresh fails" "$out" \
	"ERROR:  53000: too many EVE SSO characters are being refreshed at once
DETAIL:  All 256 token slots of esi_fdw's shared memory hold an access token being refreshed or a rotated refresh token waiting for a worker slot to be stored; EVE SSO was not asked.
HINT:  Raise max_worker_processes if the server log shows that refresh tokens wait to be stored, then try again."
expect "... 255 WARNINGs (one per kept token)" "$(grep -c '^WARNING:  53000: the rotated EVE SSO refresh token of character 21127' <<<"$out")" "255"
out=$(sim /_sim/sso/characters | python3 -c "
import json, sys
cs = [c for c in json.load(sys.stdin) if 2112700001 <= int(c['character_id']) <= 2112700256]
print(sum(c['refreshes'] for c in cs), sum(c['refresh_failures'] for c in cs), sum(1 for c in cs if c['refreshes'] == 0))")
expect "... SSO refreshed 255 of them, refused none; the one left was not asked" "$out" "255 0 1"

# --- the slots free again -------------------------------------------------------------------
q "SELECT count(pg_cancel_backend(pid)) FROM pg_stat_activity WHERE application_name LIKE 'slot_hog%'" >/dev/null
if wait_for "SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'parallel worker'"; then
	ok "the sleeping queries cancelled: two worker slots free"
else
	not_ok "the sleeping queries cancelled" "$(q 'SELECT backend_type, application_name FROM pg_stat_activity')"
fi
# (the postmaster frees a slot once it has reaped the worker: scans until
# one finds it free)
outs=
for ((i = 0; i < 300; i++)); do
	outs+="$(q "$wallet")"$'\n'
	[ "$(q "SELECT md5(refresh_token) <> '$md5_login' FROM esi.sso_characters WHERE character_id = $AYLA")" = t ] && break
	sleep 0.1
done
out=$(q "SELECT md5(refresh_token) <> '$md5_login', needs_login FROM esi.sso_characters WHERE character_id = $AYLA")
expect "a scan with a worker slot free stores the kept refresh token" "$out" "t|f"
expect "... the scans read without a WARNING and without asking SSO" \
	"$(printf "%s" "$outs" | sort -u | tr '\n' ' ')|$(($(sso_counter $AYLA refreshes) - r0))" "1 |3"

if wait_for "SELECT count(*) = 255 FROM esi.sso_characters WHERE character_id IN ($PILOTS) AND refreshed_at > logged_in_at" 60; then
	ok "... and the 255 other kept tokens"
else
	not_ok "... and the 255 other kept tokens" "$(q "SELECT count(*) FROM esi.sso_characters WHERE character_id IN ($PILOTS) AND refreshed_at > logged_in_at")"
fi
out=$(q "SELECT count(*) FROM character_wallet WHERE character_id IN ($PILOTS)" 2>&1 | grep -c -E '^(WARNING|ERROR)')
expect "the 256 characters read again: no WARNING, no ERROR" "$out" "0"

# --- a server restart: shared memory is gone, the stored token refreshes --------------------------
# (from here access tokens live 30 s again: each scan refreshes)
sim "/_sim/sso/config?access_ttl=30" >/dev/null
esi_as_pg "$ESI_PG_BIN/pg_ctl" restart -D "$dir/data" -m fast -w -s -l "$dir/log/postgresql.log" >"$TEST_DIR/tsrestart.out" 2>&1
wait_up
f1=$(sso_counter $AYLA refresh_failures)
out=$(q "$wallet")
expect "after a restart the stored (rotated) token refreshes: reads, no new login" \
	"$out|$(($(sso_counter $AYLA refreshes) - r0))|$(($(sso_counter $AYLA refresh_failures) - f1))|$(q "SELECT needs_login FROM esi.sso_characters WHERE character_id = $AYLA")" \
	"1|4|0|f"

# --- a session waiting for another's refresh shows the wait ---------------------------------------
out=$(q "$wallet")
expect "a scan refreshes again (a 30 s access token)" "$out|$(($(sso_counter $AYLA refreshes) - r0))" "1|5"
sim "/_sim/fault?path=/v2/oauth/token&kind=latency&ms=8000&count=1" >/dev/null
PGAPPNAME=refresher q_bg "$TEST_DIR/refresher.out" "$wallet"
pid1=$BG_PID
# the refresher is in SSO's token call (8 s): its HTTP wait shows too
if wait_for "SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'refresher'
	AND wait_event_type = 'Extension'" 60; then
	ok "a session refreshes the token (SSO answers in 8 s)"
else
	not_ok "a session refreshes the token" "$(q 'SELECT application_name, wait_event_type, wait_event FROM pg_stat_activity')"
fi
PGAPPNAME=waiter q_bg "$TEST_DIR/waiter.out" "$wallet"
pid2=$BG_PID
got=
for ((i = 0; i < 600; i++)); do
	got=$(q "SELECT wait_event_type || '|' || wait_event FROM pg_stat_activity WHERE application_name = 'waiter'
		AND (SELECT count(*) FROM pg_stat_activity WHERE application_name = 'refresher') = 1")
	[ "$got" = "Extension|Extension" ] && break
	sleep 0.05
done
expect "the session waiting for that refresh shows wait_event_type Extension, wait_event Extension" "$got" "Extension|Extension"
wait "$pid1" "$pid2"
expect "both read; one refresh at SSO for the two" \
	"$(cat "$TEST_DIR/refresher.out")|$(cat "$TEST_DIR/waiter.out")|$(($(sso_counter $AYLA refreshes) - r0))" "1|1|6"

esi_cluster_stop "$dir" >/dev/null 2>&1
echo "1..$n"
[ "$failures" -eq 0 ]
