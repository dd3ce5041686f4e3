"""The static universe: regions, constellations, systems, stations, types.

A handful of well-known objects carry their real ids and names (the trade
hubs, the minerals, PLEX, a few ships) so tests read naturally; the rest is
generated from the seed.  Only cheap facts are built at start-up; the full
/universe/... objects are rendered on first request (see routes.py).
"""

from .rng import Rng, hash64, unit

# Reference instant of all generated data: 2026-11-20T00:00:00Z.
DATA_DAY = "2026-11-20"
DATA_EPOCH = 1795132800

# (region_id, name, market pages, hub system, hub station, share of orders at the hub)
REAL_REGIONS = [
    (10000002, "The Forge", None, 30000142, 60003760, 0.62),
    (10000043, "Domain", 60, 30002187, 60008494, 0.50),
    (10000032, "Sinq Laison", 40, 30002659, 60011866, 0.45),
    (10000030, "Heimatar", 25, 30002510, 60004588, 0.40),
    (10000042, "Metropolis", 25, 30002053, 60005686, 0.40),
    (10000016, "Lonetrek", 0, None, None, 0.30),
    (10000033, "The Citadel", 0, None, None, 0.30),
    (10000064, "Essence", 0, None, None, 0.30),
    (10000037, "Everyshore", 0, None, None, 0.30),
    (10000067, "Genesis", 0, None, None, 0.30),
    (10000052, "Kador", 0, None, None, 0.30),
    (10000036, "Devoid", 0, None, None, 0.30),
    (10000049, "Khanid", 0, None, None, 0.30),
    (10000048, "Placid", 0, None, None, 0.30),
    (10000068, "Verge Vendor", 0, None, None, 0.30),
    (10000028, "Molden Heath", 0, None, None, 0.30),
    (10000001, "Derelik", 0, None, None, 0.30),
    (10000020, "Tash-Murkon", 0, None, None, 0.30),
    (10000044, "Solitude", 0, None, None, 0.30),
    (10000069, "Black Rise", 0, None, None, 0.30),
]
WORMHOLE_REGION = (11000001, "A-R00001")
# Generated market regions (Universe(market_regions=N) beyond the real ones
# above): free k-space region ids, small markets of this many pages.
EXTRA_REGION_IDS = (10000001, 10000070)
EXTRA_REGION_PAGES = (2, 8)

# system_id: (name, security_status, constellation_id or None, constellation name)
REAL_SYSTEMS = {
    30000142: ("Jita", 0.9459131360054016, 20000020, "Kimotoro"),
    30002187: ("Amarr", 1.0, 20000322, "Throne Worlds"),
    30002659: ("Dodixie", 0.8725, None, None),
    30002510: ("Rens", 0.8972, None, None),
    30002053: ("Hek", 0.4998, None, None),
}

# station_id: (name, owner corporation, race_id, station type_id)
REAL_STATIONS = {
    60003760: ("Jita IV - Moon 4 - Caldari Navy Assembly Plant", 1000035, 1, 1531),
    60008494: ("Amarr VIII (Oris) - Emperor Family Academy", 1000086, 4, 1932),
    60011866: ("Dodixie IX - Moon 20 - Federation Navy Assembly Plant", 1000120, 8, 1529),
    60004588: ("Rens VI - Moon 8 - Brutor Tribe Treasury", 1000049, 2, 1926),
    60005686: ("Hek VIII - Moon 12 - Boundless Creation Factory", 1000057, 2, 1930),
}

# Real types.  base = regional mid price; buy orders fall in [base*buy_lo,
# base*0.99], sell orders in [base, base*sell_hi]; share = fraction of a
# region's orders (Tritanium's 0.3 % makes type_id=34 two pages in The Forge).
# (type_id, name, group_id, market_group_id, volume, base, buy_lo, sell_hi, share)
REAL_TYPES = [
    (34, "Tritanium", 18, 1857, 0.01, 4.55, 0.77, 1.32, 0.0030),
    (35, "Pyerite", 18, 1857, 0.01, 11.0, 0.73, 1.36, 0.0018),
    (36, "Mexallon", 18, 1857, 0.01, 70.0, 0.80, 1.25, 0.0012),
    (37, "Isogen", 18, 1857, 0.01, 160.0, 0.80, 1.25, 0.0010),
    (38, "Nocxium", 18, 1857, 0.01, 800.0, 0.80, 1.25, 0.0009),
    (39, "Zydrine", 18, 1857, 0.01, 1500.0, 0.80, 1.25, 0.0008),
    (40, "Megacyte", 18, 1857, 0.01, 3000.0, 0.80, 1.25, 0.0008),
    (11399, "Morphite", 18, 1857, 0.01, 9000.0, 0.80, 1.25, 0.0006),
    (44992, "PLEX", 1875, 2108, 0.01, 5000000.0, 0.90, 1.10, 0.0017),
    (40520, "Large Skill Injector", 1739, 2290, 0.01, 900000000.0, 0.90, 1.08, 0.0012),
    (45635, "Small Skill Injector", 1739, 2290, 0.01, 180000000.0, 0.90, 1.08, 0.0006),
    (587, "Rifter", 25, 64, 27289.0, 500000.0, 0.75, 1.30, 0.0005),
    (24698, "Drake", 419, 471, 252000.0, 64500000.0, 0.93, 1.085, 0.0007),
    (638, "Raven", 27, 80, 486000.0, 250000000.0, 0.85, 1.15, 0.0005),
    (1230, "Veldspar", 462, 512, 0.1, 15.0, 0.75, 1.30, 0.0006),
]

N_TYPES = 20350
GENERIC_BUY_LO, GENERIC_SELL_HI = 0.70, 1.30

_SYL = ["ja", "ta", "ku", "mi", "ra", "no", "si", "ve", "ol", "an", "ed", "ur", "ik", "os",
        "el", "ho", "ar", "en", "ti", "ka", "lo", "me", "ni", "sa", "to", "za", "ba", "de",
        "fi", "gu", "vo", "ry", "ce", "ha", "mo", "un", "is", "ai", "ou", "ke"]

_PREFIX = ["Compact", "Enduring", "Scoped", "Restrained", "Upgraded", "Limited", "Experimental",
           "Prototype", "Caldari Navy", "Imperial Navy", "Federation Navy", "Republic Fleet",
           "Domination", "Dark Blood", "True Sansha", "Shadow Serpentis", "Dread Guristas",
           "Corpum", "Centii", "Gistii", "Coreli", "Pithum", "Corelum", "Gist", "Pith", "Core",
           "Centus", "Syndicate", "Khanid Navy", "Ammatar Navy", "Thukker", "Sisters", "ORE",
           "Mordu's", "Veles", "Vigil", "'Arbalest'", "'Malkuth'", "'Limos'", "Ducinium",
           "Abyssal", "Integrated", "Augmented", "Polarized", "Tengu", "Hydra"]
_SIZE = ["Small", "Medium", "Large", "X-Large", "Capital", "Micro", "Heavy", "Light"]
_MODULE = ["Missile Launcher", "Rapid Missile Launcher", "Cruise Missile Launcher",
           "Torpedo Launcher", "Rocket Launcher", "Shield Extender", "Shield Booster",
           "Shield Hardener", "Armor Repairer", "Armor Plate", "Armor Hardener",
           "Adaptive Nano Membrane", "Warp Scrambler", "Warp Disruptor", "Stasis Webifier",
           "Ballistic Control System", "Damage Control", "Sensor Booster", "Capacitor Recharger",
           "Capacitor Battery", "Gyrostabilizer", "Magnetic Field Stabilizer", "Heat Sink",
           "Afterburner", "Microwarpdrive", "Cap Booster", "Drone Damage Amplifier",
           "Tracking Computer", "Tracking Enhancer", "Remote Armor Repairer",
           "Remote Shield Booster", "Energy Neutralizer", "Energy Nosferatu",
           "Mining Laser Upgrade", "Cloaking Device", "Hull Reinforcer", "Inertial Stabilizer",
           "Nanofiber Internal Structure", "Overdrive Injector System", "Signal Amplifier",
           "Target Painter", "Sensor Dampener", "Tracking Disruptor", "ECM", "Smartbomb",
           "Pulse Laser", "Beam Laser", "Neutron Blaster", "Ion Blaster", "Electron Blaster",
           "Railgun", "Autocannon", "Artillery Cannon", "Salvager", "Tractor Beam",
           "Data Analyzer", "Relic Analyzer", "Cargo Scanner", "Ship Scanner", "Strip Miner",
           "Mining Laser", "Ice Harvester", "Gas Cloud Scoop", "Shield Power Relay",
           "Armor Explosive Hardener", "Shield Kinetic Amplifier", "Processor Overclocking Unit",
           "Co-Processor", "Power Diagnostic System", "Reactor Control Unit"]
_CHARGE = ["Antimatter Charge", "Iridium Charge", "Lead Charge", "Thorium Charge",
           "Uranium Charge", "Plutonium Charge", "Tungsten Charge", "Iron Charge", "EMP",
           "Fusion", "Phased Plasma", "Carbonized Lead", "Nuclear", "Proton",
           "Depleted Uranium", "Titanium Sabot", "Multifrequency Crystal", "Radio Crystal",
           "Microwave Crystal", "Infrared Crystal", "Standard Crystal", "Ultraviolet Crystal",
           "Xray Crystal", "Gamma Crystal", "Scourge Heavy Missile", "Inferno Heavy Missile",
           "Mjolnir Heavy Missile", "Nova Heavy Missile", "Scourge Light Missile",
           "Inferno Cruise Missile", "Mjolnir Torpedo", "Nova Rocket", "Scourge Fury Light Missile",
           "Inferno Rage Torpedo", "Mjolnir Precision Cruise Missile", "Navy Cap Booster"]
_CHARGE_SIZE = ["S", "M", "L", "XL"]
_DRONE = ["Hobgoblin", "Hammerhead", "Ogre", "Warrior", "Valkyrie", "Berserker", "Acolyte",
          "Infiltrator", "Praetor", "Hornet", "Vespa", "Wasp", "Bouncer", "Curator", "Garde",
          "Warden", "Mining Drone", "Salvage Drone", "Hornet EC-300", "Acolyte EV-300"]
_SKILL_A = ["Advanced", "Expert", "Rapid", "Capital", "Controlled", "Surgical", "Elite",
            "Thermodynamic", "Tactical", "Long Range", "Sharp", "Fuel", "Cargo", "Fleet"]
_SKILL_B = ["Spaceship Command", "Shield Operation", "Armor Rigging", "Missile Operation",
            "Drone Interfacing", "Navigation", "Gunnery", "Electronics", "Targeting",
            "Bursts", "Logistics", "Salvaging", "Refining", "Reprocessing", "Production",
            "Science", "Trade", "Connections", "Leadership", "Mechanics"]
_MATERIAL = ["Carbonide", "Plasmite", "Ferrogel", "Fermionic Condensate", "Nanotransistor",
             "Sylramic Fiber", "Titanium Carbide", "Tungsten Carbide", "Fullerides",
             "Hypersynaptic Fiber", "Phenolic Composite", "Crystalline Carbonide",
             "Nanite Compound", "Polyaramid", "Coolant", "Enriched Uranium", "Oxygen",
             "Mechanical Parts", "Robotics", "Construction Blocks", "Superconductor",
             "Microfiber Shielding", "Supertensile Plastic", "Viral Agent", "Biocells"]
_SHIP_SUFFIX = ["", "", "", " Navy Issue", " Fleet Issue", " Issue", " Explorer Edition"]
_RACES = [1, 2, 4, 8]

# family: (share of generated types, group base, market group base, volume range)
_FAMILIES = [
    ("module", 0.40, 40, 100, (5.0, 50.0)),
    ("charge", 0.14, 80, 600, (0.01, 0.1)),
    ("blueprint", 0.16, 900, 1000, (0.01, 0.01)),
    ("ship", 0.06, 300, 1300, (2000.0, 500000.0)),
    ("drone", 0.05, 100, 1500, (5.0, 50.0)),
    ("skill", 0.06, 255, 150, (0.01, 0.01)),
    ("material", 0.08, 420, 1800, (0.01, 2.0)),
    ("implant", 0.05, 740, 1900, (1.0, 1.0)),
]


class Region:
    __slots__ = ("region_id", "name", "description", "constellations", "market", "pages",
                 "hub_system", "hub_station", "hub_share", "stations", "structures")


class Constellation:
    __slots__ = ("constellation_id", "name", "region_id", "systems", "position")


class System:
    __slots__ = ("system_id", "name", "constellation_id", "region_id", "security_status",
                 "position", "star_id", "stations", "planets", "stargates")


class Station:
    """A market location: an NPC station or (structure=True) a player structure."""
    __slots__ = ("station_id", "name", "system_id", "region_id", "owner", "race_id",
                 "type_id", "position", "structure")


class ItemType:
    __slots__ = ("type_id", "name", "family", "published", "group_id", "market_group_id",
                 "volume", "base", "buy_lo", "sell_hi", "weight", "share")


def _syllable_name(rng, lo=2, hi=3):
    n = rng.between(lo, hi)
    return "".join(rng.choice(_SYL) for _ in range(n)).capitalize()


def _position(rng, scale):
    return (round(rng.uniform(-scale, scale), -3), round(rng.uniform(-scale, scale), -3),
            round(rng.uniform(-scale, scale), -3))


def _system_index(system_id):
    """1..5000 for k-space systems, 5001.. for wormhole systems."""
    if system_id >= 31000000:
        return 5000 + system_id - 31000000
    return system_id - 30000000


def celestial_ids(star_id, planet_index, n_moons, n_belts):
    """Moon and asteroid-belt ids of a planet, inside its system's block."""
    moons = [star_id + 100 + 20 * planet_index + k for k in range(n_moons)]
    belts = [star_id + 500 + 10 * planet_index + k for k in range(n_belts)]
    return moons, belts


def _roman(n):
    vals = [(10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")]
    out = ""
    for v, s in vals:
        while n >= v:
            out += s
            n -= v
    return out


class Universe:
    """Every static object of the simulated New Eden, built from a seed."""

    def __init__(self, seed, forge_pages=411, market_regions=None):
        self.seed = seed
        self.forge_pages = forge_pages
        # None: the real regions only (len(REAL_REGIONS) markets); more adds
        # generated ones after them, so the others keep their data
        self.n_market_regions = market_regions or len(REAL_REGIONS)
        self.regions = {}
        self.region_index = {}  # each region's block of order ids
        self.constellations = {}
        self.systems = {}
        self.stations = {}      # NPC stations and structures, by location id
        self.types = {}
        self._build_geography()
        # the built-in regions in id order, then the generated ones
        base = sorted(r for r in self.regions if r not in self._extra)
        for rid in base + self._extra:
            self.region_index[rid] = len(self.region_index)
        self._build_types()
        self.type_ids = sorted(self.types)
        self.market_type_ids = [t for t in self.type_ids if self.types[t].market_group_id]

    # -- geography -------------------------------------------------------------------

    def _build_geography(self):
        rng = Rng("universe:%d:geo" % self.seed)
        used_const = {c[2] for c in REAL_SYSTEMS.values() if c[2]}
        used_sys = set(REAL_SYSTEMS)
        used_sta = set(REAL_STATIONS)
        used_names = {v[0] for v in REAL_SYSTEMS.values()}

        def fresh(used, lo, hi):
            while True:
                x = rng.between(lo, hi)
                if x not in used:
                    used.add(x)
                    return x

        def fresh_name():
            while True:
                n = _syllable_name(rng)
                if n not in used_names:
                    used_names.add(n)
                    return n

        specs = list(REAL_REGIONS) + [(WORMHOLE_REGION[0], WORMHOLE_REGION[1], -1, None, None, 0)]
        # Generated markets come last, from the same stream: the regions
        # before them are built exactly as without them.
        used_rid = {r[0] for r in specs}
        self._extra = []
        free = [i for i in range(EXTRA_REGION_IDS[0], EXTRA_REGION_IDS[1] + 1) if i not in used_rid]
        for k in range(self.n_market_regions - len(REAL_REGIONS)):
            specs.append((free[k], None, -2, None, None, 0.30))
        for rid, name, pages, hub_sys, hub_sta, hub_share in specs:
            if pages == -2:
                name, pages = fresh_name(), rng.between(*EXTRA_REGION_PAGES)
                self._extra.append(rid)
            r = Region()
            r.region_id, r.name = rid, name
            r.market = pages != -1
            if pages is None:
                pages = self.forge_pages
            elif pages == 0:
                pages = rng.between(1, 5)
            r.pages = max(pages, 0)
            r.hub_share = hub_share
            r.description = self._region_description(rng, name)
            r.constellations, r.stations, r.structures = [], [], []
            r.hub_station = r.hub_system = None
            self.regions[rid] = r
            big = r.pages >= 20
            n_const = rng.between(4, 6) if big else rng.between(2, 4)
            wormhole = not r.market
            hub_const = REAL_SYSTEMS[hub_sys][2] if hub_sys else None
            for ci in range(n_const):
                c = Constellation()
                if ci == 0 and hub_const:
                    c.constellation_id, c.name = hub_const, REAL_SYSTEMS[hub_sys][3]
                elif wormhole:
                    c.constellation_id = fresh(used_const, 21000001, 21000999)
                    c.name = "A-C%05d" % ci
                else:
                    c.constellation_id, c.name = fresh(used_const, 20000001, 20001100), fresh_name()
                c.region_id = rid
                c.position = _position(rng, 9e16)
                c.systems = []
                self.constellations[c.constellation_id] = c
                r.constellations.append(c.constellation_id)
                n_sys = rng.between(3, 7)
                for si in range(n_sys):
                    s = System()
                    if ci == 0 and si == 0 and hub_sys:
                        s.system_id = hub_sys
                        s.name, s.security_status = REAL_SYSTEMS[hub_sys][:2]
                    elif wormhole:
                        s.system_id = fresh(used_sys, 31000001, 31002500)
                        s.name = "J%06d" % rng.between(100000, 999999)
                        s.security_status = -1.0
                    else:
                        s.system_id = fresh(used_sys, 30000001, 30005000)
                        s.name = fresh_name()
                        s.security_status = round(rng.uniform(0.45, 1.0) if r.pages >= 5
                                                  else rng.uniform(-0.3, 1.0), 4)
                    s.constellation_id, s.region_id = c.constellation_id, rid
                    s.position = _position(rng, 5e16)
                    # Celestials get a block of 1000 ids per system (see
                    # celestial_ids), so stars, planets, moons never collide.
                    block = _system_index(s.system_id)
                    s.star_id = 40000000 + block * 1000
                    s.stations = []
                    s.planets = [s.star_id + 1 + k for k in range(rng.between(2, 9))]
                    s.stargates = [50000000 + block * 10 + k for k in range(rng.between(1, 4))]
                    self.systems[s.system_id] = s
                    c.systems.append(s.system_id)
                    if ci == 0 and si == 0 and hub_sys:
                        self._add_station(hub_sta, s, REAL_STATIONS[hub_sta])
                        r.hub_station = hub_sta
            if wormhole:
                r.hub_station = r.hub_system = None
                continue
            # Generated NPC stations, then a few structures in the busy regions.
            n_sta = (12 if rid == 10000002 else 8) if big else rng.between(2, 4)
            region_systems = [sid for cid in r.constellations
                              for sid in self.constellations[cid].systems]
            for k in range(n_sta):
                s = self.systems[rng.choice(region_systems)]
                sid = fresh(used_sta, 60000000, 60015000)
                planet = rng.between(1, 9)
                moon = rng.between(1, 20)
                corp = rng.choice(["Caldari Navy", "Ishukone Corporation", "Lai Dai Corporation",
                                   "Sukuuvestaa Corporation", "Federal Navy Academy",
                                   "Ministry of Internal Order", "CONCORD", "Brutor Tribe",
                                   "Pator Tech School", "Roden Shipyards", "Genolution"])
                kind = rng.choice(["Assembly Plant", "Warehouse", "Logistic Support",
                                   "Factory", "Bureau", "Academy", "Trading Post",
                                   "Storage", "Research Center", "Testing Facilities"])
                name = "%s %s - Moon %d - %s %s" % (s.name, _roman(planet), moon, corp, kind)
                owner = 1000000 + rng.between(1, 200)
                race = rng.choice(_RACES)
                self._add_station(sid, s, (name, owner, race,
                                           rng.choice([1529, 1531, 1926, 1930, 1932])))
            if r.hub_station is None:
                r.hub_station = r.stations[0]
                r.hub_system = self.stations[r.hub_station].system_id
            else:
                r.hub_system = hub_sys
            if r.pages >= 40:
                for k in range(2):
                    s = self.systems[rng.choice(region_systems)]
                    st = Station()
                    st.station_id = 1020000000000 + rng.between(0, 49999999999)
                    st.name = "%s - %s" % (s.name, rng.choice([
                        "Trade Hub", "Market Keepstar", "Freeport Fortizar", "Azbel Works"]))
                    st.system_id, st.region_id = s.system_id, rid
                    st.owner = 98000000 + rng.between(0, 999999)
                    st.race_id, st.type_id = None, 35833
                    st.position, st.structure = _position(rng, 1e12), True
                    self.stations[st.station_id] = st
                    r.structures.append(st.station_id)

    def _add_station(self, sid, system, info):
        st = Station()
        st.station_id = sid
        st.name, st.owner, st.race_id, st.type_id = info
        st.system_id, st.region_id = system.system_id, system.region_id
        rng = Rng("universe:%d:station:%d" % (self.seed, sid))
        st.position = _position(rng, 1e12)
        st.structure = False
        self.stations[sid] = st
        system.stations.append(sid)
        self.regions[system.region_id].stations.append(sid)

    @staticmethod
    def _region_description(rng, name):
        a = rng.choice(["Ancient", "Vast", "Contested", "Prosperous", "Quiet", "Storied",
                        "Rugged", "Crowded", "Remote"])
        b = rng.choice(["trade lanes", "mining fields", "shipyards", "nebulae", "border systems",
                        "pirate havens", "research stations", "agricultural worlds"])
        c = rng.choice(["Capsuleers come here for its markets.",
                        "Its history is older than the empires.",
                        "Few outsiders stay for long.",
                        "The stargates here never rest."])
        return "%s %s with %s. %s" % (a, name if name else "space", b, c)

    # -- types -----------------------------------------------------------------------

    def _build_types(self):
        seed = self.seed
        rng = Rng("universe:%d:types" % seed)
        real_ids = {t[0] for t in REAL_TYPES}
        names = {t[1] for t in REAL_TYPES}
        for (tid, name, group, mgroup, vol, base, lo, hi, share) in REAL_TYPES:
            t = ItemType()
            t.type_id, t.name, t.family, t.published = tid, name, "real", True
            t.group_id, t.market_group_id, t.volume = group, mgroup, vol
            t.base, t.buy_lo, t.sell_hi, t.share, t.weight = base, lo, hi, share, 0.0
            self.types[tid] = t
        pool = [i for i in range(1, 60001) if i not in real_ids]
        ids = sorted(rng.sample(pool, N_TYPES - len(REAL_TYPES)))
        fam_cum, acc = [], 0.0
        for f in _FAMILIES:
            acc += f[1]
            fam_cum.append(acc)
        for tid in ids:
            x = unit(rng.u64()) * acc
            fam = next(f for f, c in zip(_FAMILIES, fam_cum) if x < c)
            name = None
            for _ in range(6):
                cand = self._type_name(rng, fam[0])
                if cand not in names:
                    name = cand
                    break
            if name is None:
                name = "%s %d" % (cand, tid)
            names.add(name)
            t = ItemType()
            t.type_id, t.name, t.family = tid, name, fam[0]
            t.published = rng.chance(0.93)
            t.group_id = fam[2] + rng.below(60)
            # Unpublished types and 12 % of the others never reach the market.
            on_market = t.published and rng.chance(0.88)
            t.market_group_id = fam[3] + rng.below(300) if on_market else None
            vlo, vhi = fam[4]
            t.volume = float("%.4g" % rng.uniform(vlo, vhi))
            # Log-uniform 1 .. 1e9 ISK, kept to 4 significant digits so that a
            # libm difference in the last bit can never change the data.
            t.base = float("%.4g" % (10.0 ** (9.0 * rng.random())))
            t.buy_lo, t.sell_hi, t.share = GENERIC_BUY_LO, GENERIC_SELL_HI, 0.0
            # Popularity: Pareto(1.5) capped, so no generic type fills a page.
            t.weight = min(15.0, (1.0 - rng.random()) ** (-1 / 1.5))
            t.weight = float("%.4g" % t.weight)
            self.types[tid] = t

    @staticmethod
    def _type_name(rng, family):
        if family == "module":
            n = rng.choice(_MODULE)
            if rng.chance(0.5):
                n = rng.choice(_SIZE) + " " + n
            if rng.chance(0.6):
                return rng.choice(_PREFIX) + " " + n
            return n + rng.choice([" I", " II"])
        if family == "charge":
            n = rng.choice(_CHARGE)
            if rng.chance(0.3):
                n = rng.choice(_PREFIX[8:20]) + " " + n
            return n + " " + rng.choice(_CHARGE_SIZE)
        if family == "blueprint":
            inner = Universe._type_name(rng, rng.choice(["module", "charge", "ship", "drone"]))
            return inner + " Blueprint"
        if family == "ship":
            return _syllable_name(rng, 2, 3) + rng.choice(_SHIP_SUFFIX)
        if family == "drone":
            prefix = rng.choice(_PREFIX[8:20] + [""] * 4)
            drone = rng.choice(_DRONE)
            return (prefix + " " if prefix else "") + drone + rng.choice([" I", " II", ""])
        if family == "skill":
            return rng.choice(_SKILL_A) + " " + rng.choice(_SKILL_B)
        if family == "material":
            return rng.choice(["", "Compressed ", "Refined ", "Pure ", "Condensed "]) + \
                rng.choice(_MATERIAL) + rng.choice(["", " " + _syllable_name(rng, 1, 2)])
        # implant
        return "%s '%s' %s %s-%d%02d" % (
            rng.choice(["Zainou", "Inherent Implants", "Eifyr and Co.", "Hardwiring -", "Poteque"]),
            _syllable_name(rng, 2, 2), rng.choice(_SKILL_B),
            rng.choice(["SU", "RS", "GS", "MX", "NN", "HG"]), rng.between(6, 10), rng.between(1, 9))

    # -- helpers ---------------------------------------------------------------------

    def regional_base(self, region_id, type_id):
        """The mid price of a type in a region: its base moved by up to +-3 %."""
        t = self.types[type_id]
        f = 0.97 + 0.06 * unit(hash64("%d:rf:%d:%d" % (self.seed, region_id, type_id)))
        return t.base * f

    def market_regions(self):
        return [r for r in self.regions.values() if r.market]
