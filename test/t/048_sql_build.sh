#!/usr/bin/env bash
# test/t/048_sql_build.sh - src/sql/build.sh (run by make) builds the current
# version's install and update scripts from src/sql/, and keeps released
# scripts frozen: it fails, saying what to do, when a released script
# changed, when src/ holds a script that is not released, when the current
# version is released and the sources would build its scripts differently,
# and when the update step is missing.  Works on copies; prints TAP.
set -uo pipefail
export LC_ALL=C
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=${TEST_DIR:-$(mktemp -d)}
. "$root/test/tap.sh"

cur=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$root/esi_fdw.control")
last=$(grep -v '^#' "$root/src/sql/released" | awk 'NF { v = $1 } END { print v }')

# fresh_copy DIR - the files the build reads
fresh_copy() {
	rm -rf "$1"
	mkdir -p "$1/src/sql"
	cp "$root/esi_fdw.control" "$1/"
	cp "$root"/src/esi_fdw--*.sql "$1/src/"
	cp -r "$root/src/sql/." "$1/src/sql/"
	rm -rf "$1/src/sql/built"
}
# build DIR MODE - runs the build script of the repository on DIR
build() { sh "$root/src/sql/build.sh" --root "$1" "$2" 2>&1; }
# expect_failure NAME DIR TEXT - the build fails (status 1) saying TEXT
expect_failure() {
	local out rc
	out=$(build "$2" build)
	rc=$?
	if [ $rc -eq 1 ] && [[ $out == *"src/sql/build.sh: error: "*"$3"* ]]; then
		ok "$1"
	else
		not_ok "$1" "exit status $rc" "$out"
	fi
}

c=$tmp/sqlbuild
fresh_copy "$c"
out=$(build "$c" outputs)
[ "$out" = "src/sql/built/esi_fdw--$cur.sql src/sql/built/esi_fdw--$last--$cur.sql" ] &&
	ok "outputs: the install script of $cur and the update from $last" || not_ok "outputs" "$out"
out=$(build "$c" build)
if [ $? -eq 0 ] && cmp -s "$c/src/sql/built/esi_fdw--$cur.sql" "$root/src/sql/built/esi_fdw--$cur.sql" &&
	cmp -s "$c/src/sql/built/esi_fdw--$last--$cur.sql" "$root/src/sql/built/esi_fdw--$last--$cur.sql"; then
	ok "the build makes the scripts that make made"
else
	not_ok "the build makes the scripts that make made" "$out"
fi
# each source is in both scripts, the update step only in the update
u=$c/src/sql/built/esi_fdw--$last--$cur.sql
i=$c/src/sql/built/esi_fdw--$cur.sql
miss=
for s in fdw cache sso snapshots asset_diffs names bi calls; do
	grep -qx -- "-- ==== src/sql/$s.sql ====" "$u" || miss="$miss update:$s"
	grep -qx -- "-- ==== src/sql/$s.sql ====" "$i" || miss="$miss install:$s"
done
grep -qx -- "-- ==== src/sql/updates/$last--$cur.sql ====" "$u" || miss="$miss update:step"
grep -qx -- "-- ==== src/sql/pre_install.sql ====" "$i" || miss="$miss install:pre"
grep -qx -- "-- ==== src/sql/post_install.sql ====" "$i" || miss="$miss install:post"
[ -z "$miss" ] && ok "the scripts hold their parts" || not_ok "the scripts hold their parts" "missing:$miss"

fresh_copy "$c"
f=$(ls "$c"/src/esi_fdw--*--"$last".sql)
echo "-- a change" >> "$f"
expect_failure "a released script that changed fails the build" "$c" \
	"src/$(basename "$f") was released with esi_fdw $last and has changed"

fresh_copy "$c"
echo "SELECT 1;" > "$c/src/esi_fdw--$last--$cur.sql"
expect_failure "a script in src/ that is not released fails the build" "$c" \
	"src/esi_fdw--$last--$cur.sql is not a released script"

fresh_copy "$c"
rm "$c/src/sql/updates/$last--$cur.sql"
expect_failure "a missing update step fails the build" "$c" \
	"the update step src/sql/updates/$last--$cur.sql is missing"

# the current version released (its built scripts frozen in src/): the
# build makes nothing, and fails once a source changes
fresh_copy "$c"
build "$c" build >/dev/null
for f in "esi_fdw--$last--$cur.sql" "esi_fdw--$cur.sql"; do
	mv "$c/src/sql/built/$f" "$c/src/$f"
	echo "$cur  $(sha256sum "$c/src/$f" | cut -d' ' -f1)  $f" >> "$c/src/sql/released"
done
out=$(build "$c" build)
rc=$?
[ $rc -eq 0 ] && [ -z "$(build "$c" outputs)" ] && [ ! -e "$c/src/sql/built/esi_fdw--$cur.sql" ] &&
	ok "a released current version: nothing built, nothing fails" || not_ok "a released current version" "$rc" "$out"
echo "-- a change" >> "$c/src/sql/names.sql"
expect_failure "a released current version whose sources changed fails the build" "$c" \
	"esi_fdw $cur is released, and src/sql/ would now build src/esi_fdw--$last--$cur.sql differently"

rm -rf "$c"
echo "1..$n"
[ "$failures" -eq 0 ]
