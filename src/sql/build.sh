#!/bin/sh
# src/sql/build.sh - builds the SQL scripts of esi_fdw's current version
# (default_version in esi_fdw.control) from the sources in src/sql/, and
# keeps the released scripts frozen.  The Makefile runs it; by hand:
#
#   sh src/sql/build.sh [--root DIR] build     check, then write the scripts
#   sh src/sql/build.sh [--root DIR] check     only the checks below
#   sh src/sql/build.sh [--root DIR] outputs   the scripts it writes (paths)
#
# Made, in src/sql/built/ (not committed):
#   esi_fdw--CUR.sql        pre_install.sql, the sources, post_install.sql
#   esi_fdw--PREV--CUR.sql  updates/PREV--CUR.sql, the sources, and
#                           updates/PREV--CUR.post.sql when it exists
# where PREV is the last version in src/sql/released and the sources are
# the subsystem files below, in this order (each holds CREATE OR REPLACE
# definitions, so it runs unchanged in an install and in every update).
#
# It fails, saying what to do, when
#   - a released script (src/sql/released: version, SHA-256, file in src/)
#     is missing or differs from its SHA-256;
#   - src/ holds an esi_fdw--*.sql that is not released (the scripts of the
#     current version are built, never written in src/);
#   - the current version is released and the sources would build its
#     scripts differently from the frozen ones;
#   - the update step src/sql/updates/PREV--CUR.sql is missing.
set -eu

SOURCES="fdw cache sso snapshots asset_diffs names bi calls"

root=$(cd "$(dirname "$0")/../.." && pwd)
if [ "${1:-}" = --root ]; then
	root=$2
	shift 2
fi
mode=${1:-build}
sql=$root/src/sql
released=$sql/released
out=$sql/built

die() {
	echo "src/sql/build.sh: error: $1" >&2
	shift
	for line in "$@"; do
		echo "src/sql/build.sh: $line" >&2
	done
	exit 1
}

sha256() {
	if command -v sha256sum >/dev/null 2>&1; then
		sha256sum "$1" | cut -d' ' -f1
	else
		shasum -a 256 "$1" | cut -d' ' -f1
	fi
}

cur=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$root/esi_fdw.control")
[ -n "$cur" ] || die "no default_version in $root/esi_fdw.control"
[ -f "$released" ] || die "$released is missing"

# the released versions, in order, each once
versions=$(grep -v '^#' "$released" | awk 'NF { if (!seen[$1]++) print $1 }')
is_released() {
	printf '%s\n' $versions | grep -qx "$1"
}
# the version released before $1 (the last one when $1 is not released)
previous() {
	printf '%s\n' $versions | awk -v v="$1" '$0 == v { exit } { p = $0 } END { print p }'
}

# build_into DIR PREV - writes the current version's scripts into DIR
build_into() {
	dir=$1
	prev=$2
	step=$sql/updates/$prev--$cur.sql
	[ -f "$step" ] ||
		die "the update step src/sql/updates/$prev--$cur.sql is missing" \
			"create it (it may hold only comments): the schema changes from $prev to $cur"
	for s in $SOURCES; do
		[ -f "$sql/$s.sql" ] || die "the source src/sql/$s.sql is missing"
	done
	mkdir -p "$dir"
	{
		echo "-- esi_fdw $cur: EVE Online's ESI as foreign tables"
		echo "-- Built by src/sql/build.sh from src/sql/pre_install.sql, the sources"
		echo "-- src/sql/{$(echo $SOURCES | tr ' ' ,)}.sql and src/sql/post_install.sql:"
		echo "-- edit those, never this file."
		echo
		printf '%s\n' '\echo Use "CREATE EXTENSION esi_fdw" to load this file. \quit'
		for part in pre_install $SOURCES post_install; do
			echo
			echo "-- ==== src/sql/$part.sql ===="
			cat "$sql/$part.sql"
		done
	} > "$dir/esi_fdw--$cur.sql.tmp"
	{
		echo "-- esi_fdw $prev -> $cur"
		echo "-- Built by src/sql/build.sh from src/sql/updates/$prev--$cur.sql and the"
		echo "-- sources src/sql/{$(echo $SOURCES | tr ' ' ,)}.sql:"
		echo "-- edit those, never this file."
		echo
		printf '%s\n' "\\echo Use \"ALTER EXTENSION esi_fdw UPDATE TO '$cur'\" to load this file. \\quit"
		echo
		echo "-- ==== src/sql/updates/$prev--$cur.sql ===="
		cat "$step"
		for part in $SOURCES; do
			echo
			echo "-- ==== src/sql/$part.sql ===="
			cat "$sql/$part.sql"
		done
		if [ -f "$sql/updates/$prev--$cur.post.sql" ]; then
			echo
			echo "-- ==== src/sql/updates/$prev--$cur.post.sql ===="
			cat "$sql/updates/$prev--$cur.post.sql"
		fi
	} > "$dir/esi_fdw--$prev--$cur.sql.tmp"
	for f in "esi_fdw--$cur.sql" "esi_fdw--$prev--$cur.sql"; do
		if [ -f "$dir/$f" ] && cmp -s "$dir/$f.tmp" "$dir/$f"; then
			rm -f "$dir/$f.tmp"
		else
			mv "$dir/$f.tmp" "$dir/$f"
		fi
	done
}

check() {
	# the released scripts are as released
	grep -v '^#' "$released" | while read -r v sum file; do
		[ -n "$v" ] || continue
		[ -f "$root/src/$file" ] ||
			die "src/$file (released with esi_fdw $v) is missing" \
				"restore it: git checkout -- src/$file"
		[ "$(sha256 "$root/src/$file")" = "$sum" ] ||
			die "src/$file was released with esi_fdw $v and has changed" \
				"released scripts are frozen: restore it (git checkout -- src/$file) and" \
				"put the change in src/sql/ (a subsystem file, or src/sql/updates/ for the next version)"
	done
	# no other script in src/
	for f in "$root"/src/esi_fdw--*.sql; do
		[ -f "$f" ] || continue
		b=$(basename "$f")
		grep -v '^#' "$released" | awk '{ print $3 }' | grep -qx "$b" ||
			die "src/$b is not a released script" \
				"the scripts of esi_fdw $cur are built from src/sql/ into src/sql/built/:" \
				"move its statements into src/sql/ (functions and views: their subsystem file;" \
				"tables, columns, grants, policies: src/sql/updates/$(previous "$cur")--$cur.sql and" \
				"src/sql/pre_install.sql or post_install.sql), then delete src/$b"
	done
	# a released current version: the sources still build its scripts
	if is_released "$cur"; then
		tmp=$(mktemp -d)
		trap 'rm -rf "$tmp"' EXIT
		build_into "$tmp" "$(previous "$cur")"
		for f in "$tmp"/*.sql; do
			b=$(basename "$f")
			grep -v '^#' "$released" | awk -v v="$cur" '$1 == v { print $3 }' | grep -qx "$b" || continue
			cmp -s "$f" "$root/src/$b" ||
				die "esi_fdw $cur is released, and src/sql/ would now build src/$b differently" \
					"a released script never changes: set default_version in esi_fdw.control to the" \
					"next version and add its update step src/sql/updates/$cur--<next>.sql"
		done
	fi
}

case $mode in
outputs)
	if ! is_released "$cur"; then
		prev=$(previous "$cur")
		echo "src/sql/built/esi_fdw--$cur.sql src/sql/built/esi_fdw--$prev--$cur.sql"
	fi
	;;
check)
	check
	;;
build)
	check
	if ! is_released "$cur"; then
		build_into "$out" "$(previous "$cur")"
	fi
	;;
*)
	die "unknown mode $mode (build, check or outputs)"
	;;
esac
