"""The /_sim/ control routes.

Every answer is a JSON array of flat objects so that esi_fdw itself can read
them as foreign tables (except /_sim/fuzz/N, a raw decoder test body).
Control requests are not logged and not limited.  The SSO controls,
/_sim/sso/..., are described in sso.py; /_sim/reset leaves SSO alone.

/_sim/fault?path=PREFIX&kind=KIND[&page=N][&count=N][&...] arms a fault for
the requests whose path starts with PREFIX (and whose page is N, when
given); count is how many requests it affects (default 1, 0 = every one
until /_sim/reset).  Kinds and their parameters:

    latency        ms: added delay before the answer
    status         status (default 503), body=json|html|empty|cut (cut:
                   the first half of the JSON error body, not JSON)
    reset          TCP RST instead of an answer
    truncate       at: body bytes sent (default half), then FIN
    cut            at: body bytes sent (default half), then RST
    stall          at (default half), ms: pause in the middle of the body
    chunked        chunk: bytes per chunk (default 1024); at: close after
                   that many body bytes, before the last chunk
    redirect       status (default 302), location (default /latest + the
                   request's path and query, which serves the same data)
    malformed      a 200 body that is not valid JSON (also the 2xx answer
                   of a write, which is done: method=POST)
    xpages         Last-Modified one period later and one page more
    xpages_only    pages: X-Pages sent (default one more), same Last-Modified
    lm_rollover    from this request on, every answer under PREFIX has the
                   next Last-Modified (the resource refreshed mid-crawl)
    skew           seconds (default 1, may be negative): Last-Modified and
                   Expires that many seconds off the other pages' (ESI's
                   pages of one version need not agree to the second:
                   esi-issues #1149, #487, #194)
    no_xpages      the page is answered without its X-Pages header
    expired        the answer arrives already expired: Expires seconds
                   (default 60) before its Date, Cache-Control without
                   max-age (ESI has served such: esi-issues #487, #194)
    cursor_repeat  a cursor page repeats a record of the page before it
    error_limit    420; retry_after: X-ESI-Error-Limit-Reset
    rate_limit     429; retry_after (default 2) and retry_format=seconds|
                   date|none (none: no Retry-After, no rate-limit headers)
    drop_after_request  the request is read and handled (a write takes
                   effect), then the connection closes without a byte of
                   the answer: the reply to a write is lost
                   (kind=reset drops the connection before handling: the
                   write does not happen)

Every kind also takes method=GET|HEAD|POST|PUT|DELETE: only requests of
that method trigger it (a fault on /characters/N/contacts for the POST,
not the GET).  status, error_limit, rate_limit and redirect take apply=1:
the request is handled first (the write happens), then answered with the
fault (ESI's 5xx after a write that went through).

/_sim/writes[?since=SEQ]: the request-log entries of POST, PUT and DELETE
requests to ESI routes, with their bodies (field body, the text sent), so
a test can count the writes it made.  /_sim/ui[?character_id=N]: the
game-client requests (autopilot waypoints, windows opened) received.
/_sim/fleets: every fleet member; /_sim/fleet_wings: every wing and
squad.  /_sim/store/reset: forget what was written (contacts, fittings,
mail, calendar answers, fleets, UI); /_sim/reset
does that too.

/_sim/config?name=value... changes settings (see limits.Settings), among
them body_error_status=400|422 (the status of a request body that breaks
its schema, default 400) and cache_seconds=N: every route's cache period
becomes N seconds, counted
from now (Expires, Cache-Control max-age, also on 304); 0 or default
restores each route's own.  cache_phase=1: the periods of each path are
shifted by a phase of its own within the period (a hash of the path), so
each region's market orders expire at their own time, as on ESI (daily
routes keep 11:05).  cache_refresh=1: Last-Modified and the ETag move at
each period's start (new data each period, as ESI's market orders: a
revalidation after the expiry gets the whole body again).
cursor_records=N: every cursor route's list holds N records (default: 15
to 25, per path), so a walk's length is known: ESI's pages hold `limit`
records (10 to 100, default 10).
unchanged_pages=1,3 (or all; empty for none): with cache_refresh, the
content of these pages (1 is also a reply without pages) stays the same
across a refresh, so their ETag does not move: revalidated after ESI's
expiry, they get a 304 that carries the new Last-Modified, Expires and
max-age (ESI's 304s carry fresh headers: FACTS.md 5b, RFC 9111 4.3.4).

/_sim/error_limit[?remain=N][&reset=S][&ip=IP] shows, or sets, the error
budget of the caller's IP (or IP): N errors left in a window that resets in
S seconds (default: a whole error_window).  With N=0 every request is then
answered 420 until the reset, as on ESI.

/_sim/rate_limit?group=G[&remain=N][&retry_after=S][&ip=IP] shows, or sets,
the bucket of group G for the caller's IP: N tokens left, the spending
leaving the window after S seconds (default: a whole window).  With N=0 the
group's next request is a 429 with Retry-After: S.
"""

import base64
import time

from . import contract
from . import store
from .limits import FAULT_KINDS
from .writes import WRITE_METHODS


class ControlError(Exception):
    pass


def _int(q, name, default=None, lo=None):
    v = q.get(name, [None])[0]
    if v is None or v == "":
        return default
    try:
        n = int(v)
    except ValueError:
        raise ControlError("%s must be an integer" % name)
    if lo is not None and n < lo:
        raise ControlError("%s must be at least %d" % (name, lo))
    return n


def _choice(q, name, default, choices):
    v = q.get(name, [None])[0]
    if v is None or v == "":
        return default
    if v not in choices:
        raise ControlError("%s must be one of %s" % (name, ", ".join(choices)))
    return v


def _bool(q, name, default):
    v = q.get(name, [None])[0]
    if v is None or v == "":
        return default
    if v.lower() in ("1", "true", "on", "yes"):
        return True
    if v.lower() in ("0", "false", "off", "no"):
        return False
    raise ControlError("%s must be a boolean" % name)


# A from_id walk like the wallet transaction routes (which need SSO): 120
# records, newest first, at most 50 a reply, from_id inclusive.
WALK_IDS = [5000001000 + 7 * i for i in range(120)]


def _walk(q):
    from_id = _int(q, "from_id", None)
    ids = sorted(WALK_IDS, reverse=True)
    if from_id is not None:
        ids = [i for i in ids if i <= from_id]
    return [{"transaction_id": i, "quantity": i % 97 + 1, "type_id": 34,
             "unit_price": round(4 + (i % 13) / 10, 2), "is_buy": i % 2 == 0,
             "date": "2026-11-%02dT%02d:00:00Z" % (1 + i % 20, i % 24)}
            for i in ids[:50]]


def _group_limits(state, table, group):
    """(limit, window) of a rate-limit group, from any route in it."""
    for r in table.routes.values():
        if r.rate_group == group:
            return state.bucket_limits(r)
    raise ControlError("no route is in rate-limit group %s" % group)


def handle(name, q, state, table, ip="127.0.0.1", sso=None, world=None):
    """Returns (status, list of dicts).  ip: the caller's address, whose
    limits /_sim/error_limit and /_sim/rate_limit show and set by default;
    world: the handlers' World (its write store)."""
    try:
        if sso is not None and name.startswith("sso/"):
            try:
                return sso.control(name[4:], q, _int, _bool)
            except ValueError as e:
                raise ControlError(str(e))
        if name == "requests":
            return 200, state.since(_int(q, "since", 0))
        if name == "reset":
            state.reset()
            if world is not None:
                store.get_store(world).reset()
            return 200, [{"reset": True}]
        if name == "store/reset":
            if world is not None:
                store.get_store(world).reset()
            return 200, [{"reset": True}]
        if name == "writes":
            return 200, [e for e in state.since(_int(q, "since", 0))
                         if e["method"] in WRITE_METHODS]
        if name == "ui":
            if world is None:
                return 200, []
            return 200, store.ui_rows(world, _int(q, "character_id", None, 1))
        if name == "fleets":
            return 200, store.fleet_rows(world) if world is not None else []
        if name == "fleet_wings":
            return 200, store.wing_rows(world) if world is not None else []
        if name == "config":
            s = state.settings
            with state.lock:
                updates = {
                    "latency_ms": _int(q, "latency_ms", s.latency_ms, 0),
                    "error_limit": _int(q, "error_limit", s.error_limit, 0),
                    "error_window": _int(q, "error_window", s.error_window, 1),
                    "rate_window": _int(q, "rate_window", s.rate_window, 1),
                    "compat_strict": _bool(q, "compat_strict", s.compat_strict),
                    "cache_refresh": _bool(q, "cache_refresh", s.cache_refresh),
                    "cache_phase": _bool(q, "cache_phase", s.cache_phase),
                    "body_error_status": int(_choice(q, "body_error_status",
                                                     str(s.body_error_status),
                                                     ("400", "422"))),
                }
                cs = q.get("cache_seconds", [None])[0]
                if cs is not None:
                    # cache_seconds=default (or empty or 0) goes back to each route's own
                    n = None if cs in ("", "default") else _int(q, "cache_seconds", None, 0)
                    updates["cache_seconds"] = n or None
                    s.cache_epoch = int(time.time())
                cr = q.get("cursor_records", [None])[0]
                if cr is not None:
                    # cursor_records=default (or empty) goes back to 15-25 per path
                    updates["cursor_records"] = (None if cr in ("", "default")
                                                 else _int(q, "cursor_records", None, 0))
                up = q.get("unchanged_pages", [None])[0]
                if up is not None:
                    up = up.replace(" ", "")
                    if up not in ("", "all") and not all(p.isdigit() and int(p) >= 1
                                                        for p in up.split(",")):
                        raise ControlError("unchanged_pages must be page numbers "
                                           "(1,3), all, or empty")
                    updates["unchanged_pages"] = up
                rl = q.get("rate_limit", [None])[0]
                if rl is not None:
                    # rate_limit=default (or empty) goes back to each group's own limit
                    updates["rate_limit"] = (None if rl in ("", "default")
                                             else _int(q, "rate_limit", None, 0))
                for k, v in updates.items():
                    setattr(s, k, v)
                return 200, [s.as_dict()]
        if name == "error_limit":
            who = q.get("ip", [None])[0] or ip
            now = time.time()
            remain = _int(q, "remain", None, 0)
            if remain is not None:
                left, reset = state.set_error_remain(who, remain, _int(q, "reset", None, 1), now)
            else:
                left, reset = state.error_status(who, now)
            return 200, [{"ip": who, "remain": left, "reset": reset,
                          "limit": state.settings.error_limit,
                          "window": state.settings.error_window}]
        if name == "rate_limit":
            who = q.get("ip", [None])[0] or ip
            group = q.get("group", [None])[0]
            if not group:
                raise ControlError("group must name a rate-limit group such as market-order")
            limit, window = _group_limits(state, table, group)
            now = time.time()
            remain = _int(q, "remain", None, 0)
            if remain is not None:
                used = state.set_rate_remain(group, who, limit, window, remain,
                                             _int(q, "retry_after", None, 1), now)
            else:
                used = state.rate_used(group, who, window, now)
            return 200, [{"group": group, "ip": who, "limit": limit, "window": window,
                          "used": used, "remaining": max(0, limit - used)}]
        if name == "fault":
            path = q.get("path", [None])[0]
            kind = q.get("kind", [None])[0]
            if not path or not path.startswith("/"):
                raise ControlError("path must be a path prefix such as /markets/10000002/orders")
            if kind not in FAULT_KINDS:
                raise ControlError("kind must be one of %s" % ", ".join(FAULT_KINDS))
            if path.startswith("/latest/"):
                path = path[7:]
            if len(path) > 1:
                path = path.rstrip("/")
            status = _int(q, "status", None, 100)
            if kind == "redirect" and status is not None and not 300 <= status <= 399:
                raise ControlError("status of a redirect must be 3xx")
            location = q.get("location", [None])[0] or None
            if location is not None and not location.startswith(("/", "http://",
                                                                  "https://")):
                raise ControlError("location must be a path or an http(s) URL")
            f = state.add_fault(path, kind, page=_int(q, "page", None, 1),
                                count=_int(q, "count", 1, 0), ms=_int(q, "ms", 0, 0),
                                status=status,
                                retry_after=_int(q, "retry_after", None, 0),
                                at=_int(q, "at", None, 0), chunk=_int(q, "chunk", None, 1),
                                body=_choice(q, "body", "json", ("json", "html", "empty", "cut")),
                                location=location,
                                retry_format=_choice(q, "retry_format", "seconds",
                                                     ("seconds", "date", "none")),
                                pages=_int(q, "pages", None, 0),
                                method=_choice({k: [v.upper() for v in vs]
                                                for k, vs in q.items()}, "method", None,
                                               ("GET", "HEAD", "POST", "PUT", "DELETE")),
                                apply=_bool(q, "apply", False),
                                seconds=_int(q, "seconds", None))
            return 200, [{"id": f.id}]
        if name == "balance":
            # a bare scalar reply, like the character wallet balance
            return 200, 1234567.89
        if name == "transactions":
            return 200, _walk(q)
        if name == "faults":
            with state.lock:
                return 200, [f.as_dict() for f in state.faults]
        if name == "stats":
            with state.lock:
                return 200, [{"requests": state.requests, "bytes": state.bytes,
                              "wire_bytes": state.wire_bytes}]
        if name == "contract":
            return 200, contract.rows()
        if name == "contract_columns":
            return 200, contract.column_rows()
        if name == "fuzz" or name.startswith("fuzz/"):
            from . import fuzz
            seed = _int(q, "seed", 1, 0)
            if name == "fuzz":
                cases = fuzz.cases(seed, _int(q, "count", 300, 1))
                return 200, [{"n": c.n, "kind": c.kind, "body_b64":
                              base64.b64encode(c.body).decode()} for c in cases]
            try:
                n = int(name[5:])
            except ValueError:
                raise ControlError("/_sim/fuzz/N needs a case number")
            return 200, fuzz.case(seed, n).body
        if name == "routes":
            return 200, [{"path": r.path, "auth": r.auth, "paging": r.paging,
                          "cache_seconds": r.cache_seconds, "rate_group": r.rate_group,
                          "rate_tokens": r.rate_tokens if r.rate_group else None,
                          "compat_date": r.compat_date, "builtin": r.builtin}
                         for r in sorted(table.routes.values(), key=lambda r: r.path)]
    except ControlError as e:
        return 400, [{"error": str(e)}]
    return 404, [{"error": "Unknown control route /_sim/%s" % name}]
