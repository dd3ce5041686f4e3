"""Request handlers: from a matched route and typed arguments to a body.

The routes of the hand-written contract (sim/contract.py: markets,
universe, status, wallet, assets) take their parameters, paging, shape and
reply schema from there, never from the generated catalog; hand-built
handlers serve them from the simulator's own consistent data, or generic()
fills the contract's schema.  Every other catalog route is served by
generic() from its catalog schema.  A handler returns Reply (the page to
send, the page count of paged routes, the reply's language) or raises Fail
(an ESI error status and message).
"""

import base64
import copy
import json
import threading

from . import catalog as cat
from . import contract
from . import lang as L
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


INVALID = "Invalid request"


def invalid(location, message, value=None, status=400):
    """ESI's answer to a value it refuses: the why is in "details" (the
    OpenAPI schema Error: {"error", "status", "details": [{"location",
    "message", "value"}]}), not in "error"."""
    f = Fail(status, INVALID)
    f.extra = {"status": status,
               "details": [{"location": location, "message": message, "value": value}]}
    return f


class Reply:
    """modified: when the data changed (epoch), for data a test changes
    (Last-Modified is then at least that)."""
    __slots__ = ("body", "pages", "language", "modified", "status")

    def __init__(self, body, pages=None, language=None, modified=None, status=200):
        self.body, self.pages, self.language = body, pages, language
        self.modified = modified
        self.status = status      # 201/204 for writes (body None with 204)


def language(route, req):
    """The reply's language: Accept-Language on routes ESI translates."""
    if not route.languages:
        return None
    return L.pick(req.headers.get("Accept-Language"))


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
        self.walks = {}                        # walk key -> [(id, record JSON)]
        self.asset_lists = {}                  # (owner, version) -> asset records
        self.sso = None                        # the SSO state (set by the server)
        self.state = None                      # settings and faults (set by the server)
        self.compat_dates = ["2020-01-01"]     # replaced from the route table
        regions = sorted(universe.regions)
        self.regions_body = json_array([str(r) for r in regions])
        self.constellations_body = json_array([str(c) for c in sorted(universe.constellations)])
        self.systems_body = json_array([str(s) for s in sorted(universe.systems)])
        self.types_pages = paginate([str(t) for t in universe.type_ids], PER_PAGE)

    def cached_object(self, key, build):
        """A hand-built object rendered once; build() returns a dict or None.
        Descriptions are written with non-ASCII escaped (see lang.py)."""
        body = self._objects.get(key)
        if body is None:
            obj = build()
            if obj is None:
                return None
            body = Body(L.dumps(obj).encode())
            with self._olock:
                body = self._objects.setdefault(key, body)
        return body


# -- markets ---------------------------------------------------------------------------

def markets_orders(w, route, req):
    rid = req.args["region_id"]
    if rid not in w.u.regions:
        raise Fail(404, "Region not found")
    # ESI declares order_type required but defaults it; a missing one means all.
    # "If you query without type_id, we always return both buy and sell
    # orders" (the route's description): order_type only filters with type_id.
    order_type = req.args.get("order_type", "all")
    if req.args.get("type_id") is None:
        order_type = "all"
    pages = w.m.order_pages(rid, order_type, req.args.get("type_id"))
    return pick(pages, req.args.get("page"))


def markets_history(w, route, req):
    rid = req.args["region_id"]
    region = w.u.regions.get(rid)
    if region is None:
        raise invalid("path.region_id", "region not found", rid)
    if not region.market:
        raise invalid("path.region_id", "region has no market", rid)
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
    lg = language(route, req)
    return Reply(w.cached_object(("region", rid, lg), lambda: _fill(w, route, rid, {
        "constellations": list(r.constellations),
        "description": L.description(r.description, lg, plain_english=True),
        "name": L.name("region", rid, r.name, lg), "region_id": rid})), language=lg)


def universe_constellations(w, route, req):
    return Reply(w.constellations_body)


def universe_constellation(w, route, req):
    cid = req.args["constellation_id"]
    c = w.u.constellations.get(cid)
    if c is None:
        raise Fail(404, "Constellation not found")
    lg = language(route, req)
    return Reply(w.cached_object(("constellation", cid, lg), lambda: _fill(w, route, cid, {
        "constellation_id": cid, "name": L.name("constellation", cid, c.name, lg),
        "position": _pos(c.position), "region_id": c.region_id,
        "systems": list(c.systems)})), language=lg)


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
        obj = {"constellation_id": s.constellation_id,
               "name": L.name("system", sid, s.name, lg), "planets": planets,
               "position": _pos(s.position),
               "security_class": ("A" if ss >= 0.9 else "B" if ss >= 0.7 else
                                  "C" if ss >= 0.5 else "D"),
               "security_status": ss, "star_id": s.star_id, "system_id": sid}
        if w.u.regions[s.region_id].market:
            obj["stargates"] = list(s.stargates)
        if s.stations:
            obj["stations"] = list(s.stations)
        return _fill(w, route, sid, obj, only_required=True)

    lg = language(route, req)
    return Reply(w.cached_object(("system", sid, lg), build), language=lg)


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

    lg = language(route, req)

    def build():
        rng = Rng("%d:type-info:%d" % (w.u.seed, tid))
        attrs = sorted({rng.between(1, 3000) for _ in range(rng.between(2, 8))})
        effects = sorted({rng.between(1, 12000) for _ in range(rng.between(0, 3))})
        vol = t.volume
        obj = {
            "capacity": 0.0 if t.family in ("real", "charge", "material", "skill") else
            float(rng.between(0, 5000)),
            "description": L.description("%s. %s" % (t.name, rng.choice([
                "A staple of New Eden's industry.", "Sought after by capsuleers everywhere.",
                "Produced in vast quantities across the cluster.",
                "Its origins are the subject of many rumours."])), lg,
                plain_english=t.family == "real"),
            "dogma_attributes": [{"attribute_id": a, "value": float(rng.between(0, 1000))}
                                 for a in attrs],
            "dogma_effects": [{"effect_id": e, "is_default": k == 0}
                              for k, e in enumerate(effects)],
            "graphic_id": rng.between(1, 25000),
            "group_id": t.group_id,
            "icon_id": rng.between(1, 25000),
            "mass": float(rng.between(0, 100000000)) if t.family in ("ship",) else 0.0,
            "name": L.name("type", tid, t.name, lg),
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

    return Reply(w.cached_object(("type", tid, lg), build), language=lg)


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

CURSOR_LIMIT = cat.Param("limit", "query", "integer", format="int64", minimum=10, maximum=100,
                         default=10)


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


def _untoken(tag, token, n, where):
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        v, pos, t = text.split(":")
        pos = int(pos)
    except (ValueError, UnicodeDecodeError):
        raise invalid("query." + where, "invalid cursor token", token)
    if v != "c1" or t != tag or not 0 <= pos <= n:
        raise invalid("query." + where, "invalid cursor token", token)
    return pos


def _cursor(w, route, req):
    """Cursor paging over a fixed list of 15-25 records (or the
    cursor_records setting), oldest first.

    No token (or before=0) gives the newest `limit` records; walking `before`
    reaches an empty list after two or three steps; `after` from the newest
    position gives an empty list (nothing changed since)."""
    key = _records_key(w, route)
    schema = w.gen.deref(route.response)
    item_schema = w.gen.deref((schema.get("properties") or {}).get(key, {})).get("items", {})
    label = req.path
    size = w.state.settings.cursor_records if w.state is not None else None
    cached = w._generic.get(("cursor", label, size))
    if cached is None:
        rng = make_rng(w.u.seed, label + "#cursor")
        n = 15 + rng.below(11)
        if size is not None:
            n = size
        fixed = _path_args(route, req)
        objs = [w.gen.value(item_schema, rng, depth=1, fixed=fixed) for _ in range(n)]
        # ESI orders cursor records by last modification, oldest first.
        if all(isinstance(o, dict) and isinstance(o.get("last_modified"), str) for o in objs):
            objs.sort(key=lambda o: o["last_modified"])
        cached = w._generic.put(("cursor", label, size), [compact(o) for o in objs])
    recs = cached
    n = len(recs)
    tag = "%08x" % (hash64(label) & 0xFFFFFFFF)
    before, after = req.query.get("before", [None])[0], req.query.get("after", [None])[0]
    if before is not None and after is not None:
        raise invalid("query.before", "mutually exclusive with after", before)
    p = route.params.get("limit") or CURSOR_LIMIT
    limit = req.args.get("limit", p.default if isinstance(p.default, int) else 10)
    if after is not None:
        start = 0 if after == "0" else _untoken(tag, after, n, "after")
        end = min(n, start + limit)
    else:
        end = n if before in (None, "0") else _untoken(tag, before, n, "before")
        start = max(0, end - limit)
    page = recs[start:end]
    if req.fault is not None and req.fault.kind == "cursor_repeat" and page:
        # ESI warns that a record may come on two pages: repeat the one
        # next to this page in the walk's direction (it was on the page
        # before), or, on the first page, the page's own last record
        if after is None and end < n:
            page = page + [recs[end]]
        elif after is not None and start > 0:
            page = [recs[start - 1]] + page
        else:
            page = page + [page[-1]]
    body = '{"%s":[%s],"cursor":{"after":"%s","before":"%s"}}' % (
        key, ",".join(page), _token(tag, end), _token(tag, start))
    return Reply(Body(body.encode()))


# -- contract routes without their own data -------------------------------------------

def translated(w, route, req):
    """An object of a translated route (groups, categories, market groups)
    filled from the contract's schema, with name and description in the
    requested language."""
    lg = language(route, req)
    key = req.path

    def build():
        rng = make_rng(w.u.seed, key)
        obj = w.gen.value(route.response, rng, fixed=_path_args(route, req))
        kind = route.segments[-2]
        if isinstance(obj.get("name"), str):
            obj["name"] = L.name(kind, key, obj["name"], lg)
        if isinstance(obj.get("description"), str):
            obj["description"] = L.description(obj["description"], lg)
        return obj

    return Reply(w.cached_object(("translated", key, lg), build), language=lg)


def wallet_transactions(w, route, req):
    """A from_id walk as ESI documents it: the newest transactions first, at
    most per_page (2500) a reply, from_id inclusive (so a walk ends when
    only the record asked from comes back).  A character's, or a
    corporation wallet division's."""
    if "character_id" in req.args:
        key = "transactions:%d" % req.args["character_id"]
    else:
        key = "transactions:corp:%d:%d" % (req.args["corporation_id"], req.args["division"])
    recs = w.walks.get(key)
    if recs is None:
        rng = make_rng(w.u.seed, key)
        n, first = 4000 + rng.below(2000), 5_000_000_000 + rng.below(10_000_000)
        ids = sorted((first + 3 * i + rng.below(3) for i in range(n)), reverse=True)
        item = w.gen.deref(route.response)["items"]
        recs = [(tid, compact(w.gen.value(item, make_rng(w.u.seed, "transaction:%d" % tid),
                                          depth=1, fixed={"transaction_id": tid})))
                for tid in ids]
        with w._olock:
            recs = w.walks.setdefault(key, recs)
    from_id = req.args.get("from_id")
    if from_id is not None:
        recs = [r for r in recs if r[0] <= from_id]
    return Reply(json_array([r[1] for r in recs[:route.per_page or 2500]]))


HANDLERS = {
    "/markets/{region_id}/orders": markets_orders,
    "/markets/{region_id}/history": markets_history,
    "/markets/{region_id}/types": markets_types,
    "/markets/prices": markets_prices,
    "/markets/groups/{market_group_id}": translated,
    "/universe/regions": universe_regions,
    "/universe/regions/{region_id}": universe_region,
    "/universe/constellations": universe_constellations,
    "/universe/constellations/{constellation_id}": universe_constellation,
    "/universe/systems": universe_systems,
    "/universe/systems/{system_id}": universe_system,
    "/universe/stations/{station_id}": universe_station,
    "/universe/types": universe_types,
    "/universe/types/{type_id}": universe_type,
    "/universe/groups/{group_id}": translated,
    "/universe/categories/{category_id}": translated,
    "/meta/compatibility-dates": meta_compat_dates,
    "/characters/{character_id}/wallet/transactions": wallet_transactions,
    "/corporations/{corporation_id}/wallets/{division}/transactions": wallet_transactions,
}


def _param(p):
    s = p.schema
    return cat.Param(p.name, p.where, s.get("type", "string"), s.get("format"), s.get("enum"),
                     p.required, s.get("default"), s.get("minimum"), s.get("maximum"),
                     s.get("items"))


def contract_route(c):
    """A route table entry from the hand-written contract alone."""
    r = cat.Route(c.path, auth="sso" if c.scope else "public", paging=c.paging,
                  cache_seconds=c.cache,
                  rate_group=c.rate[0] if c.rate else None,
                  rate_tokens=c.rate[1] if c.rate else 0,
                  rate_window=cat.window_seconds(c.rate[2]) if c.rate else 900,
                  compat_date=c.compat, params=[_param(p) for p in c.params],
                  response=c.reply, records_key=c.records_key,
                  scopes=[c.scope] if c.scope else [], roles=c.roles,
                  handler=HANDLERS.get(c.path, generic))
    r.shape, r.languages, r.per_page, r.contract = c.shape, c.languages, c.per_page, True
    return r


def build_table(catalog_routes=()):
    """The contract's routes (nothing of them from the catalog), plus every
    other catalog route."""
    table = cat.RouteTable()
    for c in contract.ROUTES:
        table.add(contract_route(c))
    for r in catalog_routes:
        if r.path in contract.BY_PATH:
            continue
        if r.paging == "pages" and "page" not in r.params:
            r.params["page"] = PAGE
        if r.path in HANDLERS:
            r.handler, r.builtin = HANDLERS[r.path], True
        table.add(r)
    for method, r in writes.build_routes(WRITE_HANDLERS):
        table.add_write(method, r)
    return table


# The handlers of the authenticated routes read the SSO state (characters,
# roles, asset versions); they live in private.py, which uses Reply and
# the helpers above.
from . import private  # noqa: E402
from . import store  # noqa: E402
from . import writes  # noqa: E402

HANDLERS.update(private.HANDLERS)
HANDLERS.update(store.GET_HANDLERS)
WRITE_HANDLERS = dict(writes.HANDLERS)
WRITE_HANDLERS.update(store.WRITE_HANDLERS)
