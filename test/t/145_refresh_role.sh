#!/usr/bin/env bash
# test/t/145_refresh_role.sh - whose rights a refresh runs with, and grants
# after a change of owner (issue 16, items 3 and 9), on its own small
# cluster with background workers.
#   3. A role that may write esi.targets set refresh_role to a superuser,
#      and the workers then ran its snapshot table's trigger as that
#      superuser; a superuser's CALL esi.refresh of another role's target
#      ran that role's trigger as the superuser.  Now: refresh_role is
#      refused (42501) unless the writer is a member of it, and step 2 of a
#      refresh runs as the snapshot table's owner when the caller (or
#      refresh_role) has more rights.
#   9. When another role logs a character in, the previous owner's grants
#      go; an owner lists its characters' grants (esi.character_grants).
# Prints TAP.
set -uo pipefail
export LC_ALL=C
: "${ESI_SIM_URL:?}"
. "$(dirname "$0")/../lib.sh"
TEST_DIR=${TEST_DIR:-$(mktemp -d)}
mkdir -p "$TEST_DIR"
PORT=54361
DB=t_rr
. "$(dirname "$0")/../tap.sh"
. "$(dirname "$0")/../simlib.sh"

AYLA=2112625428
dir=$TEST_DIR/rrcluster
finish() {
	sim /_sim/reset >/dev/null 2>&1
	sim /_sim/sso/reset >/dev/null 2>&1
	esi_cluster_stop "$dir" >/dev/null 2>&1
}
trap finish EXIT

sim /_sim/reset >/dev/null
sim /_sim/sso/reset >/dev/null
ESI_CLUSTER_FRESH=1 ESI_CLUSTER_EXTRA_CONF="esi_fdw.refresh_workers = 1" \
	esi_cluster_start "$dir" "$PORT" >"$TEST_DIR/rrstart.out" 2>&1 ||
	{ echo "not ok 1 - start a cluster"; sed 's/^/# /' "$TEST_DIR/rrstart.out"; echo "1..1"; exit 1; }
dir=$ESI_CLUSTER_DIR
export PGHOST=$dir/sock PGPORT=$PORT PGUSER=postgres

qd() { local DB=$1; shift; q "$@"; }
qr() { local PGUSER=$1; shift; q "$@"; }
rolsuper() { qd postgres "SELECT rolsuper FROM pg_roles WHERE rolname = '$1'"; }
wait_for() {
	local i out
	for ((i = 0; i < 1200; i++)); do
		out=$(q "$1" 2>/dev/null)
		[ "$out" = t ] && return 0
		sleep 0.1
	done
	return 1
}
# login ROLE - ROLE logs Ayla in through the simulator's SSO
login() {
	local url loc
	url=$(qr "$1" "SELECT esi.login('esi', ARRAY['esi-wallet.read_character_wallet.v1'])")
	loc=$(curl -sS -o /dev/null -w '%{redirect_url}' "$url&character_id=$AYLA")
	qr "$1" "SELECT character_id, name FROM esi.login_callback('$loc')"
}
sim "/_sim/sso/config?access_ttl=600" >/dev/null
out=$(qd postgres "CREATE DATABASE t_rr" "CREATE ROLE mallory LOGIN" "CREATE ROLE alice LOGIN" \
	"CREATE ROLE carol LOGIN" "CREATE ROLE dave LOGIN" "ALTER DATABASE t_rr SET esi_fdw.refresh_jitter = 0" 2>&1)
expect "a database and four ordinary roles" "$out" ""
out=$(q "CREATE EXTENSION esi_fdw" \
	"CREATE SERVER esi FOREIGN DATA WRAPPER esi_fdw OPTIONS (base_url '$ESI_SIM_URL', user_agent 'esi_fdw tests (dev@example.com)', sso_url '$ESI_SIM_URL', sso_client_id 'sim-native-client', sso_redirect_uri 'http://localhost/callback')" \
	"IMPORT FOREIGN SCHEMA markets LIMIT TO (market_prices) FROM SERVER esi INTO public" \
	"IMPORT FOREIGN SCHEMA characters LIMIT TO (character_wallet) FROM SERVER esi INTO public" \
	"GRANT SELECT ON character_wallet TO PUBLIC" \
	"CREATE TABLE seen (target text, by_role name, superuser boolean)" "GRANT ALL ON seen TO PUBLIC" \
	"GRANT CREATE ON SCHEMA public TO PUBLIC" 2>&1)
expect "esi_fdw, a server on the simulator, market_prices and a table the triggers write" "$out" ""
mapfile -t g < <(for r in mallory alice carol dave; do
	printf '%s\n' "GRANT USAGE ON FOREIGN SERVER esi TO $r" "GRANT SELECT ON market_prices TO $r" \
		"GRANT CREATE ON SCHEMA esi_snapshots TO $r" \
		"GRANT INSERT, UPDATE, DELETE ON esi.targets, esi.refresh_log, esi.asset_diffs TO $r" \
		"GRANT USAGE ON ALL SEQUENCES IN SCHEMA esi TO $r"
done)
out=$(q "${g[@]}" 2>&1)
expect "each role may track targets" "$out" ""

# trig ROLE TARGET - as ROLE, a trigger on TARGET's snapshot table that notes
# who runs it and tries to make ROLE a superuser
trig() {
	qr "$1" "CREATE FUNCTION public.${2}_pwn() RETURNS trigger LANGUAGE plpgsql AS \$f\$
		 BEGIN
		   INSERT INTO public.seen VALUES ('$2', current_user, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user));
		   BEGIN EXECUTE 'ALTER ROLE $1 SUPERUSER'; EXCEPTION WHEN OTHERS THEN NULL; END;
		   RETURN NULL;
		 END \$f\$" \
		"CREATE TRIGGER pwn AFTER INSERT ON esi_snapshots.$2 FOR EACH STATEMENT EXECUTE FUNCTION public.${2}_pwn()"
}

# --- 3a. refresh_role only for members ----------------------------------------
out=$(qr mallory "SELECT esi.track('m1', 'market_prices', auto => false)" \
	"SELECT refresh_role FROM esi.targets WHERE target = 'm1'" 2>&1)
expect "mallory tracks a target: refresh_role is mallory" "$out" $'esi_snapshots.m1\nmallory'
out=$(qr mallory "UPDATE esi.targets SET refresh_role = 'postgres' WHERE target = 'm1'" 2>&1)
expect "mallory may not make it refresh as postgres (42501)" "$(head -1 <<<"$out")" \
	'ERROR:  42501: permission denied to make target "m1" refresh as role "postgres"'
out=$(qr mallory "INSERT INTO esi.targets (target, foreign_table, params, mode, snapshot_table, refresh_role)
	VALUES ('m2', 'market_prices', '{}', 'latest', 'esi_snapshots.m1', 'alice')" 2>&1)
expect "... nor insert a target that refreshes as alice (42501)" "$(head -1 <<<"$out")" \
	'ERROR:  42501: permission denied to make target "m2" refresh as role "alice"'
out=$(q "SELECT target, refresh_role FROM esi.targets ORDER BY 1")
expect "the target still refreshes as mallory" "$out" "m1|mallory"

# --- 3b. the trigger reproduction, through a background worker -----------------
# a refresh_role with more rights than the snapshot table's owner (here set
# by a superuser, which the check above lets through) runs step 2 as the
# owner
out=$(trig mallory m1 2>&1)
expect "mallory puts a trigger on its snapshot table" "$out" ""
out=$(q "UPDATE esi.targets SET refresh_role = 'postgres', auto = true, next_refresh_at = NULL WHERE target = 'm1'" \
	"SELECT esi._refresh_wake()" 2>&1)
expect "a superuser makes m1 refresh as postgres, in the background" "$out" ""
wait_for "SELECT EXISTS (SELECT FROM esi.refresh_log WHERE target = 'm1' AND outcome <> 'running')"
out=$(q "SELECT outcome, rows = (SELECT count(*) FROM market_prices) FROM esi.refresh_log WHERE target = 'm1'")
expect "the worker refreshed m1" "$out" "ok|t" "sql:SELECT * FROM esi.refresh_log"
out=$(q "SELECT by_role, superuser FROM seen WHERE target = 'm1'")
expect "mallory's trigger ran as mallory, not postgres" "$out" "mallory|f"
expect "mallory is not a superuser" "$(rolsuper mallory)" "f"
q "UPDATE esi.targets SET auto = false WHERE target = 'm1'" >/dev/null

# --- 3c. a superuser's CALL esi.refresh of another role's target -------------
out=$(qr alice "SELECT esi.track('a1', 'market_prices', auto => false)" 2>&1)
expect "alice tracks a target" "$out" "esi_snapshots.a1"
out=$(trig alice a1 2>&1)
expect "alice puts a trigger on its snapshot table" "$out" ""
out=$(q "CALL esi.refresh('a1')" "SELECT outcome FROM esi.refresh_log WHERE target = 'a1'" 2>&1)
expect "postgres refreshes alice's target" "$out" "ok"
out=$(q "SELECT by_role, superuser FROM seen WHERE target = 'a1'")
expect "alice's trigger ran as alice, not postgres" "$out" "alice|f"
expect "alice is not a superuser" "$(rolsuper alice)" "f"
out=$(qr alice "CALL esi.refresh('a1')" "SELECT by_role FROM seen WHERE target = 'a1' ORDER BY 1" 2>&1)
expect "alice refreshes it herself: as alice" "$out" $'alice\nalice'
# a role with INSERT on alice's table but not a member of alice (nor alice
# of it): refused, so alice's trigger never runs with its rights
out=$(qr alice "GRANT SELECT, INSERT, DELETE ON esi_snapshots.a1 TO carol" 2>&1)
out=$(qr carol "CALL esi.refresh('a1')" 2>&1)
expect "carol (INSERT on alice's table) may not run alice's trigger with carol's rights (42501)" \
	"$(head -1 <<<"$out")" 'ERROR:  42501: refresh of target "a1" failed: refresh of target "a1" as role "carol" refused'
out=$(q "SELECT count(*) FROM seen WHERE target = 'a1'")
expect "... and the trigger did not run" "$out" "2"

# --- 9. grants after a change of owner ----------------------------------------
out=$(login alice 2>&1)
expect "alice logs Ayla in" "$out" "$AYLA|Ayla Sim"
out=$(qr alice "SELECT esi.grant_character('esi', $AYLA, 'carol')" 2>&1)
expect "alice grants Ayla to carol" "$out" ""
out=$(qr alice "SELECT server_name, character_id, character_name, owner, grantee FROM esi.character_grants")
expect "alice lists her character's grants" "$out" "esi|$AYLA|Ayla Sim|alice|carol"
out=$(qr carol "SELECT server_name, character_id, owner, grantee FROM esi.character_grants")
expect "carol sees the grant made to her" "$out" "esi|$AYLA|alice|carol"
out=$(qr dave "SELECT count(*) FROM esi.character_grants")
expect "dave sees none" "$out" "0"
out=$(qr carol "SELECT character_id FROM esi.characters" "SELECT count(*) FROM character_wallet WHERE character_id = $AYLA")
expect "carol reads Ayla's wallet" "$out" $'2112625428\n1'
out=$(login dave 2>&1)
expect "dave logs Ayla in: the character is dave's now" "$out" "$AYLA|Ayla Sim"
out=$(q "SELECT owner_role::regrole FROM esi.sso_characters" "SELECT count(*) FROM esi.sso_character_grants")
expect "the owner changed, and alice's grant is gone" "$out" $'dave\n0'
out=$(qr carol "SELECT count(*) FROM esi.characters" "SELECT count(*) FROM esi.character_grants")
expect "carol no longer sees Ayla or a grant" "$out" $'0\n0'
out=$(qr carol "SELECT count(*) FROM character_wallet WHERE character_id = $AYLA" 2>&1)
expect "carol reads nothing of dave's login (28000)" "$(head -1 <<<"$out")" \
	"ERROR:  28000: no EVE SSO login of character $AYLA for role \"carol\" on server \"esi\""
out=$(qr dave "SELECT esi.grant_character('esi', $AYLA, 'alice')" \
	"SELECT character_id, owner, grantee FROM esi.character_grants" 2>&1)
expect "dave grants it anew and lists that grant" "$out" $'\n'"$AYLA|dave|alice"
out=$(login dave 2>&1; qr dave "SELECT grantee FROM esi.character_grants")
expect "a new login by the same owner keeps its grants" "$out" "$AYLA|Ayla Sim"$'\n'"alice"

echo "1..$n"
[ "$failures" -eq 0 ]
