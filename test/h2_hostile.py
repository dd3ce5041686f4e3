#!/usr/bin/python3
"""test/h2_hostile.py - a misbehaving HTTP/2 server for esi_fdw's transport tests.

    /usr/bin/python3 test/h2_hostile.py --cert server.pem --key server.key \
        --port-file FILE

Needs python3-h2 (Debian's /usr/bin/python3 has it).  Listens on 127.0.0.1
only: TLS 1.2 or 1.3 with the given certificate, ALPN h2 only (a client that
does not offer h2 is dropped after the handshake), and a second, plain
HTTP/1.1 port for the test's controls.  FILE gets "H2PORT CONTROLPORT".

Routes over HTTP/2 (ESI's shapes, so that esi_fdw's tables and functions can
be pointed at this server with a server's base_url):

  GET  /universe/types[?page=N]   3 pages (X-Pages: 3) of 5 type ids each:
                                  page N holds N*100+1 .. N*100+5; ESI's
                                  headers (Expires 5 minutes ahead, one
                                  Last-Modified, an ETag per page)
  POST /characters/{id}/contacts?standing=S   a JSON array of ids: 201 with
                                  the same array; the write is "processed"
                                  (it counts in the log)
  anything else                   404 {"error": "Not found"}

The bearer token is not checked (the test logs in at the simulator's SSO).

Faults, armed on the control port and used by the next matching requests:

  /fault?kind=K&method=M&path=P&count=N[&code=C]
     (path: a prefix of the request's path; method: GET, POST, ...; count
     default 1; kind=none disarms everything)
     rst       the request is processed (a write takes effect), then its
               stream is reset with RST_STREAM (code C, default
               INTERNAL_ERROR) instead of an answer
     refused   RST_STREAM REFUSED_STREAM as soon as the request's headers
               arrive: not processed (RFC 9113, 8.7: safe to retry)
     goaway    once the whole request arrived: GOAWAY whose last stream id
               is below the request's stream (so it was not processed:
               RFC 9113, 6.8), then the connection is closed
     goaway_processed  the request is processed (a write takes effect),
               then GOAWAY with its stream as the last stream id, and the
               connection is closed without an answer

Controls (plain HTTP on the control port; JSON answers):

  /log[?since=SEQ]   the requests received over HTTP/2, in order: seq, conn
                     (a number per TCP connection), stream, method, path,
                     query, body, outcome (answered, processed_reset,
                     processed_goaway, refused, goaway), processed (true
                     when the request took effect: answered or processed_*)
  /stats             {"connections": N, "handshakes_failed": N,
                      "requests": N}
  /reset             forget the log, the counters and the faults
"""
import argparse
import json
import os
import socket
import ssl
import sys
import threading
import time
import urllib.parse
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions

LOCK = threading.Lock()
STATE = {"log": [], "faults": [], "connections": 0, "handshakes_failed": 0}
LAST_MODIFIED = formatdate(time.time() - 3600, usegmt=True)
PAGES = 3


def reset():
    with LOCK:
        STATE["log"] = []
        STATE["faults"] = []
        STATE["connections"] = 0
        STATE["handshakes_failed"] = 0


def take_fault(method, path):
    """The kind and code of the first armed fault matching the request, used up."""
    with LOCK:
        for f in STATE["faults"]:
            if f["count"] > 0 and f["method"] in ("", method) and path.startswith(f["path"]):
                f["count"] -= 1
                return f["kind"], f["code"]
    return None, None


def log_request(conn_no, stream_id, method, path, query, body, outcome, processed):
    with LOCK:
        STATE["log"].append({
            "seq": len(STATE["log"]) + 1, "conn": conn_no, "stream": stream_id,
            "method": method, "path": path, "query": query, "body": body,
            "outcome": outcome, "processed": processed})


def route(method, path, query, body):
    """(status, headers, body bytes) of a request this server handles."""
    now = time.time()
    common = [("content-type", "application/json; charset=UTF-8"),
              ("date", formatdate(now, usegmt=True))]
    if method == "GET" and path.rstrip("/") == "/universe/types":
        try:
            page = int(urllib.parse.parse_qs(query).get("page", ["1"])[0])
        except ValueError:
            page = 0
        if page < 1 or page > PAGES:
            return 404, common, b'{"error":"Not found"}'
        data = json.dumps([page * 100 + i for i in range(1, 6)]).encode()
        return 200, common + [
            ("expires", formatdate(now + 300, usegmt=True)),
            ("last-modified", LAST_MODIFIED),
            ("etag", '"types-%d"' % page),
            ("cache-control", "public"),
            ("x-pages", str(PAGES))], data
    parts = path.strip("/").split("/")
    if method == "POST" and len(parts) == 3 and parts[0] == "characters" and parts[2] == "contacts":
        try:
            ids = json.loads(body or "null")
            assert isinstance(ids, list)
        except (ValueError, AssertionError):
            return 400, common, b'{"error":"Invalid request body"}'
        return 201, common, json.dumps(ids).encode()
    return 404, common, b'{"error":"Not found"}'


class Stream:
    def __init__(self, headers):
        h = dict(headers)
        self.method = h.get(":method", "")
        target = h.get(":path", "/")
        self.path, _, self.query = target.partition("?")
        self.body = bytearray()
        self.fault = None
        self.code = None


class H2Connection:
    """One TLS connection speaking HTTP/2, in a thread of its own."""

    def __init__(self, sock, conn_no):
        self.sock = sock
        self.conn_no = conn_no
        self.conn = h2.connection.H2Connection(
            config=h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
        self.streams = {}
        self.closed = False

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def answer(self, sid, st):
        status, headers, data = route(st.method, st.path, st.query, st.body.decode("utf-8", "replace"))
        self.conn.send_headers(sid, [(":status", str(status))] + headers +
                               [("content-length", str(len(data)))])
        self.conn.send_data(sid, data, end_stream=True)
        return status

    def request_complete(self, sid):
        st = self.streams.pop(sid, None)
        if st is None:
            return
        body = st.body.decode("utf-8", "replace")
        if st.fault == "goaway":
            # below this stream: the request was not processed
            self.conn.close_connection(error_code=h2.errors.ErrorCodes.NO_ERROR,
                                       last_stream_id=max(0, sid - 2))
            self.flush()
            log_request(self.conn_no, sid, st.method, st.path, st.query, body, "goaway", False)
            self.closed = True
            return
        if st.fault == "goaway_processed":
            # the request is processed, but its answer never comes
            log_request(self.conn_no, sid, st.method, st.path, st.query, body,
                        "processed_goaway", True)
            self.conn.close_connection(error_code=h2.errors.ErrorCodes.NO_ERROR,
                                       last_stream_id=sid)
            self.flush()
            self.closed = True
            return
        if st.fault == "rst":
            log_request(self.conn_no, sid, st.method, st.path, st.query, body,
                        "processed_reset", True)
            self.conn.reset_stream(sid, error_code=st.code)
            return
        self.answer(sid, st)
        log_request(self.conn_no, sid, st.method, st.path, st.query, body, "answered", True)

    def handle(self, ev):
        if isinstance(ev, h2.events.RequestReceived):
            st = Stream(ev.headers)
            kind, code = take_fault(st.method, st.path)
            if kind == "refused":
                log_request(self.conn_no, ev.stream_id, st.method, st.path, st.query, "",
                            "refused", False)
                self.conn.reset_stream(ev.stream_id, error_code=h2.errors.ErrorCodes.REFUSED_STREAM)
                return
            st.fault, st.code = kind, code
            self.streams[ev.stream_id] = st
            if ev.stream_ended:
                self.request_complete(ev.stream_id)
        elif isinstance(ev, h2.events.DataReceived):
            if ev.flow_controlled_length:
                try:
                    self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                except h2.exceptions.StreamClosedError:
                    pass
            st = self.streams.get(ev.stream_id)
            if st is not None:
                st.body.extend(ev.data)
            if ev.stream_ended:
                self.request_complete(ev.stream_id)
        elif isinstance(ev, h2.events.StreamEnded):
            self.request_complete(ev.stream_id)
        elif isinstance(ev, h2.events.StreamReset):
            self.streams.pop(ev.stream_id, None)
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self.closed = True

    def run(self):
        try:
            self.conn.initiate_connection()
            self.flush()
            while not self.closed:
                data = self.sock.recv(65536)
                if not data:
                    break
                try:
                    events = self.conn.receive_data(data)
                except h2.exceptions.ProtocolError:
                    self.flush()
                    break
                for ev in events:
                    self.handle(ev)
                    if self.closed:
                        break
                self.flush()
            if self.closed:
                time.sleep(0.2)     # let the GOAWAY reach the client first
        except (OSError, ssl.SSLError):
            pass
        finally:
            try:
                self.sock.close()
            except OSError:
                pass


def serve_h2(listener, ctx):
    while True:
        raw, _ = listener.accept()
        with LOCK:
            STATE["connections"] += 1
            conn_no = STATE["connections"]
        threading.Thread(target=tls_connection, args=(raw, ctx, conn_no), daemon=True).start()


def tls_connection(raw, ctx, conn_no):
    raw.settimeout(60)
    try:
        sock = ctx.wrap_socket(raw, server_side=True)
    except (OSError, ssl.SSLError):
        with LOCK:
            STATE["handshakes_failed"] += 1
        raw.close()
        return
    if sock.selected_alpn_protocol() != "h2":
        sock.close()
        return
    sock.settimeout(None)
    H2Connection(sock, conn_no).run()


class Control(BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass

    def reply(self, obj, status=200):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path, _, query = self.path.partition("?")
        q = {k: v[0] for k, v in urllib.parse.parse_qs(query).items()}
        if path == "/log":
            since = int(q.get("since", "0"))
            with LOCK:
                self.reply([e for e in STATE["log"] if e["seq"] > since])
        elif path == "/stats":
            with LOCK:
                self.reply({"connections": STATE["connections"],
                            "handshakes_failed": STATE["handshakes_failed"],
                            "requests": len(STATE["log"])})
        elif path == "/reset":
            reset()
            self.reply({"reset": True})
        elif path == "/fault":
            kind = q.get("kind", "")
            if kind == "none":
                with LOCK:
                    STATE["faults"] = []
                self.reply({"faults": 0})
                return
            if kind not in ("rst", "refused", "goaway", "goaway_processed"):
                self.reply({"error": "unknown kind %r" % kind}, 400)
                return
            code = q.get("code", "INTERNAL_ERROR")
            try:
                code = h2.errors.ErrorCodes[code]
            except KeyError:
                self.reply({"error": "unknown code %r" % code}, 400)
                return
            with LOCK:
                STATE["faults"].append({"kind": kind, "method": q.get("method", ""),
                                        "path": q.get("path", "/"), "count": int(q.get("count", "1")),
                                        "code": code})
            self.reply({"armed": kind})
        else:
            self.reply({"error": "unknown control"}, 404)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    args = ap.parse_args()

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(args.cert, args.key)
    ctx.set_alpn_protocols(["h2"])

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.port))
    listener.listen(64)
    control = ThreadingHTTPServer(("127.0.0.1", 0), Control)
    control.daemon_threads = True
    threading.Thread(target=serve_h2, args=(listener, ctx), daemon=True).start()
    with open(args.port_file + ".tmp", "w") as f:
        f.write("%d %d\n" % (listener.getsockname()[1], control.server_address[1]))
    os.rename(args.port_file + ".tmp", args.port_file)
    try:
        control.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
