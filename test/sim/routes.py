"""Request handlers: from a matched route and typed arguments to a body.

Hand-built handlers serve the market and universe routes from the
simulator's own consistent data; every other public catalog route is served
by generic(), which fills the route's response schema.  A handler returns
Reply (the page to send and the page count of paged routes) or raises Fail
(an ESI error status and message).
"""

import base64
import copy
import json
import threading

from . import catalog as cat
from .body import Body, BodyCache, json_array, paginate
from .market import PER_PAGE
from .rng import Rng, hash64
from .schemagen import SchemaGen, make_rng
from .universe import celestial_ids

PAGE = cat.Param("page", "query", "integer", format="int32", minimum=1)


class Fail(Exception):
    def __init__(self, status, message, **extra):
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra


class Reply:
    __slots__ = ("body", "pages")

    def __init__(self, body, pages=None):
        self.body, self.pages = body, pages


def pick(pages, page):
    """The requested page of a paged result; ESI's 404 past the end."""
    n = len(pages)
    p = page or 1
    if p > n:
        raise Fail(404, "Requested page does not exist!")
    return Reply(pages[p - 1], n)


def compact(obj):
    """Compact JSON with sorted keys, as ESI sends it."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


class World:
    """Everything handlers read: universe, market, generic data."""

    def __init__(self, universe, market, resolve=None):
        self.u = universe
        self.m = market
        self.gen = SchemaGen(universe, resolve)
        self._objects = {}
        self._olock = threading.Lock()
        self._generic = BodyCache(128 << 20)
        self.compat_dates = ["2020-01-01"]     # replaced from the route table
        regions = sorted(universe.regions)
        self.regions_body = json_array([str(r) for r in regions])
        self.constellations_body = json_array([str(c) for c in sorted(universe.constellations)])
        self.systems_body = json_array([str(s) for s in sorted(universe.systems)])
        self.types_pages = paginate([str(t) for t in universe.type_ids], PER_PAGE)

    def cached_object(self, key, build):
        """A hand-built object rendered once; build() returns a dict or None."""
        body = self._objects.get(key)
        if body is None:
            obj = build()
            if obj is None:
                return None
            body = Body(compact(obj).encode())
            with self._olock:
                body = self._objects.setdefault(key, body)
        return body


# -- markets ---------------------------------------------------------------------------

def markets_orders(w, route, req):
    rid = req.args["region_id"]
    if rid not in w.u.regions:
        raise Fail(404, "Region not found")
    # ESI declares order_type required but defaults it; a missing one means all.
    order_type = req.args.get("order_type", "all")
    pages = w.m.order_pages(rid, order_type, req.args.get("type_id"))
    return pick(pages, req.args.get("page"))


def markets_history(w, route, req):
    rid = req.args["region_id"]
    region = w.u.regions.get(rid)
    if region is None:
        raise Fail(400, "Invalid region_id: region not found")
    if not region.market:
        raise Fail(400, "Invalid region_id: region has no market")
    tid = req.args["type_id"]
    if tid not in w.u.types:
        raise Fail(404, "Type not found!")
    return Reply(w.m.history(rid, tid))


def markets_types(w, route, req):
    rid = req.args["region_id"]
    if rid not in w.u.regions:
        raise Fail(404, "Region not found")
    return pick(w.m.region_types[rid], req.args.get("page"))


def markets_prices(w, route, req):
    return Reply(w.m.prices)


# -- universe --------------------------------------------------------------------------

def _pos(p):
    return {"x": p[0], "y": p[1], "z": p[2]}


def universe_regions(w, route, req):
    return Reply(w.regions_body)


def universe_region(w, route, req):
    rid = req.args["region_id"]
    r = w.u.regions.get(rid)
    if r is None:
        raise Fail(404, "Region not found")
    return Reply(w.cached_object(("region", rid), lambda: _fill(w, route, rid, {
        "constellations": list(r.constellations), "description": r.description,
        "name": r.name, "region_id": rid})))


def universe_constellations(w, route, req):
    return Reply(w.constellations_body)


def universe_constellation(w, route, req):
    cid = req.args["constellation_id"]
    c = w.u.constellations.get(cid)
    if c is None:
        raise Fail(404, "Constellation not found")
    return Reply(w.cached_object(("constellation", cid), lambda: _fill(w, route, cid, {
        "constellation_id": cid, "name": c.name, "position": _pos(c.position),
        "region_id": c.region_id, "systems": list(c.systems)})))


def universe_systems(w, route, req):
    return Reply(w.systems_body)


def universe_system(w, route, req):
    sid = req.args["system_id"]
    s = w.u.systems.get(sid)
    if s is None:
        raise Fail(404, "Solar system not found")

    def build():
        rng = Rng("%d:system:%d" % (w.u.seed, sid))
        planets = []
        for pi, pid in enumerate(s.planets):
            n_moons = rng.below(6)
            n_belts = rng.between(1, 3) if rng.chance(0.4) else 0
            moons, belts = celestial_ids(s.star_id, pi, n_moons, n_belts)
            p = {"planet_id": pid}
            if moons:
                p["moons"] = moons
            if belts:
                p["asteroid_belts"] = belts
            planets.append(p)
        ss = s.security_status
        obj = {"constellation_id": s.constellation_id, "name": s.name, "planets": planets,
               "position": _pos(s.position),
               "security_class": ("A" if ss >= 0.9 else "B" if ss >= 0.7 else
                                  "C" if ss >= 0.5 else "D"),
               "security_status": ss, "star_id": s.star_id, "system_id": sid}
        if w.u.regions[s.region_id].market:
            obj["stargates"] = list(s.stargates)
        if s.stations:
            obj["stations"] = list(s.stations)
        return _fill(w, route, sid, obj, only_required=True)

    return Reply(w.cached_object(("system", sid), build))


_SERVICES = ["bounty-missions", "courier-missions", "interbus", "reprocessing-plant",
             "refinery", "market", "stock-exchange", "cloning", "surgery", "dna-therapy",
             "repair-facilities", "factory", "labratory", "fitting", "news", "storage",
             "insurance", "docking", "office-rental", "jump-clone-facility",
             "loyalty-point-store", "navy-offices", "security-offices"]


def universe_station(w, route, req):
    sid = req.args["station_id"]
    st = w.u.stations.get(sid)
    if st is None or st.structure:
        raise Fail(404, "Station not found")

    def build():
        rng = Rng("%d:station-info:%d" % (w.u.seed, sid))
        services = [s for s in _SERVICES if s in ("market", "docking") or rng.chance(0.6)]
        return _fill(w, route, sid, {
            "max_dockable_ship_volume": 50000000.0, "name": st.name,
            "office_rental_cost": float(rng.between(10000, 5000000)), "owner": st.owner,
            "position": _pos(st.position), "race_id": st.race_id,
            "reprocessing_efficiency": 0.5, "reprocessing_stations_take": 0.05,
            "services": services, "station_id": sid, "system_id": st.system_id,
            "type_id": st.type_id})

    return Reply(w.cached_object(("station", sid), build))


def universe_types(w, route, req):
    return pick(w.types_pages, req.args.get("page"))


def universe_type(w, route, req):
    tid = req.args["type_id"]
    t = w.u.types.get(tid)
    if t is None:
        raise Fail(404, "Type not found!")

    def build():
        rng = Rng("%d:type-info:%d" % (w.u.seed, tid))
        attrs = sorted({rng.between(1, 3000) for _ in range(rng.between(2, 8))})
        effects = sorted({rng.between(1, 12000) for _ in range(rng.between(0, 3))})
        vol = t.volume
        obj = {
            "capacity": 0.0 if t.family in ("real", "charge", "material", "skill") else
            float(rng.between(0, 5000)),
            "description": "%s. %s" % (t.name, rng.choice([
                "A staple of New Eden's industry.", "Sought after by capsuleers everywhere.",
                "Produced in vast quantities across the cluster.",
                "Its origins are the subject of many rumours."])),
            "dogma_attributes": [{"attribute_id": a, "value": float(rng.between(0, 1000))}
                                 for a in attrs],
            "dogma_effects": [{"effect_id": e, "is_default": k == 0}
                              for k, e in enumerate(effects)],
            "graphic_id": rng.between(1, 25000),
            "group_id": t.group_id,
            "icon_id": rng.between(1, 25000),
            "mass": float(rng.between(0, 100000000)) if t.family in ("ship",) else 0.0,
            "name": t.name,
            "packaged_volume": vol,
            "portion_size": 100 if t.family == "charge" else 1,
            "published": t.published,
            "radius": 1.0,
            "type_id": tid,
            "volume": vol,
        }
        if t.market_group_id:
            obj["market_group_id"] = t.market_group_id
        if not effects:
            del obj["dogma_effects"]
        return obj

    return Reply(w.cached_object(("type", tid), build))


def meta_compat_dates(w, route, req):
    return Reply(w.cached_object(("compat",), lambda: {"compatibility_dates": w.compat_dates}))


def _fill(w, route, key, obj, only_required=False):
    """Complete a hand-built object with fields the catalog schema lists."""
    if route.response:
        schema = w.gen.deref(route.response)
        rng = make_rng(w.u.seed, "%s:%s" % (route.path, key))
        if only_required:
            req = set(schema.get("required") or ())
            props = schema.get("properties") or {}
            schema = dict(schema, properties={k: v for k, v in props.items() if k in req})
        w.gen.fill(obj, schema, rng)
    return obj


# -- everything else: generated from the response schema --------------------------------

CURSOR_LIMIT = cat.Param("limit", "query", "integer", format="int32", minimum=1, maximum=100)


def generic(w, route, req):
    if route.response is None:
        raise Fail(404, "Not found")
    if route.paging == "cursor":
        return _cursor(w, route, req)
    # Other query arguments select different data (filter=..., max_war_id=...).
    extra = "&".join("%s=%s" % (k, req.args[k]) for k in sorted(req.args)
                     if k != "page" and route.params.get(k) and route.params[k].where == "query")
    label = req.path + ("?" + extra if extra else "")
    fixed = _path_args(route, req)
    # A bare array of ids takes its kind from the path: /alliances -> alliance ids.
    literal = [s for s in route.segments if not s.startswith("{")]
    hint = literal[-1] if literal else None
    if route.paging == "pages":
        npages = 2 + hash64("%d:pages:%s" % (w.u.seed, label)) % 2
        page = req.args.get("page") or 1
        if page > npages:
            raise Fail(404, "Requested page does not exist!")
        key = (label, page)
        body = w._generic.get(key)
        if body is None:
            rng = make_rng(w.u.seed, "%s#%d" % (label, page))
            body = w._generic.put(key, Body(compact(
                w.gen.value(route.response, rng, hint, fixed=fixed)).encode()))
        return Reply(body, npages)
    body = w._generic.get(label)
    if body is None:
        rng = make_rng(w.u.seed, label)
        value = w.gen.value(route.response, rng, hint, fixed=fixed)
        if route.records_key and isinstance(value, dict):
            # An envelope around the records ({"campaigns": [...]}): as many
            # records as a bare array would have.
            sub = (w.gen.deref(route.response).get("properties") or {}).get(route.records_key)
            if sub is not None:
                value[route.records_key] = w.gen.value(sub, rng, route.records_key)
        body = w._generic.put(label, Body(compact(value).encode()))
    return Reply(body)


def _path_args(route, req):
    """Path parameters, echoed in generated objects that carry them."""
    return {k: v for k, v in req.args.items()
            if route.params.get(k) and route.params[k].where == "path"}


def _records_key(w, route):
    if route.records_key:
        return route.records_key
    schema = w.gen.deref(route.response)
    for k, v in (schema.get("properties") or {}).items():
        if k != "cursor" and w.gen.deref(v).get("type") == "array":
            return k
    return "records"


def _token(tag, pos):
    return base64.urlsafe_b64encode(("c1:%d:%s" % (pos, tag)).encode()).decode().rstrip("=")


def _untoken(tag, token, n):
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        v, pos, t = text.split(":")
        pos = int(pos)
    except (ValueError, UnicodeDecodeError):
        raise Fail(400, "Invalid cursor token")
    if v != "c1" or t != tag or not 0 <= pos <= n:
        raise Fail(400, "Invalid cursor token")
    return pos


def _cursor(w, route, req):
    """Cursor paging over a fixed list of 15-25 records, oldest first.

    No token (or before=0) gives the newest `limit` records; walking `before`
    reaches an empty list after two or three steps; `after` from the newest
    position gives an empty list (nothing changed since)."""
    key = _records_key(w, route)
    schema = w.gen.deref(route.response)
    item_schema = w.gen.deref((schema.get("properties") or {}).get(key, {})).get("items", {})
    label = req.path
    cached = w._generic.get(("cursor", label))
    if cached is None:
        rng = make_rng(w.u.seed, label + "#cursor")
        n = 15 + rng.below(11)
        fixed = _path_args(route, req)
        objs = [w.gen.value(item_schema, rng, depth=1, fixed=fixed) for _ in range(n)]
        # ESI orders cursor records by last modification, oldest first.
        if all(isinstance(o, dict) and isinstance(o.get("last_modified"), str) for o in objs):
            objs.sort(key=lambda o: o["last_modified"])
        cached = w._generic.put(("cursor", label), [compact(o) for o in objs])
    recs = cached
    n = len(recs)
    tag = "%08x" % (hash64(label) & 0xFFFFFFFF)
    before, after = req.query.get("before", [None])[0], req.query.get("after", [None])[0]
    if before is not None and after is not None:
        raise Fail(400, "Parameters before and after are mutually exclusive")
    p = route.params.get("limit") or CURSOR_LIMIT
    limit = req.args.get("limit", p.default if isinstance(p.default, int) else 10)
    if after is not None:
        start = 0 if after == "0" else _untoken(tag, after, n)
        end = min(n, start + limit)
    else:
        end = n if before in (None, "0") else _untoken(tag, before, n)
        start = max(0, end - limit)
    body = '{"%s":[%s],"cursor":{"after":"%s","before":"%s"}}' % (
        key, ",".join(recs[start:end]), _token(tag, end), _token(tag, start))
    return Reply(Body(body.encode()))


# -- the built-in route table ------------------------------------------------------------

def _p(name, typ="integer", where="path", **kw):
    fmt = kw.pop("format", "int64" if typ == "integer" else None)
    return cat.Param(name, where, typ, format=fmt, required=kw.pop("required", where == "path"),
                     **kw)


DAILY = None  # cache_seconds None: expires daily at 11:05 UTC

BUILTIN = [
    cat.Route("/markets/{region_id}/orders", paging="pages", cache_seconds=300,
              rate_group="market-order", rate_tokens=12000, rate_window=900,
              params=[_p("region_id"),
                      _p("order_type", "string", "query", enum=["buy", "sell", "all"],
                         default="all"),
                      _p("type_id", where="query"), PAGE],
              handler=markets_orders),
    cat.Route("/markets/{region_id}/history", cache_seconds=DAILY,
              params=[_p("region_id"), _p("type_id", where="query", required=True)],
              handler=markets_history),
    cat.Route("/markets/{region_id}/types", paging="pages", cache_seconds=600,
              params=[_p("region_id"), PAGE], handler=markets_types),
    cat.Route("/markets/prices", cache_seconds=3600, handler=markets_prices),
    cat.Route("/universe/regions", cache_seconds=DAILY, handler=universe_regions),
    cat.Route("/universe/regions/{region_id}", cache_seconds=DAILY,
              params=[_p("region_id")], handler=universe_region),
    cat.Route("/universe/constellations", cache_seconds=DAILY, handler=universe_constellations),
    cat.Route("/universe/constellations/{constellation_id}", cache_seconds=DAILY,
              params=[_p("constellation_id")], handler=universe_constellation),
    cat.Route("/universe/systems", cache_seconds=DAILY, handler=universe_systems),
    cat.Route("/universe/systems/{system_id}", cache_seconds=DAILY,
              params=[_p("system_id")], handler=universe_system),
    cat.Route("/universe/stations/{station_id}", cache_seconds=DAILY,
              params=[_p("station_id")], handler=universe_station),
    cat.Route("/universe/types", paging="pages", cache_seconds=DAILY, params=[PAGE],
              handler=universe_types),
    cat.Route("/universe/types/{type_id}", cache_seconds=DAILY, params=[_p("type_id")],
              handler=universe_type),
    cat.Route("/meta/compatibility-dates", cache_seconds=600, rate_group="meta", rate_tokens=150,
              rate_window=900, handler=meta_compat_dates),
]


def build_table(catalog_routes=()):
    """Built-in routes (taking cache, rate-limit, compat date and response
    schema from the catalog when it has them) plus every other catalog route."""
    table = cat.RouteTable()
    by_path = {r.path: r for r in catalog_routes}
    for b in BUILTIN:
        b = copy.copy(b)
        c = by_path.pop(b.path, None)
        if c is not None:
            b.cache_seconds = c.cache_seconds if c.cache_seconds is not None else b.cache_seconds
            if c.rate_group:
                b.rate_group, b.rate_tokens = c.rate_group, c.rate_tokens
                b.rate_window = c.rate_window
            b.compat_date, b.response = c.compat_date, c.response
        table.add(b)
    for r in by_path.values():
        if r.paging == "pages" and "page" not in r.params:
            r.params["page"] = PAGE
        table.add(r)
    return table
