#!/usr/bin/env bash
# The committed catalog is exactly what src/gen_catalog.py makes from ESI's
# OpenAPI description, and making it twice gives the same bytes.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
spec=${ESI_OPENAPI:-$root/../shared/esi/openapi-2026-08-04.json}
tmp=${TEST_DIR:-$(mktemp -d)}
echo "1..2"
if [ ! -f "$spec" ]; then
	echo "ok 1 # skip no OpenAPI description at $spec"
	echo "ok 2 # skip"
	exit 0
fi
mkdir -p "$tmp/a/src" "$tmp/a/test" "$tmp/a/doc" "$tmp/b/src" "$tmp/b/test" "$tmp/b/doc"
python3 "$root/src/gen_catalog.py" "$spec" --out-dir "$tmp/a" 2>/dev/null
python3 "$root/src/gen_catalog.py" "$spec" --out-dir "$tmp/b" 2>/dev/null
fail=0
for f in src/esi_catalog_data.c test/sim_catalog.json doc/tables.md; do
	cmp -s "$tmp/a/$f" "$tmp/b/$f" || { echo "# $f differs between two runs"; fail=1; }
done
[ $fail -eq 0 ] && echo "ok 1 - two runs give the same bytes" || echo "not ok 1 - two runs give the same bytes"
fail2=0
for f in src/esi_catalog_data.c test/sim_catalog.json doc/tables.md; do
	cmp -s "$tmp/a/$f" "$root/$f" || { echo "# $f is not what the generator makes"; fail2=1; }
done
[ $fail2 -eq 0 ] && echo "ok 2 - the committed catalog is the generator's output" || echo "not ok 2 - the committed catalog is the generator's output"
[ $fail -eq 0 ] && [ $fail2 -eq 0 ]
