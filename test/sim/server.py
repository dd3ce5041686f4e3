"""The HTTP/1.1 side: ESI's wire behaviour around the route handlers.

A request goes through: injected latency, the error limit (420), an injected
fault, route matching and the compatibility date (400 for a date ESI
refuses: in the future or before the oldest; 404 for a route newer than the
date), the rate limit (429), SSO (401/403), parameter checks (400), the
request body of a POST/PUT/DELETE (400, sim/writes.py), the handler,
conditional requests (304, GET only); the response then pays its
error-limit or rate-limit cost (2 tokens for a 2xx, 1 for a 3xx, 5 for a
4xx but 429, nothing for a 429 or 5xx) and is logged.  A value ESI refuses
is answered as ESI does, with the why in "details" (the OpenAPI schema
Error).  Bodies are pre-rendered, so serving a page is a lookup and a
socket write.

Faults on the socket (see limits.FAULT_KINDS and control.py for the API):
truncate (FIN) and cut (RST) part way through a body, stall in the middle
of a body, chunked transfer encoding (optionally cut before its last
chunk), redirects, 5xx with JSON, HTML or empty bodies, 429 with
Retry-After in seconds, as an HTTP date or absent.
"""

import email.utils
import json
import os
import re
import socket
import struct
import sys
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from . import catalog as cat
from . import control
from . import sso as sso_mod
from .body import Body
from .limits import token_cost
from .rng import hash64, unit
from .routes import INVALID, Fail, generic
from .universe import DATA_DAY
from .writes import WRITE_METHODS, BodyError, check_query_arrays, parse_body

JSON_TYPE = "application/json; charset=UTF-8"
ERROR_LIMITED = ("This software has exceeded the error limit for ESI. If you are a user, "
                 "please contact the maker of this software.")
STATUS_MESSAGES = {
    500: "Internal server error",
    502: "No reply within 10 seconds",
    503: "The datasource tranquility is temporarily unavailable",
    504: "Timeout contacting tranquility",
    520: "Internal error thrown from the EVE server",
}
REASONS = {420: "Error Limited", 520: "Unknown Error"}
HTML_ERROR = ("<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n"
              "<center><h1>%d %s</h1></center>\r\n<hr><center>nginx</center>\r\n"
              "</body>\r\n</html>\r\n")
DAILY_OFFSET = 11 * 3600 + 5 * 60          # "expires daily at 11:05"
COMPAT_MIN = "2020-01-01"
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


def http_date(ts):
    return email.utils.formatdate(ts, usegmt=True)


def iso_time(ts):
    """ISO 8601 UTC with microseconds, for the request log."""
    secs, micros = divmod(int(round(ts * 1e6)), 1000000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + ".%06dZ" % micros


def cache_times(route, now, start, refresh, override=None, epoch=0, phase_key=None):
    """(last_modified, expires) epoch seconds for a route.

    Expires is now rounded up to the route's cache period.  Last-Modified is
    the start of the period the simulator started in, so every page of a
    result (and every crawl) sees the same value; with cache_refresh it is
    the start of the current period, as on ESI.  override (the cache_seconds
    setting) replaces every route's period, counted from epoch.  phase_key
    (the cache_phase setting: the request's path) moves the periods of a
    periodic route by a fraction of a period of its own, so that each
    resource (each region's market orders) expires at its own time, as on
    ESI; daily routes keep 11:05."""
    base = now if refresh else start
    period = override or (route.cache_seconds if route is not None else None)
    if period:
        origin = epoch if override else 0
        if phase_key is not None:
            origin += int(unit(hash64("phase:" + phase_key)) * period)
        return (origin + ((int(base) - origin) // period) * period,
                origin + ((int(now) - origin) // period + 1) * period)
    day = 86400
    lm = ((int(base) - DAILY_OFFSET) // day) * day + DAILY_OFFSET
    exp = ((int(now) - DAILY_OFFSET) // day + 1) * day + DAILY_OFFSET
    return lm, exp


def _accepts_gzip(header):
    for part in (header or "").split(","):
        bits = part.strip().split(";")
        if bits[0].strip().lower() in ("gzip", "x-gzip"):
            for b in bits[1:]:
                b = b.strip().lower()
                if b.startswith("q="):
                    try:
                        return float(b[2:]) > 0
                    except ValueError:
                        return False
            return True
    return False


def _etag_matches(header, etag):
    for tag in header.split(","):
        tag = tag.strip()
        if tag == "*":
            return True
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag == etag:
            return True
    return False


def _normalize(path):
    """Strip the legacy /latest prefix and a trailing slash."""
    if path == "/latest" or path.startswith("/latest/"):
        path = path[7:] or "/"
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    return path


def _error_body(status, message, extra=None):
    obj = {"error": message}
    if extra:
        obj.update(extra)
    return json.dumps(obj, separators=(",", ":")).encode()


def _invalid_body(status, location, message, value):
    """ESI's answer to a value it refuses (the OpenAPI schema Error): a
    short "error", the why in "details"."""
    return _error_body(status, INVALID, {"status": status, "details": [
        {"location": location, "message": message, "value": value}]})


def _malformed(raw):
    """Valid-looking but broken JSON: cut in the middle, then closed with ]."""
    bad = raw[:max(1, len(raw) // 2)] + b"]"
    try:
        json.loads(bad)
    except ValueError:
        return bad
    return raw[:max(1, len(raw) // 2)] + b'{"order_id":]'


class Outcome:
    """What to send: status, body bytes, and the headers that depend on it.
    plain: an SSO answer, without ESI's limit and request-id headers;
    modified: when the data last changed (epoch), if later than the cache
    period's start (assets bumped by a test)."""
    __slots__ = ("status", "body", "raw", "pages", "route", "cacheable", "headers", "fault",
                 "ctype", "language", "plain", "modified")

    def __init__(self, status, body=None, raw=None, pages=None, route=None, cacheable=False):
        self.status, self.body, self.raw, self.pages = status, body, raw, pages
        self.route, self.cacheable = route, cacheable
        self.headers = []
        self.fault = None
        self.ctype = JSON_TYPE
        self.language = None
        self.plain = False
        self.modified = None


class SimServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, addr, world, table, state, sso, quiet=False):
        self.world, self.table, self.state, self.sso = world, table, state, sso
        world.sso = sso
        world.state = state
        self.quiet = quiet
        self.start_time = time.time()
        super().__init__(addr, Handler)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "esi_sim"
    sys_version = ""
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        self._dispatch("GET")

    def do_HEAD(self):
        self._dispatch("HEAD")

    def do_POST(self):
        self._dispatch(self.command)

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_POST

    # -- dispatch ----------------------------------------------------------------------

    def send_error(self, code, message=None, explain=None):
        """Unparseable requests get ESI's JSON error shape too."""
        body = _error_body(code, message or self.responses.get(code, ("Error",))[0])
        self.close_connection = True
        self._write(code, [("Date", http_date(time.time())), ("Content-Type", JSON_TYPE),
                           ("Content-Length", str(len(body)))], body)

    def _dispatch(self, method):
        try:
            n = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return self.send_error(400, "Invalid Content-Length")
        # read the body even when unused, to keep the connection in step
        payload = self.rfile.read(n) if n > 0 else b""
        split = urlsplit(self.path)
        raw_path, qs = unquote(split.path) or "/", split.query
        if raw_path.startswith("/_sim/"):
            return self._control(raw_path[6:], qs, method)

        srv, st = self.server, self.server.state
        self._bucket = self.client_address[0]
        sso_kind = sso_mod.SSO_PATHS.get(raw_path)
        if sso_kind is not None:
            return self._sso(sso_kind, method, raw_path, qs, payload)
        path = _normalize(raw_path)
        query = parse_qs(qs, keep_blank_values=True)
        pv = query.get("page", [None])[0]
        page = int(pv) if pv is not None and re.fullmatch(r"\d{1,9}", pv) else None
        ip = self.client_address[0]

        delay = st.settings.latency_ms + st.take_faults(path, page, latency=True,
                                                        method=method)[0]
        # Logged on arrival (status null until answered), so a test can see
        # a request that is still waiting out an injected latency.  A write
        # is logged with its body, so a test can count the writes it made.
        entry = self._log_start(method, raw_path, qs, page, delay,
                                payload if method in WRITE_METHODS else None)
        if delay:
            time.sleep(delay / 1000.0)
        now = time.time()
        if method in WRITE_METHODS:
            route, pparams = srv.table.match_write(method, path)
        else:
            route, pparams = srv.table.match(path)

        remain, _ = st.error_status(ip, now)
        if remain <= 0:
            out = Outcome(420, raw=_error_body(420, ERROR_LIMITED), route=route)
            return self._finish(entry, method, out, ip, now, count=False)

        fault = st.take_faults(path, page, latency=False, method=method)[1]
        if fault is not None and fault.kind == "reset":
            return self._reset(entry, route)
        out = None
        self._path, self._page = path, page
        if fault is not None and fault.kind in ("status", "error_limit", "rate_limit",
                                                "redirect"):
            if fault.apply:
                # the request takes effect, its answer is the fault's (a
                # write that happened although ESI said 5xx)
                self._process_safe(method, route, pparams, path, query, ip, now, None,
                                   payload)
            out = self._fault_outcome(fault, route, raw_path, qs)
        if fault is not None and fault.kind == "lm_rollover":
            # the resource is refreshed now: this and every later answer
            # under the fault's path carries the next Last-Modified
            st.add_lm_shift(fault.path, (route.cache_seconds if route else None) or 60)
        if out is None:
            out = self._process_safe(method, route, pparams, path, query, ip, now, fault,
                                     payload)
        if fault is not None and fault.kind == "drop_after_request":
            # The request was read and handled (a write took effect); the
            # answer is lost: the connection closes before a byte of it.
            self._log_end(entry, out.status, 0, fault.kind, 0, "identity", route)
            self.close_connection = True
            return
        if fault is not None:
            out.fault = fault
        self._finish(entry, method, out, ip, now)

    def _process_safe(self, method, route, pparams, path, query, ip, now, fault, payload):
        try:
            return self._process(method, route, pparams, path, query, ip, now, fault, payload)
        except Exception:
            # A simulator bug: answer like ESI would and keep serving.
            traceback.print_exc()
            return Outcome(500, raw=_error_body(500, "Internal server error"), route=route)

    def _sso(self, kind, method, raw_path, qs, payload):
        """An EVE SSO endpoint (sim/sso.py): latency and the socket and
        status faults apply, ESI's limits do not."""
        st = self.server.state
        delay = st.settings.latency_ms + st.take_faults(raw_path, None, latency=True)[0]
        entry = self._log_start(method, raw_path, qs, None, delay)
        if delay:
            time.sleep(delay / 1000.0)
        now = time.time()
        fault = st.take_faults(raw_path, None, latency=False)[1]
        if fault is not None and fault.kind == "reset":
            return self._reset(entry, None)
        if fault is not None and fault.kind in ("status", "redirect"):
            out = self._fault_outcome(fault, None, raw_path, qs)
        else:
            host = self.headers.get("Host") or "%s:%d" % self.server.server_address[:2]
            # behind a TLS front (test/tlsfront.sh) SSO's URLs are https
            scheme = self.headers.get("X-Forwarded-Proto", "http")
            if scheme not in ("http", "https"):
                scheme = "http"
            try:
                status, ctype, body, headers = self.server.sso.http(
                    kind, method, qs, self.headers, payload, scheme + "://" + host)
            except Exception:
                traceback.print_exc()
                status, ctype, body, headers = 500, JSON_TYPE, _error_body(
                    500, "Internal server error"), []
            out = Outcome(status, raw=body)
            out.ctype, out.headers = ctype, headers
        out.plain = True
        if fault is not None and fault.kind not in ("latency",):
            out.fault = fault
        self._finish(entry, method, out, self.client_address[0], now, count=False)

    def _process(self, method, route, pparams, path, query, ip, now, fault=None, payload=b""):
        srv, st = self.server, self.server.state
        if route is None:
            allowed = srv.table.methods(path)
            if allowed:
                out = Outcome(405, raw=_error_body(405, "Method not allowed"))
                out.headers.append(("Allow", ", ".join(allowed)))
                return out
            return Outcome(404, raw=_error_body(404, "Not found"))
        compat = self.headers.get("X-Compatibility-Date")
        where = "header.X-Compatibility-Date"
        if compat is None:
            compat = query.get("compatibility_date", [None])[0]
            where = "query.compatibility_date"
        if compat is not None:
            # A date in the future or below the minimum is invalid (FACTS.md,
            # "Base URL and versions").  ESI's day starts at 11:00 UTC; never
            # earlier than the data day, so a wrong clock cannot reject the
            # catalog's date.
            today = max(time.strftime("%Y-%m-%d", time.gmtime(now - 11 * 3600)), DATA_DAY)
            problem = None
            if not _DATE_RE.fullmatch(compat):
                problem = "expected a date written YYYY-MM-DD"
            elif compat < COMPAT_MIN:
                problem = "expected a date no earlier than %s, the oldest compatibility date" \
                    % COMPAT_MIN
            elif compat > today:
                problem = ("expected a date no later than %s, today's (ESI's day starts at"
                           " 11:00 UTC)" % today)
            if problem is not None:
                return Outcome(400, route=route, raw=_invalid_body(400, where, problem, compat))
        else:
            compat = COMPAT_MIN
        if st.settings.compat_strict and route.compat_date > compat:
            return Outcome(404, raw=_error_body(404, "Not found"), route=route)
        if method not in ("GET", "HEAD") and method != route.method:
            out = Outcome(405, raw=_error_body(405, "Method not allowed"), route=route)
            out.headers.append(("Allow", ", ".join(srv.table.methods(path))))
            return out
        # An authenticated request's rate-limit bucket is its application
        # and character, as on ESI; anything else is the client's address.
        auth = srv.sso.check(route, self.headers, pparams)
        if auth.bucket is not None:
            self._bucket = auth.bucket
        if route.rate_group is not None:
            limit, window = st.bucket_limits(route)
            ok, _, retry = st.rate_check(route.rate_group, self._bucket, limit, window, now)
            if not ok:
                out = Outcome(429, raw=_error_body(429, "Too many requests"), route=route)
                out.headers.append(("Retry-After", str(retry)))
                return out
        if auth.denied is not None:
            status, message, extra = auth.denied
            return Outcome(status, raw=_error_body(status, message, extra), route=route)
        try:
            args = cat.parse_args(route, pparams, query)
        except cat.ParamError as e:
            return Outcome(400, raw=_invalid_body(400, e.location, e.message, e.value),
                           route=route)
        if isinstance(args.get("page"), int) and args["page"] < 1:
            return Outcome(400, route=route,
                           raw=_invalid_body(400, "query.page", "expected number >= 1",
                                             args["page"]))
        body = None
        if route.method != "GET":
            try:
                check_query_arrays(route, args)
                body = parse_body(route, payload)
            except BodyError as e:
                status = 400 if e.parse else st.settings.body_error_status
                extra = {"status": status}
                if e.details:
                    extra["details"] = [{"location": loc, "message": msg, "value": val}
                                        for loc, msg, val in e.details]
                return Outcome(status, raw=_error_body(status, str(e), extra), route=route)
        req = Request(path, query, args, self.headers, fault, body, method, auth.character_id)
        try:
            handler = route.handler or generic
            reply = handler(srv.world, route, req)
        except Fail as e:
            return Outcome(e.status, raw=_error_body(e.status, e.message, e.extra), route=route)
        if route.method != "GET":
            # ESI's answers to writes and lookups: no ETag or Expires (a
            # route plan: Cache-Control, see writes.LOOKUP_MAX_AGE)
            out = Outcome(reply.status, route=route,
                          raw=reply.body.raw if reply.body is not None else b"")
            out.language = reply.language
            if out.language is not None:
                out.headers.append(("Content-Language", out.language))
            max_age = getattr(route, "lookup_max_age", None)
            if max_age and 200 <= out.status < 300:
                out.headers.append(("Cache-Control", "public, max-age=%d" % max_age))
            return out
        out = Outcome(200, body=reply.body, pages=reply.pages, route=route, cacheable=True)
        out.language = reply.language
        out.modified = reply.modified
        return out

    def _fault_outcome(self, fault, route, raw_path, qs):
        if fault.kind == "status":
            status = fault.status or 503
            if fault.body == "empty":
                return Outcome(status, raw=b"", route=route)
            if fault.body == "html":
                # what a proxy in front of ESI sends
                reason = self.responses.get(status, ("Error",))[0]
                out = Outcome(status, raw=(HTML_ERROR % (status, reason, status, reason))
                              .encode(), route=route)
                out.ctype = "text/html"
                return out
            extra = {"timeout": 10} if status == 504 else None
            msg = STATUS_MESSAGES.get(status, "Simulated error %d" % status)
            raw = _error_body(status, msg, extra)
            if fault.body == "cut":
                # a proxy that cut ESI's error body short (Content-Length
                # and all: the body arrives whole, but is not JSON)
                raw = raw[:len(raw) // 2]
            return Outcome(status, raw=raw, route=route)
        if fault.kind == "error_limit":
            return Outcome(420, raw=_error_body(420, ERROR_LIMITED), route=route)
        if fault.kind == "redirect":
            status = fault.status or 302
            target = fault.location or "/latest" + raw_path + ("?" + qs if qs else "")
            out = Outcome(status, raw=b"", route=route)
            out.headers.append(("Location", target))
            return out
        # rate_limit
        out = Outcome(429, raw=_error_body(429, "Too many requests"), route=route)
        retry = fault.retry_after if fault.retry_after is not None else 2
        if fault.retry_format == "date":
            out.headers.append(("Retry-After", http_date(time.time() + retry)))
        elif fault.retry_format != "none":
            out.headers.append(("Retry-After", str(retry)))
        return out

    # -- response ----------------------------------------------------------------------

    def _finish(self, entry, method, out, ip, now, count=True):
        srv, st = self.server, self.server.state
        route = out.route
        fault = out.fault
        kind = fault.kind if fault is not None else None
        headers = [("Date", http_date(now)), ("Content-Type", out.ctype)]
        status = out.status
        payload = out.raw
        body = out.body
        not_modified = False

        if out.cacheable:
            cs = st.settings
            lm, exp = cache_times(route, now, srv.start_time, cs.cache_refresh,
                                  cs.cache_seconds, cs.cache_epoch,
                                  self._path if cs.cache_phase else None)
            lm += st.lm_shift(self._path)
            if out.modified is not None:
                lm = max(lm, int(out.modified))
            pages = out.pages
            if kind == "xpages":
                # The resource refreshed under the client: newer Last-Modified,
                # one page more.
                lm += route.cache_seconds or 60
                if pages is not None:
                    pages += 1
            elif kind == "xpages_only":
                # another page count, the same Last-Modified
                if pages is not None:
                    pages = fault.pages if fault.pages is not None else pages + 1
            if kind == "skew":
                # the same version, its dates a little off the other pages'
                shift = fault.seconds if fault.seconds is not None else 1
                lm += shift
                exp += shift
            if kind == "malformed":
                body = Body(_malformed(body.raw))
            etag = body.etag
            if cs.cache_refresh and not cs.page_unchanged(self._page):
                # a new version each period, as ESI's market orders: a
                # revalidation after the expiry gets the whole body again
                # (a page left as it was keeps its ETag: its 304 carries
                # the new Last-Modified and Expires)
                etag = '"%s-%x"' % (etag.strip('"'), lm)
            if kind == "expired":
                # already expired when it arrives, as legacy ESI's answers
                # were: Expires only, before the Date
                exp = int(now) - (fault.seconds if fault.seconds is not None else 60)
                cache_control = "public"
            else:
                cache_control = "public, max-age=%d" % max(0, int(exp - now))
            entry["expires"], entry["last_modified"] = iso_time(exp), iso_time(lm)
            headers += [("ETag", etag), ("Last-Modified", http_date(lm)),
                        ("Expires", http_date(exp)),
                        ("Cache-Control", cache_control)]
            if pages is not None and kind != "no_xpages":
                headers.append(("X-Pages", str(pages)))
            if out.language is not None:
                headers.append(("Content-Language", out.language))
            inm = self.headers.get("If-None-Match")
            ims = self.headers.get("If-Modified-Since")
            if kind not in ("malformed", "truncate", "cut", "stall", "chunked"):
                if inm is not None:
                    not_modified = _etag_matches(inm, etag)
                elif ims is not None:
                    try:
                        not_modified = email.utils.parsedate_to_datetime(ims).timestamp() >= lm
                    except (TypeError, ValueError):
                        pass
            if not_modified:
                status = 304
            payload = body.raw
        elif kind == "malformed" and payload:
            # the answer to a write that went through, broken
            payload = _malformed(payload)
        if not out.plain:
            headers.append(("X-Esi-Request-Id", str(uuid.uuid4())))
        headers += out.headers

        # Pay for the response: tokens for grouped routes, the error budget
        # otherwise.  A 420 always speaks of the error limit.  Some 429s come
        # from limiters in front of ESI without the rate-limit headers.
        bare_429 = kind == "rate_limit" and fault.retry_format == "none"
        if bare_429 or out.plain:
            pass
        elif status != 420 and route is not None and route.rate_group is not None:
            limit, window = st.bucket_limits(route)
            used = st.rate_charge(route.rate_group, self._bucket, limit, window,
                                  token_cost(status), now)
            headers += [("X-Ratelimit-Group", route.rate_group),
                        ("X-Ratelimit-Limit", "%d/%s" % (limit, cat.window_text(window))),
                        ("X-Ratelimit-Remaining", str(max(0, limit - used))),
                        ("X-Ratelimit-Used", str(used))]
        else:
            if count and status >= 400 and status != 420:
                remain, reset = st.count_error(ip, now)
            else:
                remain, reset = st.error_status(ip, now)
            if status == 420:
                remain = 0
                if kind == "error_limit" and fault.retry_after is not None:
                    reset = fault.retry_after
            headers += [("X-ESI-Error-Limit-Remain", str(remain)),
                        ("X-ESI-Error-Limit-Reset", str(reset))]

        gz = False
        wire = b""
        chunked = kind == "chunked" and status != 304 and payload is not None
        if status not in (204, 304) and payload is not None:
            gz = _accepts_gzip(self.headers.get("Accept-Encoding")) and len(payload) > 0
            if gz:
                # Served bodies keep their compressed copy; error bodies are small.
                wire = body.gzipped if out.cacheable else Body(payload).gzipped
                headers += [("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")]
            else:
                wire = payload
            if chunked:
                headers.append(("Transfer-Encoding", "chunked"))
            else:
                headers.append(("Content-Length", str(len(wire))))
        if method == "HEAD":
            wire = b""
        # where a broken body stops, in bytes of what goes on the wire
        at = None
        if kind in ("truncate", "cut", "stall") or (chunked and fault.at is not None):
            at = min(len(wire), fault.at) if fault.at is not None else len(wire) // 2
        if kind in ("truncate", "cut") or (chunked and at is not None):
            self.close_connection = True
        head = self._head(status, headers)
        if chunked:
            plan = [head] + self._chunks(wire, fault.chunk or 1024, at)
        elif kind == "stall":
            plan = [head + wire[:at], fault.ms / 1000.0, wire[at:]]
        else:
            plan = [head + (wire[:at] if at is not None else wire)]
        nbytes = 0
        if status not in (204, 304) and method != "HEAD" and payload is not None:
            nbytes = len(payload)
            if at is not None and kind != "stall":
                # bytes of the body sent (uncompressed: a share of the whole)
                nbytes = len(payload) * at // max(1, len(wire))
        # The log entry is completed just before the last bytes go out, so
        # that a client that has its answer always finds it logged.
        last = max(i for i, x in enumerate(plan) if isinstance(x, bytes))
        for i, x in enumerate(plan):
            if i == last:
                self._log_end(entry, status, nbytes, kind,
                              sum(len(y) for y in plan if isinstance(y, bytes)),
                              "gzip" if gz else "identity", route)
            if isinstance(x, bytes):
                self._write_raw(x)
            else:
                time.sleep(x)
        if kind == "cut":
            self._abort()

    def _head(self, status, headers):
        reason = REASONS.get(status) or self.responses.get(status, ("Unknown",))[0]
        lines = ["HTTP/1.1 %d %s" % (status, reason)]
        lines += ["%s: %s" % kv for kv in headers]
        if self.close_connection:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _write(self, status, headers, data):
        head = self._head(status, headers)
        if len(data) < 65536:
            return self._write_raw(head + data)
        return self._write_raw(head) + self._write_raw(data)

    def _write_raw(self, data):
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True
            return 0
        return len(data)

    @staticmethod
    def _chunks(data, size, stop_at):
        """The body as chunks of `size` bytes and the last (empty) chunk;
        with stop_at, only that many body bytes and no last chunk."""
        end = len(data) if stop_at is None else stop_at
        out = [b"%x\r\n" % len(data[p:min(end, p + size)]) + data[p:min(end, p + size)] + b"\r\n"
               for p in range(0, end, size)]
        if stop_at is None:
            out.append(b"0\r\n\r\n")
        return out

    def _abort(self):
        """Reset the connection (RST) after what was written."""
        self.close_connection = True
        sock = self.connection
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            os.close(sock.detach())
        except OSError:
            pass

    def _reset(self, entry, route):
        """Drop the connection with a TCP RST: SO_LINGER 0, then close the fd
        itself (the socket object may still be referenced by rfile)."""
        self._log_end(entry, 0, 0, "reset", 0, "identity", route)
        self._abort()

    def _log_start(self, method, raw_path, qs, page, delay, body=None):
        h = self.headers
        entry = {
            "seq": 0, "method": method, "path": raw_path,
            "query": sso_mod.redact_query(qs), "page": page,
            "status": None, "bytes": 0,
            # the client's port names the TCP connection: shows keep-alive reuse
            "conn": self.client_address[1],
            "if_none_match": h.get("If-None-Match"),
            "accept_encoding": h.get("Accept-Encoding"),
            "user_agent": h.get("User-Agent"),
            "compat_date": h.get("X-Compatibility-Date"),
            "accept_language": h.get("Accept-Language"),
            "authorization": h.get("Authorization") is not None,
            "token_client": sso_mod.bearer_client(h.get("Authorization")),
            "latency_ms": delay, "fault": None, "encoding": None, "route": None,
            # when the request arrived and when its answer was written: tests
            # compute from these how many requests were in flight at once
            "started": iso_time(time.time()), "finished": None,
            # the Expires and Last-Modified the answer carried (cacheable GETs)
            "expires": None, "last_modified": None,
            # the request body of a POST, PUT or DELETE to ESI (as text)
            "body": body.decode("utf-8", "replace") if body is not None else None,
        }
        self.server.state.record_start(entry)
        return entry

    def _log_end(self, entry, status, nbytes, kind, wire, enc, route):
        self.server.state.record_end(entry, {
            "status": status, "bytes": nbytes, "fault": kind, "encoding": enc,
            "route": route.path if route is not None else None,
            "finished": iso_time(time.time())}, wire)
        if not self.server.quiet:
            sys.stderr.write("%s %s %s%s %d %d\n" % (
                self.client_address[0], entry["method"], entry["path"],
                "?" + entry["query"] if entry["query"] else "", status, nbytes))

    def _control(self, name, qs, method):
        status, rows = control.handle(name.strip("/"), parse_qs(qs, keep_blank_values=True),
                                      self.server.state, self.server.table,
                                      self.client_address[0], self.server.sso,
                                      self.server.world)
        # bytes are a body to send as it is (the decoder's fuzz cases)
        data = rows if isinstance(rows, bytes) else json.dumps(rows, separators=(",", ":")).encode()
        self._write(status, [("Date", http_date(time.time())), ("Content-Type", JSON_TYPE),
                             ("Cache-Control", "no-store"), ("Content-Length", str(len(data)))],
                    b"" if method == "HEAD" else data)


class Request:
    """What a handler sees: normalized path, raw query lists, typed args, and
    the fault the request triggered (for faults in the data, e.g.
    cursor_repeat)."""
    __slots__ = ("path", "query", "args", "headers", "fault", "body", "method",
                 "character_id")

    def __init__(self, path, query, args, headers, fault=None, body=None, method="GET",
                 character_id=None):
        self.path, self.query, self.args, self.headers = path, query, args, headers
        self.fault = fault
        # writes: the parsed JSON body, and the token's character
        self.body, self.method, self.character_id = body, method, character_id
