"""Data of the right shape for any route, from its response schema.

Used for the public routes that have no hand-built handler.  The values are
deterministic (the caller keys the stream by seed and request path) and
plausible: ids named like *_type_id or solar_system_id point at objects the
simulator knows, dates fall in the weeks before the data day, enums take one
of their values.
"""

import time

from .rng import Rng
from .universe import DATA_EPOCH

_WORDS = ["alpha", "bravo", "capsule", "drifter", "empire", "frigate", "gate", "hauler",
          "isotope", "jump", "kestrel", "loot", "moon", "nebula", "outpost", "pilot",
          "quafe", "relay", "salvage", "titan", "upwell", "vexor", "warp", "xeno", "yield",
          "zealot"]

# Property-name hints -> (lo, hi) for integer ids; looked up by exact name,
# then by suffix.
_ID_RANGES = {
    "character_id": (2112000000, 2119999999),
    "corporation_id": (98000000, 98999999),
    "alliance_id": (99000000, 99999999),
    "faction_id": (500001, 500024),
    "war_id": (1, 750000),
    "killmail_id": (100000000, 130000000),
    "contract_id": (190000000, 230000000),
    "attribute_id": (1, 3000),
    "effect_id": (1, 12000),
    "group_id": (1, 2000),
    "category_id": (1, 100),
    "market_group_id": (1, 3000),
    "graphic_id": (1, 25000),
    "icon_id": (1, 25000),
    "planet_id": (40000000, 41000000),
    "moon_id": (40000000, 41000000),
    "star_id": (40000000, 41000000),
    "stargate_id": (50000000, 50020000),
    "asteroid_belt_id": (40000000, 41000000),
    "item_id": (1000000000000, 1100000000000),
    "race_id": (1, 8),
    "bloodline_id": (1, 14),
    "ancestry_id": (1, 42),
    "schematic_id": (65, 140),
    "structure_id": (1020000000000, 1070000000000),
    "job_id": (1, 900000000),
    "campaign_id": (1, 90000),
    "objective_id": (1, 90000),
}


_CHARACTER_LIKE = {"creator_id", "ceo_id", "issuer_id", "acceptor_id", "assignee_id", "sender_id",
                   "recipient_id", "installer_id", "bidder_id", "from_id", "to_id"}


def item_hint(name):
    """Name hint for the items of an array: 'types' -> 'type_id',
    'character_ids' -> 'character_id', '/alliances' -> 'alliance_id'."""
    if not name:
        return None
    name = name.rsplit("/", 1)[-1].replace("-", "_")
    if name.endswith("_ids"):
        return name[:-1]
    if name.endswith("ies"):
        return name[:-3] + "y_id"
    if name.endswith("s") and not name.endswith("ss"):
        return name[:-1] + "_id"
    return name


def _iso(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _date(epoch):
    return time.strftime("%Y-%m-%d", time.gmtime(epoch))


class SchemaGen:
    """Builds values from JSON schemas (OpenAPI 3.1 subset)."""

    def __init__(self, universe, resolve=None):
        self.u = universe
        self.resolve = resolve or (lambda ref: {})
        self.region_ids = sorted(universe.regions)
        self.constellation_ids = sorted(universe.constellations)
        self.system_ids = sorted(universe.systems)
        self.station_ids = sorted(s for s, st in universe.stations.items() if not st.structure)
        self.type_ids = universe.type_ids

    def value(self, schema, rng, name=None, depth=0, fixed=None, top_array=(3, 20)):
        """A value for schema.  fixed maps property names to forced values
        (path parameters echoed in the object, e.g. group_id)."""
        schema = self.deref(schema)
        if "allOf" in schema:
            merged = {}
            for part in schema["allOf"]:
                part = self.deref(part)
                for k, v in part.items():
                    if k == "properties":
                        merged.setdefault("properties", {}).update(v)
                    elif k == "required":
                        merged.setdefault("required", []).extend(v)
                    else:
                        merged[k] = v
            schema = merged
        for alt in ("oneOf", "anyOf"):
            if alt in schema and schema[alt]:
                return self.value(schema[alt][0], rng, name, depth, fixed)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema and schema["enum"]:
            return rng.choice(schema["enum"])
        typ = schema.get("type")
        if isinstance(typ, list):
            non_null = [t for t in typ if t != "null"]
            typ = non_null[0] if non_null else "null"
        if typ is None:
            typ = ("object" if "properties" in schema else
                   "array" if "items" in schema else "string")
        if typ == "object":
            return self._object(schema, rng, depth, fixed)
        if typ == "array":
            lo, hi = top_array if depth == 0 else (1, 5)
            if depth > 5:
                lo, hi = 0, 1
            n = rng.between(lo, hi)
            items = schema.get("items", {})
            hint = item_hint(name)
            out = [self.value(items, rng, hint, depth + 1) for _ in range(n)]
            if schema.get("uniqueItems") or (name or "").endswith("ids"):
                seen, uniq = set(), []
                for v in out:
                    key = repr(v)
                    if key not in seen:
                        seen.add(key)
                        uniq.append(v)
                out = uniq
            return out
        if typ == "integer":
            return self._integer(schema, rng, name)
        if typ == "number":
            return self._number(schema, rng, name)
        if typ == "boolean":
            return rng.chance(0.5)
        if typ == "null":
            return None
        return self._string(schema, rng, name)

    def fill(self, obj, schema, rng, depth=0):
        """Add the properties schema lists that obj (a hand-built object) lacks."""
        schema = self.deref(schema)
        props = schema.get("properties") or {}
        for key, sub in props.items():
            if key not in obj:
                obj[key] = self.value(sub, rng, key, depth + 1)
        return obj

    # -- helpers ---------------------------------------------------------------------

    def deref(self, schema, _depth=0):
        """The schema behind a $ref (the catalog normally inlines them)."""
        while isinstance(schema, dict) and "$ref" in schema and _depth < 20:
            target = self.resolve(schema["$ref"])
            extra = {k: v for k, v in schema.items() if k != "$ref"}
            schema = dict(target, **extra) if extra else target
            _depth += 1
        return schema if isinstance(schema, dict) else {}

    def _object(self, schema, rng, depth, fixed):
        props = schema.get("properties")
        if not props:
            extra = schema.get("additionalProperties")
            if isinstance(extra, dict) and depth < 5:
                return {"%s_%d" % (rng.choice(_WORDS), k): self.value(extra, rng, None, depth + 1)
                        for k in range(rng.between(1, 4))}
            return {}
        required = set(schema.get("required") or ())
        out = {}
        for key, sub in props.items():
            if fixed and key in fixed:
                out[key] = fixed[key]
            elif key in required or (depth < 6 and rng.chance(0.85)):
                out[key] = self.value(sub, rng, key, depth + 1)
        return out

    def _integer(self, schema, rng, name):
        name = name or ""
        lo = schema.get("minimum")
        hi = schema.get("maximum")
        # OpenAPI 3.1 exclusive bounds are numbers (3.0's were booleans).
        xmin, xmax = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
        if xmin is not None and not isinstance(xmin, bool):
            lo = xmin + 1
        if xmax is not None and not isinstance(xmax, bool):
            hi = xmax - 1
        known = self._known_id(rng, name)
        if known is not None and lo is None and hi is None:
            return known
        int32 = schema.get("format") == "int32"
        if name in _ID_RANGES:
            dlo, dhi = _ID_RANGES[name]
        else:
            suffix = next((k for k in _ID_RANGES if name.endswith("_" + k)), None)
            if suffix:
                dlo, dhi = _ID_RANGES[suffix]
            elif name in _CHARACTER_LIKE:
                dlo, dhi = _ID_RANGES["character_id"]
            elif name.endswith("_id") or name == "id":
                dlo, dhi = (1, 2000000000) if int32 else (1, 9000000000)
            elif "count" in name or "quantity" in name or "amount" in name:
                dlo, dhi = 0, 5000
            elif "year" in name:
                dlo, dhi = 2003, 2026
            else:
                dlo, dhi = 0, 10000
        lo = dlo if lo is None else lo
        hi = dhi if hi is None else hi
        if int32:
            hi = min(hi, 2147483647)
        if hi < lo:
            hi = lo
        return rng.between(int(lo), int(hi))

    def _known_id(self, rng, name):
        if name == "type_id" or name.endswith("_type_id"):
            return rng.choice(self.type_ids)
        if name == "region_id":
            return rng.choice(self.region_ids)
        if name == "constellation_id":
            return rng.choice(self.constellation_ids)
        if name in ("system_id", "solar_system_id") or name.endswith("_system_id"):
            return rng.choice(self.system_ids)
        if name in ("station_id", "location_id") or name.endswith("_station_id") \
                or name.endswith("_location_id"):
            return rng.choice(self.station_ids)
        return None

    def _number(self, schema, rng, name):
        name = name or ""
        lo = schema.get("minimum")
        hi = schema.get("maximum")
        if "security" in name:
            dlo, dhi = -1.0, 1.0
        elif any(k in name for k in ("percent", "efficiency", "index", "rate", "tax",
                                      "ratio", "progress", "bonus", "take")):
            dlo, dhi = 0.0, 1.0
        elif name in ("x", "y", "z"):
            dlo, dhi = -1e12, 1e12
        elif "price" in name or "isk" in name or "amount" in name or "cost" in name \
                or "balance" in name or "reward" in name or "collateral" in name:
            dlo, dhi = 1.0, 1e9
        else:
            dlo, dhi = 0.0, 100000.0
        lo = dlo if lo is None else lo
        hi = dhi if hi is None else hi
        v = rng.uniform(lo, hi)
        # Two decimals keep the text short and exact through float8.
        return round(v, 2) if abs(v) >= 0.01 else round(v, 6)

    def _string(self, schema, rng, name):
        name = name or ""
        fmt = schema.get("format")
        if fmt == "date-time":
            return _iso(DATA_EPOCH - rng.below(90 * 86400))
        if fmt == "date":
            return _date(DATA_EPOCH - rng.below(400) * 86400)
        if fmt == "uuid":
            h = "%016x%016x" % (rng.u64(), rng.u64())
            return "%s-%s-4%s-a%s-%s" % (h[:8], h[8:12], h[13:16], h[17:20], h[20:32])
        if fmt in ("uri", "url") or name.endswith("url") or name.startswith("px"):
            return "https://images.example.invalid/%s/%d.png" % (name or "x", rng.below(100000))
        if "ticker" in name:
            return "".join(chr(65 + rng.below(26)) for _ in range(rng.between(3, 5)))
        if name == "name" or name.endswith("_name") or name == "title":
            n = " ".join(rng.choice(_WORDS).capitalize() for _ in range(rng.between(1, 3)))
        elif "hash" in name:
            n = "%016x%016x%08x" % (rng.u64(), rng.u64(), rng.u64() & 0xFFFFFFFF)
        elif "description" in name or "text" in name or "body" in name or "message" in name:
            n = " ".join(rng.choice(_WORDS) for _ in range(rng.between(5, 16))).capitalize() + "."
        else:
            n = "%s-%s" % (rng.choice(_WORDS), rng.choice(_WORDS))
        maxlen = schema.get("maxLength")
        if isinstance(maxlen, int) and maxlen > 0:
            n = n[:maxlen]
        return n


def make_rng(seed, label):
    return Rng("%d:generic:%s" % (seed, label))
