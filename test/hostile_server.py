#!/usr/bin/env python3
"""test/hostile_server.py - a rude HTTP/1.1 server for esi_fdw's transport tests.

    python3 test/hostile_server.py --port 0 --port-file FILE

Listens on 127.0.0.1 only and writes exactly the bytes each scenario wants
(raw sockets, no HTTP library that would tidy them up): absurd and malformed
X-Pages, replies larger than any sane limit, 429 forever, Retry-After as an
HTTP date, cursor walks that go round in a circle or carry query syntax in
their tokens, a second response smuggled after a body, and a from_id walk.

Routes (every reply is JSON; keep-alive unless said otherwise):

  /xpages/<kind>          X-Pages routes: ok (3 pages), huge (1000000000),
                          20 (20 pages), 3abc, neg (-1), overflow
                          (99999999999999), empty (""), twice (the header twice),
                          long (201 digits), longtwice (127 digits, twice)
  /big/<mode>?kb=N        a body of about N kB: mode length (Content-Length),
                          chunked, or gzip (Content-Encoding: gzip)
  /gzip/<kind>            3000 records {"id", "v"} (about 600 kB of JSON), in
                          gzip when asked for it (else plain): ok; two (two
                          gzip members, the last one small); identity
                          (Content-Encoding: identity); broken ones: corrupt
                          (flipped bytes), isize_small / isize_big (a trailer
                          that lies about the length), crc (a wrong CRC),
                          trunc (cut short), garbage (bytes after the end),
                          br (Content-Encoding: br), bomb (4 MB of JSON whose
                          trailer says 10 bytes); err404 (a 404 whose gzip
                          body is ESI's error)
  /ratelimit/<kind>       forever (429, Retry-After: 1), noheader (429 without
                          Retry-After), date (429 with Retry-After as an HTTP
                          date 2 s ahead, then 200 once that time has come),
                          fardate (an HTTP date an hour ahead), bad ("soon")
  /cursor/<kind>          cursor walks ({"records": [...], "cursor": {...}}):
                          loop (A -> B -> A), amp (a token "x&type_id=35"),
                          long (a new token on every page, forever)
  /fromid                 300 records, ids 1000 down to 701, 50 a page; a page
                          asked with from_id=X starts with record X
  /smuggle/<kind>         a reply followed by a second, smuggled response on
                          the same connection: now (in the same write) or late
                          (0.2 s after the reply); slow sends half its body,
                          then the rest 3 s later
  /plain                  [{"id": 2, "v": "good"}]
  /stall                  no answer for 10 minutes

Control routes (not logged): /_log (every request so far, as JSON: seq, conn,
path, query, headers, time), /_reset (forget the log and the scenario state),
/_events (server-side events, e.g. when a smuggled response went out).
"""
import argparse
import email.utils
import gzip
import json
import socket
import struct
import sys
import threading
import time
import urllib.parse

REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 429: "Too Many Requests"}


def response(status, body=b"", headers=(), length=True):
    """The bytes of one HTTP/1.1 response."""
    if isinstance(body, str):
        body = body.encode()
    lines = ["HTTP/1.1 %d %s" % (status, REASONS.get(status, "Whatever"))]
    lines.append("Content-Type: application/json")
    lines += ["%s: %s" % (k, v) for k, v in headers]
    if length:
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def json_body(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


class State:
    """The request log and per-scenario state, shared by all connections."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.seq = 0
        self.log = []
        self.events = []
        self.first_429 = {}


class Hostile:
    def __init__(self, state):
        self.st = state

    # -- scenarios ---------------------------------------------------------------
    # Each returns a list of actions: bytes to send, ("sleep", s), ("event", text),
    # or ("close",).

    def xpages(self, kind, q):
        page = int(q.get("page", ["1"])[0] or 1)
        values = {"ok": ["3"], "huge": ["1000000000"], "20": ["20"], "3abc": ["3abc"],
                  "neg": ["-1"], "overflow": ["99999999999999"], "empty": [""],
                  "twice": ["1", "1000000000"], "long": ["1" + "0" * 200],
                  "longtwice": ["1" * 127, "2" * 127]}
        if kind not in values:
            return [response(404, json_body({"error": "no such scenario"}))]
        headers = [("X-Pages", v) for v in values[kind]]
        headers.append(("Last-Modified", "Mon, 02 Nov 2026 11:00:00 GMT"))
        return [response(200, json_body([{"id": page}]), headers)]

    def big(self, mode, q, accept_gzip):
        kb = int(q.get("kb", ["1024"])[0])
        rec = '{"id":%d,"pad":"' + "x" * 1000 + '"}'
        n = max(1, kb * 1024 // (len(rec) + 4))
        body = ("[" + ",".join(rec % i for i in range(n)) + "]").encode()
        if mode == "length":
            return [response(200, body)]
        if mode == "gzip":
            if not accept_gzip:
                return [response(400, json_body({"error": "ask for gzip"}))]
            return [response(200, gzip.compress(body), [("Content-Encoding", "gzip")])]
        if mode == "chunked":
            out = [response(200, b"", [("Transfer-Encoding", "chunked")], length=False)]
            for i in range(0, len(body), 65536):
                part = body[i:i + 65536]
                out.append(b"%x\r\n" % len(part) + part + b"\r\n")
            out.append(b"0\r\n\r\n")
            return out
        return [response(404, json_body({"error": "no such mode"}))]

    def gzip_reply(self, kind, accept_gzip):
        recs = [{"id": i, "v": "r%d-%s%s" % (i, "\u00e9" * (i % 7), "x" * 150)} for i in range(3000)]
        body = json_body(recs)
        if kind == "identity":
            return [response(200, body, [("Content-Encoding", "identity")])]
        if kind == "err404":
            err = json_body({"error": "gone fishing"})
            if not accept_gzip:
                return [response(404, err)]
            return [response(404, gzip.compress(err), [("Content-Encoding", "gzip")])]
        if not accept_gzip:
            return [response(200, body)]
        gz = gzip.compress(body)
        if kind == "ok":
            wire = gz
        elif kind == "two":
            wire = gzip.compress(body[:-20]) + gzip.compress(body[-20:])
        elif kind == "corrupt":
            wire = gz[:40] + bytes(b ^ 0x55 for b in gz[40:80]) + gz[80:]
        elif kind == "isize_small":
            wire = gz[:-4] + struct.pack("<I", 10)
        elif kind == "isize_big":
            wire = gz[:-4] + struct.pack("<I", len(body) + 1000)
        elif kind == "crc":
            wire = gz[:-8] + struct.pack("<I", 12345) + gz[-4:]
        elif kind == "trunc":
            wire = gz[:-20]
        elif kind == "garbage":
            wire = gz + b"xyz"
        elif kind == "br":
            return [response(200, b"\x1b\x00\x00\x00garbage", [("Content-Encoding", "br")])]
        elif kind == "bomb":
            big = json_body([{"id": i, "v": "x" * 1000} for i in range(4000)])
            wire = gzip.compress(big)[:-4] + struct.pack("<I", 10)
        else:
            return [response(404, json_body({"error": "no such scenario"}))]
        return [response(200, wire, [("Content-Encoding", "gzip")])]

    def ratelimit(self, kind, q):
        err = json_body({"error": "rate limited"})
        if kind == "forever":
            return [response(429, err, [("Retry-After", "1")])]
        if kind == "noheader":
            return [response(429, err)]
        if kind == "bad":
            return [response(429, err, [("Retry-After", "soon")])]
        if kind == "fardate":
            return [response(429, err, [("Retry-After", email.utils.formatdate(time.time() + 3600, usegmt=True))])]
        if kind == "date":
            with self.st.lock:
                when = self.st.first_429.get(kind)
                if when is None:
                    # a whole second at least 2 s ahead (HTTP dates have no fractions)
                    when = float(int(time.time()) + 3)
                    self.st.first_429[kind] = when
            if time.time() < when:
                return [response(429, err, [("Retry-After", email.utils.formatdate(when, usegmt=True))])]
            return [response(200, json_body([{"id": 1}]))]
        return [response(404, json_body({"error": "no such scenario"}))]

    def cursor(self, kind, q):
        before = q.get("before", [None])[0]
        if kind == "loop":
            nxt = {None: ("A", 1), "A": ("B", 2), "B": ("A", 3)}
            if before not in nxt:
                return [response(400, json_body({"error": "Invalid cursor token"}))]
            token, rid = nxt[before]
            return [response(200, json_body({"records": [{"id": rid}],
                                             "cursor": {"before": token, "after": "z"}}))]
        if kind == "amp":
            if before is None:
                return [response(200, json_body({"records": [{"id": 1}],
                                                 "cursor": {"before": "x&type_id=35", "after": "z"}}))]
            return [response(200, json_body({"records": [], "cursor": {"before": before, "after": "z"}}))]
        if kind == "long":
            n = int(before or "0") + 1
            return [response(200, json_body({"records": [{"id": n}],
                                             "cursor": {"before": str(n), "after": "z"}}))]
        return [response(404, json_body({"error": "no such scenario"}))]

    def fromid(self, q):
        ids = list(range(1000, 700, -1))
        f = q.get("from_id", [None])[0]
        if f is not None:
            ids = [i for i in ids if i <= int(f)]
        return [response(200, json_body([{"transaction_id": i, "n": i % 7} for i in ids[:50]]))]

    def smuggle(self, kind):
        reply = response(200, json_body([{"id": 1, "v": "ok"}]))
        evil = response(200, json_body([{"id": 666, "v": "evil"}]))
        if kind == "now":
            return [reply + evil, ("event", "smuggled")]
        if kind == "late":
            return [reply, ("sleep", 0.2), evil, ("event", "smuggled")]
        if kind == "slow":
            # half a body, then (long after any sane client gave up) the rest
            body = json_body([{"id": 1, "v": "slow"}])
            head = response(200, body)[:-len(body)]
            half = len(body) // 2
            return [head + body[:half], ("sleep", 3), body[half:]]
        return [response(404, json_body({"error": "no such scenario"}))]

    # -- dispatch ----------------------------------------------------------------

    def dispatch(self, conn_id, method, target, headers):
        url = urllib.parse.urlsplit(target)
        path = url.path
        q = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        if path == "/_log":
            with self.st.lock:
                return [response(200, json_body(self.st.log))]
        if path == "/_events":
            with self.st.lock:
                return [response(200, json_body(self.st.events))]
        if path == "/_reset":
            with self.st.lock:
                self.st.reset()
            return [response(200, json_body([{"reset": True}]))]

        with self.st.lock:
            self.st.seq += 1
            self.st.log.append({"seq": self.st.seq, "conn": conn_id, "method": method,
                                "path": path, "query": url.query, "headers": headers,
                                "time": time.time()})
        parts = path.strip("/").split("/")
        accept_gzip = "gzip" in headers.get("accept-encoding", "")
        if parts[0] == "xpages" and len(parts) == 2:
            return self.xpages(parts[1], q)
        if parts[0] == "big" and len(parts) == 2:
            return self.big(parts[1], q, accept_gzip)
        if parts[0] == "gzip" and len(parts) == 2:
            return self.gzip_reply(parts[1], accept_gzip)
        if parts[0] == "ratelimit" and len(parts) == 2:
            return self.ratelimit(parts[1], q)
        if parts[0] == "cursor" and len(parts) == 2:
            return self.cursor(parts[1], q)
        if path == "/fromid":
            return self.fromid(q)
        if parts[0] == "smuggle" and len(parts) == 2:
            return self.smuggle(parts[1])
        if path == "/stall":
            return [("sleep", 600)]
        if path == "/plain":
            return [response(200, json_body([{"id": 2, "v": "good"}]))]
        return [response(404, json_body({"error": "Not found"}))]


def read_request(sock, buf):
    """One request head from sock (GET only: no body).  Returns (head, rest) or
    (None, buf) when the peer closed the connection."""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        if not data:
            return None, buf
        buf += data
        if len(buf) > 1 << 20:
            return None, buf
    head, rest = buf.split(b"\r\n\r\n", 1)
    return head, rest


def serve_connection(sock, conn_id, hostile):
    buf = b""
    try:
        while True:
            head, buf = read_request(sock, buf)
            if head is None:
                return
            lines = head.decode("latin-1").split("\r\n")
            try:
                method, target, _ = lines[0].split(" ", 2)
            except ValueError:
                sock.sendall(response(400, json_body({"error": "bad request line"})))
                return
            headers = {}
            for line in lines[1:]:
                k, _, v = line.partition(":")
                k = k.strip().lower()
                headers[k] = (headers[k] + ", " if k in headers else "") + v.strip()
            for action in hostile.dispatch(conn_id, method, target, headers):
                if isinstance(action, bytes):
                    sock.sendall(action)
                elif action[0] == "sleep":
                    time.sleep(action[1])
                elif action[0] == "event":
                    with hostile.st.lock:
                        hostile.st.events.append({"conn": conn_id, "event": action[1],
                                                  "time": time.time()})
                elif action[0] == "close":
                    return
    except OSError:
        pass
    finally:
        try:
            sock.close()
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    args = ap.parse_args()

    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", args.port))
    lsock.listen(64)
    port = lsock.getsockname()[1]
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        import os
        os.replace(args.port_file + ".tmp", args.port_file)
    print("hostile server on 127.0.0.1:%d" % port, file=sys.stderr, flush=True)

    hostile = Hostile(State())
    conn_id = 0
    while True:
        sock, _ = lsock.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn_id += 1
        threading.Thread(target=serve_connection, args=(sock, conn_id, hostile),
                         daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
