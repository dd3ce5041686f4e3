"""A quick check of the simulator's own wire behaviour (not of esi_fdw).

    python3 test/esi_sim.py --self-test

Starts a simulator in-process on a free port and prints TAP.  Useful after
changing anything under test/sim/.
"""

import base64
import email.utils
import gzip
import http.client
import json
import os
import socket
import threading
import time

from . import contract
from . import lang
from . import selftest_sso
from . import selftest_writes

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

    def raw(self, path, headers=None, first=None, stall_probe=None):
        """A request over a plain socket: (head bytes, body bytes as sent on
        the wire, how the connection ended: 'eof', 'reset' or 'open').
        With first=N, read the head and N body bytes, then check that
        nothing more comes within stall_probe seconds ('stalled' in the
        result), then read on."""
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        lines = ["GET %s HTTP/1.1" % path, "Host: 127.0.0.1"]
        for k, v in dict(COMPAT, **(headers or {})).items():
            lines.append("%s: %s" % (k, v))
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data, end, stalled = b"", "open", None
        try:
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(65536)
                if not chunk:
                    end = "eof"
                    break
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            if first is not None and end == "open":
                while len(body) < first:
                    chunk = sock.recv(first - len(body))
                    if not chunk:
                        end = "eof"
                        break
                    body += chunk
                sock.settimeout(stall_probe)
                try:
                    chunk = sock.recv(65536)
                    stalled = False
                    body += chunk
                    if not chunk:
                        end = "eof"
                except socket.timeout:
                    stalled = True
                sock.settimeout(10)
            length = None
            for ln in head.split(b"\r\n")[1:]:
                k, _, v = ln.partition(b":")
                if k.strip().lower() == b"content-length":
                    length = int(v)
            while end == "open" and (length is None or len(body) < length):
                chunk = sock.recv(65536)
                if not chunk:
                    end = "eof"
                    break
                body += chunk
                if length is None and body.endswith(b"0\r\n\r\n"):
                    break
        except ConnectionResetError:
            end = "reset"
            head = data.partition(b"\r\n\r\n")[0]
        finally:
            sock.close()
        return head, body, end, stalled


def dechunk(body):
    """The payload of a chunked body, and whether it ended with the last chunk."""
    out, pos = b"", 0
    while True:
        eol = body.find(b"\r\n", pos)
        if eol < 0:
            return out, False
        size = int(body[pos:eol], 16)
        if size == 0:
            return out, body[eol:eol + 4] == b"\r\n\r\n"
        out += body[eol + 2:eol + 2 + size]
        pos = eol + 2 + size + 2


def run(world, table, forge_pages):
    sso = SsoAuthority(world.u.seed, {s for r in table.routes.values() for s in r.scopes})
    server = SimServer(("127.0.0.1", 0), world, table, State(), sso, quiet=True)
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
    check("SSO route without token is 401", c.get("/characters/1/assets")[0] == 401)
    check("SSO route with a token that is no JWT is 401",
          c.get("/characters/1/assets", {"Authorization": "Bearer x"})[0] == 401)

    wire_faults(c, check, table)
    cache_and_limit_controls(c, check)
    contract_checks(c, check, table)
    language_checks(c, check)
    selftest_sso.run(server.server_address[1], check)
    selftest_writes.run(server.server_address[1], check)

    server.shutdown()
    server.server_close()
    print("1..%d" % len(results))
    for i, (name, ok) in enumerate(results, 1):
        print("%s %d - %s" % ("ok" if ok else "not ok", i, name))
    return 0 if all(ok for _, ok in results) else 1


def wire_faults(c, check, table):
    """The fault modes that break HTTP itself, seen with a plain client."""
    c.get("/_sim/reset")

    def fault(q):
        return c.json("/_sim/fault?" + q)[0]["id"]

    url = "/markets/10000043/orders?page=2"
    _, h0, whole = c.get(url)

    fault("path=/markets/10000043/orders&kind=chunked&chunk=4000")
    s, h, b = c.get(url)
    check("chunked: Transfer-Encoding chunked, no Content-Length, same body",
          s == 200 and h.get("transfer-encoding") == "chunked"
          and "content-length" not in h and b == whole)
    fault("path=/markets/10000043/orders&kind=chunked&chunk=1000")
    head, body, end, _ = c.raw(url)
    payload, last = dechunk(body)
    check("chunked: 1000-byte chunks ending with the zero chunk",
          b"chunked" in head.lower() and last and payload == whole
          and body.startswith(b"3e8\r\n"))
    fault("path=/markets/10000043/orders&kind=chunked&at=5000")
    head, body, end, _ = c.raw(url)
    payload, last = dechunk(body)
    check("chunked with at: the connection closes mid-body, no last chunk",
          end == "eof" and not last and payload == whole[:5000])

    fault("path=/markets/10000043/orders&kind=stall&at=3000&ms=1500")
    head, body, end, stalled = c.raw(url, first=3000, stall_probe=0.3)
    check("stall: 3000 body bytes, then nothing for a while, then the rest",
          stalled is True and body == whole and b"200 OK" in head)

    fault("path=/markets/10000043/orders&kind=cut&at=7000")
    head, body, end, _ = c.raw(url)
    # (a reset may discard what the client had not read yet: at most 7000)
    check("cut: at most 7000 of the announced bytes, then the connection is reset",
          end in ("reset", "eof") and len(body) <= 7000
          and (not head or (b"Content-Length: %d" % len(whole)) in head))
    log = c.json("/_sim/requests")
    check("cut: logged as a cut after 7000 of the body's bytes",
          log[-1]["fault"] == "cut" and 0 < log[-1]["bytes"] < len(whole))
    fault("path=/markets/10000043/orders&kind=truncate&at=100")
    head, body, end, _ = c.raw(url)
    check("truncate with at: 100 bytes, then the connection closes",
          end == "eof" and len(body) == 100)

    fault("path=/markets/10000043/orders&kind=redirect")
    s, h, b = c.get(url)
    loc = h.get("location")
    check("redirect: 302 to the /latest path of the same request",
          s == 302 and loc == "/latest" + url and b == b"")
    s2, _, b2 = c.get(loc)
    check("redirect: its Location serves the same data", s2 == 200 and b2 == whole)
    fault("path=/markets/10000043/orders&kind=redirect&status=301"
          "&location=/markets/10000030/orders%3Fpage%3D2")
    s, h, _ = c.get(url)
    check("redirect: status and location as given",
          s == 301 and h.get("location") == "/markets/10000030/orders?page=2")

    fault("path=/markets/prices&kind=status&status=502&body=html")
    s, h, b = c.get("/markets/prices")
    check("5xx with an HTML body", s == 502 and h.get("content-type") == "text/html"
          and b.startswith(b"<html>"))
    fault("path=/markets/prices&kind=status&status=503&body=empty")
    s, h, b = c.get("/markets/prices")
    check("5xx with an empty body", s == 503 and h.get("content-length") == "0" and b == b"")

    fault("path=/markets/10000043/orders&kind=rate_limit&retry_format=none")
    s, h, _ = c.get(url)
    check("429 without Retry-After nor rate-limit headers",
          s == 429 and "retry-after" not in h and "x-ratelimit-group" not in h)
    fault("path=/markets/10000043/orders&kind=rate_limit&retry_after=5&retry_format=date")
    s, h, _ = c.get(url)
    when = None
    try:
        when = email.utils.parsedate_to_datetime(h.get("retry-after", ""))
    except (TypeError, ValueError):
        pass
    check("429 with Retry-After as an HTTP date",
          s == 429 and when is not None and h["retry-after"].endswith("GMT"))

    p1 = c.get("/markets/10000043/orders?page=1")[1]
    fault("path=/markets/10000043/orders&kind=xpages_only&page=2")
    h2 = c.get(url)[1]
    check("xpages_only: one page more, the same Last-Modified",
          int(h2["x-pages"]) == int(p1["x-pages"]) + 1
          and h2["last-modified"] == p1["last-modified"])
    fault("path=/markets/10000043/orders&kind=xpages_only&pages=1")
    check("xpages_only: X-Pages as given", c.get(url)[1]["x-pages"] == "1")

    fault("path=/markets/10000043/orders&kind=lm_rollover&page=3")
    before = c.get(url)[1]["last-modified"]
    p3 = c.get("/markets/10000043/orders?page=3")[1]
    p4 = c.get("/markets/10000043/orders?page=4")[1]
    again = c.get(url)[1]
    check("lm_rollover: Last-Modified moves on at page 3 and stays moved",
          before == p1["last-modified"] and p3["last-modified"] != before
          and p4["last-modified"] == p3["last-modified"] == again["last-modified"]
          and p3["x-pages"] == p1["x-pages"])
    c.get("/_sim/reset")
    check("lm_rollover: undone by /_sim/reset",
          c.get(url)[1]["last-modified"] == p1["last-modified"])

    if table.get("/freelance-jobs") is not None:
        d1 = c.json("/freelance-jobs")
        fault("path=/freelance-jobs&kind=cursor_repeat")
        d2 = c.json("/freelance-jobs?before=" + d1["cursor"]["before"])
        check("cursor_repeat: the next page repeats a record of the page before",
              d2["freelance_jobs"][-1] == d1["freelance_jobs"][0]
              and len(d2["freelance_jobs"]) == len(d1["freelance_jobs"]) + 1)

    log = c.json("/_sim/requests")
    bad = [(e["seq"], e["path"], e["fault"], e["started"], e["finished"]) for e in log
           if not (e["started"] and e["finished"] and e["finished"] >= e["started"])]
    check("the request log has start and end times%s" % (": %r" % bad[:3] if bad else ""),
          log and not bad)
    c.get("/_sim/reset")


def cache_and_limit_controls(c, check):
    """cache_seconds, the error and rate-limit controls, 404s with ESI's body."""
    c.get("/_sim/reset")

    def max_age(h):
        cc = h.get("cache-control", "")
        return int(cc.split("max-age=")[1]) if "max-age=" in cc else None

    def expires_in(h):
        return (email.utils.parsedate_to_datetime(h["expires"]).timestamp()
                - email.utils.parsedate_to_datetime(h["date"]).timestamp())

    cfg = c.json("/_sim/config?cache_seconds=600")[0]
    s, h, _ = c.get("/universe/types/34")
    check("cache_seconds=600: a daily route expires 600 s after the setting",
          cfg["cache_seconds"] == 600 and s == 200 and 590 <= max_age(h) <= 600
          and 590 <= expires_in(h) <= 600)
    s, h2, _ = c.get("/markets/10000002/orders?page=3")
    check("cache_seconds=600: orders too, the same Expires",
          590 <= max_age(h2) <= 600 and h2["expires"] == h["expires"])
    s, h3, b3 = c.get("/universe/types/34", {"If-None-Match": h["etag"]})
    check("cache_seconds: a 304 carries the same Expires and max-age",
          s == 304 and b3 == b"" and h3.get("expires") == h["expires"]
          and 590 <= max_age(h3) <= 600)
    log = c.json("/_sim/requests")
    check("the request log shows If-None-Match and the 304",
          log[-1]["if_none_match"] == h["etag"] and log[-1]["status"] == 304
          and log[0]["if_none_match"] is None and log[0]["status"] == 200)
    c.get("/_sim/config?cache_seconds=2")
    s, h, _ = c.get("/universe/types/34")
    check("cache_seconds=2: max-age and Expires within 2 s",
          0 <= max_age(h) <= 2 and expires_in(h) <= 2)
    cfg = c.json("/_sim/config?cache_seconds=default")[0]
    s, h, _ = c.get("/markets/10000002/orders?page=3")
    check("cache_seconds=default: the route's own period again",
          cfg["cache_seconds"] is None and max_age(h) <= 300 and expires_in(h) <= 300)

    def stamp(h, name):
        return email.utils.parsedate_to_datetime(h[name]).timestamp()

    cfg = c.json("/_sim/config?cache_seconds=600&cache_phase=1&cache_refresh=1")[0]
    exps, ok_lm = set(), True
    for rid in (10000002, 10000043, 10000032, 10000030, 10000042):
        s, h, _ = c.get("/markets/%d/orders?page=1" % rid)
        s2, h2, _ = c.get("/markets/%d/orders?page=2" % rid)
        exps.add(h["expires"])
        ok_lm = ok_lm and (h2["expires"] == h["expires"] and h2["last-modified"] == h["last-modified"]
                           and stamp(h, "expires") - stamp(h, "last-modified") == 600
                           and 0 < expires_in(h) <= 600)
    check("cache_phase=1: each region's orders expire at their own time, every page of a "
          "region at the same; Last-Modified one period before",
          cfg["cache_phase"] is True and len(exps) >= 4 and ok_lm)
    s, h, _ = c.get("/markets/10000043/orders?page=1")
    s2, _, b2 = c.get("/markets/10000043/orders?page=1", {"If-None-Match": h["etag"]})
    check("cache_refresh=1: the ETag names the period (a 304 within it)",
          s2 == 304 and b2 == b"" and ("%x\"" % int(stamp(h, "last-modified"))) in h["etag"])
    c.get("/_sim/config?cache_seconds=default&cache_phase=0&cache_refresh=0")

    # ESI's expiry boundary with a page whose content stayed: a 304 with the
    # new Last-Modified and Expires (FACTS.md 5b), beside a changed page
    cfg = c.json("/_sim/config?cache_seconds=2&cache_refresh=1&unchanged_pages=1")[0]
    o = "/markets/10000033/orders?page="
    _, h1, _ = c.get(o + "1")
    _, h2, _ = c.get(o + "2")
    time.sleep(max(0.0, stamp(h1, "expires") - time.time()) + 0.2)
    s1, g1, b1 = c.get(o + "1", {"If-None-Match": h1["etag"]})
    s2, g2, _ = c.get(o + "2", {"If-None-Match": h2["etag"]})
    check("unchanged_pages=1: past the expiry, page 1 is a 304 with its ETag and the new "
          "Last-Modified, Expires and max-age",
          cfg["unchanged_pages"] == "1" and s1 == 304 and b1 == b""
          and g1["etag"] == h1["etag"]
          and stamp(g1, "last-modified") == stamp(h1, "last-modified") + 2
          and stamp(g1, "expires") == stamp(h1, "expires") + 2
          and 0 <= max_age(g1) <= 2)
    check("... page 2 changed: a 200 with a new ETag and page 1's new Last-Modified",
          s2 == 200 and g2["etag"] != h2["etag"]
          and g2["last-modified"] == g1["last-modified"])
    bad = c.json("/_sim/config?unchanged_pages=x")
    check("unchanged_pages takes page numbers, all or nothing", "error" in json.dumps(bad))
    c.get("/_sim/config?cache_seconds=default&cache_refresh=0&unchanged_pages=")

    c.get("/_sim/reset")
    s, h, b = c.get("/universe/types/999999999")
    check("an unknown type is 404 with ESI's error body and costs an error",
          s == 404 and json.loads(b) == {"error": "Type not found!"}
          and h.get("x-esi-error-limit-remain") == "99")
    s, h, b = c.get("/markets/12345/orders?page=1")
    check("an unknown region's orders are 404 with ESI's error body",
          s == 404 and json.loads(b) == {"error": "Region not found"}
          and h.get("x-ratelimit-group") == "market-order")

    c.get("/_sim/reset")
    st = c.json("/_sim/error_limit?remain=2&reset=30")[0]
    s, h, _ = c.get("/universe/types/34")
    check("/_sim/error_limit sets the caller's remaining errors and reset",
          st["remain"] == 2 and st["ip"] == "127.0.0.1" and s == 200
          and h.get("x-esi-error-limit-remain") == "2"
          and 28 <= int(h.get("x-esi-error-limit-reset", 0)) <= 30)
    codes = [c.get("/universe/types/999999999") for _ in range(2)]
    s, h, b = c.get("/universe/types/34")
    check("... two errors later remaining is 0 and the simulator answers 420 itself",
          [x[0] for x in codes] == [404, 404]
          and codes[1][1].get("x-esi-error-limit-remain") == "0"
          and s == 420 and h.get("x-esi-error-limit-remain") == "0"
          and "error limit" in json.loads(b)["error"]
          and c.get("/markets/history")[0] == 420)
    st = c.json("/_sim/error_limit")[0]
    check("/_sim/error_limit without remain shows the state", st["remain"] == 0
          and 1 <= st["reset"] <= 30)
    c.json("/_sim/error_limit?remain=0&reset=1")
    s, h, _ = c.get("/universe/types/34")
    check("remain=0&reset=1: 420 at once, Reset 1",
          s == 420 and h.get("x-esi-error-limit-reset") == "1")
    c.json("/_sim/error_limit?remain=100")
    check("remain=100 lifts it", c.get("/universe/types/34")[0] == 200)

    c.get("/_sim/reset")
    st = c.json("/_sim/rate_limit?group=market-order&remain=0&retry_after=3")[0]
    s, h, _ = c.get("/markets/10000043/orders?page=1")
    check("/_sim/rate_limit empties a group's bucket: 429 with Retry-After",
          st["remaining"] == 0 and st["limit"] == 12000 and s == 429
          and 1 <= int(h.get("retry-after", 0)) <= 3
          and h.get("x-ratelimit-remaining") == "0")
    c.json("/_sim/rate_limit?group=market-order&remain=4")
    codes = [c.get("/markets/10000043/orders?page=1")[0] for _ in range(3)]
    st = c.json("/_sim/rate_limit?group=market-order")[0]
    check("remain=4: two 200s (2 tokens each), then 429; the state shows it",
          codes == [200, 200, 429] and st["used"] == 12000 and st["remaining"] == 0)
    check("an unknown group is a 400",
          c.get("/_sim/rate_limit?group=no-such-group&remain=0")[0] == 400)
    c.get("/_sim/reset")


def contract_checks(c, check, table):
    """The contract's routes are served from the contract, and agree with
    the generated catalog."""
    mine = [table.get(k.path) for k in contract.ROUTES]
    check("every contract route is served from the contract",
          all(r is not None and r.contract for r in mine))
    rows = c.json("/_sim/contract")
    check("/_sim/contract lists them", len(rows) == len(contract.ROUTES))
    here = os.path.dirname(os.path.abspath(__file__))
    cat_path = os.path.join(here, "..", "sim_catalog.json")
    if os.path.exists(cat_path):
        with open(cat_path) as f:
            diffs = contract.check_catalog(json.load(f))
        check("the contract agrees with the generated catalog%s"
              % ("" if not diffs else ": " + "; ".join(diffs[:3])), not diffs)
        with open(cat_path) as f:
            broken = json.load(f)
        for r in broken["routes"]:
            if r["path"] == "/markets/{region_id}/orders":
                r["paging"] = "none"
            if r["path"] == "/universe/types/{type_id}":
                r["response"]["properties"].pop("name")
        diffs = contract.check_catalog(broken)
        check("... and would see a generator bug", len(diffs) == 2)

    tok = {"Authorization": "Bearer sim-2112625428"}
    s, h, b = c.get("/characters/2112625428/wallet/transactions", tok)
    page = json.loads(b) if s == 200 else []
    seen, steps = {t["transaction_id"] for t in page}, 1
    while s == 200 and steps < 10:
        low = min(t["transaction_id"] for t in page)
        s, _, b = c.get("/characters/2112625428/wallet/transactions?from_id=%d" % low, tok)
        page = json.loads(b)
        steps += 1
        if [t["transaction_id"] for t in page] == [low]:
            break
        seen |= {t["transaction_id"] for t in page}
    check("from_id walk with a test token: 2500 a page, inclusive, ends on the record asked from",
          s == 200 and 3 <= steps <= 4 and len(seen) > 4000
          and h.get("x-ratelimit-group") == "char-wallet")
    check("a test token reads its own character only",
          c.get("/characters/1/wallet/transactions", tok)[0] == 403)
    s, h, b = c.get("/characters/2112625428/wallet/journal", tok)
    check("the wallet journal is X-Pages", s == 200 and int(h.get("x-pages", 0)) >= 2)
    s, _, b = c.get("/characters/2112625428/wallet", tok)
    check("the wallet balance is one number", s == 200 and isinstance(json.loads(b), float))
    check("a corporation route needs roles: 403",
          c.get("/corporations/98000001/assets", tok)[0] == 403)
    cases = c.json("/_sim/fuzz?seed=3&count=20")
    check("/_sim/fuzz/N serves the listed body as it is",
          len(cases) == 20 and c.get("/_sim/fuzz/7?seed=3")[2]
          == base64.b64decode(cases[6]["body_b64"]))
    c.get("/_sim/reset")


def language_checks(c, check):
    """Accept-Language, multi-byte names and escaped descriptions."""
    s, h, b = c.get("/universe/types/34", {"Accept-Language": "ja"})
    d = json.loads(b)
    check("Accept-Language ja: Content-Language ja, a raw UTF-8 name",
          s == 200 and h.get("content-language") == "ja" and d["name"] == "トリタニウム"
          and "トリタニウム".encode() in b)
    check("descriptions carry \\n, \\\", \\\\, \\u00e9 and a surrogate pair",
          all(e in b for e in (b"\\n", b'\\"', b"\\\\", b"\\u00e9", b"\\ud83d\\ude80"))
          and d["description"].endswith(lang.SENTENCES["ja"]))
    s, h, b = c.get("/universe/types/34", {"Accept-Language": "de-DE,de;q=0.9"})
    check("de-DE picks de", h.get("content-language") == "de")
    s, h, b = c.get("/universe/types/34", {"Accept-Language": "xx"})
    en = json.loads(b)
    check("an unknown language gets en, and the real items' English is plain ASCII",
          h.get("content-language") == "en" and en["name"] == "Tritanium"
          and all(ch < 0x80 for ch in b))
    tids = c.json("/universe/types?page=1")
    other = next(t for t in tids if t not in (34, 35, 36, 44992))
    names = {}
    for lg in contract.LANGUAGES:
        names[lg] = c.json("/universe/types/%d" % other, {"Accept-Language": lg})["name"]
    check("every language gives another name", len(set(names.values())) == 8
          and "Großhändlerausgabe" in names["de"] and "한국어판" in names["ko"])
    for path in ("/universe/regions/10000002", "/universe/systems/30000142",
                 "/universe/constellations/20000020", "/universe/groups/18",
                 "/universe/categories/4", "/markets/groups/1857"):
        s, h, b = c.get(path, {"Accept-Language": "ru"})
        check("%s is translated (ru)" % path, s == 200 and h.get("content-language") == "ru"
              and any(0x400 <= ord(ch) < 0x500 for ch in json.loads(b)["name"]))
