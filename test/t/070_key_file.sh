#!/usr/bin/env bash
# test/t/070_key_file.sh - the key file that seals SSO tokens at rest
# (src/sso/crypto.c): created on first use beside the data directory with mode
# 0600 and no temporary file left, refused when group or world may read it,
# malformed lines refused, a torn last line skipped, esi_fdw.key_file
# (absolute and relative to the data directory), a key added by another
# session seen by a session that cached the keys, and concurrent creation
# and re-keying.  Starts its own small cluster; prints TAP.
set -uo pipefail
export LC_ALL=C
. "$(dirname "$0")/../lib.sh"
TEST_DIR=${TEST_DIR:-$(mktemp -d)}
PORT=54343

. "$(dirname "$0")/../tap.sh"

dir=$TEST_DIR/keys
trap 'esi_cluster_stop "$dir" >/dev/null 2>&1' EXIT
ESI_CLUSTER_FRESH=1 esi_cluster_start "$dir" "$PORT" >/dev/null 2>&1 \
	|| { echo "not ok 1 - start a cluster"; echo "1..1"; exit 1; }
dir=$ESI_CLUSTER_DIR
key=$dir/esi_fdw.key
rm -rf "$key" "$dir"/*.key "$dir/other" "$dir/key.bak"

# masked FILE - a key file's text with the keys hidden (for diagnostics)
masked() { sed -e 's/^\([0-9a-f]\{8\}\) [0-9a-f]*$/\1 <key>/' "$1"; }
# q SQL - run SQL in a new session; prints rows (unaligned), or the error
q() {
	"$ESI_PG_BIN/psql" -X -q -A -t -h "$dir/sock" -p "$PORT" -U postgres -d postgres \
		-v ON_ERROR_STOP=1 -v VERBOSITY=verbose -c "$1" 2>&1
}
# reload - apply ALTER SYSTEM, and wait until new sessions see the value
reload() {
	local want=$1 i
	q "SELECT pg_reload_conf()" >/dev/null
	for ((i = 0; i < 100; i++)); do
		[ "$(q "SHOW esi_fdw.key_file")" = "$want" ] && return 0
		sleep 0.1
	done
	return 1
}
mode() { stat -c %a "$1"; }
key_lines() { grep -c '^[0-9a-f]\{8\} [0-9a-f]\{64\}$' "$1"; }

q "CREATE FUNCTION esi_test_seal(text, text) RETURNS bytea AS 'esi_fdw', 'esi_test_seal' LANGUAGE C STRICT;
   CREATE FUNCTION esi_test_unseal(bytea, text) RETURNS text AS 'esi_fdw', 'esi_test_unseal' LANGUAGE C STRICT;
   CREATE FUNCTION esi_test_add_key() RETURNS void AS 'esi_fdw', 'esi_test_add_key' LANGUAGE C;
   CREATE FUNCTION esi_test_key_id(bytea) RETURNS bigint AS 'esi_fdw', 'esi_test_key_id' LANGUAGE C STRICT;
   CREATE FUNCTION esi_test_current_key_id() RETURNS bigint AS 'esi_fdw', 'esi_test_current_key_id' LANGUAGE C;
   CREATE FUNCTION esi_test_key_file() RETURNS text AS 'esi_fdw', 'esi_test_key_file' LANGUAGE C;
   CREATE TABLE sealed (name text PRIMARY KEY, v bytea);" >/dev/null

# --- creation on first use ------------------------------------------------------
[ ! -e "$key" ] && ok "no key file before first use" || not_ok "no key file before first use"
out=$(q "INSERT INTO sealed VALUES ('a', esi_test_seal('secret-token-a', 'row:a'))")
[ -f "$key" ] && ok "first use creates $key" || not_ok "first use creates the key file" "$out"
[ "$(mode "$key")" = 600 ] && ok "created with mode 0600" || not_ok "mode 0600" "$(mode "$key")"
if esi_is_root; then
	[ "$(stat -c %U "$key")" = postgres ] && ok "owned by the server's OS user" || not_ok "owner" "$(stat -c %U "$key")"
fi
[ "$(key_lines "$key")" = 1 ] && ok "it holds one key" || not_ok "one key" "$(key_lines "$key")"
[ "$(q "SELECT esi_test_key_file()")" = "$key" ] && ok "esi_test_key_file() names it" \
	|| not_ok "esi_test_key_file()" "$(q "SELECT esi_test_key_file()")"
ls "$dir" | grep -q '\.tmp\.' && not_ok "no temporary file left" "$(ls "$dir")" || ok "no temporary file left"
grep -rq 'secret-token-a' "$dir/data" && not_ok "the data directory holds no plaintext" \
	|| ok "the data directory holds no plaintext (after a checkpoint)"
q "CHECKPOINT" >/dev/null
grep -rq 'secret-token-a' "$dir/data" && not_ok "no plaintext after a checkpoint either" \
	|| ok "no plaintext after a checkpoint either"
out=$(q "SELECT esi_test_unseal(v, 'row:a') FROM sealed WHERE name = 'a'")
[ "$out" = secret-token-a ] && ok "another session unseals it" || not_ok "another session unseals it" "$out"

# --- permissions -------------------------------------------------------------
chmod 640 "$key"
out=$(q "SELECT esi_test_unseal(v, 'row:a') FROM sealed WHERE name = 'a'")
case $out in
	*"ERROR:  F0000: key file \"$key\" has group or world access"*"HINT:  chmod 600 $key"*)
		ok "a group-readable key file is refused, with HINT chmod 600" ;;
	*) not_ok "a group-readable key file is refused" "$out" ;;
esac
case $out in *secret-token-a*) not_ok "the error holds no plaintext" "$out" ;; *) ok "the error holds no plaintext" ;; esac
chmod 604 "$key"
out=$(q "SELECT esi_test_seal('x', 'y')")
case $out in *"has group or world access"*) ok "a world-readable one too" ;; *) not_ok "world-readable refused" "$out" ;; esac
chmod 600 "$key"

# --- malformed lines, a torn last line ------------------------------------------
cp -p "$key" "$dir/key.bak"
echo "not a key" >>"$key"
out=$(q "SELECT esi_test_unseal(v, 'row:a') FROM sealed WHERE name = 'a'")
case $out in
	*"F0000: key file \"$key\" is malformed at line 6"*) ok "a malformed line is refused, naming the line" ;;
	*) not_ok "a malformed line is refused" "$out" ;;
esac
cp -p "$dir/key.bak" "$key"
printf '0123abcd 00ff' >>"$key"		# an append cut short by a crash
out=$(q "SELECT esi_test_unseal(v, 'row:a') FROM sealed WHERE name = 'a'")
case $out in
	*"ignoring the incomplete last line 6"*secret-token-a*) ok "a torn last line is skipped with a WARNING" ;;
	*) not_ok "a torn last line is skipped" "$out" ;;
esac
out=$(q "SELECT esi_test_add_key()")
out2=$(q "SELECT esi_test_unseal(v, 'row:a') FROM sealed WHERE name = 'a'")
if [ "$(key_lines "$key")" = 2 ] && [ "$out2" = secret-token-a ]; then
	ok "a key added after it replaces the torn line"
else
	not_ok "a key added after a torn line" "$out" "$out2" "$(masked "$key")"
fi
cp -p "$dir/key.bak" "$key"

# --- a session's cached keys follow another session's re-keying -------------------
out=$("$ESI_PG_BIN/psql" -X -q -A -t -h "$dir/sock" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 2>&1 <<SQL
SELECT esi_test_current_key_id() AS before \gset
\! "$ESI_PG_BIN/psql" -X -q -h "$dir/sock" -p "$PORT" -U postgres -d postgres -c "SELECT esi_test_add_key()" >/dev/null
SELECT esi_test_key_id(esi_test_seal('x', 'y')) <> :before AS uses_new_key,
       esi_test_unseal(v, 'row:a') FROM sealed WHERE name = 'a';
SQL
)
[ "$out" = "t|secret-token-a" ] && ok "a key added by another session is used at once" \
	|| not_ok "a key added by another session is used at once" "$out"
[ "$(mode "$key")" = 600 ] && ok "still mode 0600 after appending" || not_ok "mode after append" "$(mode "$key")"

# --- esi_fdw.key_file --------------------------------------------------------------
mkdir -p "$dir/other"
esi_is_root && chown postgres "$dir/other"
q "ALTER SYSTEM SET esi_fdw.key_file = '$dir/other/abs.key'" >/dev/null
reload "$dir/other/abs.key" || not_ok "reload sets esi_fdw.key_file"
out=$(q "SELECT esi_test_unseal(v, 'row:a') FROM sealed WHERE name = 'a'")
case $out in
	*"ERROR:  58P01: key file \"$dir/other/abs.key\" does not exist"*) ok "unsealing never creates a key file" ;;
	*) not_ok "unsealing never creates a key file" "$out" ;;
esac
q "INSERT INTO sealed VALUES ('b', esi_test_seal('secret-token-b', 'row:b'))" >/dev/null
[ -f "$dir/other/abs.key" ] && [ "$(mode "$dir/other/abs.key")" = 600 ] \
	&& ok "an absolute esi_fdw.key_file is created there, mode 0600" || not_ok "absolute key_file" "$(ls -l "$dir/other")"
out=$(q "SELECT esi_test_unseal(v, 'row:a') FROM sealed WHERE name = 'a'")
case $out in
	*"ERROR:  42704: key "[0-9a-f]*" that sealed the value is not in the key file"*"HINT:  Set esi_fdw.key_file"*)
		ok "a value of another key file: unknown key, HINT about esi_fdw.key_file" ;;
	*) not_ok "a value of another key file" "$out" ;;
esac
q "ALTER SYSTEM SET esi_fdw.key_file = 'relative.key'" >/dev/null
reload relative.key || not_ok "reload sets esi_fdw.key_file"
q "SELECT esi_test_current_key_id()" >/dev/null
[ -f "$dir/data/relative.key" ] && ok "a relative esi_fdw.key_file is relative to the data directory" \
	|| not_ok "relative key_file" "$(ls "$dir/data")"
q "ALTER SYSTEM SET esi_fdw.key_file = '/nonexistent/esi_fdw/k.key'" >/dev/null
reload /nonexistent/esi_fdw/k.key || not_ok "reload sets esi_fdw.key_file"
out=$(q "SELECT esi_test_seal('x', 'y')")
case $out in
	*"could not create key file"*"HINT:  Make its directory writable"*) ok "an unusable directory: a clear error and HINT" ;;
	*) not_ok "an unusable directory" "$out" ;;
esac
q "ALTER SYSTEM RESET esi_fdw.key_file" >/dev/null
reload "" || not_ok "reload resets esi_fdw.key_file"
out=$(q "SELECT esi_test_unseal(v, 'row:a') FROM sealed WHERE name = 'a'")
[ "$out" = secret-token-a ] && ok "back on the default file, its values read again" || not_ok "back on the default file" "$out"

# --- concurrency ----------------------------------------------------------------------
q "ALTER SYSTEM SET esi_fdw.key_file = '$dir/other/race.key'" >/dev/null
reload "$dir/other/race.key" || not_ok "reload sets esi_fdw.key_file"
pids=()
for i in 1 2 3 4 5 6 7 8; do
	q "SELECT esi_test_key_id(esi_test_seal('x', 'y'))" >"$TEST_DIR/race.$i" &
	pids+=($!)
done
wait "${pids[@]}"
ids=$(cat "$TEST_DIR"/race.* | sort -u)
if [ "$(printf '%s\n' "$ids" | wc -l)" = 1 ] && [[ $ids =~ ^[0-9]+$ ]] && [ "$(key_lines "$dir/other/race.key")" = 1 ]; then
	ok "8 sessions creating the key file at once: one file, one key"
else
	not_ok "8 sessions creating the key file at once" "$ids" "$(masked "$dir/other/race.key")"
fi
pids=()
for i in 1 2 3 4 5 6 7 8; do
	q "SELECT esi_test_add_key()" >"$TEST_DIR/add.$i" &
	pids+=($!)
done
wait "${pids[@]}"
n_ids=$(grep -o '^[0-9a-f]\{8\}' "$dir/other/race.key" | sort -u | wc -l)
if [ "$(key_lines "$dir/other/race.key")" = 9 ] && [ "$n_ids" = 9 ] && ! grep -q ERROR "$TEST_DIR"/add.*; then
	ok "8 sessions adding a key at once: 9 keys, 9 ids"
else
	not_ok "8 sessions adding a key at once" "$(cat "$TEST_DIR"/add.*)" "$(masked "$dir/other/race.key")"
fi
ls "$dir/other" | grep -q '\.tmp\.' && not_ok "no temporary file left" "$(ls "$dir/other")" || ok "no temporary file left"
q "ALTER SYSTEM RESET esi_fdw.key_file" >/dev/null
reload ""

# --- no key material in the server log --------------------------------------------------
leaked=0
while read -r _ k; do
	grep -q "$k" "$dir/log/postgresql.log" && leaked=1
done < <(grep -h '^[0-9a-f]\{8\} ' "$key" "$dir/other/race.key")
grep -q 'secret-token' "$dir/log/postgresql.log" && leaked=1
[ "$leaked" = 0 ] && ok "the server log holds no key and no plaintext" || not_ok "the server log leaks" "$dir/log/postgresql.log"

echo "1..$n"
[ "$failures" -eq 0 ]
