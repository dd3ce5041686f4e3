#!/usr/bin/env bash
# Headers follow PostgreSQL's rule: only .c files include postgres.h, each
# as their first include, and every header compiles on its own right after
# it (make check-headers, with the build's own flags and -Werror).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=${TEST_DIR:-$(mktemp -d)}
# shellcheck source=test/tap.sh
. "$root/test/tap.sh"

if make -s -C "$root" check-headers WERROR=1 >"$tmp/headers.out" 2>&1; then
	ok "every header under src/ compiles alone after postgres.h and includes no postgres.h"
else
	not_ok "every header under src/ compiles alone after postgres.h and includes no postgres.h" "$tmp/headers.out"
fi

bad=
for c in "$root"/src/*.c "$root"/src/*/*.c; do
	first=$(grep -m1 '^#include' "$c" || true)
	[ "$first" = '#include "postgres.h"' ] || bad+="$(basename "$c"): $first"$'\n'
done
if [ -z "$bad" ]; then
	ok "every .c file under src/ includes postgres.h first"
else
	not_ok "every .c file under src/ includes postgres.h first" "$bad"
fi

echo "1..$n"
[ "$failures" -eq 0 ]
