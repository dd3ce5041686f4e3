"""ESI's documented behaviour for the routes the tests use most, by hand.

The simulator used to take every route's parameters, paging, shape and
records key from test/sim_catalog.json, which src/catalog/gen_catalog.py makes from
the same OpenAPI description as the catalog compiled into esi_fdw: a
misreading of the description would then pass on both sides.  The routes
below are written by hand instead, from ESI's documentation
(/work/shared/esi/FACTS.md: X-Pages, from_id, cursor, error and rate
limits, response shapes) and from reading the OpenAPI description
2026-08-04 by eye, and the simulator serves them from here.

check_catalog() compares this contract with a generated catalog, and
rows()/columns() feed the SQL test that compares it with the tables
esi_fdw creates, so a generator bug shows up as a failing test.

Schemas use a small JSON-Schema subset: type, format, enum, items,
properties, required.  An enum marked "x-enum-subset" lists only some of
ESI's values (the contract checks its type, the simulator picks from it).
"""

I64 = {"type": "integer", "format": "int64"}
I32 = {"type": "integer", "format": "int32"}
INT = {"type": "integer"}                      # no format: ESI's /status players
F64 = {"type": "number", "format": "double"}
STR = {"type": "string"}
BOOL = {"type": "boolean"}
DATETIME = {"type": "string", "format": "date-time"}
DATE = {"type": "string", "format": "date"}


def enum(*values):
    return {"type": "string", "enum": list(values)}


def some_of(*values):
    """A string enum of which the contract lists only a few values."""
    return {"type": "string", "enum": list(values), "x-enum-subset": True}


def arr(items):
    return {"type": "array", "items": items}


def obj(required, **props):
    """An object; `required` is a space-separated list of field names."""
    return {"type": "object", "properties": props, "required": required.split()}


POSITION = obj("x y z", x=F64, y=F64, z=F64)

# ESI's Accept-Language values (the description's enum, default en)
LANGUAGES = ("en", "de", "fr", "ja", "ru", "zh", "ko", "es")


class Param:
    __slots__ = ("name", "where", "schema", "required", "column")

    def __init__(self, name, where, schema, required=False, column=True):
        self.name, self.where, self.schema = name, where, schema
        self.required = required or where == "path"
        # paging parameters never become columns
        self.column = column


def path(name, schema=I64):
    return Param(name, "path", schema)


def query(name, schema, required=False):
    return Param(name, "query", schema, required)


PAGE = Param("page", "query", dict(I32, minimum=1), column=False)
FROM_ID = Param("from_id", "query", I64, column=False)


class Contract:
    """One route as ESI documents it.

    shape: array (of objects), object, values (array of scalars), value.
    paging: none, pages (X-Pages), cursor, from_id.
    value_column: the column holding the element of values/value routes.
    cache: seconds (None: ESI's daily expiry).  rate: (group, tokens,
    window) of the 2025 rate limit, or None (the legacy error limit).
    languages: names and descriptions follow Accept-Language, and the
    reply carries Content-Language.
    """
    __slots__ = ("path", "shape", "paging", "records_key", "scope", "roles", "cache",
                 "rate", "compat", "params", "reply", "value_column", "languages",
                 "per_page")

    def __init__(self, path, shape, reply, params=(), paging="none", records_key=None,
                 scope=None, roles=(), cache=None, rate=None, compat="2020-01-01",
                 value_column=None, languages=False, per_page=None):
        self.path, self.shape, self.reply = path, shape, reply
        self.params = list(params)
        self.paging, self.records_key = paging, records_key
        self.scope, self.roles = scope, list(roles)
        self.cache, self.rate, self.compat = cache, rate, compat
        self.value_column, self.languages = value_column, languages
        self.per_page = per_page

    @property
    def record(self):
        """The schema of one record (array) or of the reply (object, value)."""
        if self.shape in ("array", "values"):
            r = self.reply
            if self.records_key:
                r = r["properties"][self.records_key]
            return r["items"]
        return self.reply


MARKET_ORDER = obj(
    "order_id type_id location_id system_id volume_total volume_remain min_volume price "
    "is_buy_order duration issued range",
    duration=I64, is_buy_order=BOOL, issued=DATETIME, location_id=I64, min_volume=I64,
    order_id=I64, price=F64,
    range=enum("station", "region", "solarsystem", "1", "2", "3", "4", "5", "10", "20",
               "30", "40"),
    system_id=I64, type_id=I64, volume_remain=I64, volume_total=I64)

HISTORY_DAY = obj("date order_count volume highest average lowest",
                  average=F64, date=DATE, highest=F64, lowest=F64, order_count=I64,
                  volume=I64)

JOURNAL_ENTRY = obj(
    "date id ref_type description",
    amount=F64, balance=F64, context_id=I64,
    context_id_type=enum("structure_id", "station_id", "market_transaction_id",
                         "character_id", "corporation_id", "alliance_id", "eve_system",
                         "industry_job_id", "contract_id", "planet_id", "system_id",
                         "type_id"),
    date=DATETIME, description=STR, first_party_id=I64, id=I64, reason=STR,
    ref_type=some_of("player_trading", "market_transaction", "market_escrow",
                     "transaction_tax", "brokers_fee", "bounty_prizes", "agent_mission_reward",
                     "player_donation", "contract_price", "industry_job_tax"),
    second_party_id=I64, tax=F64, tax_receiver_id=I64)

TRANSACTION = obj(
    "transaction_id date location_id type_id unit_price quantity client_id is_buy "
    "is_personal journal_ref_id",
    client_id=I64, date=DATETIME, is_buy=BOOL, is_personal=BOOL, journal_ref_id=I64,
    location_id=I64, quantity=I64, transaction_id=I64, type_id=I64, unit_price=F64)

ASSET = obj(
    "type_id quantity location_id location_type item_id location_flag is_singleton",
    is_blueprint_copy=BOOL, is_singleton=BOOL, item_id=I64,
    location_flag=some_of("Hangar", "Cargo", "DroneBay", "HiSlot0", "MedSlot0", "LoSlot0",
                          "AssetSafety", "Deliveries", "ShipHangar"),
    location_id=I64, location_type=enum("station", "solar_system", "item", "other"),
    quantity=I64, type_id=I64)

WALLET_SCOPE = "esi-wallet.read_character_wallet.v1"
CHAR_WALLET = ("char-wallet", 150, "15m")

ROUTES = [
    # -- markets ------------------------------------------------------------------------
    # X-Pages of 1000 orders; order_type is declared required with default all
    # (a request without it means all); ESI ignores it without type_id.
    Contract("/markets/{region_id}/orders", "array", arr(MARKET_ORDER),
             [path("region_id"), query("order_type", dict(enum("buy", "sell", "all"),
                                                         default="all"), required=True),
              query("type_id", I64), PAGE],
             paging="pages", cache=300, rate=("market-order", 12000, "15m"), per_page=1000),
    # about 13 months, one record per day; type_id is required
    Contract("/markets/{region_id}/history", "array", arr(HISTORY_DAY),
             [path("region_id"), query("type_id", I64, required=True)]),
    Contract("/markets/prices", "array",
             arr(obj("type_id", adjusted_price=F64, average_price=F64, type_id=I64)),
             cache=3600),
    Contract("/markets/{region_id}/types", "values", arr(I64), [path("region_id"), PAGE],
             paging="pages", cache=600, value_column="type_id", per_page=1000),
    Contract("/markets/groups", "values", arr(I64), value_column="market_group_id"),
    Contract("/markets/groups/{market_group_id}", "object",
             obj("market_group_id name description types", description=STR,
                 market_group_id=I64, name=STR, parent_group_id=I64, types=arr(I64)),
             [path("market_group_id")], languages=True),

    # -- universe -----------------------------------------------------------------------
    Contract("/universe/regions", "values", arr(I64), value_column="region_id"),
    Contract("/universe/regions/{region_id}", "object",
             obj("region_id name constellations", constellations=arr(I64), description=STR,
                 name=STR, region_id=I64),
             [path("region_id")], languages=True),
    Contract("/universe/constellations", "values", arr(I64), value_column="constellation_id"),
    Contract("/universe/constellations/{constellation_id}", "object",
             obj("constellation_id name position region_id systems", constellation_id=I64,
                 name=STR, position=POSITION, region_id=I64, systems=arr(I64)),
             [path("constellation_id")], languages=True),
    Contract("/universe/systems", "values", arr(I64), value_column="system_id"),
    Contract("/universe/systems/{system_id}", "object",
             obj("system_id name position security_status constellation_id",
                 constellation_id=I64, name=STR,
                 planets=arr(obj("planet_id", asteroid_belts=arr(I64), moons=arr(I64),
                                 planet_id=I64)),
                 position=POSITION, security_class=STR, security_status=F64, star_id=I64,
                 stargates=arr(I64), stations=arr(I64), system_id=I64),
             [path("system_id")], languages=True),
    Contract("/universe/stations/{station_id}", "object",
             obj("station_id name type_id position system_id reprocessing_efficiency "
                 "reprocessing_stations_take max_dockable_ship_volume office_rental_cost "
                 "services",
                 max_dockable_ship_volume=F64, name=STR, office_rental_cost=F64, owner=I64,
                 position=POSITION, race_id=I64, reprocessing_efficiency=F64,
                 reprocessing_stations_take=F64,
                 services=arr(some_of("bounty-missions", "courier-missions", "market",
                                      "docking", "repair-facilities", "factory", "fitting")),
                 station_id=I64, system_id=I64, type_id=I64),
             [path("station_id")]),
    # type ids over X-Pages (ESI: 1000 a page)
    Contract("/universe/types", "values", arr(I64), [PAGE], paging="pages",
             value_column="type_id", per_page=1000),
    Contract("/universe/types/{type_id}", "object",
             obj("type_id name description published group_id",
                 capacity=F64, description=STR,
                 dogma_attributes=arr(obj("attribute_id value", attribute_id=I64, value=F64)),
                 dogma_effects=arr(obj("effect_id is_default", effect_id=I64,
                                       is_default=BOOL)),
                 graphic_id=I64, group_id=I64, icon_id=I64, market_group_id=I64, mass=F64,
                 name=STR, packaged_volume=F64, portion_size=I64, published=BOOL,
                 radius=F64, type_id=I64, volume=F64),
             [path("type_id")], languages=True),
    Contract("/universe/groups", "values", arr(I64), [PAGE], paging="pages",
             value_column="group_id", per_page=1000),
    Contract("/universe/groups/{group_id}", "object",
             obj("group_id name published category_id types", category_id=I64,
                 group_id=I64, name=STR, published=BOOL, types=arr(I64)),
             [path("group_id")], languages=True),
    Contract("/universe/categories", "values", arr(I64), value_column="category_id"),
    Contract("/universe/categories/{category_id}", "object",
             obj("category_id name published groups", category_id=I64, groups=arr(I64),
                 name=STR, published=BOOL),
             [path("category_id")], languages=True),

    # -- status -------------------------------------------------------------------------
    # the first route under the 2025 rate limit (status 600/15m), cached 30 s
    Contract("/status", "object",
             obj("start_time players server_version", players=INT, server_version=STR,
                 start_time=DATETIME, vip=BOOL),
             cache=30, rate=("status", 600, "15m")),
    Contract("/meta/compatibility-dates", "object",
             obj("compatibility_dates", compatibility_dates=arr(DATE)),
             cache=600, rate=("meta", 150, "15m")),

    # -- wallet (SSO) ---------------------------------------------------------------------
    Contract("/characters/{character_id}/wallet", "value", F64, [path("character_id")],
             scope=WALLET_SCOPE, cache=120, rate=CHAR_WALLET, value_column="balance"),
    # 30 days back, X-Pages (legacy maxItems 2500)
    Contract("/characters/{character_id}/wallet/journal", "array", arr(JOURNAL_ENTRY),
             [path("character_id"), PAGE], paging="pages", scope=WALLET_SCOPE, cache=3600,
             rate=CHAR_WALLET, per_page=2500),
    # from_id: records with transaction_id <= from_id, newest first; the walk
    # ends when only the record asked from comes back
    Contract("/characters/{character_id}/wallet/transactions", "array", arr(TRANSACTION),
             [path("character_id"), FROM_ID], paging="from_id", scope=WALLET_SCOPE,
             cache=3600, rate=CHAR_WALLET, per_page=2500),

    # -- assets (SSO) ---------------------------------------------------------------------
    Contract("/characters/{character_id}/assets", "array", arr(ASSET),
             [path("character_id"), PAGE], paging="pages", scope="esi-assets.read_assets.v1",
             cache=3600, rate=("char-asset", 1800, "15m"), per_page=1000),
    Contract("/corporations/{corporation_id}/assets", "array", arr(ASSET),
             [path("corporation_id"), PAGE], paging="pages",
             scope="esi-assets.read_corporation_assets.v1", roles=["Director"], cache=3600,
             rate=("corp-asset", 1800, "15m"), per_page=1000),
]

BY_PATH = {c.path: c for c in ROUTES}


# -- SQL columns, for the SQL self-check ---------------------------------------------------

def sql_type(schema, is_param=False):
    """The column type esi_fdw documents for a JSON schema (doc/queries.md, doc/tables.md)."""
    t, fmt = schema.get("type"), schema.get("format")
    if t == "integer":
        return "integer" if fmt == "int32" else "bigint"
    if t == "number":
        return "double precision"
    if t == "boolean":
        return "boolean"
    if t == "string":
        return {"date-time": "timestamp with time zone", "date": "date"}.get(fmt, "text")
    return "text" if is_param else "jsonb"


def columns(c):
    """[(column, sql type, JSON field or None, parameter place or None,
    required)] of the table for a route."""
    out = []
    for p in c.params:
        if p.column:
            out.append([p.name, sql_type(p.schema, True), None, p.where, p.required])
    if c.shape in ("values", "value"):
        out.append([c.value_column, sql_type(c.record), c.value_column, None, False])
        return [tuple(x) for x in out]
    names = {x[0]: x for x in out}
    for key, sub in c.record["properties"].items():
        if key in names:
            # a parameter and a field of one name are one column
            names[key][2] = key
        else:
            out.append([key, sql_type(sub), key, None, False])
    return [tuple(x) for x in out]


def rows():
    """One row per route for /_sim/contract."""
    return [{"route": c.path, "shape": c.shape, "paging": c.paging,
             "records_key": c.records_key, "scope": c.scope,
             "roles": ",".join(c.roles) or None, "cache_seconds": c.cache,
             "rate_group": c.rate[0] if c.rate else None}
            for c in ROUTES]


def column_rows():
    """One row per expected column for /_sim/contract_columns."""
    return [{"route": c.path, "position": i, "name": n, "type": t, "field": f, "param": w,
             "required": req}
            for c in ROUTES for i, (n, t, f, w, req) in enumerate(columns(c), 1)]


# -- comparison with a generated catalog ----------------------------------------------------

def _schema_diffs(where, mine, theirs, out):
    """Append the differences in type, format, enum, properties and required
    between the contract's schema and the catalog's (resolved) schema."""
    if not isinstance(theirs, dict):
        out.append("%s: catalog has no schema" % where)
        return
    t = theirs.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), None)
    if t is None and "properties" in theirs:
        t = "object"
    if mine.get("type") != t:
        out.append("%s: type %s, catalog says %s" % (where, mine.get("type"), t))
        return
    if mine.get("format") != theirs.get("format"):
        out.append("%s: format %s, catalog says %s" % (where, mine.get("format"),
                                                       theirs.get("format")))
    if "enum" in mine and not mine.get("x-enum-subset"):
        if list(mine["enum"]) != list(theirs.get("enum") or []):
            out.append("%s: enum %s, catalog says %s" % (where, mine["enum"], theirs.get("enum")))
    elif "enum" in mine and not set(mine["enum"]) <= set(theirs.get("enum") or []):
        out.append("%s: values %s are not in the catalog's enum"
                   % (where, sorted(set(mine["enum"]) - set(theirs.get("enum") or []))))
    if "default" in mine and mine["default"] != theirs.get("default"):
        out.append("%s: default %r, catalog says %r" % (where, mine["default"],
                                                        theirs.get("default")))
    if t == "array":
        _schema_diffs(where + "[]", mine["items"], theirs.get("items"), out)
    elif t == "object":
        mp, tp = mine.get("properties", {}), theirs.get("properties", {})
        if set(mp) != set(tp):
            out.append("%s: fields %s, catalog has %s" % (where, sorted(mp), sorted(tp)))
        if sorted(mine.get("required", [])) != sorted(theirs.get("required", [])):
            out.append("%s: required %s, catalog says %s"
                       % (where, sorted(mine.get("required", [])),
                          sorted(theirs.get("required", []))))
        for k in sorted(set(mp) & set(tp)):
            _schema_diffs("%s.%s" % (where, k), mp[k], tp[k], out)


def check_catalog(catalog):
    """Differences between the contract and a generated catalog (the parsed
    test/sim_catalog.json): paging, shape, records key, auth, cache, rate
    limit, parameters and reply schema of every contract route."""
    out = []
    by_path = {r["path"]: r for r in catalog.get("routes", [])}
    for c in ROUTES:
        r = by_path.get(c.path)
        if r is None:
            out.append("%s: not in the catalog" % c.path)
            continue

        def same(what, mine, theirs):
            if mine != theirs:
                out.append("%s: %s is %r, catalog says %r" % (c.path, what, mine, theirs))

        same("paging", c.paging, r.get("paging"))
        same("shape", c.shape, r.get("shape"))
        same("records_key", c.records_key, r.get("records_key"))
        same("scope", c.scope, r.get("scope"))
        same("auth", "sso" if c.scope else "public", r.get("auth"))
        same("roles", c.roles, r.get("roles") or [])
        same("cache_seconds", c.cache, r.get("cache_seconds"))
        same("rate limit", c.rate, (r.get("rate_group"), r.get("rate_tokens"),
                                    r.get("rate_window")) if r.get("rate_group") else None)
        same("compatibility date", c.compat, r.get("compat_date"))
        theirs = {(p["name"], p["in"]): p for p in r.get("params", [])}
        mine = {(p.name, p.where): p for p in c.params}
        same("parameters", sorted(mine), sorted(theirs))
        for key in sorted(set(mine) & set(theirs)):
            p, q = mine[key], theirs[key]
            same("parameter %s required" % p.name, p.required, bool(q.get("required")))
            _schema_diffs("%s: parameter %s" % (c.path, p.name), p.schema,
                          q.get("schema"), out)
        _schema_diffs("%s: reply" % c.path, c.reply, r.get("response"), out)
    return out


def main(argv):
    """python3 test/sim/contract.py [CATALOG]: compare, print TAP."""
    import json
    import os
    here = os.path.dirname(os.path.abspath(__file__))
    path_ = argv[1] if len(argv) > 1 else os.path.join(here, "..", "sim_catalog.json")
    with open(path_) as f:
        catalog = json.load(f)
    diffs = check_catalog(catalog)
    print("1..%d" % len(ROUTES))
    for i, c in enumerate(ROUTES, 1):
        mine = [d for d in diffs if d.startswith(c.path + ":")]
        print("%s %d - %s agrees with the generated catalog"
              % ("not ok" if mine else "ok", i, c.path))
        for d in mine:
            print("# " + d)
    return 1 if diffs else 0


if __name__ == "__main__":
    import sys
    sys.exit(main(sys.argv))
