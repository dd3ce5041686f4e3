#!/usr/bin/env bash
# src/gen_catalog.py fails loudly, naming the route, on what it cannot read
# (allOf that does not merge, oneOf/anyOf, unresolvable $ref, type lists,
# optional authentication, parameter styles), fed the small hand-written
# descriptions in test/gen_cases/; and merges an allOf that it can.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
exec python3 "$root/test/gen_cases/run.py"
