"""The route table: the contract's routes plus the routes of test/sim_catalog.json.

The catalog file is generated from ESI's OpenAPI description by another tool,
so the loader accepts a few spellings of each field.  The expected form is

    {"version": "2026-08-04",
     "routes": [{"path": "/markets/{region_id}/orders",
                 "auth": "public" | "sso",
                 "scopes": ["esi-..."], "roles": [...],
                 "paging": "none" | "pages" | "cursor" | "from_id" | ...,
                 "cache_seconds": 300 | null,            (null: daily at 11:05)
                 "rate_group": "market-order" | null, "rate_tokens": 12000,
                 "rate_window": "15m",
                 "compat_date": "2020-01-01",
                 "params": [{"name": "type_id", "in": "query", "required": false,
                             "schema": {"type": "integer", "format": "int64"}}],
                 "response": {JSON schema, $refs inlined or resolvable},
                 "records_key": "freelance_jobs"}, ...],
     "schemas": {"Name": {...}}}                          (optional, for $ref)

Also accepted: "routes" as an object keyed by path, "parameters" for
"params", flattened parameter schemas, "x-rate-limit"-style objects,
"pagination", "cache", "compatibility_date", "response_schema".
"""

import json
import re

DEFAULT_COMPAT = "2020-01-01"


class Param:
    __slots__ = ("name", "where", "type", "format", "enum", "required", "default",
                 "minimum", "maximum", "items")

    def __init__(self, name, where="query", type="string", format=None, enum=None,
                 required=False, default=None, minimum=None, maximum=None, items=None):
        self.name, self.where, self.type, self.format = name, where, type, format
        self.enum, self.required, self.default = enum, required, default
        self.minimum, self.maximum, self.items = minimum, maximum, items


class Route:
    __slots__ = ("path", "segments", "auth", "scopes", "roles", "paging", "cache_seconds",
                 "rate_group", "rate_tokens", "rate_window", "compat_date", "params",
                 "response", "records_key", "handler", "builtin", "shape", "languages",
                 "per_page", "contract", "method", "body", "status", "lookup_max_age")

    def __init__(self, path, auth="public", paging="none", cache_seconds=None, rate_group=None,
                 rate_tokens=0, rate_window=900, compat_date=DEFAULT_COMPAT, params=(),
                 response=None, records_key=None, scopes=(), roles=(), handler=None):
        self.path = path
        self.segments = path.strip("/").split("/")
        self.auth, self.scopes, self.roles = auth, list(scopes), list(roles)
        self.paging, self.cache_seconds = paging, cache_seconds
        self.rate_group, self.rate_tokens, self.rate_window = rate_group, rate_tokens, rate_window
        self.compat_date = compat_date
        self.params = {p.name: p for p in params}
        self.response, self.records_key = response, records_key
        self.handler = handler
        self.builtin = handler is not None
        # set for the routes of the hand-written contract (routes.contract_route)
        self.shape, self.languages, self.per_page, self.contract = None, False, None, False
        # the routes that are not GET (sim/writes.py): method, request body
        # schema, success status
        self.method, self.body, self.status = "GET", None, 200
        self.lookup_max_age = None

    def path_params(self, segments):
        return {s[1:-1]: v for s, v in zip(self.segments, segments) if s.startswith("{")}


def window_seconds(text):
    """'15m' -> 900; plain numbers are seconds."""
    if text is None:
        return 900
    if isinstance(text, (int, float)):
        return int(text)
    m = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", str(text))
    if not m:
        return 900
    return int(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def window_text(seconds):
    for unit, n in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % n == 0:
            return "%d%s" % (seconds // n, unit)
    return "%ds" % seconds


class RouteTable:
    """Routes matched segment by segment; literal segments win over parameters
    (/markets/groups/{id} before /markets/{region_id}/types)."""

    def __init__(self):
        self.routes = {}
        self._tree = {}
        self.writes = {}            # method -> RouteTable of ESI's POST/PUT/DELETE routes

    def add_write(self, method, route):
        self.writes.setdefault(method, RouteTable()).add(route)

    def match_write(self, method, path):
        t = self.writes.get(method)
        return t.match(path) if t is not None else (None, None)

    def methods(self, path):
        """The methods some route answers at a path (for 405)."""
        out = ["GET", "HEAD"] if self.match(path)[0] is not None else []
        return out + [m for m, t in sorted(self.writes.items()) if t.match(path)[0] is not None]

    def add(self, route):
        self.routes[route.path] = route
        node = self._tree
        for seg in route.segments:
            key = "{}" if seg.startswith("{") else seg
            node = node.setdefault(key, {})
        node[None] = route

    def get(self, path):
        return self.routes.get(path)

    def match(self, path):
        segs = path.strip("/").split("/") if path.strip("/") else []
        route = self._walk(self._tree, segs, 0)
        if route is None:
            return None, None
        return route, route.path_params(segs)

    def _walk(self, node, segs, i):
        if i == len(segs):
            return node.get(None)
        seg = segs[i]
        if seg in node:
            r = self._walk(node[seg], segs, i + 1)
            if r is not None:
                return r
        if "{}" in node and seg:
            return self._walk(node["{}"], segs, i + 1)
        return None


# -- catalog loading -------------------------------------------------------------------

def load_catalog(path):
    """Read a catalog file; returns (routes, resolver, version)."""
    with open(path) as f:
        data = json.load(f)
    schemas = {}
    if isinstance(data, dict):
        for src in (data.get("schemas"), (data.get("components") or {}).get("schemas"),
                    data.get("definitions")):
            if isinstance(src, dict):
                schemas.update(src)
        raw = data.get("routes", data.get("paths", []))
        version = data.get("version") or data.get("info", {}).get("version")
    else:
        raw, version = data, None
    if isinstance(raw, dict):
        items = []
        for p, d in raw.items():
            if isinstance(d, dict) and "get" in d and isinstance(d["get"], dict):
                d = dict(d["get"])
            items.append(dict(d, path=d.get("path", p)))
        raw = items

    def resolve(ref):
        name = str(ref).rsplit("/", 1)[-1]
        return schemas.get(name, {})

    routes = []
    for d in raw:
        if not isinstance(d, dict) or "path" not in d:
            continue
        if str(d.get("method", "GET")).upper() != "GET":
            continue
        routes.append(_route_from(d))
    return routes, resolve, version


def _first(d, *keys, default=None):
    for k in keys:
        if k in d and d[k] is not None:
            return d[k]
    return default


def _route_from(d):
    path = d["path"].rstrip("/") or "/"
    scopes = _first(d, "scopes", default=None)
    if scopes is None:
        scopes = [d["scope"]] if d.get("scope") else []
    elif isinstance(scopes, str):
        scopes = [s for s in re.split(r"[ ,]+", scopes) if s]
    default_auth = "sso" if scopes or d.get("security") else "public"
    auth = str(_first(d, "auth", default=default_auth)).lower()
    auth = "sso" if auth in ("sso", "oauth2", "oauth", "auth", "private") else "public"
    roles = _first(d, "roles", "x-required-roles", default=[])
    if isinstance(roles, str):
        roles = [r for r in re.split(r"[ ,]+", roles) if r]

    paging = str(_first(d, "paging", "pagination", "x-pagination", default="none")).lower()
    if paging in ("x-pages", "pages", "page", "xpages"):
        paging = "pages"
    elif paging.startswith("cursor"):
        paging = "cursor"
    elif paging in ("-", "", "none", "null"):
        paging = "none"

    cache = _first(d, "cache_seconds", "cache", "ttl", "x-client-cache-ttl", "cache_ttl")
    try:
        cache = int(cache) if cache is not None else None
    except (TypeError, ValueError):
        cache = None
    if cache is not None and cache <= 0:
        cache = None

    rl = _first(d, "rate_limit", "x-rate-limit", "ratelimit", default=None)
    group = d.get("rate_group")
    tokens = d.get("rate_tokens")
    window = d.get("rate_window")
    if isinstance(rl, dict):
        group = group or rl.get("group")
        tokens = tokens or _first(rl, "max-tokens", "max_tokens", "tokens", "limit")
        window = window or _first(rl, "window-size", "window_size", "window")
    elif isinstance(rl, str) and rl.strip() not in ("", "-"):
        # "market-order 12000/15m"
        m = re.fullmatch(r"\s*(\S+)\s+(\d+)/(\S+)\s*", rl)
        if m:
            group, tokens, window = m.group(1), int(m.group(2)), m.group(3)
    if group in ("", "-"):
        group = None
    try:
        tokens = int(tokens) if tokens else 0
    except (TypeError, ValueError):
        tokens = 0

    compat = str(_first(d, "compat_date", "compatibility_date", "x-compatibility-date",
                        "compat", default=DEFAULT_COMPAT))

    params = []
    raw_params = _first(d, "params", "parameters", default=[])
    if isinstance(raw_params, dict):
        raw_params = [dict(v, name=v.get("name", k)) if isinstance(v, dict) else {"name": k}
                      for k, v in raw_params.items()]
    for key, where in (("path_params", "path"), ("query_params", "query")):
        for p in d.get(key) or []:
            p = {"name": p} if isinstance(p, str) else dict(p)
            p.setdefault("in", where)
            raw_params.append(p)
    seen = set()
    for p in raw_params:
        if not isinstance(p, dict) or "name" not in p or p["name"] in seen:
            continue
        where = str(_first(p, "in", "where", "location",
                           default="path" if "{%s}" % p["name"] in path else "query")).lower()
        if where not in ("path", "query"):
            continue
        seen.add(p["name"])
        s = p.get("schema") if isinstance(p.get("schema"), dict) else p
        typ = s.get("type", "string")
        if isinstance(typ, list):
            typ = next((t for t in typ if t != "null"), "string")
        params.append(Param(p["name"], where, typ, s.get("format"), s.get("enum"),
                            bool(p.get("required", where == "path")), s.get("default"),
                            s.get("minimum"), s.get("maximum"), s.get("items")))
    # Path parameters the catalog forgot still exist (as integers when *_id).
    for seg in path.strip("/").split("/"):
        if seg.startswith("{") and seg[1:-1] not in seen:
            name = seg[1:-1]
            params.append(Param(name, "path", "integer" if name.endswith("_id") else "string",
                                required=True))

    response = _first(d, "response", "response_schema", "schema", default=None)
    return Route(path, auth=auth, paging=paging, cache_seconds=cache, rate_group=group,
                 rate_tokens=tokens, rate_window=window_seconds(window), compat_date=compat,
                 params=params, response=response, records_key=d.get("records_key"),
                 scopes=scopes, roles=roles)


# -- parameter validation ------------------------------------------------------------

class ParamError(Exception):
    """A parameter ESI refuses.  ESI's error body (OpenAPI schema Error)
    keeps the why in "details": {"location": "query.order_type",
    "message": "expected value to be one of buy, sell, all", "value": "x"}."""

    def __init__(self, location, message, value=None):
        super().__init__("%s: %s" % (location, message))
        self.location, self.message, self.value = location, message, value

    def detail(self):
        return {"location": self.location, "message": self.message, "value": self.value}


def _convert(p, text, name):
    typ = p.type
    loc = "%s.%s" % (p.where or "query", name)
    if typ == "integer":
        if not re.fullmatch(r"[+-]?\d+", text.strip()):
            raise ParamError(loc, "expected integer", text)
        v = int(text)
        if p.format == "int32" and not -2**31 <= v < 2**31:
            raise ParamError(loc, "integer out of range for int32", text)
        if not -2**63 <= v < 2**63:
            raise ParamError(loc, "integer out of range for int64", text)
    elif typ == "number":
        try:
            v = float(text)
        except ValueError:
            raise ParamError(loc, "expected number", text)
    elif typ == "boolean":
        low = text.lower()
        if low not in ("true", "false"):
            raise ParamError(loc, "expected boolean", text)
        v = low == "true"
    else:
        v = text
    if p.enum and v not in p.enum:
        raise ParamError(loc, "expected value to be one of %s"
                         % ", ".join(str(e) for e in p.enum), v)
    if p.minimum is not None and typ in ("integer", "number") and v < p.minimum:
        raise ParamError(loc, "expected number >= %s" % p.minimum, v)
    if p.maximum is not None and typ in ("integer", "number") and v > p.maximum:
        raise ParamError(loc, "expected number <= %s" % p.maximum, v)
    return v


def parse_args(route, path_params, query):
    """Typed arguments of a request, or ParamError (-> 400 with details)."""
    args = {}
    for name, p in route.params.items():
        if p.where == "path":
            text = path_params.get(name)
            if text is None:
                continue
            args[name] = _convert(p, text, name)
            continue
        values = query.get(name)
        if not values:
            if p.required and p.default is not None:
                # declared required but with a default (order_type=all):
                # ESI answers a request without it with the default
                args[name] = p.default
            elif p.required:
                raise ParamError("%s.%s" % (p.where or "query", name),
                                 "required query parameter is missing")
            continue
        if p.type == "array":
            item = Param(name, type=(p.items or {}).get("type", "string"),
                         format=(p.items or {}).get("format"), enum=(p.items or {}).get("enum"))
            parts = [x for v in values for x in v.split(",") if x != ""]
            args[name] = [_convert(item, x, name) for x in parts]
        else:
            if values[0] == "":
                raise ParamError("%s.%s" % (p.where or "query", name),
                                 "expected a value", "")
            args[name] = _convert(p, values[0], name)
    return args
