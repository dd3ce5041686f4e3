"""What characters write through ESI, kept per character: contacts and their
labels, fittings, mail and mail labels, calendar responses, fleets, and the
game-client (UI) requests.

Each character's data is seeded on first use, deterministically from its
id (a few contacts among the SSO roster, two contact labels, two fittings,
EVE's four default mail labels and three mails, three calendar events);
fleet 1000000000001 exists from the start, bossed by 2112625428 (Ayla Sim)
with Boris Sim and Cira Sim in it.  Writes change this data and the
matching GET routes read it, with a Last-Modified no earlier than the
change:

    GET  /characters/{id}/contacts, /contacts/labels
    POST /characters/{id}/contacts?standing=&label_ids=&watched=  [ids]
         201 with the ids added (ids that are no character, corporation,
         alliance or faction are left out); PUT: the same settings for
         existing contacts, 204; DELETE ?contact_ids= (at most 20), 204.
         standing outside -10..10, an unknown label id: 400.
    GET  /characters/{id}/fittings; POST 201 {"fitting_id"} (items in
         flag Invalid are dropped; none left: 400); DELETE /fittings/{id}
         204 (404 "Fitting not found").
    GET  /characters/{id}/mail[?labels=][&last_mail_id=], /mail/{id},
         /mail/labels (unread counts); POST /mail 201 mail_id: the sender
         gets a copy labelled Sent (2), read; each character recipient one
         in the Inbox (1), unread; a corporation's or alliance's known
         members one labelled [Corp] (4) or [Alliance] (8); a CSPA charge
         above approved_cost: 520 "ContactCostNotApproved".  PUT /mail/{id}
         {labels?, read?} 204; DELETE /mail/{id} 204 (404 "Mail not found").
         POST /mail/labels 201 label_id (from 16 on); DELETE
         /mail/labels/{id} 204 (a default label: 422, unknown: 404).
    GET  /characters/{id}/calendar[?from_event=], /calendar/{id},
         /calendar/{id}/attendees; PUT /calendar/{id} {response} 204
         (404 "Event not found").
    GET  /characters/{id}/fleet (404 "Character is not in a fleet"),
         /fleets/{id}, /fleets/{id}/members, /fleets/{id}/wings: only for
         the fleet boss (else 404 "The fleet does not exist or you don't
         have access to it!", as ESI); PUT /fleets/{id} {motd?,
         is_free_move?}; POST /fleets/{id}/members {character_id, role,
         wing_id?, squad_id?}: the invitee accepts at once (a stand-in for
         the pilot clicking accept) and is placed as asked, with the role
         rules of the description (else 422); PUT /members/{id} moves,
         DELETE kicks; POST /wings 201 {wing_id}, POST /wings/{id}/squads
         201 {squad_id}, PUT renames, DELETE deletes an empty wing or
         squad (else 422).  Wing and squad ids of a fleet commander are -1,
         as ESI sends them.
    POST /ui/autopilot/waypoint, /ui/openwindow/contract, /information,
         /marketdetails, /newmail: 204; recorded for the token's character
         (see /_sim/ui).

/_sim/fleets lists every fleet member, /_sim/fleet_wings every wing and
squad.  /_sim/reset (and /_sim/store/reset alone) forgets all of it.
"""

import threading
import time

from .body import Body, paginate
from .rng import Rng, hash64
from .routes import Fail, Reply, compact, invalid
from .universe import DATA_EPOCH
from . import writes

CHAR = "/characters/{character_id}"
DEFAULT_LABELS = {1: ("Inbox", "#ffffff"), 2: ("Sent", "#ffffff"),
                  4: ("[Corp]", "#ffffff"), 8: ("[Alliance]", "#ffffff")}
FLEET_ID = 1000000000001
NO_ACCESS = "The fleet does not exist or you don't have access to it!"
CONTACT_TYPES = {"character": "character", "corporation": "corporation",
                 "alliance": "alliance", "faction": "faction"}
CONTACTS_PER_PAGE = 1000


def iso(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _json(obj, status=200, modified=None, pages=None):
    return Reply(Body(compact(obj).encode()), pages=pages, modified=modified, status=status)


def _none():
    return Reply(None, status=204)


class CharState:
    __slots__ = ("contacts", "contact_labels", "fittings", "mail_labels", "mails", "events",
                 "ui", "modified")


class Fleet:
    __slots__ = ("fleet_id", "boss", "motd", "is_free_move", "is_registered",
                 "is_voice_enabled", "wings", "members", "invitations", "modified")


class Store:
    def __init__(self, w):
        self.w = w
        self.lock = threading.RLock()
        self.reset()

    def reset(self):
        with self.lock:
            self.chars = {}
            self.fleets = {}
            self.next_fitting = 90000001
            self.next_mail = 500000001
            self.next_wing = 2000000000101
            self.next_squad = 3000000000101
            self.ui_seq = 0
            self._seed_fleet()

    # -- seeding --------------------------------------------------------------------------

    def char(self, cid):
        """A character's state (seeded on first use); the caller holds the lock."""
        st = self.chars.get(cid)
        if st is None:
            st = self.chars[cid] = self._seed(cid)
        return st

    def _seed(self, cid):
        from .sso import ROSTER
        w = self.w
        rng = Rng("%d:store:%d" % (w.u.seed, cid))
        st = CharState()
        st.modified = None
        st.contact_labels = {1: "Friends", 2: "Enemies"}
        st.contacts = {}
        others = [r[0] for r in ROSTER if r[0] != cid]
        for oid in others[:2]:
            st.contacts[oid] = {"contact_type": "character", "standing": 10.0,
                                "label_ids": [1], "is_watched": rng.chance(0.5),
                                "is_blocked": False}
        st.contacts[98000002] = {"contact_type": "corporation", "standing": -5.0,
                                 "label_ids": [2]}
        st.contacts[500001] = {"contact_type": "faction", "standing": 5.0, "label_ids": []}
        modules = [t for t in w.gen.type_ids if w.u.types[t].family == "module"] \
            or list(w.gen.type_ids)
        st.fittings = {}
        base = 60000000 + hash64("fit:%d" % cid) % 1000000 * 10
        for k, (ship, name) in enumerate(((587, "Rifter PvP"), (638, "Raven L4"))):
            items = [{"flag": "HiSlot%d" % i, "quantity": 1, "type_id": rng.choice(modules)}
                     for i in range(2 + k)]
            items.append({"flag": "Cargo", "quantity": 100 * (k + 1), "type_id": 34})
            st.fittings[base + k] = {"description": "Seeded fitting %d" % (k + 1),
                                     "items": items, "name": name, "ship_type_id": ship}
        st.mail_labels = {k: {"name": n, "color": c} for k, (n, c) in DEFAULT_LABELS.items()}
        st.mails = {}
        mbase = 400000000 + hash64("mail:%d" % cid) % 1000000 * 10
        for k in range(3):
            frm = others[k % len(others)] if others else cid
            st.mails[mbase + k] = {
                "from": frm, "recipients": [{"recipient_id": cid,
                                             "recipient_type": "character"}],
                "subject": "Seeded mail %d" % (k + 1), "body": "<p>Hello %d</p>" % (k + 1),
                "timestamp": iso(DATA_EPOCH - 86400 * (3 - k)), "labels": [1],
                "is_read": k == 0}
        st.events = {}
        ebase = 700000 + hash64("event:%d" % cid) % 100000 * 10
        for k in range(3):
            st.events[ebase + k] = {
                "date": iso(DATA_EPOCH + 86400 * (k + 1) + 19 * 3600),
                "duration": 60 * (k + 1), "importance": k % 2,
                "owner_id": 98000001, "owner_name": "Sim Industries",
                "owner_type": "corporation", "response": "not_responded",
                "text": "Fleet op %d" % (k + 1), "title": "Op %d" % (k + 1)}
        st.ui = []
        return st

    def _seed_fleet(self):
        f = Fleet()
        f.fleet_id, f.boss = FLEET_ID, 2112625428
        f.motd, f.is_free_move, f.is_registered, f.is_voice_enabled = \
            "<b>Welcome</b>", False, False, False
        f.wings = {2000000000001: {"name": "Wing 1",
                                   "squads": {3000000000001: "Squad 1",
                                              3000000000002: "Squad 2"}}}
        t = iso(DATA_EPOCH)
        f.members = {
            2112625428: self._member("fleet_commander", -1, -1, t),
            2112625429: self._member("squad_commander", 2000000000001, 3000000000001, t),
            2112625430: self._member("squad_member", 2000000000001, 3000000000001, t),
        }
        f.invitations = []
        f.modified = None
        self.fleets[f.fleet_id] = f

    @staticmethod
    def _member(role, wing, squad, join_time):
        return {"role": role, "wing_id": wing, "squad_id": squad, "join_time": join_time,
                "ship_type_id": 587, "solar_system_id": 30000142, "station_id": 60003760,
                "takes_fleet_warp": True}

    def touch(self, st):
        st.modified = time.time()

    def fleet_of(self, cid):
        for f in self.fleets.values():
            if cid in f.members:
                return f
        return None


_store_lock = threading.Lock()


def get_store(w):
    s = getattr(w, "store", None)
    if s is None:
        with _store_lock:
            s = getattr(w, "store", None)
            if s is None:
                s = w.store = Store(w)
    return s


def _with_char(fn):
    """A handler run under the store lock with the path's character state."""
    def handler(w, route, req):
        s = get_store(w)
        with s.lock:
            return fn(s, s.char(req.args["character_id"]), w, route, req)
    return handler


def _with_fleet(fn):
    """A fleet handler: the token's character must be the fleet's boss."""
    def handler(w, route, req):
        s = get_store(w)
        with s.lock:
            f = s.fleets.get(req.args["fleet_id"])
            if f is None or req.character_id is None or f.boss != req.character_id:
                raise Fail(404, NO_ACCESS)
            return fn(s, f, w, route, req)
    return handler


# -- contacts ---------------------------------------------------------------------------------

def _contact_record(cid, c):
    rec = {"contact_id": cid, "contact_type": c["contact_type"], "standing": c["standing"]}
    if c.get("label_ids"):
        rec["label_ids"] = list(c["label_ids"])
    if c["contact_type"] == "character":
        rec["is_watched"] = bool(c.get("is_watched"))
        rec["is_blocked"] = bool(c.get("is_blocked"))
    return rec


@_with_char
def get_contacts(s, st, w, route, req):
    pieces = [compact(_contact_record(k, st.contacts[k])) for k in sorted(st.contacts)]
    pages = paginate(pieces, CONTACTS_PER_PAGE)
    page = req.args.get("page") or 1
    if page > len(pages):
        raise Fail(404, "Requested page does not exist!")
    return Reply(pages[page - 1], len(pages), modified=st.modified)


@_with_char
def get_contact_labels(s, st, w, route, req):
    return _json([{"label_id": k, "label_name": n} for k, n in sorted(st.contact_labels.items())],
                 modified=st.modified)


def _contact_settings(st, req):
    standing = float(req.args["standing"])
    if not -10.0 <= standing <= 10.0:
        raise invalid("query.standing", "expected number between -10 and 10", standing)
    labels = req.args.get("label_ids") or []
    bad = [x for x in labels if x not in st.contact_labels]
    if bad:
        raise invalid("query.label_ids", "unknown label %d" % bad[0], bad[0])
    return standing, labels, bool(req.args.get("watched", False))


@_with_char
def post_contacts(s, st, w, route, req):
    standing, labels, watched = _contact_settings(st, req)
    t = writes.sso_tables(w)
    added = []
    for i in req.body:
        hit = writes.resolve_id(w, i, t)
        if hit is None or hit[0] not in CONTACT_TYPES or i == req.args["character_id"]:
            continue
        kind = CONTACT_TYPES[hit[0]]
        st.contacts[i] = {"contact_type": kind, "standing": standing,
                          "label_ids": list(labels),
                          "is_watched": watched and kind == "character", "is_blocked": False}
        if i not in added:
            added.append(i)
    s.touch(st)
    return _json(added, 201)


@_with_char
def put_contacts(s, st, w, route, req):
    standing, labels, watched = _contact_settings(st, req)
    for i in req.body:
        c = st.contacts.get(i)
        if c is None:
            continue
        c.update(standing=standing, label_ids=list(labels),
                 is_watched=watched and c["contact_type"] == "character")
    s.touch(st)
    return _none()


@_with_char
def delete_contacts(s, st, w, route, req):
    for i in req.args["contact_ids"]:
        st.contacts.pop(i, None)
    s.touch(st)
    return _none()


# -- fittings ---------------------------------------------------------------------------------

@_with_char
def get_fittings(s, st, w, route, req):
    return _json([dict(f, fitting_id=k) for k, f in sorted(st.fittings.items())],
                 modified=st.modified)


@_with_char
def post_fitting(s, st, w, route, req):
    b = req.body
    if b["ship_type_id"] not in w.u.types:
        raise invalid("body.ship_type_id", "unknown type", b["ship_type_id"])
    items = [{"flag": x["flag"], "quantity": x["quantity"], "type_id": x["type_id"]}
             for x in b["items"] if x["flag"] != "Invalid"]
    if not items:
        raise Fail(400, "Fitting has no valid items")
    fid = s.next_fitting
    s.next_fitting += 1
    st.fittings[fid] = {"description": b["description"], "items": items, "name": b["name"],
                        "ship_type_id": b["ship_type_id"]}
    s.touch(st)
    return _json({"fitting_id": fid}, 201)


@_with_char
def delete_fitting(s, st, w, route, req):
    if st.fittings.pop(req.args["fitting_id"], None) is None:
        raise Fail(404, "Fitting not found")
    s.touch(st)
    return _none()


# -- mail -------------------------------------------------------------------------------------

@_with_char
def get_mail(s, st, w, route, req):
    ids = sorted(st.mails, reverse=True)
    last = req.args.get("last_mail_id")
    if last is not None:
        ids = [i for i in ids if i < last]
    want = set(req.args.get("labels") or ())
    out = []
    for i in ids:
        m = st.mails[i]
        if want and not want & set(m["labels"]):
            continue
        out.append({"from": m["from"], "is_read": m["is_read"], "labels": list(m["labels"]),
                    "mail_id": i, "recipients": m["recipients"], "subject": m["subject"],
                    "timestamp": m["timestamp"]})
        if len(out) == 50:
            break
    return _json(out, modified=st.modified)


@_with_char
def get_mail_one(s, st, w, route, req):
    m = st.mails.get(req.args["mail_id"])
    if m is None:
        raise Fail(404, "Mail not found")
    return _json({"body": m["body"], "from": m["from"], "labels": list(m["labels"]),
                  "read": m["is_read"], "recipients": m["recipients"], "subject": m["subject"],
                  "timestamp": m["timestamp"]}, modified=st.modified)


@_with_char
def get_mail_labels(s, st, w, route, req):
    labels, total = [], 0
    for k in sorted(st.mail_labels):
        unread = sum(1 for m in st.mails.values() if k in m["labels"] and not m["is_read"])
        total += unread
        labels.append({"color": st.mail_labels[k]["color"], "label_id": k,
                       "name": st.mail_labels[k]["name"], "unread_count": unread})
    return _json({"labels": labels, "total_unread_count": total}, modified=st.modified)


@_with_char
def post_mail(s, st, w, route, req):
    from .sso import CORPORATIONS, ALLIANCES
    b = req.body
    sender = req.args["character_id"]
    chars = writes.sso_tables(w)[0]
    cost = sum(writes.cspa_charge(r["recipient_id"]) for r in b["recipients"]
               if r["recipient_type"] == "character")
    if cost > b.get("approved_cost", 0):
        raise Fail(520, "ContactCostNotApproved")
    targets = {}
    for i, r in enumerate(b["recipients"]):
        rid, kind = r["recipient_id"], r["recipient_type"]
        where = "body.recipients[%d].recipient_id" % i
        if kind == "character":
            if not writes.is_character_id(rid) and rid not in chars:
                raise invalid(where, "%d is no character" % rid, rid)
            targets.setdefault(rid, 1)
        elif kind == "corporation":
            if rid not in CORPORATIONS:
                raise invalid(where, "%d is no corporation" % rid, rid)
            for cid, info in chars.items():
                if info["corporation_id"] == rid:
                    targets.setdefault(cid, 4)
        elif kind == "alliance":
            if rid not in ALLIANCES:
                raise invalid(where, "%d is no alliance" % rid, rid)
            for cid, info in chars.items():
                if info["alliance_id"] == rid:
                    targets.setdefault(cid, 8)
    mid = s.next_mail
    s.next_mail += 1
    now = iso(time.time())
    base = {"from": sender, "recipients": [dict(r) for r in b["recipients"]],
            "subject": b["subject"], "body": b["body"], "timestamp": now}
    st.mails[mid] = dict(base, labels=[2], is_read=True)
    s.touch(st)
    for cid, label in targets.items():
        other = s.char(cid)
        m = other.mails.get(mid)
        if m is None:
            other.mails[mid] = dict(base, labels=[label], is_read=False)
        elif label not in m["labels"]:
            m["labels"].append(label)
        s.touch(other)
    return _json(mid, 201)


@_with_char
def put_mail(s, st, w, route, req):
    m = st.mails.get(req.args["mail_id"])
    if m is None:
        raise Fail(404, "Mail not found")
    b = req.body
    if "labels" not in b and "read" not in b:
        raise Fail(400, "No changes requested: give labels or read")
    if "labels" in b:
        bad = [x for x in b["labels"] if x not in st.mail_labels]
        if bad:
            raise invalid("body.labels", "unknown label %d" % bad[0], bad[0])
        m["labels"] = list(b["labels"])
    if "read" in b:
        m["is_read"] = b["read"]
    s.touch(st)
    return _none()


@_with_char
def delete_mail(s, st, w, route, req):
    if st.mails.pop(req.args["mail_id"], None) is None:
        raise Fail(404, "Mail not found")
    s.touch(st)
    return _none()


@_with_char
def post_mail_label(s, st, w, route, req):
    lid = max(max(st.mail_labels), 15) + 1
    st.mail_labels[lid] = {"name": req.body["name"], "color": req.body.get("color", "#ffffff")}
    s.touch(st)
    return _json(lid, 201)


@_with_char
def delete_mail_label(s, st, w, route, req):
    lid = req.args["label_id"]
    if lid in DEFAULT_LABELS:
        raise Fail(422, "Default labels cannot be deleted")
    if st.mail_labels.pop(lid, None) is None:
        raise Fail(404, "Label not found")
    for m in st.mails.values():
        if lid in m["labels"]:
            m["labels"].remove(lid)
    s.touch(st)
    return _none()


# -- calendar ---------------------------------------------------------------------------------

@_with_char
def get_calendar(s, st, w, route, req):
    after = req.args.get("from_event")
    out = []
    for k in sorted(st.events):
        if after is not None and k <= after:
            continue
        e = st.events[k]
        out.append({"event_date": e["date"], "event_id": k, "event_response": e["response"],
                    "importance": e["importance"], "title": e["title"]})
    return _json(out[:50], modified=st.modified)


def _event(st, req):
    e = st.events.get(req.args["event_id"])
    if e is None:
        raise Fail(404, "Event not found")
    return e


@_with_char
def get_event(s, st, w, route, req):
    return _json(dict(_event(st, req), event_id=req.args["event_id"]), modified=st.modified)


@_with_char
def get_attendees(s, st, w, route, req):
    e = _event(st, req)
    return _json([{"character_id": 2112625428, "event_response": "accepted"},
                   {"character_id": req.args["character_id"],
                    "event_response": e["response"]}]
                  if req.args["character_id"] != 2112625428 else
                  [{"character_id": 2112625428, "event_response": e["response"]}],
                  modified=st.modified)


@_with_char
def put_event(s, st, w, route, req):
    _event(st, req)["response"] = req.body["response"]
    s.touch(st)
    return _none()


# -- fleets -----------------------------------------------------------------------------------

def get_character_fleet(w, route, req):
    s = get_store(w)
    cid = req.args["character_id"]
    with s.lock:
        f = s.fleet_of(cid)
        if f is None:
            raise Fail(404, "Character is not in a fleet")
        m = f.members[cid]
        return _json({"fleet_boss_id": f.boss, "fleet_id": f.fleet_id, "role": m["role"],
                      "squad_id": m["squad_id"], "wing_id": m["wing_id"]}, modified=f.modified)


@_with_fleet
def get_fleet(s, f, w, route, req):
    return _json({"is_free_move": f.is_free_move, "is_registered": f.is_registered,
                  "is_voice_enabled": f.is_voice_enabled, "motd": f.motd}, modified=f.modified)


ROLE_NAMES = {"fleet_commander": "Fleet Commander (Boss)", "wing_commander": "Wing Commander",
              "squad_commander": "Squad Commander", "squad_member": "Squad Member"}


@_with_fleet
def get_fleet_members(s, f, w, route, req):
    out = []
    for cid in sorted(f.members):
        m = f.members[cid]
        rec = dict(m, character_id=cid, role_name=ROLE_NAMES[m["role"]])
        out.append(rec)
    return _json(out, modified=f.modified)


@_with_fleet
def get_fleet_wings(s, f, w, route, req):
    return _json([{"id": k, "name": v["name"],
                   "squads": [{"id": q, "name": n} for q, n in sorted(v["squads"].items())]}
                  for k, v in sorted(f.wings.items())], modified=f.modified)


@_with_fleet
def put_fleet(s, f, w, route, req):
    b = req.body
    if "motd" in b:
        f.motd = b["motd"]
    if "is_free_move" in b:
        f.is_free_move = b["is_free_move"]
    f.modified = time.time()
    return _none()


def _placement(f, b, invite):
    """(role, wing_id, squad_id) for an invitation or a move, by the role
    rules of the description; 422 when they are broken."""
    role, wing, squad = b["role"], b.get("wing_id"), b.get("squad_id")
    if role == "fleet_commander":
        if wing is not None or squad is not None:
            raise Fail(422, "A fleet commander takes neither wing_id nor squad_id")
        if any(m["role"] == "fleet_commander" for m in f.members.values()):
            raise Fail(422, "The fleet already has a fleet commander")
        return role, -1, -1
    if role == "wing_commander":
        if wing is None or squad is not None:
            raise Fail(422, "A wing commander takes wing_id only")
    elif role == "squad_commander" or (role == "squad_member" and not invite):
        if wing is None or squad is None:
            raise Fail(422, "A %s takes both wing_id and squad_id" % role.replace("_", " "))
    elif (wing is None) != (squad is None):
        raise Fail(422, "A squad member takes both wing_id and squad_id, or neither")
    if wing is None:
        # any squad with room
        for wid in sorted(f.wings):
            for sid in sorted(f.wings[wid]["squads"]):
                return role, wid, sid
        raise Fail(422, "The fleet has no squad to join")
    if wing not in f.wings:
        raise Fail(422, "Wing %d is not in the fleet" % wing)
    if squad is not None and squad not in f.wings[wing]["squads"]:
        raise Fail(422, "Squad %d is not in wing %d" % (squad, wing))
    return role, wing, -1 if squad is None else squad


@_with_fleet
def post_fleet_member(s, f, w, route, req):
    b = req.body
    cid = b["character_id"]
    if writes.affiliation_of(w, cid) is None:
        raise Fail(404, "Character not found")
    if s.fleet_of(cid) is not None:
        raise Fail(422, "The character is already in a fleet")
    if writes.cspa_charge(cid):
        raise Fail(422, "The character has a CSPA charge set")
    role, wing, squad = _placement(f, b, True)
    f.invitations.append({"character_id": cid, "role": role, "wing_id": wing,
                          "squad_id": squad, "invited": iso(time.time())})
    f.members[cid] = s._member(role, wing, squad, iso(time.time()))
    f.modified = time.time()
    return _none()


def _fleet_member(f, req):
    m = f.members.get(req.args["member_id"])
    if m is None:
        raise Fail(404, "Fleet member not found")
    return m


@_with_fleet
def put_fleet_member(s, f, w, route, req):
    m = _fleet_member(f, req)
    old = m["role"]
    if old == "fleet_commander":
        m["role"] = "squad_member"     # not counted as the commander while placing
    try:
        role, wing, squad = _placement(f, req.body, False)
    except Fail:
        m["role"] = old
        raise
    m.update(role=role, wing_id=wing, squad_id=squad)
    f.modified = time.time()
    return _none()


@_with_fleet
def delete_fleet_member(s, f, w, route, req):
    _fleet_member(f, req)
    if req.args["member_id"] == f.boss:
        raise Fail(422, "The fleet boss cannot be kicked")
    del f.members[req.args["member_id"]]
    f.modified = time.time()
    return _none()


@_with_fleet
def post_wing(s, f, w, route, req):
    wid = s.next_wing
    s.next_wing += 1
    f.wings[wid] = {"name": "Wing %d" % (len(f.wings) + 1), "squads": {}}
    f.modified = time.time()
    return _json({"wing_id": wid}, 201)


def _wing(f, req):
    wg = f.wings.get(req.args["wing_id"])
    if wg is None:
        raise Fail(404, "Wing not found")
    return wg


@_with_fleet
def put_wing(s, f, w, route, req):
    _wing(f, req)["name"] = req.body["name"]
    f.modified = time.time()
    return _none()


@_with_fleet
def delete_wing(s, f, w, route, req):
    _wing(f, req)
    if any(m["wing_id"] == req.args["wing_id"] for m in f.members.values()):
        raise Fail(422, "Only empty wings can be deleted")
    del f.wings[req.args["wing_id"]]
    f.modified = time.time()
    return _none()


@_with_fleet
def post_squad(s, f, w, route, req):
    wg = _wing(f, req)
    sid = s.next_squad
    s.next_squad += 1
    wg["squads"][sid] = "Squad %d" % (len(wg["squads"]) + 1)
    f.modified = time.time()
    return _json({"squad_id": sid}, 201)


def _squad(f, req):
    for wid, wg in f.wings.items():
        if req.args["squad_id"] in wg["squads"]:
            return wid, wg
    raise Fail(404, "Squad not found")


@_with_fleet
def put_squad(s, f, w, route, req):
    _, wg = _squad(f, req)
    wg["squads"][req.args["squad_id"]] = req.body["name"]
    f.modified = time.time()
    return _none()


@_with_fleet
def delete_squad(s, f, w, route, req):
    _, wg = _squad(f, req)
    if any(m["squad_id"] == req.args["squad_id"] for m in f.members.values()):
        raise Fail(422, "Only empty squads can be deleted")
    del wg["squads"][req.args["squad_id"]]
    f.modified = time.time()
    return _none()


# -- the game client --------------------------------------------------------------------------

def _ui(action, **fields):
    def handler(w, route, req):
        s = get_store(w)
        b = req.body or {}
        if action == "newmail" and "to_corp_or_alliance_id" in b and "to_mailing_list_id" in b:
            raise Fail(422, "Give to_corp_or_alliance_id or to_mailing_list_id, not both")
        rec = {"action": action}
        for k, src in fields.items():
            v = req.args.get(src) if src in req.args else b.get(src)
            if isinstance(v, list):
                v = ",".join(str(x) for x in v)
            rec[k] = v
        with s.lock:
            st = s.char(req.character_id)
            s.ui_seq += 1
            rec["seq"] = s.ui_seq
            rec["at"] = iso(time.time())
            st.ui.append(rec)
        return _none()
    return handler


def ui_rows(w, cid=None):
    """The UI requests received (for /_sim/ui): flat rows, oldest first."""
    s = get_store(w)
    keys = ("seq", "character_id", "action", "target_id", "add_to_beginning",
            "clear_other_waypoints", "subject", "body", "recipients",
            "to_corp_or_alliance_id", "to_mailing_list_id", "at")
    with s.lock:
        rows = [dict({k: None for k in keys}, character_id=c, **r)
                for c, st in s.chars.items() if cid is None or c == cid for r in st.ui]
    return sorted(rows, key=lambda r: r["seq"])


def fleet_rows(w):
    """Every fleet member (for /_sim/fleets)."""
    s = get_store(w)
    with s.lock:
        return [dict(m, fleet_id=f.fleet_id, character_id=c, fleet_boss_id=f.boss)
                for f in s.fleets.values() for c, m in sorted(f.members.items())]


def wing_rows(w):
    """Every squad of every fleet, with its wing (for /_sim/fleet_wings: the
    fleet routes need the boss's token, which a test cannot always send);
    a wing without squads has one row with squad_id null."""
    s = get_store(w)
    with s.lock:
        return [{"fleet_id": f.fleet_id, "wing_id": k, "wing_name": wg["name"],
                 "squad_id": q, "squad_name": n}
                for f in s.fleets.values() for k, wg in sorted(f.wings.items())
                for q, n in (sorted(wg["squads"].items()) or [(None, None)])]


GET_HANDLERS = {
    CHAR + "/contacts": get_contacts,
    CHAR + "/contacts/labels": get_contact_labels,
    CHAR + "/fittings": get_fittings,
    CHAR + "/mail": get_mail,
    CHAR + "/mail/{mail_id}": get_mail_one,
    CHAR + "/mail/labels": get_mail_labels,
    CHAR + "/calendar": get_calendar,
    CHAR + "/calendar/{event_id}": get_event,
    CHAR + "/calendar/{event_id}/attendees": get_attendees,
    CHAR + "/fleet": get_character_fleet,
    "/fleets/{fleet_id}": get_fleet,
    "/fleets/{fleet_id}/members": get_fleet_members,
    "/fleets/{fleet_id}/wings": get_fleet_wings,
}

WRITE_HANDLERS = {
    ("POST", CHAR + "/contacts"): post_contacts,
    ("PUT", CHAR + "/contacts"): put_contacts,
    ("DELETE", CHAR + "/contacts"): delete_contacts,
    ("POST", CHAR + "/fittings"): post_fitting,
    ("DELETE", CHAR + "/fittings/{fitting_id}"): delete_fitting,
    ("POST", CHAR + "/mail"): post_mail,
    ("PUT", CHAR + "/mail/{mail_id}"): put_mail,
    ("DELETE", CHAR + "/mail/{mail_id}"): delete_mail,
    ("POST", CHAR + "/mail/labels"): post_mail_label,
    ("DELETE", CHAR + "/mail/labels/{label_id}"): delete_mail_label,
    ("PUT", CHAR + "/calendar/{event_id}"): put_event,
    ("PUT", "/fleets/{fleet_id}"): put_fleet,
    ("POST", "/fleets/{fleet_id}/members"): post_fleet_member,
    ("PUT", "/fleets/{fleet_id}/members/{member_id}"): put_fleet_member,
    ("DELETE", "/fleets/{fleet_id}/members/{member_id}"): delete_fleet_member,
    ("POST", "/fleets/{fleet_id}/wings"): post_wing,
    ("PUT", "/fleets/{fleet_id}/wings/{wing_id}"): put_wing,
    ("DELETE", "/fleets/{fleet_id}/wings/{wing_id}"): delete_wing,
    ("POST", "/fleets/{fleet_id}/wings/{wing_id}/squads"): post_squad,
    ("PUT", "/fleets/{fleet_id}/squads/{squad_id}"): put_squad,
    ("DELETE", "/fleets/{fleet_id}/squads/{squad_id}"): delete_squad,
    ("POST", "/ui/autopilot/waypoint"): _ui("waypoint", target_id="destination_id",
                                            add_to_beginning="add_to_beginning",
                                            clear_other_waypoints="clear_other_waypoints"),
    ("POST", "/ui/openwindow/contract"): _ui("contract", target_id="contract_id"),
    ("POST", "/ui/openwindow/information"): _ui("information", target_id="target_id"),
    ("POST", "/ui/openwindow/marketdetails"): _ui("marketdetails", target_id="type_id"),
    ("POST", "/ui/openwindow/newmail"): _ui("newmail", subject="subject", body="body",
                                            recipients="recipients",
                                            to_corp_or_alliance_id="to_corp_or_alliance_id",
                                            to_mailing_list_id="to_mailing_list_id"),
}
