"""A quick check of the simulator's own wire behaviour (not of esi_fdw).

    python3 test/esi_sim.py --self-test

Starts a simulator in-process on a free port and prints TAP.  Useful after
changing anything under test/sim/.
"""

import gzip
import http.client
import json
import threading

from .limits import State
from .server import SimServer
from .sso import SsoAuthority

COMPAT = {"X-Compatibility-Date": "2026-08-04"}


class Client:
    def __init__(self, port):
        self.port = port

    def get(self, path, headers=None):
        """(status, headers dict with lower-case names, body bytes); status 0
        when the connection broke."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            c.request("GET", path, headers=dict(COMPAT, **(headers or {})))
            r = c.getresponse()
            body = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, body
        except (http.client.HTTPException, ConnectionError, OSError):
            return 0, {}, b""
        finally:
            c.close()

    def json(self, path, headers=None):
        return json.loads(self.get(path, headers)[2])


def run(world, table, forge_pages):
    server = SimServer(("127.0.0.1", 0), world, table, State(), SsoAuthority(), quiet=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    c = Client(server.server_address[1])
    results = []

    def check(name, cond):
        results.append((name, bool(cond)))

    s, h, b = c.get("/markets/10000002/orders?order_type=all&page=1")
    check("orders page 1 is 200 with X-Pages", s == 200 and h.get("x-pages") == str(forge_pages))
    check("1000 orders on a full page", len(json.loads(b)) == 1000)
    check("caching headers", all(k in h for k in ("etag", "last-modified", "expires",
                                                  "cache-control", "x-esi-request-id")))
    check("market-order rate-limit headers", h.get("x-ratelimit-group") == "market-order"
          and h.get("x-ratelimit-limit") == "12000/15m")
    s2, h2, _ = c.get("/markets/10000002/orders?page=2")
    check("same Last-Modified on every page", h2.get("last-modified") == h["last-modified"])
    s3, h3, b3 = c.get("/markets/10000002/orders?page=1", {"If-None-Match": h["etag"]})
    check("If-None-Match gives 304 without body", s3 == 304 and b3 == b"")
    s4, h4, b4 = c.get("/latest/markets/10000002/orders/?page=1", {"Accept-Encoding": "gzip"})
    check("/latest/, trailing slash and gzip", s4 == 200 and h4.get("content-encoding") == "gzip"
          and gzip.decompress(b4) == b)
    check("page past the end is 404",
          c.get("/markets/10000002/orders?page=%d" % (forge_pages + 1))[0] == 404)
    for q in ("page=0", "page=x", "type_id=abc", "order_type=foo"):
        check("bad %s is 400" % q, c.get("/markets/10000002/orders?" + q)[0] == 400)
    check("history without type_id is 400", c.get("/markets/10000002/history")[0] == 400)
    check("unknown region is 404", c.get("/markets/12345/orders")[0] == 404)
    check("wormhole region: no orders", c.json("/markets/11000001/orders") == [])
    check("wormhole region: history 400", c.get("/markets/11000001/history?type_id=34")[0] == 400)
    hist = c.json("/markets/10000002/history?type_id=34")
    check("400 days of history", len(hist) == 400 and hist[-1]["date"] == "2026-11-20")
    tri = c.json("/markets/10000002/orders?type_id=34&order_type=sell")
    check("type_id and order_type filter", tri and all(o["type_id"] == 34 and not o["is_buy_order"]
                                                      for o in tri))
    check("unknown route is 404", c.get("/no/such/route")[0] == 404)

    def fault(q):
        return c.json("/_sim/fault?" + q)[0]["id"]

    c.get("/_sim/reset")
    fault("path=/markets/10000043/orders&kind=status&status=502&page=2")
    check("status fault", c.get("/markets/10000043/orders?page=2")[0] == 502
          and c.get("/markets/10000043/orders?page=2")[0] == 200)
    fault("path=/markets/10000043/orders&kind=reset")
    check("reset fault drops the connection", c.get("/markets/10000043/orders")[0] == 0)
    fault("path=/markets/10000043/orders&kind=truncate")
    check("truncate fault", c.get("/markets/10000043/orders")[0] == 0)
    fault("path=/markets/10000043/orders&kind=malformed")
    s, h, b = c.get("/markets/10000043/orders")
    try:
        json.loads(b)
        bad_json = False
    except ValueError:
        bad_json = True
    check("malformed fault", s == 200 and bad_json)
    fault("path=/markets/10000043/orders&kind=xpages&page=3")
    p1 = c.get("/markets/10000043/orders?page=1")[1]
    p3 = c.get("/markets/10000043/orders?page=3")[1]
    check("xpages fault", p3["last-modified"] != p1["last-modified"]
          and int(p3["x-pages"]) == int(p1["x-pages"]) + 1)
    fault("path=/markets/prices&kind=error_limit")
    s, h, _ = c.get("/markets/prices")
    check("error_limit fault", s == 420 and h.get("x-esi-error-limit-remain") == "0")
    fault("path=/markets/prices&kind=rate_limit&retry_after=3")
    s, h, _ = c.get("/markets/prices")
    check("rate_limit fault", s == 429 and h.get("retry-after") == "3")
    log = c.json("/_sim/requests")
    check("request log", log and log[0]["seq"] == 1 and log[0]["status"] == 502
          and log[0]["page"] == 2 and log[0]["compat_date"] == "2026-08-04")

    c.get("/_sim/reset")
    c.get("/_sim/config?error_limit=3&error_window=30")
    codes = [c.get("/markets/10000002/history")[0] for _ in range(4)]
    check("error limit: 420 after 3 errors", codes == [400, 400, 400, 420]
          and c.get("/markets/prices")[0] == 420)
    c.get("/_sim/reset")
    c.get("/_sim/config?rate_limit=6")
    codes = [c.get("/markets/10000002/orders")[0] for _ in range(4)]
    s, h, _ = c.get("/markets/10000002/orders")
    check("rate limit: 429 when the bucket is empty", codes == [200, 200, 200, 429]
          and s == 429 and int(h.get("retry-after", "0")) > 0)
    c.get("/_sim/reset")

    if table.get("/freelance-jobs") is not None:
        d = c.json("/freelance-jobs")
        steps = 0
        while d["freelance_jobs"] and steps < 10:
            d = c.json("/freelance-jobs?before=" + d["cursor"]["before"])
            steps += 1
        check("cursor walk ends in 2-3 steps", 2 <= steps <= 3)
    if table.get("/characters/{character_id}/assets") is not None:
        check("SSO route without token is 401", c.get("/characters/1/assets")[0] == 401)
        check("SSO route with a token is 403",
              c.get("/characters/1/assets", {"Authorization": "Bearer x"})[0] == 403)

    server.shutdown()
    server.server_close()
    print("1..%d" % len(results))
    for i, (name, ok) in enumerate(results, 1):
        print("%s %d - %s" % ("ok" if ok else "not ok", i, name))
    return 0 if all(ok for _, ok in results) else 1
