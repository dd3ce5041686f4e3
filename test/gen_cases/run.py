#!/usr/bin/env python3
"""Feed src/catalog/gen_catalog.py small broken OpenAPI descriptions (this folder's
*.json) and check that it fails, naming the route and what it cannot read,
or, for the cases expected to work, what it makes of them.

Each case carries its expectation in the top-level key "x-expect", which
the generator ignores:
    {"route": "/things", "fails": true, "message": "unresolvable $ref ..."}
    {"route": "/things", "fails": false, "columns": ["thing_id", ...]}
(the fields of the route's records, in any order).
Prints TAP.
"""

import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
GEN = os.path.join(HERE, "..", "..", "src", "catalog", "gen_catalog.py")


def run_case(path, out_dir):
    for sub in ("src", "test", "doc"):
        os.makedirs(os.path.join(out_dir, sub), exist_ok=True)
    p = subprocess.run([sys.executable, GEN, path, "--out-dir", out_dir],
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stderr


def main():
    cases = sorted(f for f in os.listdir(HERE) if f.endswith(".json"))
    print("1..%d" % len(cases))
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i, name in enumerate(cases, 1):
            with open(os.path.join(HERE, name)) as f:
                expect = json.load(f)["x-expect"]
            out = os.path.join(tmp, name[:-5])
            rc, err = run_case(os.path.join(HERE, name), out)
            problems = []
            if expect["fails"]:
                errline = [ln for ln in err.splitlines() if "error:" in ln]
                if rc != 1:
                    problems.append("exit status %d, expected 1" % rc)
                elif "Traceback" in err:
                    problems.append("a Python traceback instead of an error")
                elif not errline:
                    problems.append("no error line")
                else:
                    line = errline[0]
                    if "GET %s:" % expect["route"] not in line:
                        problems.append("the error does not name GET %s" % expect["route"])
                    if expect["message"] not in line:
                        problems.append("the error does not say %r" % expect["message"])
                if os.path.exists(os.path.join(out, "src", "esi_catalog_data.c")):
                    problems.append("it wrote output anyway")
            else:
                if rc != 0:
                    problems.append("exit status %d: %s" % (rc, err.strip()[-300:]))
                else:
                    with open(os.path.join(out, "test", "sim_catalog.json")) as f:
                        cat = json.load(f)
                    route = [r for r in cat["routes"] if r["path"] == expect["route"]]
                    fields = list((route[0]["response"].get("items") or {})
                                  .get("properties", {})) if route else []
                    # the simulator's copy has its keys sorted
                    if sorted(fields) != sorted(expect["columns"]):
                        problems.append("fields %r, expected %r" % (fields, expect["columns"]))
            desc = "%s: %s" % (name[:-5], "fails naming %s" % expect["route"]
                               if expect["fails"] else "generates %s" % expect["route"])
            if problems:
                failed += 1
                print("not ok %d - %s" % (i, desc))
                for p in problems:
                    print("# %s" % p)
                for ln in err.splitlines()[-5:]:
                    print("#   %s" % ln)
            else:
                print("ok %d - %s" % (i, desc))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
