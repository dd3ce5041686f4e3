"""ESI's 35 routes that are not GET: POST, PUT and DELETE.

Built from ESI's description (openapi-2026-08-04.json) and
/work/shared/esi/FACTS.md, not from esi_fdw.  Each route is declared here
(method, path, scope, roles, rate-limit group, compatibility date, query
parameters, the request body's JSON schema and the success status); the
handlers of the lookups are below, those that act for a character are in
sim/store.py (state that persists per character and shows up in the
matching GET routes).

Lookups (read only):

    POST /universe/names          ids -> [{id, name, category}]; any id the
        simulator does not know: 404 "Ensure all IDs are valid before
        resolving." (as ESI).  Known: regions, constellations, systems,
        NPC stations, types, factions, NPC corporations (1000001-1000200),
        the SSO roster's characters, corporations and alliances, and any
        id in the character ranges (90000000-97999999, 2100000000-
        2147483647: "Pilot <id>").
    POST /universe/ids            names (at most 500) -> {category: [{id,
        name}]}, exact (case-insensitive) matches only; unknown names are
        left out; nothing found is {}.
    POST /characters/affiliation  character ids -> [{character_id,
        corporation_id, alliance_id?}]; ids that are no character are left
        out; none at all: 404 "No characters found!".
    POST /characters/{id}/assets/names, .../assets/locations and the
        /corporations/{id}/... ones (Director): item ids of the owner's
        current assets version (sim/private.py) -> names (ships and blueprint
        copies have a name, other items "None") and positions ((0,0,0) in
        hangars and stations, as the description says); an id the owner
        does not have: 404 "Invalid IDs in the request".
    POST /route/{origin}/{destination}   (compatibility date 2025-09-30)
        {"route": [systems]} over a stargate graph of the k-space systems
        (chains inside constellations, constellations and regions linked
        by their first systems); body: preference Shorter|Safer|LessSecure,
        security_penalty 0-100, avoid_systems, connections (one-way
        extra edges).  Unknown system: 404 "Solar system not found"; no
        way through: 404 "No route found".  The only lookup whose answer
        carries Cache-Control (max-age 3600): a client may cache it.
    POST /characters/{id}/cspa    201 with the summed CSPA charge of the
        target characters (0 for the SSO roster).

Request bodies are checked against their schema: a body that is not JSON is
400 {"error": "Invalid JSON body: ..."}; one that breaks the schema (type,
required, enum, minItems/maxItems, uniqueItems, lengths, ranges) is 400
(422 with /_sim/config?body_error_status=422) {"error": "Invalid request
body", "status": N, "details": [{"location": "body[3]", "message": ...,
"value": ...}]}, the error model of the description.
"""

import heapq
import json
import re
import threading

from . import catalog as cat
from .rng import hash64

WRITE_METHODS = ("POST", "PUT", "DELETE")

INT64 = {"type": "integer", "format": "int64"}


def _ids(max_items, min_items=1, unique=True, item=None):
    s = {"type": "array", "items": item or INT64, "minItems": min_items,
         "maxItems": max_items}
    if unique:
        s["uniqueItems"] = True
    return s


def _obj(props, required=()):
    return {"type": "object", "properties": props, "required": list(required)}


LABEL_COLORS = ["#0000fe", "#006634", "#0099ff", "#00ff33", "#01ffff", "#349800", "#660066",
                "#666666", "#999999", "#99ffff", "#9a0000", "#ccff9a", "#e6e6e6", "#fe0000",
                "#ff6600", "#ffff01", "#ffffcd", "#ffffff"]
FIT_FLAGS = (["Cargo", "DroneBay", "FighterBay"] + ["HiSlot%d" % i for i in range(8)]
             + ["Invalid"] + ["LoSlot%d" % i for i in range(8)]
             + ["MedSlot%d" % i for i in range(8)] + ["RigSlot%d" % i for i in range(3)]
             + ["ServiceSlot%d" % i for i in range(8)]
             + ["SubSystemSlot%d" % i for i in range(4)])
FLEET_ROLES = ["fleet_commander", "wing_commander", "squad_commander", "squad_member"]

BODIES = {
    "ids1000": _ids(1000),
    "names500": _ids(500, item={"type": "string", "minLength": 1, "maxLength": 100}),
    "ids100u": _ids(100),
    "contacts": _ids(100, unique=False),
    "calendar": _obj({"response": {"type": "string",
                                   "enum": ["accepted", "declined", "tentative"]}},
                     ["response"]),
    "fitting": _obj({
        "description": {"type": "string", "maxLength": 500},
        "items": {"type": "array", "minItems": 1, "maxItems": 512, "items": _obj({
            "flag": {"type": "string", "enum": FIT_FLAGS},
            "quantity": INT64, "type_id": INT64}, ["type_id", "flag", "quantity"])},
        "name": {"type": "string", "minLength": 1, "maxLength": 50},
        "ship_type_id": INT64}, ["name", "description", "ship_type_id", "items"]),
    "mail": _obj({
        "approved_cost": INT64,
        "body": {"type": "string", "maxLength": 10000},
        "recipients": {"type": "array", "minItems": 1, "maxItems": 50, "items": _obj({
            "recipient_id": INT64,
            "recipient_type": {"type": "string", "enum": ["alliance", "character",
                                                          "corporation", "mailing_list"]}},
            ["recipient_type", "recipient_id"])},
        "subject": {"type": "string", "maxLength": 1000}}, ["recipients", "subject", "body"]),
    "mail_label": _obj({"color": {"type": "string", "enum": LABEL_COLORS},
                        "name": {"type": "string", "minLength": 1, "maxLength": 40}}, ["name"]),
    "mail_update": _obj({"labels": _ids(25, min_items=0),
                         "read": {"type": "boolean"}}),
    "fleet": _obj({"is_free_move": {"type": "boolean"}, "motd": {"type": "string"}}),
    "invite": _obj({"character_id": INT64, "role": {"type": "string", "enum": FLEET_ROLES},
                    "squad_id": INT64, "wing_id": INT64}, ["character_id", "role"]),
    "move": _obj({"role": {"type": "string", "enum": FLEET_ROLES},
                  "squad_id": INT64, "wing_id": INT64}, ["role"]),
    "naming": _obj({"name": {"type": "string", "maxLength": 10}}, ["name"]),
    "route": _obj({
        "avoid_systems": _ids(1000, min_items=0),
        "connections": {"type": "array", "maxItems": 1000,
                        "items": _obj({"from": INT64, "to": INT64}, ["from", "to"])},
        "preference": {"type": "string", "enum": ["Shorter", "Safer", "LessSecure"]},
        "security_penalty": {"type": "integer", "minimum": 0, "maximum": 100}}),
    "newmail": _obj({
        "body": {"type": "string", "maxLength": 10000},
        "recipients": {"type": "array", "minItems": 1, "maxItems": 50, "items": INT64},
        "subject": {"type": "string", "maxLength": 1000},
        "to_corp_or_alliance_id": INT64, "to_mailing_list_id": INT64},
        ["subject", "body", "recipients"]),
}


def _q(name, typ="integer", required=False, default=None, items=None, minimum=None,
       maximum=None):
    return cat.Param(name, "query", typ, "int64" if typ == "integer" else None, None,
                     required, default, minimum, maximum, items)


CHAR = "/characters/{character_id}"
# (method, path, scope, roles, (group, tokens), compat, query params, body, status)
# status: the success status (200 with a body, 201 with the new id(s), 204).
ROUTES = [
    ("POST", "/characters/affiliation", None, (), None, None, [], "ids1000", 200),
    ("POST", CHAR + "/assets/locations", "esi-assets.read_assets.v1", (),
     ("char-asset", 1800), None, [], "ids1000", 200),
    ("POST", CHAR + "/assets/names", "esi-assets.read_assets.v1", (),
     ("char-asset", 1800), None, [], "ids1000", 200),
    ("PUT", CHAR + "/calendar/{event_id}", "esi-calendar.respond_calendar_events.v1", (),
     ("char-social", 600), None, [], "calendar", 204),
    ("DELETE", CHAR + "/contacts", "esi-characters.write_contacts.v1", (),
     ("char-social", 600), None,
     [_q("contact_ids", "array", True, items=INT64)], None, 204),
    ("POST", CHAR + "/contacts", "esi-characters.write_contacts.v1", (),
     ("char-social", 600), None,
     [_q("label_ids", "array", items=INT64), _q("standing", "number", True),
      _q("watched", "boolean")], "contacts", 201),
    ("PUT", CHAR + "/contacts", "esi-characters.write_contacts.v1", (),
     ("char-social", 600), None,
     [_q("label_ids", "array", items=INT64), _q("standing", "number", True),
      _q("watched", "boolean")], "contacts", 204),
    ("POST", CHAR + "/cspa", "esi-characters.read_contacts.v1", (),
     ("char-detail", 600), None, [], "ids100u", 201),
    ("POST", CHAR + "/fittings", "esi-fittings.write_fittings.v1", (),
     ("fitting", 150), None, [], "fitting", 201),
    ("DELETE", CHAR + "/fittings/{fitting_id}", "esi-fittings.write_fittings.v1", (),
     ("fitting", 150), None, [], None, 204),
    ("POST", CHAR + "/mail", "esi-mail.send_mail.v1", (),
     ("char-social", 600), None, [], "mail", 201),
    ("POST", CHAR + "/mail/labels", "esi-mail.organize_mail.v1", (),
     ("char-social", 600), None, [], "mail_label", 201),
    ("DELETE", CHAR + "/mail/labels/{label_id}", "esi-mail.organize_mail.v1", (),
     ("char-social", 600), None, [], None, 204),
    ("DELETE", CHAR + "/mail/{mail_id}", "esi-mail.organize_mail.v1", (),
     ("char-social", 600), None, [], None, 204),
    ("PUT", CHAR + "/mail/{mail_id}", "esi-mail.organize_mail.v1", (),
     ("char-social", 600), None, [], "mail_update", 204),
    ("POST", "/corporations/{corporation_id}/assets/locations",
     "esi-assets.read_corporation_assets.v1", ("Director",), ("corp-asset", 1800), None, [],
     "ids1000", 200),
    ("POST", "/corporations/{corporation_id}/assets/names",
     "esi-assets.read_corporation_assets.v1", ("Director",), ("corp-asset", 1800), None, [],
     "ids1000", 200),
    ("PUT", "/fleets/{fleet_id}", "esi-fleets.write_fleet.v1", (), ("fleet", 1800), None, [],
     "fleet", 204),
    ("POST", "/fleets/{fleet_id}/members", "esi-fleets.write_fleet.v1", (), ("fleet", 1800),
     None, [], "invite", 204),
    ("DELETE", "/fleets/{fleet_id}/members/{member_id}", "esi-fleets.write_fleet.v1", (),
     ("fleet", 1800), None, [], None, 204),
    ("PUT", "/fleets/{fleet_id}/members/{member_id}", "esi-fleets.write_fleet.v1", (),
     ("fleet", 1800), None, [], "move", 204),
    ("DELETE", "/fleets/{fleet_id}/squads/{squad_id}", "esi-fleets.write_fleet.v1", (),
     ("fleet", 1800), None, [], None, 204),
    ("PUT", "/fleets/{fleet_id}/squads/{squad_id}", "esi-fleets.write_fleet.v1", (),
     ("fleet", 1800), None, [], "naming", 204),
    ("POST", "/fleets/{fleet_id}/wings", "esi-fleets.write_fleet.v1", (), ("fleet", 1800),
     None, [], None, 201),
    ("DELETE", "/fleets/{fleet_id}/wings/{wing_id}", "esi-fleets.write_fleet.v1", (),
     ("fleet", 1800), None, [], None, 204),
    ("PUT", "/fleets/{fleet_id}/wings/{wing_id}", "esi-fleets.write_fleet.v1", (),
     ("fleet", 1800), None, [], "naming", 204),
    ("POST", "/fleets/{fleet_id}/wings/{wing_id}/squads", "esi-fleets.write_fleet.v1", (),
     ("fleet", 1800), None, [], None, 201),
    ("POST", "/route/{origin_system_id}/{destination_system_id}", None, (),
     ("routes", 3600), "2025-09-30", [], "route", 200),
    ("POST", "/ui/autopilot/waypoint", "esi-ui.write_waypoint.v1", (), ("ui", 900), None,
     [_q("add_to_beginning", "boolean", True, False),
      _q("clear_other_waypoints", "boolean", True, False),
      _q("destination_id", "integer", True)], None, 204),
    ("POST", "/ui/openwindow/contract", "esi-ui.open_window.v1", (), ("ui", 900), None,
     [_q("contract_id", "integer", True)], None, 204),
    ("POST", "/ui/openwindow/information", "esi-ui.open_window.v1", (), ("ui", 900), None,
     [_q("target_id", "integer", True)], None, 204),
    ("POST", "/ui/openwindow/marketdetails", "esi-ui.open_window.v1", (), ("ui", 900), None,
     [_q("type_id", "integer", True)], None, 204),
    ("POST", "/ui/openwindow/newmail", "esi-ui.open_window.v1", (), ("ui", 900), None, [],
     "newmail", 204),
    ("POST", "/universe/ids", None, (), None, None, [], "names500", 200),
    ("POST", "/universe/names", None, (), None, None, [], "ids1000", 200),
]

# lookups whose replies may be cached (Cache-Control: public, max-age=N; the
# description declares Cache-Control on every one of these replies): a
# route plan for an hour, so that a client can show it caches POST replies
LOOKUP_MAX_AGE = {"/route/{origin_system_id}/{destination_system_id}": 3600}

# query arrays ESI bounds (maxItems of the description)
QUERY_MAX_ITEMS = {"contact_ids": 20, "label_ids": 63}


def build_routes(handlers):
    """[(method, Route)] for the routes above; handlers: (method, path) ->
    handler."""
    out = []
    for method, path, scope, roles, rate, compat, query, body, status in ROUTES:
        params = [cat.Param(seg[1:-1], "path", "integer", "int64", required=True)
                  for seg in path.strip("/").split("/") if seg.startswith("{")]
        r = cat.Route(path, auth="sso" if scope else "public",
                      rate_group=rate[0] if rate else None, rate_tokens=rate[1] if rate else 0,
                      rate_window=900, compat_date=compat or cat.DEFAULT_COMPAT,
                      params=params + list(query), scopes=[scope] if scope else [],
                      roles=roles, handler=handlers[(method, path)])
        r.method, r.body, r.status = method, BODIES.get(body) if body else None, status
        r.lookup_max_age = LOOKUP_MAX_AGE.get(path) if method == "POST" else None
        r.builtin = True
        out.append((method, r))
    return out


# -- request bodies ---------------------------------------------------------------------------

class BodyError(Exception):
    """details: [(location, message, value)]; parse: the body is no JSON."""

    def __init__(self, message, details=(), parse=False):
        super().__init__(message)
        self.details, self.parse = list(details), parse


def parse_body(route, raw):
    """The request body as JSON, checked against the route's schema."""
    if route.body is None:
        return None
    if not raw.strip():
        raise BodyError("Request body is required", [("body", "expected a JSON body", None)])
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise BodyError("Invalid JSON body: %s" % e, parse=True)
    errs = []
    _check(route.body, value, "body", errs)
    if errs:
        raise BodyError("Invalid request body", errs[:20])
    return value


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _check(s, v, loc, errs):
    t = s.get("type")
    if t == "integer":
        if not _is_int(v):
            return errs.append((loc, "expected integer", v))
        if not -2**63 <= v < 2**63:
            return errs.append((loc, "integer out of range for int64", v))
    elif t == "number":
        if not (_is_int(v) or isinstance(v, float)):
            return errs.append((loc, "expected number", v))
    elif t == "boolean":
        if not isinstance(v, bool):
            return errs.append((loc, "expected boolean", v))
    elif t == "string":
        if not isinstance(v, str):
            return errs.append((loc, "expected string", v))
        if "minLength" in s and len(v) < s["minLength"]:
            errs.append((loc, "expected length >= %d" % s["minLength"], v))
        if "maxLength" in s and len(v) > s["maxLength"]:
            errs.append((loc, "expected length <= %d" % s["maxLength"], v))
    elif t == "array":
        if not isinstance(v, list):
            return errs.append((loc, "expected array", v))
        if "minItems" in s and len(v) < s["minItems"]:
            errs.append((loc, "expected array length >= %d" % s["minItems"], len(v)))
        if "maxItems" in s and len(v) > s["maxItems"]:
            errs.append((loc, "expected array length <= %d" % s["maxItems"], len(v)))
        if s.get("uniqueItems"):
            seen = set()
            for i, x in enumerate(v):
                k = json.dumps(x, sort_keys=True)
                if k in seen:
                    errs.append(("%s[%d]" % (loc, i), "expected array items to be unique", x))
                    break
                seen.add(k)
        for i, x in enumerate(v):
            _check(s.get("items") or {}, x, "%s[%d]" % (loc, i), errs)
    elif t == "object":
        if not isinstance(v, dict):
            return errs.append((loc, "expected object", v))
        for k in s.get("required") or ():
            if k not in v:
                errs.append(("%s.%s" % (loc, k), "expected required property %s to be present"
                             % k, None))
        props = s.get("properties") or {}
        for k, x in v.items():
            if k in props:
                _check(props[k], x, "%s.%s" % (loc, k), errs)
    if "enum" in s and v not in s["enum"]:
        errs.append((loc, "expected value to be one of %s" % ", ".join(map(str, s["enum"])), v))
    if t in ("integer", "number"):
        if "minimum" in s and v < s["minimum"]:
            errs.append((loc, "expected number >= %s" % s["minimum"], v))
        if "maximum" in s and v > s["maximum"]:
            errs.append((loc, "expected number <= %s" % s["maximum"], v))


def check_query_arrays(route, args):
    """maxItems/minItems of array query parameters (contact_ids, label_ids)."""
    for name, p in route.params.items():
        if p.type != "array" or name not in args:
            continue
        n = len(args[name])
        top = QUERY_MAX_ITEMS.get(name)
        if top is not None and n > top:
            raise BodyError("Invalid request", [("query.%s" % name,
                                                 "expected array length <= %d" % top, n)])
        if n == 0 and p.required:
            raise BodyError("Invalid request", [("query.%s" % name,
                                                 "expected array length >= 1", n)])


# -- what the simulator knows: ids and names ------------------------------------------------

FACTIONS = {500001: "Caldari State", 500002: "Minmatar Republic", 500003: "Amarr Empire",
            500004: "Gallente Federation", 500005: "Jove Empire", 500006: "CONCORD Assembly",
            500007: "Ammatar Mandate", 500008: "Khanid Kingdom"}
NPC_CORPS = range(1000001, 1000201)
CHARACTER_RANGES = ((90000000, 97999999), (2100000000, 2147483647))
_index_lock = threading.Lock()


def is_character_id(i):
    return any(lo <= i <= hi for lo, hi in CHARACTER_RANGES)


def sso_tables(w):
    """(characters {id: info}, corporations {id: name}, alliances {id: name})."""
    from . import sso as sso_mod
    chars = w.sso.directory() if w.sso is not None else {}
    return chars, dict(sso_mod.CORPORATIONS), dict(sso_mod.ALLIANCES)


def resolve_id(w, i, tables=None):
    """(category, name) of an id, or None.  tables: sso_tables(w), when
    resolving many."""
    u = w.u
    if i in u.regions:
        return "region", u.regions[i].name
    if i in u.constellations:
        return "constellation", u.constellations[i].name
    if i in u.systems:
        return "solar_system", u.systems[i].name
    st = u.stations.get(i)
    if st is not None and not st.structure:
        return "station", st.name
    if i in u.types:
        return "inventory_type", u.types[i].name
    if i in FACTIONS:
        return "faction", FACTIONS[i]
    chars, corps, alliances = tables or sso_tables(w)
    if i in chars:
        return "character", chars[i]["name"]
    if i in corps:
        return "corporation", corps[i]
    if i in alliances:
        return "alliance", alliances[i]
    if i in NPC_CORPS:
        return "corporation", "NPC Corporation %d" % i
    if is_character_id(i):
        return "character", "Pilot %d" % i
    return None


# /universe/ids categories of the resolve_id categories
IDS_CATEGORY = {"region": "regions", "constellation": "constellations",
                "solar_system": "systems", "station": "stations",
                "inventory_type": "inventory_types", "faction": "factions",
                "character": "characters", "corporation": "corporations",
                "alliance": "alliances"}


def _name_index(w):
    idx = getattr(w, "_name_index", None)
    if idx is None:
        with _index_lock:
            idx = {}
            u = w.u
            for group, cat_, attr in ((u.regions, "regions", "name"),
                                      (u.constellations, "constellations", "name"),
                                      (u.systems, "systems", "name"),
                                      (u.types, "inventory_types", "name")):
                for k, o in group.items():
                    idx.setdefault(getattr(o, attr).lower(), []).append((cat_, k, o.name))
            for k, st in u.stations.items():
                if not st.structure:
                    idx.setdefault(st.name.lower(), []).append(("stations", k, st.name))
            for k, n in FACTIONS.items():
                idx.setdefault(n.lower(), []).append(("factions", k, n))
            w._name_index = idx
    return idx


def resolve_name(w, name, tables=None):
    """[(category, id, name)] exactly matching a name (case-insensitive)."""
    low = name.lower()
    out = list(_name_index(w).get(low, ()))
    chars, corps, alliances = tables or sso_tables(w)
    for table, category in ((chars, "characters"), (corps, "corporations"),
                            (alliances, "alliances")):
        for k, v in table.items():
            n = v["name"] if isinstance(v, dict) else v
            if n.lower() == low:
                out.append((category, k, n))
    m = re.fullmatch(r"pilot (\d{1,10})", low)
    if m and is_character_id(int(m.group(1))) and int(m.group(1)) not in chars:
        out.append(("characters", int(m.group(1)), "Pilot %s" % m.group(1)))
    m = re.fullmatch(r"npc corporation (\d{7})", low)
    if m and int(m.group(1)) in NPC_CORPS:
        out.append(("corporations", int(m.group(1)), "NPC Corporation %s" % m.group(1)))
    return out


def affiliation_of(w, cid, tables=None):
    """{character_id, corporation_id, alliance_id?} of a character id, or None."""
    from . import sso as sso_mod
    chars = (tables or sso_tables(w))[0]
    row = chars.get(cid)
    if row is not None:
        rec = {"character_id": cid, "corporation_id": row["corporation_id"]}
        if row["alliance_id"]:
            rec["alliance_id"] = row["alliance_id"]
        return rec
    if is_character_id(cid):
        return {"character_id": cid, "corporation_id": sso_mod.OTHER_CORPORATION}
    return None


def cspa_charge(cid):
    """A character's CSPA charge: none for the roster (and most pilots)."""
    from . import sso as sso_mod
    if cid in {r[0] for r in sso_mod.ROSTER}:
        return 0
    h = hash64("cspa:%d" % cid)
    return 0 if h % 5 else (1 + h // 5 % 10) * 1000000


# -- the lookup handlers --------------------------------------------------------------------

def _fail(status, message, **extra):
    from .routes import Fail
    return Fail(status, message, **extra)


def _json(obj, status=200):
    from .routes import Reply, compact
    from .body import Body
    r = Reply(Body(compact(obj).encode()))
    r.status = status
    return r


def universe_names(w, route, req):
    out, t = [], sso_tables(w)
    for i in req.body:
        hit = resolve_id(w, i, t)
        if hit is None:
            raise _fail(404, "Ensure all IDs are valid before resolving.")
        out.append({"category": hit[0], "id": i, "name": hit[1]})
    return _json(out)


def universe_ids(w, route, req):
    out, t = {}, sso_tables(w)
    for name in req.body:
        for category, i, n in resolve_name(w, name, t):
            lst = out.setdefault(category, [])
            if not any(x["id"] == i for x in lst):
                lst.append({"id": i, "name": n})
    r = _json(out)
    r.language = "en"
    return r


def characters_affiliation(w, route, req):
    t = sso_tables(w)
    out = [a for a in (affiliation_of(w, i, t) for i in req.body) if a is not None]
    if not out:
        raise _fail(404, "No characters found!")
    return _json(out)


def _owned(w, req, corp):
    from . import private
    if corp:
        owner = "corporation:%d" % req.args["corporation_id"]
    else:
        owner = "character:%d" % req.args["character_id"]
    version = w.sso.assets_version(owner)[0] if w.sso is not None else 0
    recs = {r["item_id"]: r for r in private._records(w, owner, version, corp)}
    missing = [i for i in req.body if i not in recs]
    if missing:
        raise _fail(404, "Invalid IDs in the request")
    return [recs[i] for i in req.body]


def asset_name(w, rec):
    from .private import SHIP_TYPES
    if rec["type_id"] in SHIP_TYPES and rec["is_singleton"]:
        t = w.u.types.get(rec["type_id"])
        return "%s %d" % (t.name if t else "Ship", rec["item_id"] % 1000)
    if rec.get("is_blueprint_copy"):
        return "BPC %d" % (rec["item_id"] % 100000)
    return "None"


def _asset_names(w, route, req, corp):
    return _json([{"item_id": r["item_id"], "name": asset_name(w, r)}
                  for r in _owned(w, req, corp)])


def _asset_locations(w, route, req, corp):
    # every simulated item is in a hangar or inside a ship in one
    return _json([{"item_id": r["item_id"], "position": {"x": 0.0, "y": 0.0, "z": 0.0}}
                  for r in _owned(w, req, corp)])


def cspa(w, route, req):
    return _json(float(sum(cspa_charge(i) for i in req.body)), 201)


# -- route planning ---------------------------------------------------------------------------

def gate_graph(w):
    """{system: set(neighbours)} of the k-space systems."""
    g = getattr(w, "_gates", None)
    if g is not None:
        return g
    u = w.u
    g = {}

    def link(a, b):
        g.setdefault(a, set()).add(b)
        g.setdefault(b, set()).add(a)

    heads = []
    for rid in sorted(u.regions):
        r = u.regions[rid]
        const_heads = []
        for cid in r.constellations:
            systems = [s for s in u.constellations[cid].systems if s < 31000000]
            if not systems:
                continue
            for s in systems:
                g.setdefault(s, set())
            for a, b in zip(systems, systems[1:]):
                link(a, b)
            if len(systems) > 3 and hash64("loop:%d" % cid) % 2:
                link(systems[0], systems[-1])
            const_heads.append(systems[0])
        for a, b in zip(const_heads, const_heads[1:]):
            link(a, b)
        if const_heads:
            heads.append(const_heads[0])
    for a, b in zip(heads, heads[1:]):
        link(a, b)
    if len(heads) > 2:
        link(heads[0], heads[-1])
    w._gates = g
    return g


def plan_route(w, origin, dest, body):
    u = w.u
    pref = body.get("preference", "Shorter")
    penalty = body.get("security_penalty", 50)
    avoid = set(body.get("avoid_systems") or ()) - {origin, dest}
    g = gate_graph(w)
    extra = {}
    for c in body.get("connections") or ():
        extra.setdefault(c["from"], set()).add(c["to"])

    def cost(s):
        sec = u.systems[s].security_status if s in u.systems else -1.0
        if pref == "Safer" and sec < 0.45:
            return 1.0 + penalty
        if pref == "LessSecure" and sec >= 0.45:
            return 1.0 + penalty
        return 1.0

    best = {origin: 0.0}
    prev = {}
    heap = [(0.0, origin)]
    while heap:
        d, s = heapq.heappop(heap)
        if s == dest:
            break
        if d > best.get(s, float("inf")):
            continue
        for n in sorted(g.get(s, set()) | extra.get(s, set())):
            if n in avoid or n not in u.systems:
                continue
            nd = d + cost(n)
            if nd < best.get(n, float("inf")):
                best[n], prev[n] = nd, s
                heapq.heappush(heap, (nd, n))
    if dest not in best:
        return None
    path = [dest]
    while path[-1] != origin:
        path.append(prev[path[-1]])
    return path[::-1]


def route_post(w, route, req):
    o, d = req.args["origin_system_id"], req.args["destination_system_id"]
    if o not in w.u.systems or d not in w.u.systems:
        raise _fail(404, "Solar system not found")
    path = plan_route(w, o, d, req.body or {})
    if path is None:
        raise _fail(404, "No route found")
    return _json({"route": path})


HANDLERS = {
    ("POST", "/universe/names"): universe_names,
    ("POST", "/universe/ids"): universe_ids,
    ("POST", "/characters/affiliation"): characters_affiliation,
    ("POST", CHAR + "/assets/names"): lambda w, r, q: _asset_names(w, r, q, False),
    ("POST", CHAR + "/assets/locations"): lambda w, r, q: _asset_locations(w, r, q, False),
    ("POST", "/corporations/{corporation_id}/assets/names"):
        lambda w, r, q: _asset_names(w, r, q, True),
    ("POST", "/corporations/{corporation_id}/assets/locations"):
        lambda w, r, q: _asset_locations(w, r, q, True),
    ("POST", CHAR + "/cspa"): cspa,
    ("POST", "/route/{origin_system_id}/{destination_system_id}"): route_post,
}
