#!/usr/bin/env python3
"""ESI simulator for esi_fdw's tests.

Serves EVE Online's ESI routes over loopback with deterministic data and
ESI's wire behaviour (X-Pages, ETag/304, Expires, gzip, error limit, rate
limits), EVE SSO (login.eveonline.com's endpoints, on the same port),
plus /_sim/ control routes for faults and inspection.  See test/sim/ for
the parts (EVE SSO: test/sim/sso.py).

    python3 test/esi_sim.py [--host 127.0.0.1] [--port 0] [--seed 1]
        [--port-file PATH] [--catalog PATH] [--forge-pages 411]
        [--market-regions 20] [--quiet]
        [--sso-client ID[:SECRET]]... [--sso-redirect-uri URI]...
        [--sso-access-ttl 1200]
    python3 test/esi_sim.py --write-csv FILE --region 10000002 [--seed 1]
    python3 test/esi_sim.py --self-test
"""

import argparse
import os
import signal
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from sim import catalog as cat            # noqa: E402
from sim.limits import State              # noqa: E402
from sim.market import Market, write_csv  # noqa: E402
from sim.routes import World, build_table  # noqa: E402
from sim.server import SimServer          # noqa: E402
from sim.sso import SsoAuthority          # noqa: E402
from sim.universe import (EXTRA_REGION_IDS, EXTRA_REGION_PAGES, REAL_REGIONS,  # noqa: E402
                          Universe)

N_REAL = len(REAL_REGIONS)
# free ids of the generated regions' range
N_EXTRA_MAX = (EXTRA_REGION_IDS[1] - EXTRA_REGION_IDS[0] + 1
               - sum(1 for r in REAL_REGIONS if EXTRA_REGION_IDS[0] <= r[0] <= EXTRA_REGION_IDS[1]))


def parse_args(argv):
    p = argparse.ArgumentParser(description="ESI simulator for esi_fdw's tests")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--port-file", help="write the port number here once listening")
    p.add_argument("--catalog", default=os.path.join(HERE, "sim_catalog.json"),
                   help="route catalog (default: sim_catalog.json next to this script)")
    p.add_argument("--forge-pages", type=int, default=411,
                   help="pages of orders in The Forge (10000002)")
    p.add_argument("--market-regions", type=int, default=None, metavar="N",
                   help="regions with a market: the %d built-in ones, or up to %d with "
                        "generated small markets (%d-%d pages each) added"
                        % (N_REAL, N_REAL + N_EXTRA_MAX, EXTRA_REGION_PAGES[0],
                           EXTRA_REGION_PAGES[1]))
    p.add_argument("--cache-dir", default=os.path.join(HERE, ".cache"),
                   help="where rendered market data is cached ('' disables)")
    p.add_argument("--quiet", action="store_true", help="no per-request log on stderr")
    p.add_argument("--write-csv", metavar="FILE",
                   help="write the orders of --region as CSV and exit")
    p.add_argument("--region", type=int, default=10000002)
    p.add_argument("--sso-client", action="append", default=[], metavar="ID[:SECRET]",
                   help="register an SSO application (confidential with a secret)")
    p.add_argument("--sso-redirect-uri", action="append", default=[], metavar="URI",
                   help="another callback URL every SSO application accepts")
    p.add_argument("--sso-access-ttl", type=int, default=1200, metavar="SECONDS",
                   help="lifetime of the SSO access tokens (default 1200)")
    p.add_argument("--self-test", action="store_true",
                   help="check the simulator's own behaviour (prints TAP) and exit")
    a = p.parse_args(argv)
    if not 1 <= a.forge_pages <= 3000:
        p.error("--forge-pages must be between 1 and 3000")
    if a.market_regions is not None and not N_REAL <= a.market_regions <= N_REAL + N_EXTRA_MAX:
        p.error("--market-regions must be between %d and %d" % (N_REAL, N_REAL + N_EXTRA_MAX))
    if a.sso_access_ttl < 2:
        p.error("--sso-access-ttl must be at least 2")
    clients = []
    for c in a.sso_client:
        cid, _, secret = c.partition(":")
        if not cid:
            p.error("--sso-client needs a client id")
        clients.append((cid, secret or None))
    a.sso_client = clients
    return a


def note(msg):
    sys.stderr.write("esi_sim: %s\n" % msg)
    sys.stderr.flush()


def write_port_file(path, port):
    """Write via a temporary name and rename, so readers never see a partial file."""
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.replace(tmp, path)


def main(argv=None):
    a = parse_args(argv if argv is not None else sys.argv[1:])
    t0 = time.time()
    universe = Universe(a.seed, a.forge_pages, a.market_regions)

    if a.write_csv:
        if a.region not in universe.regions:
            note("unknown region %d" % a.region)
            return 2
        n = write_csv(universe, a.region, a.write_csv)
        note("wrote %d orders of region %d to %s" % (n, a.region, a.write_csv))
        return 0

    catalog_routes, resolve, version = [], None, None
    if a.catalog and os.path.exists(a.catalog):
        catalog_routes, resolve, version = cat.load_catalog(a.catalog)
        if not a.quiet:
            note("catalog %s: %d GET routes (version %s)"
                 % (a.catalog, len(catalog_routes), version))
    elif not a.quiet:
        note("no catalog at %s: serving the built-in market and universe routes only" % a.catalog)

    market = Market(universe, a.cache_dir or None, None if a.quiet else note)
    world = World(universe, market, resolve)
    table = build_table(catalog_routes)
    dates = {r.compat_date for r in table.routes.values()} | {cat.DEFAULT_COMPAT}
    if version:
        dates.add(version)
    world.compat_dates = sorted(dates, reverse=True)
    if a.self_test:
        from sim import selftest
        return selftest.run(world, table, a.forge_pages)

    sso = SsoAuthority(a.seed, {s for r in table.routes.values() for s in r.scopes},
                       a.sso_client, a.sso_redirect_uri, a.sso_access_ttl)
    server = SimServer((a.host, a.port), world, table, State(), sso, a.quiet)
    host, port = server.server_address[:2]
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                              daemon=True)
    thread.start()
    if a.port_file:
        write_port_file(a.port_file, port)
    if not a.quiet:
        note("ready in %.2f s" % (time.time() - t0))
    print("esi_sim listening on http://%s:%d" % (host, port), flush=True)
    try:
        while not stop.wait(3600):
            pass
    finally:
        server.shutdown()
        server.server_close()
        if a.port_file:
            # Only remove the file if it is still ours.
            try:
                with open(a.port_file) as f:
                    if f.read().strip() == str(port):
                        os.unlink(a.port_file)
            except OSError:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
