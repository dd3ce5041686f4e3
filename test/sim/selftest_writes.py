"""ESI's POST, PUT and DELETE routes of the simulator, checked over HTTP on
loopback (part of --self-test): every one of the 35 routes, their body
checks, scopes, the state they leave in the matching GET routes, the write
log and the faults on writes."""

import http.client
import json
from urllib.parse import urlencode

from . import writes

AYLA, BORIS, CIRA, DAX = 2112625428, 2112625429, 2112625430, 2112625431
FLEET, WING, SQUAD = 1000000000001, 2000000000001, 3000000000001
COMPAT = {"X-Compatibility-Date": "2026-08-04"}
SCOPES = ["esi-assets.read_assets.v1", "esi-calendar.respond_calendar_events.v1",
          "esi-calendar.read_calendar_events.v1", "esi-characters.write_contacts.v1",
          "esi-characters.read_contacts.v1", "esi-fittings.write_fittings.v1",
          "esi-fittings.read_fittings.v1", "esi-mail.send_mail.v1", "esi-mail.organize_mail.v1",
          "esi-mail.read_mail.v1", "esi-fleets.write_fleet.v1", "esi-fleets.read_fleet.v1",
          "esi-ui.write_waypoint.v1", "esi-ui.open_window.v1",
          "esi-assets.read_corporation_assets.v1"]


class Http:
    def __init__(self, port):
        self.port = port

    def call(self, method, path, body=None, token=None, raw=None):
        """(status, headers, parsed JSON or None); status 0: no answer."""
        headers = dict(COMPAT)
        if token:
            headers["Authorization"] = "Bearer " + token
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        if data is not None:
            headers["Content-Type"] = "application/json"
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        try:
            c.request(method, path, body=data, headers=headers)
            r = c.getresponse()
            out = r.read()
            h = {k.lower(): v for k, v in r.getheaders()}
            try:
                parsed = json.loads(out) if out else None
            except ValueError:
                parsed = out
            return r.status, h, parsed
        except (http.client.HTTPException, ConnectionError, OSError):
            return 0, {}, None
        finally:
            c.close()

    def ctl(self, name, **q):
        return self.call("GET", "/_sim/%s?%s" % (name, urlencode(q)))[2]


def run(port, check):
    h = Http(port)
    h.ctl("reset")

    def token(cid, scopes=SCOPES):
        return h.ctl("sso/token", character_id=cid, scopes=",".join(scopes))[0]["access_token"]

    ayla, boris, dax = token(AYLA), token(BORIS), token(DAX)
    seen = set()

    def call(method, path, body=None, tok=None, raw=None, route=None):
        if route is not None:
            seen.add((method, route))
        return h.call(method, path, body, tok, raw)

    def route(method, path, *a, **k):
        return call(method, path, *a, route=path_of(path), **k)

    # -- lookups ---------------------------------------------------------------------------
    s, hd, b = route("POST", "/universe/names", [30000142, 34, AYLA, 98000001, 99000001,
                                                  500001, 60003760])
    check("names: every category", s == 200 and [x["category"] for x in b] == [
        "solar_system", "inventory_type", "character", "corporation", "alliance", "faction",
        "station"] and b[0]["name"] == "Jita" and "etag" not in hd)
    s, _, b = route("POST", "/universe/names", [30000142, 99999999])
    check("names: an unknown id is 404", s == 404
          and b["error"] == "Ensure all IDs are valid before resolving.")
    s, _, b = route("POST", "/universe/names", list(range(90000000, 90001001)))
    check("names: 1001 ids is 400 with details", s == 400
          and b["details"][0]["location"] == "body")
    s, _, b = route("POST", "/universe/names", list(range(90000000, 90001000)))
    check("names: 1000 ids resolve", s == 200 and len(b) == 1000)
    s, _, b = route("POST", "/universe/names", raw="[1,")
    check("names: a body that is not JSON is 400", s == 400 and "JSON" in b["error"])
    s, _, b = route("POST", "/universe/names", ["x"])
    check("names: a string id is 400", s == 400
          and b["details"][0]["location"] == "body[0]")
    s, _, b = route("POST", "/universe/names", [])
    check("names: an empty list is 400", s == 400)
    s, _, b = route("POST", "/universe/ids", ["Jita", "ayla sim", "Nobody At All"])
    check("ids: names to categories", s == 200 and b == {
        "characters": [{"id": AYLA, "name": "Ayla Sim"}],
        "systems": [{"id": 30000142, "name": "Jita"}]})
    s, _, b = route("POST", "/universe/ids", ["x%d" % i for i in range(501)])
    check("ids: 501 names is 400", s == 400)
    s, _, b = route("POST", "/characters/affiliation", [AYLA, DAX, 95000000, 99999999])
    check("affiliation", s == 200 and b == [
        {"alliance_id": 99000001, "character_id": AYLA, "corporation_id": 98000001},
        {"character_id": DAX, "corporation_id": 98000002},
        {"character_id": 95000000, "corporation_id": 98000009}])
    s, _, b = route("POST", "/characters/affiliation", [99999999])
    check("affiliation: no character is 404", s == 404)

    assets = h.call("GET", "/characters/%d/assets" % AYLA, token=ayla)[2]
    ship = next(a for a in assets if a["is_singleton"] and a["location_type"] == "station"
                and a["type_id"] in (587, 24698, 638))
    ids = [a["item_id"] for a in assets if a["item_id"] != ship["item_id"]][:5]
    s, _, b = route("POST", "/characters/%d/assets/names" % AYLA, ids + [ship["item_id"]], ayla)
    check("asset names", s == 200 and len(b) == 6 and b[-1]["name"] != "None")
    s, _, b = route("POST", "/characters/%d/assets/locations" % AYLA, ids, ayla)
    check("asset locations", s == 200 and b[0] == {"item_id": ids[0], "position":
                                                    {"x": 0.0, "y": 0.0, "z": 0.0}})
    s, _, _ = route("POST", "/characters/%d/assets/names" % AYLA, [1], ayla)
    check("asset names: an item not owned is 404", s == 404)
    s, _, _ = route("POST", "/characters/%d/assets/names" % BORIS, ids, ayla)
    check("asset names: another character's is 403", s == 403)
    s, _, _ = call("POST", "/characters/%d/assets/names" % AYLA, ids,
                   token(AYLA, ["esi-mail.send_mail.v1"]))
    check("asset names: wrong scope is 403", s == 403)
    s, _, _ = call("POST", "/characters/%d/assets/names" % AYLA, ids, "not-a-jwt")
    check("asset names: a bad token is 401", s == 401)
    corp = h.call("GET", "/corporations/98000001/assets", token=ayla)[2]
    cids = [a["item_id"] for a in corp[:3]]
    s, _, b = route("POST", "/corporations/98000001/assets/names", cids, ayla)
    check("corporation asset names", s == 200 and len(b) == 3)
    s, _, b = route("POST", "/corporations/98000001/assets/locations", cids, ayla)
    check("corporation asset locations", s == 200 and len(b) == 3)
    s, _, _ = route("POST", "/corporations/98000001/assets/names", cids,
                    token(CIRA, SCOPES))
    check("corporation asset names: no Director role is 403", s == 403)
    s, _, b = route("POST", "/characters/%d/cspa" % AYLA, [BORIS, CIRA], ayla)
    check("cspa: 201 with a number", s == 201 and b == 0.0)

    a, z = sorted(x for x in (30000142, 30002187))
    s, _, b = route("POST", "/route/%d/%d" % (a, z), {})
    check("route: origin to destination", s == 200 and b["route"][0] == a
          and b["route"][-1] == z)
    s2, _, b2 = route("POST", "/route/%d/%d" % (a, z), {"preference": "Safer"})
    check("route: Safer", s2 == 200 and b2["route"][0] == a)
    s, _, b = route("POST", "/route/%d/%d" % (a, z), {"connections": [{"from": a, "to": z}]})
    check("route: an extra connection", s == 200 and b["route"] == [a, z])
    s, _, _ = route("POST", "/route/%d/%d" % (a, 30999999), {})
    check("route: unknown system is 404", s == 404)
    s, _, _ = route("POST", "/route/%d/%d" % (a, z), {"security_penalty": 101})
    check("route: security_penalty above 100 is 400", s == 400)

    # -- contacts --------------------------------------------------------------------------
    base = "/characters/%d" % AYLA
    before = h.call("GET", base + "/contacts", token=ayla)[2]
    s, _, b = route("POST", base + "/contacts?standing=-7.5&label_ids=2&watched=true",
                    [DAX, 99000001, 99999999], ayla)
    check("contacts: POST 201 with the ids added", s == 201 and b == [DAX, 99000001])
    got = {c["contact_id"]: c for c in h.call("GET", base + "/contacts", token=ayla)[2]}
    check("contacts: added ones show in GET", len(got) == len(before) + 2
          and got[DAX]["standing"] == -7.5 and got[DAX]["is_watched"]
          and got[DAX]["label_ids"] == [2] and got[99000001]["contact_type"] == "alliance")
    s, _, _ = route("PUT", base + "/contacts?standing=3", [DAX], ayla)
    got = {c["contact_id"]: c for c in h.call("GET", base + "/contacts", token=ayla)[2]}
    check("contacts: PUT edits", s == 204 and got[DAX]["standing"] == 3.0
          and not got[DAX]["is_watched"])
    s, _, _ = route("DELETE", base + "/contacts?contact_ids=%d,99000001" % DAX, tok=ayla)
    got = h.call("GET", base + "/contacts", token=ayla)[2]
    check("contacts: DELETE", s == 204 and len(got) == len(before))
    s, _, _ = call("DELETE", base + "/contacts?" + "&".join("contact_ids=%d" % i for i in
                                                           range(1, 22)), tok=ayla)
    check("contacts: DELETE of 21 ids is 400", s == 400)
    s, _, _ = call("POST", base + "/contacts?standing=11", [DAX], ayla)
    check("contacts: standing 11 is 400", s == 400)
    s, _, _ = call("POST", base + "/contacts", [DAX], ayla)
    check("contacts: no standing is 400", s == 400)
    s, _, _ = call("POST", base + "/contacts?standing=1", [DAX],
                   token(AYLA, ["esi-characters.read_contacts.v1"]))
    check("contacts: read scope cannot write (403)", s == 403)
    s, _, _ = call("POST", "/characters/%d/contacts?standing=1" % BORIS, [DAX], ayla)
    check("contacts: another character's is 403", s == 403)

    # -- fittings --------------------------------------------------------------------------
    fit = {"name": "Test fit", "description": "d", "ship_type_id": 587,
           "items": [{"flag": "HiSlot0", "quantity": 1, "type_id": 34},
                     {"flag": "Invalid", "quantity": 1, "type_id": 35}]}
    s, _, b = route("POST", base + "/fittings", fit, ayla)
    fid = b.get("fitting_id") if isinstance(b, dict) else None
    fits = {f["fitting_id"]: f for f in h.call("GET", base + "/fittings", token=ayla)[2]}
    check("fittings: POST 201 and shows in GET", s == 201 and fid in fits
          and fits[fid]["items"] == [{"flag": "HiSlot0", "quantity": 1, "type_id": 34}])
    s, _, b = call("POST", base + "/fittings", dict(fit, name=""), ayla)
    check("fittings: empty name is 400", s == 400)
    s, _, b = call("POST", base + "/fittings", {"name": "x"}, ayla)
    check("fittings: missing fields are 400", s == 400 and len(b["details"]) == 3)
    s, _, _ = route("DELETE", base + "/fittings/%d" % fid, tok=ayla)
    fits = [f["fitting_id"] for f in h.call("GET", base + "/fittings", token=ayla)[2]]
    check("fittings: DELETE", s == 204 and fid not in fits)
    check("fittings: DELETE again is 404",
          call("DELETE", base + "/fittings/%d" % fid, tok=ayla)[0] == 404)

    # -- mail ------------------------------------------------------------------------------
    mail = {"recipients": [{"recipient_id": BORIS, "recipient_type": "character"}],
            "subject": "Hi", "body": "<p>hello</p>"}
    s, _, mid = route("POST", base + "/mail", mail, ayla)
    sent = h.call("GET", base + "/mail", token=ayla)[2]
    inbox = h.call("GET", "/characters/%d/mail" % BORIS, token=boris)[2]
    check("mail: POST 201 mail_id, in the sender's Sent and the recipient's Inbox",
          s == 201 and sent[0]["mail_id"] == mid and sent[0]["labels"] == [2]
          and inbox[0]["mail_id"] == mid and inbox[0]["labels"] == [1]
          and not inbox[0]["is_read"])
    s, _, lid = route("POST", base + "/mail/labels", {"name": "Ops", "color": "#fe0000"}, ayla)
    labels = h.call("GET", base + "/mail/labels", token=ayla)[2]["labels"]
    check("mail labels: POST 201 label_id, shows in GET", s == 201
          and any(x["label_id"] == lid and x["name"] == "Ops" for x in labels))
    s, _, _ = route("PUT", base + "/mail/%d" % mid, {"labels": [lid], "read": False}, ayla)
    one = h.call("GET", base + "/mail/%d" % mid, token=ayla)[2]
    check("mail: PUT sets labels and read", s == 204 and one["labels"] == [lid]
          and one["read"] is False)
    check("mail: GET ?labels= filters",
          [m["mail_id"] for m in h.call("GET", base + "/mail?labels=%d" % lid,
                                        token=ayla)[2]] == [mid])
    s, _, _ = route("DELETE", base + "/mail/labels/%d" % lid, tok=ayla)
    check("mail labels: DELETE", s == 204 and h.call("GET", base + "/mail/%d" % mid,
                                                     token=ayla)[2]["labels"] == [])
    check("mail labels: a default label cannot go (422)",
          call("DELETE", base + "/mail/labels/1", tok=ayla)[0] == 422)
    s, _, _ = route("DELETE", base + "/mail/%d" % mid, tok=ayla)
    check("mail: DELETE", s == 204
          and h.call("GET", base + "/mail/%d" % mid, token=ayla)[0] == 404)
    s, _, _ = call("POST", base + "/mail", dict(mail, recipients=[]), ayla)
    check("mail: no recipients is 400", s == 400)
    s, _, _ = call("POST", base + "/mail", mail, token(AYLA, ["esi-mail.read_mail.v1"]))
    check("mail: read scope cannot send (403)", s == 403)

    # -- calendar --------------------------------------------------------------------------
    events = h.call("GET", base + "/calendar", token=ayla)[2]
    eid = events[0]["event_id"]
    s, _, _ = route("PUT", base + "/calendar/%d" % eid, {"response": "accepted"}, ayla)
    check("calendar: PUT response shows in GET", s == 204 and h.call(
        "GET", base + "/calendar/%d" % eid, token=ayla)[2]["response"] == "accepted")
    check("calendar: a bad response is 400",
          call("PUT", base + "/calendar/%d" % eid, {"response": "maybe"}, ayla)[0] == 400)
    check("calendar: unknown event is 404",
          call("PUT", base + "/calendar/1", {"response": "accepted"}, ayla)[0] == 404)

    # -- fleets ----------------------------------------------------------------------------
    fl = "/fleets/%d" % FLEET
    s, _, _ = route("PUT", fl, {"motd": "New motd", "is_free_move": True}, ayla)
    check("fleet: PUT settings", s == 204 and h.call("GET", fl, token=ayla)[2] == {
        "is_free_move": True, "is_registered": False, "is_voice_enabled": False,
        "motd": "New motd"})
    check("fleet: not the boss is 404", call("PUT", fl, {"motd": "x"}, boris)[0] == 404)
    s, _, b = route("POST", fl + "/wings", tok=ayla)
    wid = b["wing_id"] if s == 201 else None
    s, _, b = route("POST", fl + "/wings/%d/squads" % wid, tok=ayla)
    sid = b["squad_id"] if s == 201 else None
    s1 = route("PUT", fl + "/wings/%d" % wid, {"name": "Alpha"}, ayla)[0]
    s2 = route("PUT", fl + "/squads/%d" % sid, {"name": "Bravo"}, ayla)[0]
    wings = {x["id"]: x for x in h.call("GET", fl + "/wings", token=ayla)[2]}
    check("fleet: wings and squads created and renamed", s1 == s2 == 204
          and wings[wid]["name"] == "Alpha" and wings[wid]["squads"] == [
              {"id": sid, "name": "Bravo"}])
    check("fleet: a name of 11 characters is 400",
          call("PUT", fl + "/wings/%d" % wid, {"name": "x" * 11}, ayla)[0] == 400)
    s, _, _ = route("POST", fl + "/members", {"character_id": DAX, "role": "squad_member",
                                              "wing_id": wid, "squad_id": sid}, ayla)
    members = {m["character_id"]: m for m in h.call("GET", fl + "/members", token=ayla)[2]}
    check("fleet: invite places the character", s == 204 and members[DAX]["squad_id"] == sid
          and h.call("GET", "/characters/%d/fleet" % DAX, token=dax)[2]["fleet_id"] == FLEET)
    check("fleet: a squad commander without squad is 422",
          call("POST", fl + "/members", {"character_id": 95000000, "role": "squad_commander",
                                         "wing_id": wid}, ayla)[0] == 422)
    s, _, _ = route("PUT", fl + "/members/%d" % DAX, {"role": "wing_commander",
                                                      "wing_id": wid}, ayla)
    members = {m["character_id"]: m for m in h.call("GET", fl + "/members", token=ayla)[2]}
    check("fleet: move", s == 204 and members[DAX]["role"] == "wing_commander"
          and members[DAX]["squad_id"] == -1)
    check("fleet: a wing with a member cannot go (422)",
          call("DELETE", fl + "/wings/%d" % wid, tok=ayla)[0] == 422)
    s, _, _ = route("DELETE", fl + "/members/%d" % DAX, tok=ayla)
    check("fleet: kick", s == 204
          and h.call("GET", "/characters/%d/fleet" % DAX, token=dax)[0] == 404)
    s1 = route("DELETE", fl + "/squads/%d" % sid, tok=ayla)[0]
    s2 = route("DELETE", fl + "/wings/%d" % wid, tok=ayla)[0]
    check("fleet: empty squad and wing deleted", s1 == s2 == 204
          and wid not in [x["id"] for x in h.call("GET", fl + "/wings", token=ayla)[2]])

    # -- UI --------------------------------------------------------------------------------
    s1 = route("POST", "/ui/autopilot/waypoint?destination_id=30000142&add_to_beginning=false"
               "&clear_other_waypoints=true", tok=ayla)[0]
    s2 = route("POST", "/ui/openwindow/contract?contract_id=5", tok=ayla)[0]
    s3 = route("POST", "/ui/openwindow/information?target_id=%d" % BORIS, tok=ayla)[0]
    s4 = route("POST", "/ui/openwindow/marketdetails?type_id=34", tok=ayla)[0]
    s5 = route("POST", "/ui/openwindow/newmail", {"subject": "s", "body": "b",
                                                  "recipients": [BORIS]}, ayla)[0]
    ui = h.ctl("ui", character_id=AYLA)
    check("ui: five requests, 204 each, recorded", [s1, s2, s3, s4, s5] == [204] * 5
          and [u["action"] for u in ui] == ["waypoint", "contract", "information",
                                            "marketdetails", "newmail"]
          and ui[0]["target_id"] == 30000142 and ui[0]["clear_other_waypoints"] is True)
    check("ui: no destination_id is 400",
          call("POST", "/ui/autopilot/waypoint", tok=ayla)[0] == 400)
    check("ui: the waypoint scope does not open windows (403)",
          call("POST", "/ui/openwindow/contract?contract_id=5",
               tok=token(AYLA, ["esi-ui.write_waypoint.v1"]))[0] == 403)

    check("every non-GET route was exercised (%d of %d)" % (len(seen), len(writes.ROUTES)),
          seen == {(m, p) for m, p, *_ in writes.ROUTES})

    # -- the write log, faults, reset ------------------------------------------------------
    h.ctl("reset")
    s, _, _ = call("POST", base + "/contacts?standing=1", [DAX], ayla)
    log = h.ctl("writes")
    check("write log: one entry with method, path and body", s == 201 and len(log) == 1
          and log[0]["method"] == "POST" and log[0]["path"] == base + "/contacts"
          and json.loads(log[0]["body"]) == [DAX] and log[0]["query"] == "standing=1")
    h.ctl("fault", path=base + "/contacts", kind="drop_after_request", method="POST")
    check("GET is not hit by a POST fault",
          h.call("GET", base + "/contacts", token=ayla)[0] == 200)
    s, _, _ = call("POST", base + "/contacts?standing=2", [BORIS], ayla)
    got = {c["contact_id"]: c for c in h.call("GET", base + "/contacts", token=ayla)[2]}
    log = h.ctl("writes")
    check("drop_after_request: no answer, the write happened, logged once",
          s == 0 and got[BORIS]["standing"] == 2.0 and len(log) == 2
          and log[1]["fault"] == "drop_after_request")
    h.ctl("fault", path=base + "/fittings", kind="reset", method="POST")
    n = len(h.call("GET", base + "/fittings", token=ayla)[2])
    s, _, _ = call("POST", base + "/fittings", fit, ayla)
    check("reset fault on a POST: no answer, no write", s == 0
          and len(h.call("GET", base + "/fittings", token=ayla)[2]) == n)
    h.ctl("fault", path=base + "/fittings", kind="status", status=504, apply=1, method="POST")
    s, _, _ = call("POST", base + "/fittings", fit, ayla)
    check("status fault with apply=1: 504, yet the write happened", s == 504
          and len(h.call("GET", base + "/fittings", token=ayla)[2]) == n + 1)
    h.ctl("config", body_error_status=422)
    check("body_error_status=422", call("POST", "/universe/names", ["x"])[0] == 422)
    h.ctl("reset")
    got = {c["contact_id"] for c in h.call("GET", base + "/contacts", token=ayla)[2]}
    check("/_sim/reset forgets the writes", BORIS in got and DAX not in got
          and h.ctl("writes") == [])


def path_of(path):
    """The route (with {parameters}) a concrete path belongs to."""
    bare = path.split("?")[0]
    segs = bare.strip("/").split("/")
    for method, p, *_ in writes.ROUTES:
        ps = p.strip("/").split("/")
        if len(ps) == len(segs) and all(a == b or a.startswith("{") for a, b in zip(ps, segs)):
            return p
    return bare
