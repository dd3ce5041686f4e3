#!/usr/bin/env bash
# The ESI simulator checks its own wire behaviour (paging, 304, gzip, faults,
# limits, cursor walks, EVE SSO and bearer tokens) before anything relies on it.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
exec python3 "$root/test/esi_sim.py" --self-test
