#!/usr/bin/env python3
"""Generate esi_fdw's route catalog from ESI's OpenAPI description.

Usage:
    python3 src/catalog/gen_catalog.py /path/to/openapi.json [--out-dir DIR]

Reads ESI's OpenAPI 3.1 description and writes, under DIR (default: the
repository root, found from this script's location):

    src/catalog/esi_catalog_data.c   the catalog compiled into esi_fdw
                             (matches src/catalog/esi_catalog.h)
    test/sim_catalog.json    routes, parameters and response schemas for the
                             ESI simulator used by the tests
    doc/tables.md            the list of foreign tables and functions, and
                             the rules used
    src/sql/calls.sql        CREATE OR REPLACE FUNCTION for every route that
                             is not GET: a source of the SQL scripts of the
                             current version (src/sql/build.sh builds them)

The SQL scripts of a released version are frozen: when the version in
DIR's esi_fdw.control (else this repository's) is listed in
src/sql/released, nothing is written and the run fails (set the next
version in esi_fdw.control first).

Every GET operation becomes one foreign table; every POST, PUT and DELETE
operation one SQL function.  The output holds facts only
(routes, parameters, fields, types, scopes, roles, paging, cache time,
rate-limit group), never description prose, and is byte-identical when run
again on the same input.

Getting a newer description:
    curl -H 'X-Compatibility-Date: 2026-08-04' \\
         -o openapi.json https://esi.evetech.net/meta/openapi.json
The date selects the version; the list of valid dates is served at
https://esi.evetech.net/meta/compatibility-dates (newest first).  Without
the header ESI serves the oldest version (2020-01-01).

Python 3.11 standard library only.
"""

import argparse
import json
import re
import sys
from pathlib import Path

# --------------------------------------------------------------------------
# Rules and override tables
# --------------------------------------------------------------------------

# Query parameters that drive paging; they never become columns.
PAGING_PARAMS = ("page", "before", "after", "limit", "from_id")

# Table names that the naming rule would make ugly, ambiguous or colliding.
TABLE_NAME_OVERRIDES = {
    "/markets/{region_id}/types": "market_region_types",
    "/markets/structures/{structure_id}": "market_structure_orders",
    "/contracts/public/{region_id}": "public_contracts",
    "/contracts/public/bids/{contract_id}": "public_contract_bids",
    "/contracts/public/items/{contract_id}": "public_contract_items",
    "/corporations/npccorps": "npc_corporations",
    "/characters/{character_id}/corporationhistory":
        "character_corporation_history",
    "/corporations/{corporation_id}/alliancehistory":
        "corporation_alliance_history",
    "/corporations/{corporation_id}/membertracking":
        "corporation_member_tracking",
    "/characters/{character_id}/calendar/{event_id}":
        "character_calendar_event_details",
    "/alliances/{alliance_id}/contacts/labels": "alliance_contact_labels",
    "/characters/{character_id}/contacts/labels": "character_contact_labels",
    "/corporations/{corporation_id}/contacts/labels":
        "corporation_contact_labels",
    "/corporations/{corporation_id}/containers/logs":
        "corporation_container_logs",
    "/characters/{character_id}/military-campaigns/objectives":
        "character_military_campaign_objectives",
    "/characters/{character_id}/military-campaigns/objectives/{objective_id}":
        "character_military_campaign_objective_details",
    "/characters/{character_id}/structures/mercenary-dens":
        "character_mercenary_dens",
    "/characters/{character_id}/structures/mercenary-dens/{mercenary_den_id}":
        "character_mercenary_den_details",
    "/corporations/{corporation_id}/structures/skyhooks":
        "corporation_skyhooks",
    "/corporations/{corporation_id}/structures/skyhooks/{skyhook_id}":
        "corporation_skyhook_details",
    "/corporations/{corporation_id}/structures/sovereignty-hubs":
        "corporation_sovereignty_hubs",
    "/corporations/{corporation_id}/structures/sovereignty-hubs/"
    "{sovereignty_hub_id}": "corporation_sovereignty_hub_details",
    "/skyhooks/raidable": "raidable_skyhooks",
    # a ledger of mining records, not details of the observer
    "/corporation/{corporation_id}/mining/observers/{observer_id}":
        "corporation_mining_observer_ledger",
}

# Column name of `values` / `value` shaped routes where the rule (singular of
# the last static path segment + "_id") does not fit.
VALUE_COLUMN_OVERRIDES = {
    "/characters/{character_id}/implants": "type_id",
    "/characters/{character_id}/wallet": "balance",
    "/corporations/npccorps": "corporation_id",
    "/corporations/{corporation_id}/members": "character_id",
    "/corporations/{corporation_id}/members/limit": "member_limit",
    "/markets/groups": "market_group_id",
}

# Response fields whose JSON key would make a bad or ambiguous column name:
# (path, json key) -> column name.  A field that has the name of a request
# parameter but another meaning must be renamed, or a qual on the column
# would be sent as the parameter.
FIELD_RENAMES = {
    # the attendee, not the calendar owner of the path
    ("/characters/{character_id}/calendar/{event_id}/attendees",
     "character_id"): "attendee_id",
    # "from" is an SQL reserved word; it holds the sender's id
    ("/characters/{character_id}/mail", "from"): "from_id",
    ("/characters/{character_id}/mail/{mail_id}", "from"): "from_id",
    # the mail's own label ids; the query parameter "labels" is a filter
    ("/characters/{character_id}/mail", "labels"): "label_ids",
    # the project's state; the query parameter "state" (All/Active) is a
    # filter
    ("/corporations/{corporation_id}/projects", "state"): "project_state",
}

# Words the singularizer must leave alone.
SINGULAR_EXCEPTIONS = {
    "status": "status",
    "alliances": "alliance",
    "series": "series",
}

# Tag of the operation -> IMPORT FOREIGN SCHEMA groups.
TAG_GROUPS = {
    "Access List": ["access_lists"],
    "Activities": ["opportunities"],
    "Alliance": ["alliances"],
    "Assets": ["assets"],
    "Calendar": ["calendar"],
    "Character": ["characters"],
    "Clones": ["clones"],
    "Contacts": ["contacts"],
    "Contracts": ["contracts"],
    "Corporation": ["corporations"],
    "Corporation Projects": ["projects", "opportunities"],
    "Dogma": ["dogma"],
    "Faction Warfare": ["faction_warfare"],
    "Fittings": ["fittings"],
    "Fleets": ["fleets"],
    "Freelance Jobs": ["freelance", "opportunities"],
    "Incursions": ["incursions"],
    "Industry": ["industry"],
    "Insurance": ["insurance"],
    "Killmails": ["killmails"],
    "Location": ["location"],
    "Loyalty": ["loyalty"],
    "Mail": ["mail"],
    "Market": ["markets"],
    "Meta": ["meta"],
    "Military Campaigns": ["military_campaigns", "opportunities"],
    "Planetary Interaction": ["planets"],
    "Routes": ["routes"],
    "Search": ["search"],
    "Skills": ["skills"],
    "Sovereignty": ["sovereignty"],
    "Status": ["status"],
    "Structures": ["structures"],
    "Universe": ["universe"],
    "User Interface": ["ui"],
    "Wallet": ["wallet"],
    "Wars": ["wars"],
}

# First path segment -> group (whose data it is).
FIRST_SEGMENT_GROUPS = {
    "alliances": "alliances",
    "characters": "characters",
    "corporation": "corporations",
    "corporations": "corporations",
    "universe": "universe",
}

# Static path segment anywhere in the route -> extra group.
SEGMENT_GROUPS = {
    "agents_research": ["industry"],
    "blueprints": ["industry"],
    "customs_offices": ["structures"],
    "facilities": ["industry"],
    "killmails": ["killmails"],
    "mining": ["industry"],
    "notifications": ["notifications"],
    "skyhooks": ["structures", "sovereignty"],
    "sovereignty-hubs": ["sovereignty"],
    "standings": ["standings"],
    "starbases": ["structures"],
    "structures": ["structures"],
}

# Extra groups for single routes.
ROUTE_GROUPS = {
    "/meta/status": ["status"],
}

# What each group is, for doc/tables.md.
GROUP_DOC = {
    "access_lists": "character access lists",
    "alliances": "everything under /alliances",
    "assets": "character and corporation assets",
    "calendar": "calendar events and attendees",
    "characters": "everything under /characters",
    "clones": "jump clones and implants",
    "contacts": "contacts and contact labels",
    "contracts": "character, corporation and public contracts",
    "corporations": "everything under /corporations (and /corporation)",
    "dogma": "dogma attributes, effects, dynamic items",
    "faction_warfare": "faction warfare stats, systems, leaderboards",
    "fittings": "saved fittings",
    "fleets": "fleets, members, wings",
    "freelance": "freelance jobs",
    "incursions": "incursions",
    "industry": "industry jobs, facilities, systems, blueprints, mining,"
                " research agents",
    "insurance": "insurance prices",
    "killmails": "killmails and recent-killmail lists",
    "location": "location, ship, online status",
    "loyalty": "loyalty points and LP store offers",
    "mail": "mail, mail labels, mailing lists",
    "markets": "market orders, history, prices, groups, order history",
    "meta": "ESI's own metadata (changelog, dates, route status)",
    "military_campaigns": "military campaigns and objectives",
    "notifications": "notifications",
    "opportunities": "freelance jobs, corporation projects, military"
                     " campaigns and other activities",
    "planets": "planetary interaction: colonies, customs offices,"
               " schematics",
    "projects": "corporation projects",
    "routes": "route planning",
    "search": "search",
    "skills": "skills, skill queue, attributes",
    "sovereignty": "sovereignty campaigns, systems, hubs, skyhooks",
    "standings": "character and corporation standings",
    "status": "server and route status",
    "structures": "structures, starbases, skyhooks, customs offices,"
                  " structure markets",
    "ui": "user interface",
    "universe": "static universe data (types, systems, regions, ...)",
    "wallet": "wallets, journals, transactions",
    "wars": "wars and war killmails",
}

# PostgreSQL keywords that cannot be a bare column name.
SQL_RESERVED = frozenset("""
all analyse analyze and any array as asc asymmetric authorization binary both
case cast check collate collation column concurrently constraint create cross
current_catalog current_date current_role current_schema current_time
current_timestamp current_user default deferrable desc distinct do else end
except false fetch for foreign freeze from full grant group having ilike in
initially inner intersect into is isnull join lateral leading left like limit
localtime localtimestamp natural not notnull null offset on only or order
outer overlaps placing primary references returning right select
session_user similar some symmetric system_user table tablesample then to
trailing true union unique user using variadic verbose when where window with
""".split())

IDENT_RE = re.compile(r"^[a-z_][a-z0-9_]*$")

# Keys kept in the simulator's copy of the schemas (structure, no prose).
SIM_SCHEMA_KEYS = ("type", "format", "enum", "items", "properties",
                   "required", "default", "minimum", "maximum", "maxItems",
                   "minItems", "oneOf", "anyOf", "additionalProperties")

# Schema keywords whose meaning the catalog cannot carry: the generator
# fails on them instead of dropping them silently.
UNREADABLE_SCHEMA_KEYS = ("not", "if", "then", "else", "$dynamicRef",
                          "prefixItems", "patternProperties")

# Parameter serializations esi_fdw sends: a path parameter as the plain
# value (style simple), a query parameter as name=value (style form).  An
# array query parameter goes out as one comma-separated value, ESI's form
# (explode false, which ESI also assumes when explode is not stated).
PARAM_STYLES = {"path": ("simple",), "query": ("form",)}

COL_TYPE_NAMES = {
    "ESI_COL_INT4": "integer",
    "ESI_COL_INT8": "bigint",
    "ESI_COL_FLOAT8": "double precision",
    "ESI_COL_TEXT": "text",
    "ESI_COL_TIMESTAMPTZ": "timestamptz",
    "ESI_COL_DATE": "date",
    "ESI_COL_BOOL": "boolean",
    "ESI_COL_JSONB": "jsonb",
}


class GenError(Exception):
    pass


# --------------------------------------------------------------------------
# Schema helpers
# --------------------------------------------------------------------------

class Spec:
    def __init__(self, doc):
        self.doc = doc
        self.components = doc.get("components", {})

    def deref(self, node, seen=()):
        """Follow $ref chains of one node (not recursive)."""
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if not isinstance(ref, str):
                raise GenError("$ref %r is not a string" % (ref,))
            if ref in seen:
                raise GenError("reference cycle at %s" % ref)
            seen = seen + (ref,)
            if not ref.startswith("#/"):
                raise GenError("external reference %s" % ref)
            target = self.doc
            for part in ref[2:].split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                if not isinstance(target, dict) or part not in target:
                    raise GenError("unresolvable $ref %s" % ref)
                target = target[part]
            # sibling keys next to $ref (3.1) override nothing structural
            # here; keep the target
            node = target
        return node

    def resolve(self, node, stack=()):
        """Fully resolve a schema, keeping only structural keys.

        What the catalog cannot represent faithfully is an error rather
        than a guess: a type list other than [T, "null"], oneOf/anyOf
        whose alternatives are not all objects (those become jsonb),
        allOf parts that do not merge, and "not"."""
        if isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if ref in stack:
                # recursive schema: stop here
                return {"type": "object"}
            return self.resolve(self.deref(node), stack + (ref,))
        if not isinstance(node, dict):
            return node
        if "allOf" in node:
            node = self.merge_all_of(node, stack)
        for key in UNREADABLE_SCHEMA_KEYS:
            if key in node:
                raise GenError("schema keyword %r is not supported" % key)
        t = node.get("type")
        if isinstance(t, list):
            rest = [x for x in t if x != "null"]
            if len(rest) != 1:
                raise GenError("multi-type schema %s (only [T, \"null\"]"
                               " is supported)" % json.dumps(t))
        out = {}
        for key in SIM_SCHEMA_KEYS:
            if key not in node:
                continue
            val = node[key]
            if key == "properties":
                out[key] = {k: self.resolve(v, stack) for k, v in val.items()}
            elif key in ("items", "additionalProperties"):
                out[key] = (self.resolve(val, stack)
                            if isinstance(val, dict) else val)
            elif key in ("oneOf", "anyOf"):
                alts = [self.resolve(v, stack) for v in val]
                kinds = sorted({str(schema_type(a)) for a in alts})
                if kinds != ["object"]:
                    raise GenError("%s with alternatives of JSON types %s"
                                   " (only alternatives that are all"
                                   " objects are supported: they become"
                                   " jsonb)" % (key, ", ".join(kinds)))
                out[key] = alts
            else:
                out[key] = val
        return out

    def merge_all_of(self, node, stack):
        """One schema from allOf: the union of the parts' properties and
        required lists; every other structural key must agree."""
        merged = {k: v for k, v in node.items() if k != "allOf"}
        parts = node["allOf"]
        if not isinstance(parts, list) or not parts:
            raise GenError("allOf is not a non-empty list")
        for part in parts:
            part = self.resolve(part, stack)
            for key, val in part.items():
                if key == "properties":
                    props = merged.setdefault("properties", {})
                    for name, sub in val.items():
                        if name in props and \
                                self.resolve(props[name], stack) != sub:
                            raise GenError("allOf parts define property"
                                           " %r differently" % name)
                        props[name] = sub
                elif key == "required":
                    req = merged.setdefault("required", [])
                    req.extend(x for x in val if x not in req)
                elif key in ("oneOf", "anyOf"):
                    raise GenError("allOf part with %s cannot be merged"
                                   % key)
                elif key in merged and merged[key] != val:
                    raise GenError("allOf parts disagree on %r (%s, %s)"
                                   % (key, json.dumps(merged[key]),
                                      json.dumps(val)))
                else:
                    merged[key] = val
        return merged


def schema_type(schema):
    """The JSON type of a resolved schema, ignoring a "null" alternative."""
    t = schema.get("type")
    if isinstance(t, list):
        rest = [x for x in t if x != "null"]
        t = rest[0] if len(rest) == 1 else None
    if t is None:
        if "properties" in schema or "oneOf" in schema or \
                "anyOf" in schema or "additionalProperties" in schema:
            return "object"
        if "items" in schema:
            return "array"
    return t


def col_type(schema, is_param=False):
    t = schema_type(schema)
    fmt = schema.get("format")
    if t == "integer":
        return "ESI_COL_INT4" if fmt == "int32" else "ESI_COL_INT8"
    if t == "number":
        return "ESI_COL_FLOAT8"
    if t == "boolean":
        return "ESI_COL_BOOL"
    if t == "string":
        if fmt == "date-time":
            return "ESI_COL_TIMESTAMPTZ"
        if fmt == "date":
            return "ESI_COL_DATE"
        return "ESI_COL_TEXT"
    if is_param:
        # arrays (lists of ids, categories) are sent as a comma list
        return "ESI_COL_TEXT"
    return "ESI_COL_JSONB"


def default_str(value):
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


# --------------------------------------------------------------------------
# Naming
# --------------------------------------------------------------------------

def singular(word):
    """Singular of one path segment word ("types" -> "type")."""
    if "-" in word or "_" in word:
        parts = re.split(r"([-_])", word)
        parts[-1] = singular(parts[-1])
        return "".join(parts)
    if word in SINGULAR_EXCEPTIONS:
        return SINGULAR_EXCEPTIONS[word]
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("ss") or word.endswith("us"):
        return word
    if word.endswith("s") and len(word) > 2:
        return word[:-1]
    return word


def is_param_segment(seg):
    return seg.startswith("{") and seg.endswith("}")


def snake(word):
    return word.replace("-", "_").lower()


def rule_table_name(path):
    """Apply the naming rule (without the override table)."""
    segs = [s for s in path.strip("/").split("/") if s]
    static_idx = [i for i, s in enumerate(segs) if not is_param_segment(s)]
    words = []
    for n, i in enumerate(static_idx):
        seg = segs[i]
        followed_by_param = i + 1 < len(segs) and is_param_segment(segs[i + 1])
        first_with_more = n == 0 and len(static_idx) > 1
        if followed_by_param or first_with_more:
            seg = singular(seg)
        words.append(snake(seg))
    name = "_".join(words)
    if segs and is_param_segment(segs[-1]):
        name += "_details"
    return name


def value_column_name(path, item_schema):
    if path in VALUE_COLUMN_OVERRIDES:
        return VALUE_COLUMN_OVERRIDES[path]
    statics = [s for s in path.strip("/").split("/")
               if s and not is_param_segment(s)]
    if schema_type(item_schema) == "integer" and statics:
        return snake(singular(statics[-1])) + "_id"
    return "value"


def path_params_order(path):
    return [s[1:-1] for s in path.strip("/").split("/") if is_param_segment(s)]


def declared_params(spec, path, op):
    """An operation's path and query parameters by (in, name) (path-level
    ones first, operation-level ones override), and their keys in request
    order: path parameters as they stand in the path, then query ones as
    declared."""
    params = {}
    order = []
    for src in (spec.doc["paths"][path].get("parameters") or [],
                op.get("parameters") or []):
        for p in src:
            p = spec.deref(p)
            if p.get("in") not in ("path", "query"):
                continue
            key = (p["in"], p["name"])
            if key not in params:
                order.append(key)
            params[key] = p
    pp = path_params_order(path)
    for name in pp:
        if ("path", name) not in params:
            raise GenError("%s: path parameter %s not declared" % (path, name))
    return params, [("path", n) for n in pp] + [k for k in order if k[0] == "query"]


# --------------------------------------------------------------------------
# Route analysis
# --------------------------------------------------------------------------

def build_route(spec, path, op, notes):
    r = {"path": path}
    r["operation_id"] = op.get("operationId")
    if not r["operation_id"]:
        raise GenError("%s: no operationId" % path)

    # auth: the operation's security, else the description's default
    sec = op.get("security")
    if sec is None:
        sec = spec.doc.get("security")
    sec = sec or []
    scopes = []
    for req in sec:
        if not req:
            # {} among the alternatives: a token is optional, and a table
            # cannot be both public and authenticated
            raise GenError("%s: optional authentication (an empty security"
                           " alternative) is not supported" % path)
        for _scheme, sc in sorted(req.items()):
            scopes.extend(sc)
    if len(sec) > 1:
        raise GenError("%s: %d alternative security requirements are not"
                       " supported" % (path, len(sec)))
    if len(scopes) > 1:
        raise GenError("%s: more than one scope %r" % (path, scopes))
    r["scope"] = scopes[0] if scopes else None
    roles = op.get("x-required-roles") or []
    r["roles"] = list(roles)

    ttl = op.get("x-client-cache-ttl")
    r["cache_seconds"] = int(ttl) if ttl is not None else None
    rl = op.get("x-rate-limit")
    if rl:
        r["rate_group"] = rl.get("group")
        r["rate_tokens"] = int(rl.get("max-tokens", 0))
        r["rate_window"] = rl.get("window-size")
    else:
        r["rate_group"] = None
        r["rate_tokens"] = 0
        r["rate_window"] = None
    r["compat_date"] = op.get("x-compatibility-date")
    r["tags"] = list(op.get("tags") or [])

    params, ordered = declared_params(spec, path, op)
    plist = []
    for key in ordered:
        p = params[key]
        if "content" in p or "schema" not in p:
            raise GenError("%s: parameter %s has no schema (content-typed"
                           " parameters are not supported)"
                           % (path, p["name"]))
        schema = spec.resolve(p["schema"])
        check_param_style(path, p, schema)
        plist.append({
            "name": p["name"],
            "in": p["in"],
            "required": True if p["in"] == "path"
            else bool(p.get("required", False)),
            "schema": schema,
        })
    r["params"] = plist
    qnames = {p["name"] for p in plist if p["in"] == "query"}

    if "page" in qnames:
        r["paging"] = "pages"
    elif "before" in qnames or "after" in qnames:
        r["paging"] = "cursor"
    elif "from_id" in qnames:
        r["paging"] = "from_id"
    else:
        r["paging"] = "none"

    # response
    resp = spec.deref(op.get("responses", {}).get("200", {}))
    content = resp.get("content", {})
    media = content.get("application/json")
    if media is None or "schema" not in media:
        raise GenError("%s: no application/json 200 response" % path)
    rschema = spec.resolve(media["schema"])
    r["response"] = rschema

    rt = schema_type(rschema)
    records_key = None
    if r["paging"] == "cursor":
        if rt != "object":
            raise GenError("%s: cursor route without an envelope" % path)
        keys = [k for k, v in rschema.get("properties", {}).items()
                if k != "cursor" and schema_type(v) == "array"]
        if len(keys) != 1:
            raise GenError("%s: cannot find the record array" % path)
        records_key = keys[0]
        rec = rschema["properties"][records_key].get("items", {})
        shape = "array"
    elif rt == "array":
        rec = rschema.get("items", {})
        shape = "array" if schema_type(rec) == "object" else "values"
    elif rt == "object":
        props = rschema.get("properties", {})
        only = list(props.items())
        if len(only) == 1 and schema_type(only[0][1]) == "array" and \
                schema_type(only[0][1].get("items", {})) == "object" and \
                "additionalProperties" not in rschema:
            # a list wrapped in a one-member object: one row per element
            records_key = only[0][0]
            rec = only[0][1].get("items", {})
            shape = "array"
        else:
            rec = rschema
            shape = "object"
    elif rt in ("integer", "number", "string", "boolean"):
        rec = rschema
        shape = "value"
    else:
        raise GenError("%s: unsupported response type %r" % (path, rt))
    for where, sch in (("reply", rschema), ("record", rec)):
        for key in ("oneOf", "anyOf"):
            if key in sch:
                raise GenError("%s: %s of the %s: the columns of its"
                               " records cannot be known" % (path, key, where))
    r["shape"] = shape
    r["records_key"] = records_key

    # columns
    cols = []
    byname = {}
    for p in plist:
        if p["in"] == "query" and p["name"] in PAGING_PARAMS:
            continue
        name = p["name"].lower()
        if not IDENT_RE.match(name) or name in SQL_RESERVED:
            raise GenError("%s: parameter %s needs an SQL name"
                           % (path, p["name"]))
        t = col_type(p["schema"], is_param=True)
        if schema_type(p["schema"]) == "array":
            notes.append(("array-param", path, name))
        c = {
            "name": name,
            "type": t,
            "param_in": "p" if p["in"] == "path" else "q",
            "param_name": p["name"] if p["name"] != name else None,
            "param_required": p["required"],
            "param_default": default_str(p["schema"].get("default")),
            "true_value": None,
            "false_value": None,
            "field": None,
        }
        cols.append(c)
        byname[name] = c

    if shape in ("values", "value"):
        name = value_column_name(path, rec)
        if name in byname:
            raise GenError("%s: value column %s clashes with a parameter"
                           % (path, name))
        c = {"name": name, "type": col_type(rec), "param_in": None,
             "param_name": None, "param_required": False,
             "param_default": None, "true_value": None, "false_value": None,
             "field": name}
        cols.append(c)
        byname[name] = c
    else:
        for key, fs in rec.get("properties", {}).items():
            name = FIELD_RENAMES.get((path, key), key.lower())
            if name != key.lower():
                notes.append(("renamed", path, key, name))
            if not IDENT_RE.match(name) or name in SQL_RESERVED:
                fixed = re.sub(r"[^a-z0-9_]", "_", name)
                if not re.match(r"^[a-z_]", fixed):
                    fixed = "_" + fixed
                if fixed in SQL_RESERVED:
                    fixed += "_field"
                notes.append(("renamed", path, key, fixed))
                name = fixed
            t = col_type(fs)
            if name in byname:
                c = byname[name]
                if c["field"] is not None:
                    raise GenError("%s: duplicate column %s" % (path, name))
                if c["type"] != t:
                    raise GenError("%s: parameter and field %s differ in"
                                   " type (%s, %s); add a FIELD_RENAMES"
                                   " entry" % (path, name, c["type"], t))
                c["field"] = key
                notes.append(("merged", path, name))
                continue
            c = {"name": name, "type": t, "param_in": None,
                 "param_name": None, "param_required": False,
                 "param_default": None, "true_value": None,
                 "false_value": None, "field": key}
            cols.append(c)
            byname[name] = c

    # order_type on regional market orders: is_buy_order true/false is
    # sent as order_type=buy/sell
    if path == "/markets/{region_id}/orders":
        c = byname.get("is_buy_order")
        if c is None or c["type"] != "ESI_COL_BOOL" or \
                "order_type" not in byname:
            raise GenError("%s: expected is_buy_order and order_type" % path)
        c["param_in"] = "q"
        c["param_name"] = "order_type"
        c["param_required"] = False
        c["param_default"] = None
        c["true_value"] = "buy"
        c["false_value"] = "sell"

    # an authenticated route about neither a character nor a corporation
    # (a fleet's, an alliance's, a structure's): whose token is sent
    pp = [p["name"] for p in plist if p["in"] == "path"]
    if r["scope"] and "character_id" not in pp and \
            "corporation_id" not in pp:
        if ACTING_CHARACTER_ARG in byname:
            raise GenError("%s: column %s clashes with a field"
                           % (path, ACTING_CHARACTER_ARG))
        cols.append({"name": ACTING_CHARACTER_ARG, "type": "ESI_COL_INT8",
                     "param_in": "t", "param_name": None,
                     "param_required": False, "param_default": None,
                     "true_value": None, "false_value": None,
                     "field": None})

    r["columns"] = cols
    return r


def route_groups(route):
    groups = set()
    segs = [s for s in route["path"].strip("/").split("/") if s]
    statics = [s for s in segs if not is_param_segment(s)]
    if statics and statics[0] in FIRST_SEGMENT_GROUPS:
        groups.add(FIRST_SEGMENT_GROUPS[statics[0]])
    for tag in route["tags"]:
        if tag in TAG_GROUPS:
            groups.update(TAG_GROUPS[tag])
        else:
            groups.add(re.sub(r"[^a-z0-9]+", "_", tag.lower()).strip("_"))
    for s in statics:
        groups.update(SEGMENT_GROUPS.get(s, []))
    groups.update(ROUTE_GROUPS.get(route["path"], []))
    if not groups:
        groups.add(snake(statics[0]) if statics else "misc")
    return sorted(groups)


def check_param_style(path, p, schema):
    """Fail on a parameter serialization esi_fdw does not send."""
    style = p.get("style")
    if style is not None and style not in PARAM_STYLES[p["in"]]:
        raise GenError("%s: %s parameter %s has style %r; esi_fdw sends"
                       " style %s only" % (path, p["in"], p["name"], style,
                                           PARAM_STYLES[p["in"]][0]))
    if schema_type(schema) == "object":
        raise GenError("%s: parameter %s is an object, which esi_fdw"
                       " cannot send" % (path, p["name"]))
    if schema_type(schema) == "array":
        if p.get("explode") is True:
            raise GenError("%s: array parameter %s has explode true"
                           " (name=a&name=b); esi_fdw sends one"
                           " comma-separated value (explode false)"
                           % (path, p["name"]))
        item = schema.get("items") or {}
        if schema_type(item) not in ("integer", "number", "string",
                                     "boolean"):
            raise GenError("%s: array parameter %s has items of type %s;"
                           " only arrays of scalars can be sent as a"
                           " comma-separated value"
                           % (path, p["name"], schema_type(item)))


# --------------------------------------------------------------------------
# Routes that are not GET: SQL functions
# --------------------------------------------------------------------------

# Methods other than GET that become functions.
CALL_METHODS = ("post", "put", "delete")

# Routes that only read (a lookup): cached like a GET, retried like one,
# and executable by anybody.  Every other route writes: never retried once
# sent, refused in a transaction block unless allowed, EXECUTE revoked from
# PUBLIC.  A new route is a write until listed here.
READ_ONLY_CALLS = {
    ("post", "/characters/affiliation"),
    ("post", "/characters/{character_id}/assets/locations"),
    ("post", "/characters/{character_id}/assets/names"),
    ("post", "/characters/{character_id}/cspa"),
    ("post", "/corporations/{corporation_id}/assets/locations"),
    ("post", "/corporations/{corporation_id}/assets/names"),
    ("post", "/route/{origin_system_id}/{destination_system_id}"),
    ("post", "/universe/ids"),
    ("post", "/universe/names"),
}

# Batched lookups: the reply field that holds an element of the request
# body, so that rows come back in the order of the input and elements ESI
# does not know are found.  The body is split into lists of maxItems.
BATCH_KEYS = {
    "/characters/affiliation": "character_id",
    "/characters/{character_id}/assets/locations": "item_id",
    "/characters/{character_id}/assets/names": "item_id",
    "/corporations/{corporation_id}/assets/locations": "item_id",
    "/corporations/{corporation_id}/assets/names": "item_id",
    "/universe/ids": "name",
    "/universe/names": "id",
}

# Replies that group records of one kind under a key per category
# ({"characters": [{"id", "name"}], "systems": [...]}): a row per record,
# with the category (singular, as /universe/names names it).
CATEGORY_REPLIES = {
    "/universe/ids": {
        "agents": "agent", "alliances": "alliance",
        "characters": "character", "constellations": "constellation",
        "corporations": "corporation", "factions": "faction",
        "inventory_types": "inventory_type", "regions": "region",
        "stations": "station", "systems": "solar_system",
    },
}

# The argument a function takes for a request body that is a list.
BODY_LIST_ARGS = {"integer": "ids", "string": "names"}

# The token of routes without a character_id path parameter (fleets, the
# game client's windows) is chosen by this argument; it is not sent.
ACTING_CHARACTER_ARG = "as_character_id"

SQL_TYPES = dict(COL_TYPE_NAMES)


def rule_function_name(method, path):
    """The table naming rule, without "_details", after the method."""
    name = rule_table_name(path)
    if name.endswith("_details"):
        name = name[:-len("_details")]
    return "%s_%s" % (method, name)


def arg_type(schema):
    """(column type, is_array) of a parameter or body property."""
    if schema_type(schema) == "array":
        item = schema.get("items") or {}
        if schema_type(item) in ("integer", "number", "string", "boolean"):
            return col_type(item), True
        return "ESI_COL_JSONB", False
    return col_type(schema), False


def build_call(spec, path, method, op, notes):
    r = {"path": path, "method": method.upper()}
    r["operation_id"] = op.get("operationId")
    if not r["operation_id"]:
        raise GenError("%s: no operationId" % path)
    sec = op.get("security")
    if sec is None:
        sec = spec.doc.get("security")
    sec = sec or []
    scopes = []
    for req in sec:
        if not req:
            raise GenError("%s: optional authentication is not supported"
                           % path)
        for _scheme, sc in sorted(req.items()):
            scopes.extend(sc)
    if len(sec) > 1 or len(scopes) > 1:
        raise GenError("%s: more than one scope" % path)
    r["scope"] = scopes[0] if scopes else None
    r["roles"] = list(op.get("x-required-roles") or [])
    ttl = op.get("x-client-cache-ttl")
    r["cache_seconds"] = int(ttl) if ttl is not None else None
    rl = op.get("x-rate-limit")
    r["rate_group"] = rl.get("group") if rl else None
    r["rate_tokens"] = int(rl.get("max-tokens", 0)) if rl else 0
    r["rate_window"] = rl.get("window-size") if rl else None
    r["compat_date"] = op.get("x-compatibility-date")
    r["tags"] = list(op.get("tags") or [])
    r["writes"] = (method, path) not in READ_ONLY_CALLS

    params, ordered = declared_params(spec, path, op)
    pp = [name for where, name in ordered if where == "path"]
    args = []
    for key in ordered:
        p = params[key]
        if "schema" not in p:
            raise GenError("%s: parameter %s has no schema" % (path, p["name"]))
        schema = spec.resolve(p["schema"])
        check_param_style(path, p, schema)
        t, is_arr = arg_type(schema)
        args.append({"name": p["name"].lower(), "type": t, "array": is_arr,
                     "in": "p" if p["in"] == "path" else "q",
                     "key": p["name"],
                     "required": p["in"] == "path" or
                     bool(p.get("required", False)),
                     "default": default_str(schema.get("default"))})

    # the request body: a list (one array argument) or an object (one
    # argument per property; nested ones jsonb)
    r["body"] = None
    r["body_max_items"] = 0
    rb = op.get("requestBody")
    if rb is not None:
        rb = spec.deref(rb)
        media = rb.get("content", {}).get("application/json")
        if media is None or "schema" not in media:
            raise GenError("%s: request body is not application/json" % path)
        bs = spec.resolve(media["schema"])
        bt = schema_type(bs)
        if bt == "array":
            item = bs.get("items") or {}
            it = schema_type(item)
            if it not in BODY_LIST_ARGS:
                raise GenError("%s: body list of %s" % (path, it))
            r["body"] = "list"
            r["body_max_items"] = int(bs.get("maxItems") or 0)
            args.append({"name": BODY_LIST_ARGS[it], "type": col_type(item),
                         "array": True, "in": "B", "key": None,
                         "required": True, "default": None})
        elif bt == "object":
            r["body"] = "object"
            req = set(bs.get("required") or [])
            for key, ps in bs.get("properties", {}).items():
                name = key.lower()
                if not IDENT_RE.match(name) or name in SQL_RESERVED:
                    raise GenError("%s: body property %s needs an SQL name"
                                   % (path, key))
                t, is_arr = arg_type(ps)
                args.append({"name": name, "type": t, "array": is_arr,
                             "in": "b", "key": key,
                             "required": key in req,
                             "default": default_str(ps.get("default"))})
        else:
            raise GenError("%s: request body of type %s" % (path, bt))
    if r["scope"] and "character_id" not in pp and \
            "corporation_id" not in pp:
        args.insert(0, {"name": ACTING_CHARACTER_ARG, "type": "ESI_COL_INT8",
                        "array": False, "in": "c", "key": None,
                        "required": True, "default": None})
    names = [a["name"] for a in args]
    if len(set(names)) != len(names) or "server" in names:
        raise GenError("%s %s: argument names clash: %s"
                       % (method, path, names))
    # required arguments first (SQL wants the defaults last), each group
    # in the description's order
    r["args"] = [a for a in args if a["required"]] + \
                [a for a in args if not a["required"]]

    # the reply
    codes = [c for c in op.get("responses", {}) if c in ("200", "201", "204")]
    if len(codes) != 1:
        raise GenError("%s: expected one success status, got %s"
                       % (path, codes))
    r["status"] = int(codes[0])
    cols = []
    records_key = None
    if r["status"] == 204:
        shape = "none"
    else:
        resp = spec.deref(op["responses"][codes[0]])
        media = resp.get("content", {}).get("application/json")
        if media is None or "schema" not in media:
            raise GenError("%s: no application/json reply" % path)
        rs = spec.resolve(media["schema"])
        rt = schema_type(rs)
        if path in CATEGORY_REPLIES:
            shape = "categories"
            cols = [{"name": "category", "type": "ESI_COL_TEXT",
                     "field": None},
                    {"name": "id", "type": "ESI_COL_INT8", "field": "id"},
                    {"name": "name", "type": "ESI_COL_TEXT",
                     "field": "name"}]
            keys = sorted(rs.get("properties", {}))
            if keys != sorted(CATEGORY_REPLIES[path]):
                raise GenError("%s: categories %s" % (path, keys))
        elif rt == "array" and schema_type(rs.get("items", {})) == "object":
            shape = "array"
            rec = rs["items"]
        elif rt == "array":
            shape = "values"
            cols = [{"name": value_column_name(path, rs.get("items", {})),
                     "type": col_type(rs.get("items", {})), "field": None}]
        elif rt == "object":
            props = rs.get("properties", {})
            only = list(props.items())
            if len(only) == 1 and schema_type(only[0][1]) == "array" and \
                    schema_type(only[0][1].get("items", {})) != "object":
                # {"route": [1, 2, 3]}: a row per element
                shape = "values"
                records_key = only[0][0]
                cols = [{"name": snake(singular(records_key)) + "_id"
                         if schema_type(only[0][1]["items"]) == "integer"
                         else "value",
                         "type": col_type(only[0][1]["items"]),
                         "field": None}]
            else:
                shape = "object"
                rec = rs
        else:
            shape = "value"
            cols = [{"name": "value", "type": col_type(rs), "field": None}]
        if shape in ("array", "object"):
            for key, fs in rec.get("properties", {}).items():
                name = key.lower()
                if not IDENT_RE.match(name) or name in SQL_RESERVED:
                    raise GenError("%s: field %s needs an SQL name"
                                   % (path, key))
                cols.append({"name": name, "type": col_type(fs),
                             "field": key})
    for c in cols:
        if c["name"] in names:
            raise GenError("%s %s: result column %s is also an argument"
                           % (method, path, c["name"]))
    r["shape"] = shape
    r["records_key"] = records_key
    r["columns"] = cols
    r["batch_key"] = BATCH_KEYS.get(path)
    if r["batch_key"] and (r["body"] != "list" or r["writes"] or
                           r["batch_key"] not in [c["name"] for c in cols]):
        raise GenError("%s: batch key %s does not fit" % (path,
                                                           r["batch_key"]))
    return r


def build_catalog(doc):
    spec = Spec(doc)
    version = doc.get("info", {}).get("version")
    if not version:
        raise GenError("info.version missing")
    notes = []
    routes = []
    for path in sorted(doc.get("paths", {})):
        op = doc["paths"][path].get("get")
        if op is None:
            continue
        try:
            routes.append(build_route(spec, path, op, notes))
        except (GenError, KeyError, TypeError, AttributeError) as e:
            # name the route, whatever went wrong deep in its schemas
            msg = str(e) if isinstance(e, GenError) else \
                "malformed description (%s: %s)" % (type(e).__name__, e)
            if not msg.startswith(path + ":"):
                msg = "%s: %s" % (path, msg)
            raise GenError("GET " + msg)

    overridden = []
    for r in routes:
        rule = rule_table_name(r["path"])
        name = TABLE_NAME_OVERRIDES.get(r["path"], rule)
        if name != rule:
            overridden.append((r["path"], rule, name))
        r["rule_name"] = rule
        r["table"] = name
        r["groups"] = route_groups(r)
    for path in TABLE_NAME_OVERRIDES:
        if not any(r["path"] == path for r in routes):
            notes.append(("unused-override", path))

    seen = {}
    for r in routes:
        n = r["table"]
        if not IDENT_RE.match(n) or len(n) > 63 or n in SQL_RESERVED:
            raise GenError("bad table name %r for %s" % (n, r["path"]))
        if n in seen:
            raise GenError("table name %s used by %s and %s (add an"
                           " override)" % (n, seen[n], r["path"]))
        seen[n] = r["path"]
        for c in r["columns"]:
            if len(c["name"]) > 63:
                raise GenError("%s: column name too long" % r["path"])
    calls = []
    for path in sorted(doc.get("paths", {})):
        for method in CALL_METHODS:
            op = doc["paths"][path].get(method)
            if op is None:
                continue
            try:
                calls.append(build_call(spec, path, method, op, notes))
            except (GenError, KeyError, TypeError, AttributeError) as e:
                msg = str(e) if isinstance(e, GenError) else \
                    "malformed description (%s: %s)" % (type(e).__name__, e)
                raise GenError("%s %s: %s" % (method.upper(), path, msg))
    for r in calls:
        r["function"] = rule_function_name(r["method"].lower(), r["path"])
        r["groups"] = route_groups(r)
        n = r["function"]
        if not IDENT_RE.match(n) or len(n) > 63 or n in SQL_RESERVED:
            raise GenError("bad function name %r for %s" % (n, r["path"]))
        if n in seen:
            raise GenError("function name %s used by %s and %s"
                           % (n, seen[n], r["path"]))
        seen[n] = r["path"]
    return {"version": version, "routes": routes, "notes": notes,
            "overridden": overridden, "calls": calls}


# --------------------------------------------------------------------------
# Writers
# --------------------------------------------------------------------------

def c_str(s):
    if s is None:
        return "NULL"
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif 32 <= o < 127:
            out.append(ch)
        else:
            for b in ch.encode("utf-8"):
                out.append("\\%03o" % b)
    out.append('"')
    return "".join(out)


def c_char(ch):
    return "0" if not ch else "'%s'" % ch


def write_c(cat):
    v = cat["version"]
    lines = []
    lines.append("/*" + "-" * 73)
    lines.append(" *")
    lines.append(" * esi_catalog_data.c")
    lines.append(" *\t\t  Catalog of ESI GET routes (see esi_catalog.h).")
    lines.append(" *")
    lines.append(" * GENERATED by src/catalog/gen_catalog.py from ESI's OpenAPI"
                 " description,")
    lines.append(" * version %s.  Do not edit by hand: change the generator"
                 % v)
    lines.append(" * or its input and run it again.")
    lines.append(" *")
    lines.append(" * %d routes." % len(cat["routes"]))
    lines.append(" *")
    lines.append(" *" + "-" * 73)
    lines.append(" */")
    lines.append('#include "postgres.h"')
    lines.append("")
    lines.append('#include "esi_catalog.h"')
    lines.append("")
    for r in cat["routes"]:
        if not r["columns"]:
            continue
        lines.append("/* %s */" % r["path"])
        lines.append("static const EsiCatalogColumn cols_%s[] = {"
                     % r["table"])
        for c in r["columns"]:
            parts = [".name = %s" % c_str(c["name"]),
                     ".type = %s" % c["type"]]
            if c["param_in"]:
                parts.append(".param_in = %s" % c_char(c["param_in"]))
            if c["param_name"]:
                parts.append(".param_name = %s" % c_str(c["param_name"]))
            if c["param_required"]:
                parts.append(".param_required = true")
            if c["param_default"] is not None:
                parts.append(".param_default = %s"
                             % c_str(c["param_default"]))
            if c["true_value"] is not None:
                parts.append(".true_value = %s" % c_str(c["true_value"]))
            if c["false_value"] is not None:
                parts.append(".false_value = %s" % c_str(c["false_value"]))
            if c["field"] is not None:
                parts.append(".field = %s" % c_str(c["field"]))
            lines.append("\t{" + ", ".join(parts) + "},")
        lines.append("};")
        lines.append("")
    lines.append("const EsiCatalogRoute esi_catalog_routes[] = {")
    for r in cat["routes"]:
        n = len(r["columns"])
        lines.append("\t{")
        fields = [
            ("table_name", c_str(r["table"])),
            ("schemas", c_str(",".join(r["groups"]))),
            ("path", c_str(r["path"])),
            ("operation_id", c_str(r["operation_id"])),
            ("shape", c_str(r["shape"])),
            ("paging", c_str(r["paging"])),
            ("records_key", c_str(r["records_key"])),
            ("scope", c_str(r["scope"])),
            ("roles", c_str(",".join(r["roles"]) if r["roles"] else None)),
            ("cache_seconds", str(r["cache_seconds"]
                                  if r["cache_seconds"] is not None else -1)),
            ("rate_group", c_str(r["rate_group"])),
            ("rate_tokens", str(r["rate_tokens"])),
            ("rate_window", c_str(r["rate_window"])),
            ("compat_date", c_str(r["compat_date"])),
            ("ncolumns", str(n)),
            ("columns", "cols_%s" % r["table"] if n else "NULL"),
        ]
        for k, val in fields:
            lines.append("\t\t.%s = %s," % (k, val))
        lines.append("\t},")
    lines.append("};")
    lines.append("")
    lines.append("const int esi_catalog_nroutes = %d;" % len(cat["routes"]))
    lines.append("")
    write_c_calls(cat, lines)
    lines.append("const char *const esi_catalog_version = %s;" % c_str(v))
    return "\n".join(lines) + "\n"


def write_c_calls(cat, lines):
    """The routes that are not GET: esi_catalog_calls[]."""
    lines.append("/* Routes that are not GET: one SQL function each */")
    lines.append("")
    for r in cat["calls"]:
        f = r["function"]
        lines.append("/* %s %s */" % (r["method"], r["path"]))
        if r["args"]:
            lines.append("static const EsiCatalogArg args_%s[] = {" % f)
            for a in r["args"]:
                parts = [".name = %s" % c_str(a["name"]),
                         ".type = %s" % a["type"],
                         ".in = %s" % c_char(a["in"])]
                if a["array"]:
                    parts.append(".is_array = true")
                if a["key"] is not None and a["key"] != a["name"]:
                    parts.append(".key = %s" % c_str(a["key"]))
                if a["required"]:
                    parts.append(".required = true")
                lines.append("\t{" + ", ".join(parts) + "},")
            lines.append("};")
        if r["columns"]:
            lines.append("static const EsiCatalogColumn rcols_%s[] = {" % f)
            for c in r["columns"]:
                parts = [".name = %s" % c_str(c["name"]),
                         ".type = %s" % c["type"]]
                if c["field"] is not None:
                    parts.append(".field = %s" % c_str(c["field"]))
                lines.append("\t{" + ", ".join(parts) + "},")
            lines.append("};")
        lines.append("")
    lines.append("const EsiCatalogCall esi_catalog_calls[] = {")
    for r in cat["calls"]:
        f = r["function"]
        lines.append("\t{")
        fields = [
            ("function_name", c_str(f)),
            ("method", c_str(r["method"])),
            ("schemas", c_str(",".join(r["groups"]))),
            ("path", c_str(r["path"])),
            ("operation_id", c_str(r["operation_id"])),
            ("shape", c_str(r["shape"])),
            ("records_key", c_str(r["records_key"])),
            ("scope", c_str(r["scope"])),
            ("roles", c_str(",".join(r["roles"]) if r["roles"] else None)),
            ("cache_seconds", str(r["cache_seconds"]
                                  if r["cache_seconds"] is not None else -1)),
            ("rate_group", c_str(r["rate_group"])),
            ("rate_tokens", str(r["rate_tokens"])),
            ("rate_window", c_str(r["rate_window"])),
            ("compat_date", c_str(r["compat_date"])),
            ("writes", "true" if r["writes"] else "false"),
            ("status", str(r["status"])),
            ("body", c_str(r["body"])),
            ("body_max_items", str(r["body_max_items"])),
            ("batch_key", c_str(r["batch_key"])),
            ("nargs", str(len(r["args"]))),
            ("args", "args_%s" % f if r["args"] else "NULL"),
            ("ncolumns", str(len(r["columns"]))),
            ("columns", "rcols_%s" % f if r["columns"] else "NULL"),
        ]
        for k, val in fields:
            lines.append("\t\t.%s = %s," % (k, val))
        lines.append("\t},")
    lines.append("};")
    lines.append("")
    lines.append("const int esi_catalog_ncalls = %d;" % len(cat["calls"]))
    lines.append("")


# PostgreSQL's column-name keywords: no bare function argument or
# RETURNS TABLE column may have these names
SQL_COL_NAME_KEYWORDS = frozenset("""
between bigint bit boolean char character coalesce dec decimal exists extract
float greatest grouping inout int integer interval json json_array
json_arrayagg json_object json_objectagg least national nchar none normalize
nullif numeric out overlay position precision real row setof smallint
substring time timestamp treat trim values varchar xmlattributes xmlconcat
xmlelement xmlexists xmlforest xmlnamespaces xmlparse xmlpi xmlroot
xmlserialize xmltable
""".split())


def sql_ident(name):
    if name in SQL_RESERVED or name in SQL_COL_NAME_KEYWORDS:
        return '"%s"' % name
    return name


def sql_arg_type(a):
    t = COL_TYPE_NAMES[a["type"]]
    return t + "[]" if a["array"] else t


# the generated functions: a source of the current version's SQL scripts
CALLS_SQL = Path("src") / "sql" / "calls.sql"
RELEASED = Path("src") / "sql" / "released"


def write_sql(cat):
    """CREATE OR REPLACE FUNCTION for every route that is not GET."""
    L = []
    L.append("-- Generated by src/catalog/gen_catalog.py from ESI's description %s;"
             % cat["version"])
    L.append("-- do not edit by hand.  One function per route that is not"
             " GET, all")
    L.append("-- implemented by esi_call (src/calls/call.c), which finds its route"
             " from the")
    L.append("-- function's name.  Writes: EXECUTE revoked from PUBLIC.")
    for r in cat["calls"]:
        f = r["function"]
        args = []
        for a in r["args"]:
            d = "" if a["required"] else " DEFAULT NULL"
            args.append("%s %s%s" % (sql_ident(a["name"]), sql_arg_type(a),
                                      d))
        args.append("server text DEFAULT 'esi'")
        sig = ", ".join([sql_arg_type(a) for a in r["args"]] + ["text"])
        if r["shape"] == "none":
            ret = "void"
        elif r["shape"] == "value":
            ret = COL_TYPE_NAMES[r["columns"][0]["type"]]
        else:
            ret = "TABLE(%s)" % ", ".join(
                "%s %s" % (sql_ident(c["name"]), COL_TYPE_NAMES[c["type"]])
                for c in r["columns"])
        L.append("")
        L.append("CREATE OR REPLACE FUNCTION %s(%s)" % (f, ", ".join(args)))
        L.append("RETURNS %s" % ret)
        L.append("AS 'MODULE_PATHNAME', 'esi_call'")
        L.append("LANGUAGE C VOLATILE;")
        what = "writes" if r["writes"] else "reads"
        auth = "scope %s" % r["scope"] if r["scope"] else "public"
        if r["roles"]:
            auth += ", roles %s" % ", ".join(r["roles"])
        L.append("COMMENT ON FUNCTION %s(%s) IS '%s %s (%s; %s)';"
                 % (f, sig, r["method"], r["path"], what, auth))
        if r["writes"]:
            L.append("REVOKE EXECUTE ON FUNCTION %s(%s) FROM PUBLIC;"
                     % (f, sig))
    return "\n".join(L) + "\n"


def check_unreleased(root):
    """Fails when the version of the extension at root is released.

    src/sql/calls.sql is part of the current version's SQL scripts; a
    released version's scripts are frozen (src/sql/released lists them).
    """
    control = root / "esi_fdw.control"
    try:
        text = control.read_text(encoding="utf-8")
    except OSError as e:
        raise GenError("cannot read %s: %s" % (control, e))
    m = re.search(r"^default_version = '([^']*)'", text, re.M)
    if not m:
        raise GenError("%s has no default_version" % control)
    version = m.group(1)
    try:
        lines = (root / RELEASED).read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise GenError("cannot read %s: %s" % (root / RELEASED, e))
    released = {l.split()[0] for l in lines
                if l.strip() and not l.startswith("#")}
    if version in released:
        raise GenError(
            "esi_fdw %s (default_version in %s) is released (%s): its SQL"
            " scripts are frozen and %s would change them; set"
            " default_version to the next version and add"
            " src/sql/updates/%s--<next>.sql, then run gen_catalog again"
            % (version, control, root / RELEASED, CALLS_SQL, version))


def write_sim(cat):
    out = {"version": cat["version"], "routes": []}
    for r in cat["routes"]:
        out["routes"].append({
            "path": r["path"],
            "operation_id": r["operation_id"],
            "table": r["table"],
            "auth": "sso" if r["scope"] else "public",
            "scope": r["scope"],
            "roles": r["roles"],
            "paging": r["paging"],
            "records_key": r["records_key"],
            "shape": r["shape"],
            "cache_seconds": r["cache_seconds"],
            "rate_group": r["rate_group"],
            "rate_tokens": r["rate_tokens"],
            "rate_window": r["rate_window"],
            "compat_date": r["compat_date"],
            "params": r["params"],
            "response": r["response"],
        })
    return json.dumps(out, indent=1, sort_keys=True, ensure_ascii=True) + "\n"


def md_escape(s):
    return s.replace("|", "\\|")


def write_doc(cat):
    v = cat["version"]
    routes = cat["routes"]
    L = []
    L.append("# esi_fdw foreign tables")
    L.append("")
    L.append("<!-- Generated by src/catalog/gen_catalog.py; do not edit by hand. -->")
    L.append("")
    L.append("esi_fdw knows every GET route of ESI's OpenAPI description"
             " version **%s**: %d routes, one foreign table each."
             % (v, len(routes)))
    L.append("`IMPORT FOREIGN SCHEMA` creates them; a table made by hand with"
             " the same options behaves the same.")
    L.append("")
    L.append("## How the catalog is generated")
    L.append("")
    L.append("`src/catalog/esi_catalog_data.c` (compiled in), `test/sim_catalog.json`"
             " (for the test simulator) and this file are generated, and"
             " committed, by")
    L.append("")
    L.append("```sh")
    L.append("python3 src/catalog/gen_catalog.py /path/to/openapi.json"
             "   # [--out-dir DIR]")
    L.append("```")
    L.append("")
    L.append("The input is ESI's OpenAPI 3.1 description. A newer one is"
             " served at `https://esi.evetech.net/meta/openapi.json`; send"
             " `X-Compatibility-Date: YYYY-MM-DD` to choose the version (the"
             " valid dates are listed at"
             " `https://esi.evetech.net/meta/compatibility-dates`; without"
             " the header ESI serves the oldest, 2020-01-01):")
    L.append("")
    L.append("```sh")
    L.append("curl -H 'X-Compatibility-Date: %s' -o openapi.json \\" % v)
    L.append("     https://esi.evetech.net/meta/openapi.json")
    L.append("python3 src/catalog/gen_catalog.py openapi.json")
    L.append("```")
    L.append("")
    L.append("The generator uses the Python 3 standard library only, keeps"
             " facts only (no description text), and gives byte-identical"
             " output for the same input. It fails, naming the route, when"
             " a new description breaks a rule below (for example two"
             " routes getting the same table name); extend the override"
             " tables in the script then. It also fails, rather than"
             " guess, on what it cannot read: an unresolvable `$ref`, a"
             " type list other than `[T, \"null\"]`, `oneOf`/`anyOf`"
             " unless all alternatives are objects inside a record (they"
             " become `jsonb`), `allOf` parts that do not merge, optional"
             " or alternative authentication, and parameter"
             " serializations other than ESI's (path `simple`, query"
             " `form`, arrays as one comma-separated value).")
    L.append("")
    L.append("What a route gives:")
    L.append("")
    L.append("- **auth**: the single OAuth2 scope of `security`, or public;"
             " corporation roles from `x-required-roles`.")
    L.append("- **cache**: `x-client-cache-ttl` (-1 when not stated);"
             " **rate limit**: `x-rate-limit` group, tokens and window.")
    L.append("- **paging**: `pages` when the route takes `page` (X-Pages),"
             " `cursor` when it takes `before`/`after`, `from_id` when it"
             " takes `from_id`, else `none`. These parameters never become"
             " columns (nor `limit`); esi_fdw drives them itself. Other id"
             " walks (`from_event`, `last_mail_id`, `max_war_id`) are plain"
             " parameter columns.")
    L.append("- **shape** of the 200 reply: `array` (array of objects: a row"
             " per object), `object` (one row), `values` (array of scalars:"
             " a row per element), `value` (one scalar: one row). Cursor"
             " routes reply `{<records>: [...], \"cursor\": {...}}`; they are"
             " `array` with `records_key` naming the record array. A reply"
             " that is an object with a single member holding an array of"
             " objects (e.g. `/sovereignty/systems`) is treated the same way:"
             " `array` with `records_key`, a row per element.")
    L.append("")
    L.append("## Columns and types")
    L.append("")
    L.append("Columns come in this order: the path parameters (in path"
             " order), the query parameters (in the description's order,"
             " without the paging ones), then the fields of one record in"
             " the description's order. A parameter and a field with the"
             " same name are one column (a qual on it is sent as the"
             " parameter, and the field fills it), e.g. `type_id` of"
             " `market_orders` and of `universe_type_details`.")
    L.append("")
    L.append("Authenticated routes with neither a `character_id` nor a"
             " `corporation_id` path parameter (a fleet's, an alliance's,"
             " a structure's) end with a column `%s bigint OPTIONS (param"
             " 'token')`: `WHERE %s = <id>` says whose token is sent (it"
             " is not sent itself, and the rows carry it). Without that"
             " condition the role's only character with the scope is used;"
             " with several, the scan fails and names them: %s."
             % (ACTING_CHARACTER_ARG, ACTING_CHARACTER_ARG,
                ", ".join("`%s`" % r["table"] for r in routes
                          if any(c["param_in"] == "t"
                                 for c in r["columns"]))))
    L.append("")
    L.append("| OpenAPI | SQL |")
    L.append("|---|---|")
    L.append("| `integer`, format `int32` | `integer` |")
    L.append("| `integer`, format `int64` or no format | `bigint` |")
    L.append("| `number` | `double precision` |")
    L.append("| `string` | `text` |")
    L.append("| `string`, format `date-time` | `timestamptz` |")
    L.append("| `string`, format `date` | `date` |")
    L.append("| `string` with `enum` | `text` |")
    L.append("| `boolean` | `boolean` |")
    L.append("| `object`, `array`, `oneOf` (nested) | `jsonb` |")
    L.append("")
    L.append("Nested objects and arrays are **not flattened**: a field such"
             " as `position` (`{x,y,z}`) or `dogma_attributes` (array) is one"
             " `jsonb` column; use `->`, `->>` and `jsonb_array_elements`.")
    L.append("")
    L.append("Array-typed query parameters are `text` columns, not `jsonb`:"
             " write the list the way ESI takes it in a URL, comma-separated"
             " (`categories = 'region,solar_system'`). They are:")
    L.append("")
    arr = sorted({(n[1], n[2]) for n in cat["notes"]
                  if n[0] == "array-param"})
    tbl = {r["path"]: r["table"] for r in routes}
    for path, name in arr:
        L.append("- `%s.%s` (`%s`)" % (tbl[path], name, path))
    L.append("")
    L.append("Special columns:")
    L.append("")
    L.append("- `market_orders.is_buy_order` is a field and also the query"
             " parameter `order_type`: `is_buy_order = true` sends"
             " `order_type=buy`, `false` sends `order_type=sell`. The"
             " `order_type` column is the parameter itself (default `all`).")
    L.append("- `values`/`value` routes have one column holding the element"
             " or scalar: the singular of the last path segment + `_id` for"
             " integer lists (`universe_types.type_id`,"
             " `universe_regions.region_id`, `market_region_types.type_id`),"
             " else from this table, else `value`:")
    L.append("")
    L.append("| Route | Column |")
    L.append("|---|---|")
    for p in sorted(VALUE_COLUMN_OVERRIDES):
        if p in tbl:
            L.append("| `%s` | `%s` |" % (p, VALUE_COLUMN_OVERRIDES[p]))
    L.append("")
    ren = sorted({(n[1], n[2], n[3]) for n in cat["notes"]
                  if n[0] == "renamed"})
    if ren:
        L.append("- Renamed fields (JSON key kept as the column's `field`):"
                 " a field named like a path parameter but meaning something"
                 " else, or an SQL reserved word:")
        L.append("")
        L.append("| Table | JSON key | Column |")
        L.append("|---|---|---|")
        for path, key, name in ren:
            L.append("| `%s` | `%s` | `%s` |" % (tbl[path], key, name))
        L.append("")
    L.append("## Table names")
    L.append("")
    L.append("Rule: drop the `{param}` segments of the path; singularize the"
             " first segment when more segments follow (`characters` →"
             " `character`, `markets` → `market`) and any segment followed"
             " by a `{param}` (`contracts/{contract_id}/bids` →"
             " `contract_bids`); join with `_` and turn `-` into `_`; a"
             " route ending in a `{param}` gets `_details`"
             " (`/universe/types/{type_id}` → `universe_type_details`,"
             " `/universe/types` → `universe_types`,"
             " `/characters/{character_id}/wallet/journal` →"
             " `character_wallet_journal`).")
    L.append("")
    L.append("Overrides, where the rule reads badly or is misleading:")
    L.append("")
    L.append("| Route | Rule gives | Table |")
    L.append("|---|---|---|")
    for path, rule, name in sorted(cat["overridden"]):
        L.append("| `%s` | `%s` | `%s` |" % (path, rule, name))
    L.append("")
    L.append("## IMPORT FOREIGN SCHEMA groups")
    L.append("")
    L.append("`IMPORT FOREIGN SCHEMA <group> FROM SERVER ... INTO ...`"
             " imports the tables of a group; `all` imports every table."
             " A table is in the group of whose data it is (`characters`,"
             " `corporations`, `alliances`, `universe`), in the groups of"
             " its ESI tag (`Market` → `markets`, `Planetary Interaction` →"
             " `planets`, ...), and in topic groups found from its path"
             " (`blueprints`, `mining` → `industry`; `structures` →"
             " `structures`; ...).")
    L.append("")
    counts = {}
    for r in routes:
        for g in r["groups"]:
            counts.setdefault(g, []).append(r["table"])
    L.append("| Group | Tables | What |")
    L.append("|---|---|---|")
    L.append("| `all` | %d | every table |" % len(routes))
    for g in sorted(counts):
        L.append("| `%s` | %d | %s |" % (g, len(counts[g]),
                                          GROUP_DOC.get(g, "")))
    L.append("")
    L.append("## Tables")
    L.append("")
    npub = sum(1 for r in routes if not r["scope"])
    L.append("%d tables: %d public, %d need an SSO token with the scope"
             " shown (and, where listed, corporation roles)."
             % (len(routes), npub, len(routes) - npub))
    L.append("")
    L.append("| Table | Route | Groups | Auth | Paging | Shape |")
    L.append("|---|---|---|---|---|---|")
    for r in sorted(routes, key=lambda x: x["table"]):
        auth = "public" if not r["scope"] else "`%s`" % r["scope"]
        if r["roles"]:
            auth += " (roles: %s)" % ", ".join(r["roles"])
        shape = r["shape"]
        if r["records_key"]:
            shape += " (`%s`)" % r["records_key"]
        L.append("| `%s` | `%s` | %s | %s | %s | %s |" % (
            r["table"], md_escape(r["path"]), ", ".join(r["groups"]),
            md_escape(auth), r["paging"], shape))
    L.append("")
    write_doc_calls(cat, L)
    return "\n".join(L)


def write_doc_calls(cat, L):
    calls = cat["calls"]
    L.append("## Functions (routes that are not GET)")
    L.append("")
    L.append("Each of ESI's %d POST, PUT and DELETE routes is a function in"
             " the extension's schema, implemented by one C entry point"
             " (`esi_call`, `src/calls/call.c`) that finds the route from the"
             " function's name. Name: the method, then the table naming"
             " rule without `_details` (`POST /universe/names` →"
             " `post_universe_names`, `DELETE"
             " /characters/{character_id}/fittings/{fitting_id}` →"
             " `delete_character_fitting`)." % len(calls))
    L.append("")
    L.append("Arguments, required ones first: path parameters, query"
             " parameters (arrays as typed arrays, sent comma-separated),"
             " the request body — a list as one array argument (`ids` or"
             " `names`), an object as one argument per property (typed; a"
             " list of scalars as an array, anything nested as `jsonb`;"
             " NULL leaves it out) — and last `server text DEFAULT 'esi'`."
             " Routes that need a token but have no `character_id` path"
             " parameter (fleets, the game client's windows) take"
             " `%s`: whose token is sent; it is not sent itself."
             % ACTING_CHARACTER_ARG)
    L.append("")
    L.append("Result: `void` for a 204; the scalar for a scalar reply; else"
             " `TABLE(...)` with a row per record (a list of scalars: a row"
             " per element).")
    L.append("")
    L.append("**Lookups** (reads) are cached like GET routes (the key"
             " includes the body) and retried like them; a list longer"
             " than the route's `maxItems` is split into requests run"
             " concurrently, and rows come back in the order of the input;"
             " elements ESI does not know are named in a NOTICE."
             " **Writes** are never retried once the request may have"
             " reached ESI, are refused in a transaction block unless"
             " `esi_fdw.writes_in_transaction_block` is on, and EXECUTE on"
             " them is revoked from PUBLIC.")
    L.append("")
    L.append("| Function | Route | Kind | Auth | Batch |")
    L.append("|---|---|---|---|---|")
    for r in sorted(calls, key=lambda x: x["function"]):
        auth = "public" if not r["scope"] else "`%s`" % r["scope"]
        if r["roles"]:
            auth += " (roles: %s)" % ", ".join(r["roles"])
        batch = ("%d per request" % r["body_max_items"]) \
            if r["batch_key"] else ""
        L.append("| `%s` | `%s %s` | %s | %s | %s |" % (
            r["function"], r["method"], md_escape(r["path"]),
            "write" if r["writes"] else "lookup", md_escape(auth), batch))
    L.append("")


def write_if_changed(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8")
    if path.exists() and path.read_bytes() == data:
        return False
    path.write_bytes(data)
    return True


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Newer descriptions: https://esi.evetech.net/meta/openapi.json"
               " (send X-Compatibility-Date: <date> to choose the version;"
               " dates are listed at"
               " https://esi.evetech.net/meta/compatibility-dates).",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("openapi", help="path of ESI's openapi.json")
    ap.add_argument("--out-dir", default=None,
                    help="repository root to write into (default: the"
                         " repository this script is in)")
    args = ap.parse_args(argv)

    out_dir = Path(args.out_dir) if args.out_dir else \
        Path(__file__).resolve().parent.parent.parent
    try:
        with open(args.openapi, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        print("gen_catalog: error: cannot read %s: %s" % (args.openapi, e),
              file=sys.stderr)
        return 1
    try:
        if not isinstance(doc, dict) or \
                not isinstance(doc.get("paths"), dict):
            raise GenError("%s has no \"paths\" object" % args.openapi)
        cat = build_catalog(doc)
    except GenError as e:
        print("gen_catalog: error: %s" % e, file=sys.stderr)
        return 1

    # the version written into: out_dir's, else this repository's
    root = out_dir if (out_dir / "esi_fdw.control").exists() else \
        Path(__file__).resolve().parent.parent.parent
    try:
        check_unreleased(root)
    except GenError as e:
        print("gen_catalog: error: %s" % e, file=sys.stderr)
        return 1

    outputs = [
        (out_dir / "src" / "catalog" / "esi_catalog_data.c", write_c(cat)),
        (out_dir / "test" / "sim_catalog.json", write_sim(cat)),
        (out_dir / "doc" / "tables.md", write_doc(cat)),
        (out_dir / CALLS_SQL, write_sql(cat)),
    ]
    for path, text in outputs:
        changed = write_if_changed(path, text)
        print("gen_catalog: %s %s" % ("wrote" if changed else "unchanged",
                                       path), file=sys.stderr)

    routes = cat["routes"]
    def count(pred):
        return sum(1 for r in routes if pred(r))
    print("gen_catalog: version %s: %d routes (%d public, %d sso,"
          " %d with roles)" % (cat["version"], len(routes),
                               count(lambda r: not r["scope"]),
                               count(lambda r: r["scope"]),
                               count(lambda r: r["roles"])),
          file=sys.stderr)
    print("gen_catalog: paging: %s" % ", ".join(
        "%s %d" % (p, count(lambda r, p=p: r["paging"] == p))
        for p in ("none", "pages", "cursor", "from_id")), file=sys.stderr)
    print("gen_catalog: shape: %s" % ", ".join(
        "%s %d" % (s, count(lambda r, s=s: r["shape"] == s))
        for s in ("array", "object", "values", "value")), file=sys.stderr)
    print("gen_catalog: %d columns, %d table names overridden"
          % (sum(len(r["columns"]) for r in routes), len(cat["overridden"])),
          file=sys.stderr)
    for n in cat["notes"]:
        if n[0] in ("renamed", "merged-type", "unused-override"):
            print("gen_catalog: note: %s" % " ".join(map(str, n)),
                  file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
