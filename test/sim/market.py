"""Market data: orders (pre-rendered pages), history, prices.

Orders are the hot path: The Forge alone is 411 pages of 240 KB.  Every
region's order_type=all pages are rendered once at start-up (or loaded from
test/.cache/) and served as they are.  Filtered requests (order_type=buy|sell,
type_id=...) are cut out of those pages by byte offsets, so a filtered page
is the same bytes as in the unfiltered one, and cached.

Each region's orders come from their own random stream, so a region's data
does not depend on which other regions exist.
"""

import array
import bisect
import hashlib
import marshal
import math
import os
import sys
import threading
import time

from . import rng as rngmod
from .body import EMPTY_ARRAY, Body, BodyCache, json_array, paginate
from .rng import Rng, unit
from .universe import DATA_EPOCH

PER_PAGE = 1000
ORDER_JSON = ('{"duration":%d,"is_buy_order":%s,"issued":"%s","location_id":%d,'
              '"min_volume":%d,"order_id":%d,"price":%s,"range":"%s","system_id":%d,'
              '"type_id":%d,"volume_remain":%d,"volume_total":%d}')
CSV_HEADER = ("order_id,type_id,location_id,system_id,volume_total,volume_remain,min_volume,"
              "price,is_buy_order,duration,issued,range")

# 16-entry tables indexed by 4 random bits: weighted choices without a loop.
_BUY_DURATIONS = [90, 90, 90, 90, 90, 30, 30, 30, 30, 14, 14, 7, 7, 3, 1, 90]
_BUY_RANGES = ["station", "station", "station", "station", "station", "region", "region",
               "region", "region", "solarsystem", "solarsystem", "1", "2", "3", "5", "10"]
_RARE_RANGES = ["4", "20", "30", "40"]
_WINDOW_DAYS = 90
_ISSUED_START = DATA_EPOCH - _WINDOW_DAYS * 86400
_DAYS = [time.strftime("%Y-%m-%d", time.gmtime(_ISSUED_START + d * 86400))
         for d in range(_WINDOW_DAYS)]
HISTORY_DAYS = 400
_HISTORY_DATES = [time.strftime("%Y-%m-%d",
                                time.gmtime(DATA_EPOCH - (HISTORY_DAYS - 1 - d) * 86400))
                  for d in range(HISTORY_DAYS)]
_ORDER_ID_BASE = 6_800_000_000
_ORDER_ID_REGION_STRIDE = 100_000_000


def price_text(cents):
    """ESI-style number text for a price held as integer cents (e.g. 4.5, 5.01)."""
    return repr(cents / 100)


def _volume_scale(base):
    """Typical order size: millions of units for minerals, a handful for ships."""
    return min(5e8, max(1.0, 3e7 / base))


def region_order_count(seed, region):
    """How many orders a region has: its page count, the last page partly filled."""
    if region.pages <= 0:
        return 0
    h = rngmod.hash64("%d:count:%d" % (seed, region.region_id))
    last = 1 + h % 999 if region.region_id == 10000002 else 300 + h % 700
    return (region.pages - 1) * PER_PAGE + last


def generate_orders(universe, region):
    """All orders of a region, sorted by order_id, as tuples in CSV column order:
    (order_id, type_id, location_id, system_id, volume_total, volume_remain,
     min_volume, price_text, is_buy_order, duration, issued, range)."""
    seed = universe.seed
    rid = region.region_id
    n = region_order_count(seed, region)
    if n == 0:
        return []
    types = universe.types
    # Which market types trade here: all of them in The Forge, fewer in small
    # regions; the named types everywhere.
    mids = universe.market_type_ids
    cover = min(0.97, (n / (25.0 * len(mids))) ** 0.5)
    act_words = rngmod.words("%d:active:%d" % (seed, rid), len(mids))
    generic, named = [], []
    for tid, w in zip(mids, act_words):
        t = types[tid]
        if t.share > 0:
            named.append(t)
        elif unit(w) < cover:
            generic.append(t)
    wg = sum(t.weight for t in generic)
    share = sum(t.share for t in named)
    active, cum, acc = [], [], 0.0
    for t in named:
        acc += t.share * wg / (1.0 - share)
        active.append(t)
        cum.append(acc)
    for t in generic:
        acc += t.weight
        active.append(t)
        cum.append(acc)
    wtot = acc

    # Locations: the hub takes its share, structures 4 % each, the rest is
    # spread over the other stations.
    st = universe.stations
    locs, lw = [region.hub_station], [region.hub_share]
    for sid in region.structures:
        locs.append(sid)
        lw.append(0.04)
    others = [s for s in region.stations if s != region.hub_station]
    lrng = Rng("%d:locs:%d" % (seed, rid))
    ow = [0.2 + lrng.random() for _ in others]
    rest = 1.0 - sum(lw)
    for sid, w in zip(others, ow):
        locs.append(sid)
        lw.append(rest * w / sum(ow))
    lcum, acc = [], 0.0
    for w in lw:
        acc += w
        lcum.append(acc / sum(lw))
    lcum[-1] = 1.0
    loc_sys = [st[s].system_id for s in locs]

    # Per-type price parameters, filled on first use.
    pinfo = {}
    words = rngmod.words("%d:orders:%d" % (seed, rid), 5 * n)
    order_id = _ORDER_ID_BASE + _ORDER_ID_REGION_STRIDE * _region_index(universe, rid)
    out = []
    append = out.append
    ceil, floor = math.ceil, math.floor
    nact = len(active)
    days = _DAYS
    for i in range(0, 5 * n, 5):
        a0, a1, a2, a3, a4 = words[i], words[i + 1], words[i + 2], words[i + 3], words[i + 4]
        k = bisect.bisect_right(cum, (a0 >> 11) * 1.1102230246251565e-16 * wtot)
        t = active[k if k < nact else nact - 1]
        tid = t.type_id
        p = pinfo.get(tid)
        if p is None:
            base = universe.regional_base(rid, tid)
            p = pinfo[tid] = (base * 100.0, t.sell_hi - 1.0, 0.99 - t.buy_lo, _volume_scale(base))
        base100, up, down, vs = p
        is_buy = (a1 & 0x3FF) < 420
        li = bisect.bisect_right(lcum, ((a1 >> 10) & 0xFFFFFFFF) * 2.3283064365386963e-10)
        if li >= len(locs):
            li = len(locs) - 1
        q = ((a2 >> 11) * 1.1102230246251565e-16) ** 2
        if is_buy:
            cents = max(1, floor(base100 * (0.99 - down * q)))
            duration = _BUY_DURATIONS[(a1 >> 52) & 0xF]
            rng_ix = (a1 >> 42) & 0xF
            order_range = _BUY_RANGES[rng_ix] if (a1 >> 46) & 0x1F else _RARE_RANGES[rng_ix & 3]
        else:
            cents = ceil(base100 * (1.0 + up * q))
            duration = 90
            order_range = "station"
        u = (a3 & 0xFFFFF) * 9.5367431640625e-07
        vt = max(1, int(vs * (0.05 + 4.95 * u * u * u)))
        if (a3 >> 40) & 0xFF < 100:
            vr = vt
        else:
            vr = max(1, int(vt * ((a3 >> 20) & 0xFFFFF) * 9.5367431640625e-07))
        mv = 1
        if is_buy and (a3 >> 48) & 0xFF < 30:
            mv = max(1, min(vr, vt // 10))
        # Issued within the order's duration (and the 90-day window) before
        # the data day, so every order is still open on 2026-11-20.
        ago = 1 + a4 % (duration * 86400 - 1)
        off = _WINDOW_DAYS * 86400 - ago
        d, tod = divmod(off, 86400)
        issued = "%sT%02d:%02d:%02dZ" % (days[d], tod // 3600, tod // 60 % 60, tod % 60)
        order_id += 1 + ((a4 >> 40) & 0x1F)
        append((order_id, tid, locs[li], loc_sys[li], vt, vr, mv, price_text(cents),
                is_buy, duration, issued, order_range))
    return out


def _region_index(universe, region_id):
    return universe.region_index[region_id]


def render_order(o):
    return ORDER_JSON % (o[9], "true" if o[8] else "false", o[10], o[2], o[6], o[0], o[7],
                         o[11], o[3], o[1], o[5], o[4])


def render_csv_row(o):
    return "%d,%d,%d,%d,%d,%d,%d,%s,%s,%d,%s,%s" % (
        o[0], o[1], o[2], o[3], o[4], o[5], o[6], o[7], "true" if o[8] else "false",
        o[9], o[10], o[11])


def write_csv(universe, region_id, path):
    region = universe.regions[region_id]
    orders = generate_orders(universe, region)
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        f.write(CSV_HEADER + "\n")
        for o in orders:
            f.write(render_csv_row(o))
            f.write("\n")
    os.replace(tmp, path)
    return len(orders)


class RegionBook:
    """One region's orders: the order_type=all pages plus what filtering needs."""

    __slots__ = ("region_id", "count", "pages", "offsets", "type_ids", "is_buy",
                 "traded_types", "_by_type", "_lock")

    def __init__(self, region_id, count, pages, offsets, type_ids, is_buy):
        self.region_id = region_id
        self.count = count
        self.pages = pages              # list of Body, 1000 orders each
        self.offsets = offsets          # array('I'): order i starts here in its page
        self.type_ids = type_ids        # array('q')
        self.is_buy = is_buy            # bytes, 1 for buy orders
        self.traded_types = sorted(set(type_ids))
        self._by_type = None
        self._lock = threading.Lock()

    @classmethod
    def from_orders(cls, region_id, orders):
        rendered = [render_order(o) for o in orders]
        offsets = array.array("I")
        for i in range(0, len(rendered), PER_PAGE):
            pos = 1
            for s in rendered[i:i + PER_PAGE]:
                offsets.append(pos)
                pos += len(s) + 1
        pages = paginate(rendered, PER_PAGE)
        type_ids = array.array("q", [o[1] for o in orders])
        is_buy = bytes(1 if o[8] else 0 for o in orders)
        return cls(region_id, len(orders), pages, offsets, type_ids, is_buy)

    def piece(self, i):
        """The JSON bytes of order i, cut out of its page."""
        raw = self.pages[i // PER_PAGE].raw
        start = self.offsets[i]
        if (i + 1) % PER_PAGE and i + 1 < self.count:
            return raw[start:self.offsets[i + 1] - 1]
        return raw[start:len(raw) - 1]

    def indices_of_type(self, type_id):
        if self._by_type is None:
            with self._lock:
                if self._by_type is None:
                    by = {}
                    for i, t in enumerate(self.type_ids):
                        by.setdefault(t, []).append(i)
                    self._by_type = by
        return self._by_type.get(type_id, ())

    def select(self, order_type, type_id):
        """Pages for a filter, built from the stored page bytes."""
        if type_id is None:
            idx = range(self.count)
        else:
            idx = self.indices_of_type(type_id)
        if order_type != "all":
            want = 1 if order_type == "buy" else 0
            isb = self.is_buy
            idx = [i for i in idx if isb[i] == want]
        idx = list(idx)
        if not idx:
            return [EMPTY_ARRAY]
        pages = []
        for k in range(0, len(idx), PER_PAGE):
            pages.append(Body(b"[" + b",".join(self.piece(i) for i in idx[k:k + PER_PAGE]) + b"]"))
        return pages

    def to_cache(self):
        return (self.region_id, self.count, [p.raw for p in self.pages], self.offsets.tobytes(),
                self.type_ids.tobytes(), self.is_buy)

    @classmethod
    def from_cache(cls, t):
        region_id, count, raws, offs, tids, isb = t
        offsets = array.array("I")
        offsets.frombytes(offs)
        type_ids = array.array("q")
        type_ids.frombytes(tids)
        return cls(region_id, count, [Body(r) for r in raws], offsets, type_ids, isb)


def _source_digest():
    """Cache key part: the generator's own source, so edits invalidate caches."""
    h = hashlib.sha256()
    here = os.path.dirname(os.path.abspath(__file__))
    for name in ("rng.py", "universe.py", "market.py", "body.py"):
        with open(os.path.join(here, name), "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:16]


class Market:
    """Orders, history, prices and traded-type lists of every region."""

    def __init__(self, universe, cache_dir=None, log=None):
        self.u = universe
        self.books = {}
        self._filtered = BodyCache(512 << 20)
        self._history = BodyCache(64 << 20)
        self._load_or_build(cache_dir, log or (lambda msg: None))
        self.prices = self._build_prices()
        self.region_types = {rid: paginate([str(t) for t in b.traded_types], PER_PAGE)
                             for rid, b in self.books.items()}

    # -- start-up --------------------------------------------------------------------

    def _load_or_build(self, cache_dir, log):
        path = None
        if cache_dir:
            # marshal's format may change between Python versions: key on it too.
            key = "%s-py%d%d-s%d-f%d-m%d" % (_source_digest(), sys.version_info[0],
                                             sys.version_info[1], self.u.seed, self.u.forge_pages,
                                             self.u.n_market_regions)
            path = os.path.join(cache_dir, "market-%s.marshal" % key)
            try:
                with open(path, "rb") as f:
                    data = marshal.load(f)
                for t in data:
                    b = RegionBook.from_cache(t)
                    self.books[b.region_id] = b
                log("market data loaded from %s" % path)
                return
            except (OSError, EOFError, ValueError, TypeError):
                self.books = {}
        for region in self.u.regions.values():
            orders = generate_orders(self.u, region)
            self.books[region.region_id] = RegionBook.from_orders(region.region_id, orders)
        if path:
            try:
                os.makedirs(cache_dir, exist_ok=True)
                # Write to a private name, then rename: concurrent simulators
                # never read a half-written cache.
                tmp = "%s.%d.tmp" % (path, os.getpid())
                with open(tmp, "wb") as f:
                    marshal.dump([b.to_cache() for b in self.books.values()], f)
                os.replace(tmp, path)
                digest = _source_digest()
                for old in os.listdir(cache_dir):
                    # Caches made by older generator code can never be used again.
                    if old.startswith("market-") and not old.startswith("market-" + digest):
                        try:
                            os.unlink(os.path.join(cache_dir, old))
                        except OSError:
                            pass
            except OSError as e:
                log("cannot write cache %s: %s" % (path, e))

    def _build_prices(self):
        words = rngmod.words("%d:prices" % self.u.seed, 3 * len(self.u.type_ids))
        out = []
        for k, tid in enumerate(self.u.type_ids):
            t = self.u.types[tid]
            w0, w1, w2 = words[3 * k], words[3 * k + 1], words[3 * k + 2]
            adj = max(1, int(t.base * (0.9 + 0.2 * unit(w0)) * 100))
            if t.market_group_id and (w2 & 0xFF) >= 13:
                avg = max(1, int(t.base * (0.95 + 0.1 * unit(w1)) * 100))
                out.append('{"adjusted_price":%s,"average_price":%s,"type_id":%d}'
                           % (price_text(adj), price_text(avg), tid))
            else:
                out.append('{"adjusted_price":%s,"type_id":%d}' % (price_text(adj), tid))
        return json_array(out)

    # -- requests --------------------------------------------------------------------

    def order_pages(self, region_id, order_type="all", type_id=None):
        """Pages of a region's orders for a filter (list of Body, at least one)."""
        book = self.books[region_id]
        if order_type == "all" and type_id is None:
            return book.pages
        key = (region_id, order_type, type_id)
        pages = self._filtered.get(key)
        if pages is None:
            pages = self._filtered.put(key, book.select(order_type, type_id))
        return pages

    def history(self, region_id, type_id):
        """400 daily rows ending on the data day, or [] when the type never
        traded in the region."""
        book = self.books[region_id]
        key = (region_id, type_id)
        body = self._history.get(key)
        if body is not None:
            return body
        i = bisect.bisect_left(book.traded_types, type_id)
        if i == len(book.traded_types) or book.traded_types[i] != type_id:
            body = EMPTY_ARRAY
        else:
            body = json_array(self._history_rows(region_id, type_id))
        return self._history.put(key, body)

    def _history_rows(self, region_id, type_id):
        t = self.u.types[type_id]
        base = self.u.regional_base(region_id, type_id)
        vs = _volume_scale(base)
        pop = t.share * 5000.0 if t.share else t.weight
        r = Rng("%d:history:%d:%d" % (self.u.seed, region_id, type_id))
        # A random walk of the price level around the regional base.
        level = 0.9 + 0.2 * r.random()
        rows = []
        for date in _HISTORY_DATES:
            level *= 1.0 + 0.03 * (r.random() - 0.5)
            # Reflect at the bounds so prices wander but stay near the base.
            if level < 0.85:
                level = 1.7 - level
            elif level > 1.2:
                level = 2.4 - level
            avg = max(1, int(base * level * 100 + 0.5))
            hi = avg + int(avg * 0.04 * r.random())
            lo = max(1, avg - int(avg * 0.04 * r.random()))
            count = 1 + int(pop * 20 * r.random())
            volume = max(1, int(vs * pop * (0.5 + r.random())))
            rows.append('{"average":%s,"date":"%s","highest":%s,"lowest":%s,'
                        '"order_count":%d,"volume":%d}'
                        % (price_text(avg), date, price_text(hi), price_text(lo), count, volume))
        return rows
