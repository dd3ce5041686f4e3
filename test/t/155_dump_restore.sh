#!/usr/bin/env bash
# test/t/155_dump_restore.sh - EVE SSO logins and grants survive pg_dump and a
# restore into a fresh cluster with the same roles, each still its role's
# (issue 16, item 5).  The roles are created in another order there, so
# they get other OIDs: the extension's tables keep roles as regrole, which
# pg_dump writes by name, not as the numbers an oid column would carry.
# Prints TAP.
set -uo pipefail
export LC_ALL=C
: "${PGHOST:?}" "${PGPORT:?}" "${PGUSER:?}" "${ESI_SIM_URL:?}"
TEST_DIR=${TEST_DIR:-$(mktemp -d)}
mkdir -p "$TEST_DIR"
DB=t_dump
PORT2=54348
# shellcheck source=test/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=test/tap.sh
. "$(dirname "$0")/../tap.sh"
# shellcheck source=test/simlib.sh
. "$(dirname "$0")/../simlib.sh"

DIR2=$(esi_cluster_dir "$TEST_DIR/restored" quiet)
ROLES="dump_alice dump_bob dump_carol"
finish() {
	esi_cluster_stop "$DIR2" >/dev/null 2>&1
	if [ "$failures" -eq 0 ]; then
		simlib_drop_db
		for r in $ROLES; do "$PSQL" -X -q -d postgres -c "DROP ROLE IF EXISTS $r" >/dev/null 2>&1; done
	fi
}
trap finish EXIT

# what each role sees: its characters (owner) and the grants it may list
seen_by() {
	local psql=$1 role=$2
	$psql -X -A -t -q -d "$DB" -c "SET ROLE $role" \
		-c "SELECT string_agg(character_id || ':' || owner, ',' ORDER BY character_id) FROM esi.characters" \
		-c "SELECT string_agg(character_id || '>' || grantee, ',' ORDER BY character_id, grantee::text) FROM esi.character_grants" 2>&1 |
		tr '\n' ' '
}

simlib_setup_db
for r in $ROLES; do "$PSQL" -X -q -d postgres -c "DROP ROLE IF EXISTS $r" -c "CREATE ROLE $r" >/dev/null 2>&1; done
out=$(q "GRANT USAGE ON SCHEMA esi TO dump_alice, dump_bob, dump_carol" \
	"INSERT INTO esi.sso_characters (server_name, character_id, name, owner_hash, scopes, owner_role, logged_in_at, refreshed_at)
	 VALUES ('esi', 2112625428, 'Ayla Sim', 'h1', '{}', 'dump_alice', now(), now()),
	        ('esi', 2112625430, 'Cira Sim', 'h2', '{}', 'dump_bob', now(), now())" \
	"INSERT INTO esi.sso_character_grants VALUES ('esi', 2112625428, 'dump_carol')" 2>&1)
expect "two characters of two roles, one granted to a third" "$out" ""
A_BEFORE=$(seen_by "$PSQL" dump_alice)
B_BEFORE=$(seen_by "$PSQL" dump_bob)
C_BEFORE=$(seen_by "$PSQL" dump_carol)
expect "alice sees her character and its grant" "$A_BEFORE" "2112625428:dump_alice 2112625428>dump_carol "
expect "bob sees his character and no grant" "$B_BEFORE" "2112625430:dump_bob  "
expect "carol sees the character granted to her" "$C_BEFORE" "2112625428:dump_alice 2112625428>dump_carol "

# the dump: plain SQL, what pg_dump writes of the extension's tables
if out=$("$ESI_PG_BIN/pg_dump" -d "$DB" -f "$TEST_DIR/dump.sql" 2>&1); then
	ok "pg_dump of the database"
else
	not_ok "pg_dump of the database" "$out"
fi
out=$(grep -c "dump_alice\|dump_bob\|dump_carol" "$TEST_DIR/dump.sql")
expect_match "... writes the roles of the logins by name" "$out" "^[3-9]$"

# a fresh cluster: other roles first, so the three get other OIDs there
ESI_CLUSTER_FRESH=1 esi_cluster_start "$DIR2" "$PORT2" >"$TEST_DIR/start.out" 2>&1 ||
	{ not_ok "a fresh cluster" "$(tail -5 "$TEST_DIR/start.out")"; echo "1..$n"; exit 1; }
P2="$ESI_PG_BIN/psql -h $DIR2/sock -p $PORT2 -U postgres"
out=$($P2 -X -q -v ON_ERROR_STOP=1 -d postgres \
	-c "CREATE ROLE dump_filler1" -c "CREATE ROLE dump_filler2" -c "CREATE ROLE dump_carol" \
	-c "CREATE ROLE dump_bob" -c "CREATE ROLE dump_alice" -c "CREATE DATABASE $DB" 2>&1)
expect "... with the same roles, created in another order" "$out" ""
out=$($P2 -X -q -A -t -d postgres -c "SELECT count(*) FROM pg_roles WHERE rolname IN ('dump_alice', 'dump_bob', 'dump_carol')")
expect "... (3 roles)" "$out" "3"
if out=$($P2 -X -q -v ON_ERROR_STOP=1 -d "$DB" -f "$TEST_DIR/dump.sql" 2>&1); then
	ok "the dump restores into the fresh cluster"
else
	not_ok "the dump restores into the fresh cluster" "$out"
fi
expect "after the restore alice sees exactly what she saw" "$(seen_by "$P2" dump_alice)" "$A_BEFORE"
expect "... bob too" "$(seen_by "$P2" dump_bob)" "$B_BEFORE"
expect "... and carol" "$(seen_by "$P2" dump_carol)" "$C_BEFORE"
out=$($P2 -X -A -t -q -d "$DB" -c "SET ROLE dump_filler1" -c "SELECT count(*) FROM esi.characters" 2>&1)
expect "... and a role that had none sees none" "$out" "0"
esi_cluster_stop "$DIR2" >/dev/null 2>&1

echo "1..$n"
[ "$failures" -eq 0 ]
