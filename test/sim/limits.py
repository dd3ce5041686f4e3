"""Mutable simulator state: settings, ESI's two limiters, faults, request log.

All of it sits behind one lock; every operation is a few dictionary updates,
so contention is not an issue even with many keep-alive connections.

- Error limit (legacy, routes without a rate-limit group): per client IP, a
  fixed window that starts at the first error after the previous window has
  ended; at most error_limit non-2xx/3xx responses, then 420 everywhere.
- Rate limit (routes with a group): a floating window per (group, IP); each
  response costs tokens (2xx 2, 3xx 1, 4xx 5 except 429, 5xx 0); when the
  bucket is empty, 429 with Retry-After.
"""

import collections
import threading

FAULT_KINDS = ("latency", "status", "reset", "truncate", "cut", "stall", "chunked",
               "redirect", "malformed", "xpages", "xpages_only", "lm_rollover",
               "cursor_repeat", "error_limit", "rate_limit", "drop_after_request")


class Settings:
    FIELDS = ("latency_ms", "error_limit", "error_window", "rate_limit", "rate_window",
              "compat_strict", "cache_refresh", "cache_seconds", "cache_phase",
              "unchanged_pages", "body_error_status")

    def __init__(self):
        self.latency_ms = 0          # added to every non-control request
        self.error_limit = 100       # errors per window and IP
        self.error_window = 60       # seconds
        self.rate_limit = None       # tokens per window for every group; None = the route's own
        self.rate_window = None      # seconds; None = the route's own (15 min)
        self.compat_strict = True    # 404 for routes newer than the request's compatibility date
        # Last-Modified and ETag move on each cache period (else fixed per run)
        self.cache_refresh = False
        # With cache_refresh: pages whose content a refresh leaves as it was
        # ("1,3", "all" or ""; 1 is also a reply without pages).  Their ETag
        # stays, so a revalidation after the expiry gets a 304 that carries
        # the new Last-Modified, Expires and max-age, as ESI's do (RFC 9111
        # 4.3.4: a 304's headers replace the stored ones).
        self.unchanged_pages = ""
        # Every route's cache period in seconds (None = the route's own).  Its
        # periods start when it was set (cache_epoch), so a test knows when the
        # replies it gets expire: cache_epoch + k * cache_seconds.
        self.cache_seconds = None
        self.cache_epoch = 0
        # Each path's periods shifted by a phase of its own (a hash of the
        # path): every region's market orders expire at their own time.
        self.cache_phase = False
        # the status of a request body that breaks its schema (400 or 422)
        self.body_error_status = 400

    def as_dict(self):
        return {k: getattr(self, k) for k in self.FIELDS}

    def page_unchanged(self, page):
        """Whether a refresh leaves this page's content (None: no page
        parameter, which is page 1) as it was."""
        if self.unchanged_pages == "all":
            return True
        return str(page or 1) in self.unchanged_pages.split(",")


def token_cost(status):
    if status == 429:
        return 0
    if 200 <= status < 300:
        return 2
    if 300 <= status < 400:
        return 1
    if 400 <= status < 500:
        return 5
    return 0


class Fault:
    """count: requests to affect (0 = all until reset); left: what remains."""
    __slots__ = ("id", "path", "kind", "page", "count", "left", "ms", "status", "retry_after",
                 "hits", "at", "chunk", "body", "location", "retry_format", "pages", "method",
                 "apply")

    def as_dict(self):
        return {"id": self.id, "path": self.path, "kind": self.kind, "page": self.page,
                "count": self.count, "remaining": self.left,
                "active": self.left is None or self.left > 0, "ms": self.ms,
                "status": self.status, "retry_after": self.retry_after, "hits": self.hits,
                "at": self.at, "chunk": self.chunk, "body": self.body,
                "location": self.location, "retry_format": self.retry_format,
                "pages": self.pages, "method": self.method, "apply": self.apply}


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.settings = Settings()
            self.errors = {}                 # ip -> [window_start, count]
            self.buckets = {}                # (group, ip) -> [deque[(t, cost)], used]
            self.faults = []
            self.next_fault = 1
            self.lm_shifts = {}              # path prefix -> seconds (lm_rollover)
            self.log = []
            self.seq = 0
            self.requests = 0
            self.bytes = 0
            self.wire_bytes = 0

    # -- error limit -----------------------------------------------------------------

    def error_status(self, ip, now):
        """(remaining, seconds to reset) for an IP, without counting anything."""
        with self.lock:
            return self._error_status(ip, now)

    def _error_status(self, ip, now):
        s = self.settings
        e = self.errors.get(ip)
        if e is None or now >= e[0] + s.error_window:
            return s.error_limit, s.error_window
        return max(0, s.error_limit - e[1]), max(1, int(e[0] + s.error_window - now + 0.999))

    def count_error(self, ip, now):
        with self.lock:
            s = self.settings
            e = self.errors.get(ip)
            if e is None or now >= e[0] + s.error_window:
                e = self.errors[ip] = [now, 0]
            e[1] += 1
            return self._error_status(ip, now)

    def set_error_remain(self, ip, remain, reset, now):
        """Start a window for ip now-ish with `remain` errors left and `reset`
        seconds to go (default: a whole window): what ESI reports after other
        software on the same IP has spent the rest."""
        with self.lock:
            s = self.settings
            remain = max(0, min(s.error_limit, remain))
            window_left = s.error_window if reset is None else reset
            self.errors[ip] = [now - s.error_window + window_left, s.error_limit - remain]
            return self._error_status(ip, now)

    # -- rate limit ------------------------------------------------------------------

    def bucket_limits(self, route):
        s = self.settings
        limit = s.rate_limit if s.rate_limit is not None else route.rate_tokens or 12000
        window = s.rate_window if s.rate_window is not None else route.rate_window or 900
        return limit, window

    def _bucket(self, key, now, window):
        b = self.buckets.get(key)
        if b is None:
            b = self.buckets[key] = [collections.deque(), 0]
        q = b[0]
        while q and q[0][0] <= now - window:
            b[1] -= q.popleft()[1]
        return b

    def rate_check(self, group, ip, limit, window, now):
        """(allowed, used, retry_after seconds)."""
        with self.lock:
            b = self._bucket((group, ip), now, window)
            if b[1] < limit:
                return True, b[1], 0
            # Retry when enough of the oldest spending has left the window.
            used, retry = b[1], window
            for t, c in b[0]:
                used -= c
                if used < limit:
                    retry = t + window - now
                    break
            return False, b[1], max(1, int(retry + 0.999))

    def set_rate_remain(self, group, ip, limit, window, remain, retry_after, now):
        """Empty the bucket of (group, ip) down to `remain` tokens; what was
        spent leaves the window after retry_after seconds (default: a whole
        window), so a 429 then says Retry-After: retry_after."""
        with self.lock:
            b = self.buckets[(group, ip)] = [collections.deque(), 0]
            spent = max(0, limit - max(0, remain))
            if spent:
                age = 0 if retry_after is None else max(0, window - retry_after)
                b[0].append((now - age, spent))
                b[1] = spent
            return b[1]

    def rate_used(self, group, ip, window, now):
        with self.lock:
            return self._bucket((group, ip), now, window)[1]

    def rate_charge(self, group, ip, limit, window, cost, now):
        with self.lock:
            b = self._bucket((group, ip), now, window)
            if cost:
                b[0].append((now, cost))
                b[1] += cost
            return b[1]

    # -- faults ----------------------------------------------------------------------

    def add_fault(self, path, kind, page=None, count=1, ms=0, status=None, retry_after=None,
                  at=None, chunk=None, body="json", location=None, retry_format="seconds",
                  pages=None, method=None, apply=False):
        with self.lock:
            f = Fault()
            f.id, f.path, f.kind, f.page = self.next_fault, path, kind, page
            f.count, f.left = count, (count or None)
            if kind == "status" and status is None:
                status = 503
            f.ms, f.status, f.retry_after, f.hits = ms, status, retry_after, 0
            f.at, f.chunk, f.body, f.location = at, chunk, body, location
            f.retry_format, f.pages = retry_format, pages
            f.method, f.apply = method, apply
            self.next_fault += 1
            self.faults.append(f)
            return f

    def take_faults(self, path, page, latency, method=None):
        """Consume the faults a request triggers.  latency=True: all matching
        latency faults, returns (total ms, None); latency=False: the oldest
        matching fault of another kind, returns (0, fault or None).  A fault
        armed with a method only hits requests of that method."""
        with self.lock:
            delay, other = 0, None
            for f in self.faults:
                if f.left == 0 or (f.kind == "latency") != latency or not path.startswith(f.path):
                    continue
                if f.method is not None and method is not None and f.method != method:
                    continue
                if f.page is not None and f.page != (page or 1):
                    continue
                f.hits += 1
                if f.left is not None:
                    f.left -= 1
                if latency:
                    delay += f.ms
                else:
                    other = f
                    break
            return delay, other

    def add_lm_shift(self, prefix, seconds):
        """lm_rollover: answers under prefix carry a later Last-Modified."""
        with self.lock:
            self.lm_shifts[prefix] = self.lm_shifts.get(prefix, 0) + seconds

    def lm_shift(self, path):
        with self.lock:
            return sum(v for k, v in self.lm_shifts.items() if path.startswith(k))

    # -- log -------------------------------------------------------------------------

    def record_start(self, entry):
        with self.lock:
            self.seq += 1
            entry["seq"] = self.seq
            self.log.append(entry)
            self.requests += 1

    def record_end(self, entry, updates, wire_bytes):
        with self.lock:
            entry.update(updates)
            self.bytes += updates["bytes"]
            self.wire_bytes += wire_bytes

    def since(self, seq):
        """Copies of the log entries after seq (seq numbers are dense from 1
        after a reset)."""
        with self.lock:
            start = 0
            if seq > 0 and self.log:
                start = max(0, seq - self.log[0]["seq"] + 1)
            return [dict(e) for e in self.log[start:]]
