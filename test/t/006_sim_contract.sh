#!/usr/bin/env bash
# The simulator's hand-written contract (test/sim/contract.py: markets,
# universe, status, wallet, assets) agrees, route by route, with the catalog
# src/catalog/gen_catalog.py generated (test/sim_catalog.json): paging, shape,
# records key, auth, cache, rate limit, parameters and reply schema.  A
# generator that misreads ESI's description fails here; sql/sim_contract.sql
# checks the tables esi_fdw creates the same way.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
exec python3 "$root/test/sim/contract.py" "$root/test/sim_catalog.json"
