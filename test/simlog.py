#!/usr/bin/env python3
"""Read the ESI simulator's request log for the shell tests (stdlib only).

    python3 test/simlog.py URL seq
        the seq number of the last logged request (0 when none)
    python3 test/simlog.py URL lines [--since SEQ] [--path SUBSTRING] [--agent SUBSTRING]
        one line per request after SEQ whose path (and User-Agent) contains
        SUBSTRING:
        seq status page path query if_none_match started finished user_agent
        (tab-separated; '-' for none; page 1 when the request named no page;
        started/finished as epoch seconds)
    python3 test/simlog.py URL count [--since SEQ] [--path ...] [--agent ...]
        how many such requests
"""

import argparse
import calendar
import json
import sys
import time
import urllib.request


def epoch(iso):
    """2026-11-20T10:11:12.123456Z -> epoch seconds (float)."""
    if not iso:
        return None
    secs, _, frac = iso.rstrip("Z").partition(".")
    t = calendar.timegm(time.strptime(secs, "%Y-%m-%dT%H:%M:%S"))
    return t + (float("0." + frac) if frac else 0.0)


def fetch(url, since):
    with urllib.request.urlopen("%s/_sim/requests?since=%d" % (url, since), timeout=30) as r:
        return json.loads(r.read())


def main(argv):
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("what", choices=("seq", "lines", "count"))
    p.add_argument("--since", type=int, default=0)
    p.add_argument("--path", default="")
    # the User-Agent tells one test cluster's requests from another's
    p.add_argument("--agent", default="")
    a = p.parse_args(argv)
    log = fetch(a.url, a.since)
    if a.what == "seq":
        print(max([e["seq"] for e in log] + [a.since]))
        return 0
    log = [e for e in log if e["seq"] > a.since and a.path in e["path"]
           and a.agent in (e.get("user_agent") or "")]
    if a.what == "count":
        print(len(log))
        return 0
    for e in log:

        def f(v):
            return "-" if v is None or v == "" else str(v)
        st, fi = epoch(e.get("started")), epoch(e.get("finished"))
        print("\t".join([str(e["seq"]), f(e["status"]), str(e["page"] or 1), e["path"],
                         f(e["query"]), f(e["if_none_match"]),
                         "%.6f" % st if st else "-", "%.6f" % fi if fi else "-",
                         f(e.get("user_agent"))]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
