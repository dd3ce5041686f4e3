"""Data of the authenticated routes that depends on the SSO state.

Every other authenticated route is generated from its schema by
routes.generic(), keyed by the request path, so each character (the id is
in the path) has its own deterministic data.  These few agree with what
sim/sso.py knows about the characters:

    /characters/{character_id}            (public) name, corporation and
                                          alliance of a known character
    /characters/{character_id}/roles      the character's roles
    /corporations/{corporation_id}/members   the known members
    /corporations/{corporation_id}/roles     their roles
    /characters/{character_id}/assets     versioned: /_sim/sso/assets_bump
    /corporations/{corporation_id}/assets   makes the next version

Assets: version 0 has 1200 to 2500 items (two or three X-Pages of 1000):
a few ships in station hangars with modules and cargo inside them, and
stacks in the hangars of three to five stations.  Each later version is
the one before with about 3 % of the items gone, 5 % with another
quantity, 2 % moved to another station and 3 % new (new item ids), drawn
from a stream keyed by owner and version, so version N is always the same
list.  A version's Last-Modified is at least the time of its bump.
"""

import json
import threading

from .body import Body, paginate
from .rng import Rng, hash64
from .routes import Fail, Reply, compact, generic

PER_PAGE = 1000
SHIP_TYPES = (587, 24698, 638)
SHIP_FLAGS = ("Cargo", "DroneBay", "HiSlot0", "MedSlot0", "LoSlot0")
_lock = threading.Lock()


def _json_reply(obj):
    return Reply(Body(compact(obj).encode()))


def character_public(w, route, req):
    base = generic(w, route, req)
    info = w.sso.character(req.args["character_id"]) if w.sso is not None else None
    if info is None:
        return base
    obj = json.loads(base.body.raw)
    obj["name"] = info["name"]
    obj["corporation_id"] = info["corporation_id"]
    if info["alliance_id"]:
        obj["alliance_id"] = info["alliance_id"]
    else:
        obj.pop("alliance_id", None)
    return _json_reply(obj)


def character_roles(w, route, req):
    info = w.sso.character(req.args["character_id"]) if w.sso is not None else None
    roles = sorted(info["shown_roles"]) if info else []
    return _json_reply({"roles": roles, "roles_at_base": [], "roles_at_hq": [],
                        "roles_at_other": []})


def corporation_members(w, route, req):
    members = w.sso.members(req.args["corporation_id"]) if w.sso is not None else []
    if not members:
        return generic(w, route, req)
    return _json_reply([cid for cid, _ in members])


def corporation_roles(w, route, req):
    members = w.sso.members(req.args["corporation_id"]) if w.sso is not None else []
    if not members:
        return generic(w, route, req)
    item = w.gen.deref(w.gen.deref(route.response).get("items") or {})
    fields = [k for k in (item.get("properties") or {}) if k != "character_id"]
    out = []
    for cid, roles in members:
        rec = {k: [] for k in fields}
        rec["character_id"] = cid
        rec["roles"] = sorted(roles)
        out.append(rec)
    return _json_reply(out)


# -- assets ---------------------------------------------------------------------------------

def _item(rng, item_id, type_id, loc, loc_type, flag):
    rec = {"is_singleton": False, "item_id": item_id, "location_flag": flag,
           "location_id": loc, "location_type": loc_type, "quantity": rng.between(1, 50000),
           "type_id": type_id}
    if rng.chance(0.02):
        # a blueprint copy: ESI sends the flag only when it is true
        rec.update(is_blueprint_copy=True, is_singleton=True, quantity=1)
    return rec


def _base(w, owner, corp):
    seed = w.u.seed
    rng = Rng("%d:assets:%s" % (seed, owner))
    n = 1200 + rng.below(1301)
    stations = rng.sample(w.gen.station_ids, 3 + rng.below(3))
    hangars = ("CorpSAG1", "CorpSAG2", "CorpSAG3") if corp else ("Hangar",)
    next_id = 1_000_000_000_000 + (hash64("%d:assets-ids:%s" % (seed, owner)) % 40_000) * 1_000_000
    recs, ships = [], []
    for _ in range(3 + rng.below(6)):
        ships.append(next_id)
        recs.append({"is_singleton": True, "item_id": next_id, "location_flag": hangars[0],
                     "location_id": rng.choice(stations), "location_type": "station",
                     "quantity": 1, "type_id": rng.choice(SHIP_TYPES)})
        next_id += 1 + rng.below(3)
    while len(recs) < n:
        tid = rng.choice(w.gen.type_ids)
        if rng.chance(0.2):
            flag = rng.choice(SHIP_FLAGS)
            rec = _item(rng, next_id, tid, rng.choice(ships), "item", flag)
            if flag.endswith("Slot0"):
                rec.update(is_singleton=True, quantity=1)
        else:
            rec = _item(rng, next_id, tid, rng.choice(stations), "station",
                        rng.choice(hangars))
        recs.append(rec)
        next_id += 1 + rng.below(3)
    return recs


def _next_version(w, owner, prev, version):
    rng = Rng("%d:assets:%s:v%d" % (w.u.seed, owner, version))
    ships = {r["item_id"] for r in prev if r["type_id"] in SHIP_TYPES and r["is_singleton"]
             and r["location_type"] == "station"}
    stations = sorted({r["location_id"] for r in prev if r["location_type"] == "station"})
    hangars = sorted({r["location_flag"] for r in prev if r["location_type"] == "station"})
    out = []
    for r in prev:
        if r["item_id"] in ships:
            out.append(r)
            continue
        x = rng.random()
        if x < 0.03:
            continue                                    # gone
        if x < 0.08 and not r["is_singleton"]:
            q = r["quantity"]
            r = dict(r, quantity=max(1, q + rng.between(-(q // 2), 1000)))
        elif x < 0.10 and r["location_type"] == "station" and len(stations) > 1:
            r = dict(r, location_id=rng.choice([s for s in stations if s != r["location_id"]]))
        out.append(r)
    next_id = max(r["item_id"] for r in prev) + 1
    for _ in range(max(1, len(prev) * 3 // 100)):
        out.append(_item(rng, next_id, rng.choice(w.gen.type_ids), rng.choice(stations),
                         "station", rng.choice(hangars)))
        next_id += 1 + rng.below(3)
    return out


def _records(w, owner, version, corp):
    """The item list of an owner's assets at a version (built from the
    nearest version already built)."""
    with _lock:
        lists = w.asset_lists
        v = version
        while v > 0 and (owner, v) not in lists:
            v -= 1
        recs = lists.get((owner, v))
        if recs is None:
            recs = lists[(owner, 0)] = _base(w, owner, corp)
        while v < version:
            v += 1
            recs = lists[(owner, v)] = _next_version(w, owner, recs, v)
        return recs


def _assets(w, route, req, owner, corp):
    version, since = w.sso.assets_version(owner) if w.sso is not None else (0, None)
    key = ("assets", owner, version)
    pages = w._generic.get(key)
    if pages is None:
        recs = _records(w, owner, version, corp)
        pages = w._generic.put(key, paginate([compact(r) for r in recs], PER_PAGE))
    page = req.args.get("page") or 1
    if page > len(pages):
        raise Fail(404, "Requested page does not exist!")
    return Reply(pages[page - 1], len(pages), modified=since)


def character_assets(w, route, req):
    return _assets(w, route, req, "character:%d" % req.args["character_id"], False)


def corporation_assets(w, route, req):
    return _assets(w, route, req, "corporation:%d" % req.args["corporation_id"], True)


HANDLERS = {
    "/characters/{character_id}": character_public,
    "/characters/{character_id}/roles": character_roles,
    "/corporations/{corporation_id}/members": corporation_members,
    "/corporations/{corporation_id}/roles": corporation_roles,
    "/characters/{character_id}/assets": character_assets,
    "/corporations/{corporation_id}/assets": corporation_assets,
}
