"""Deterministic random streams.

The simulator must produce the same data on every run, machine and Python
version, so it does not use the random module (whose algorithms are free to
change).  A stream is SHAKE-256 of a text key, read as little-endian 64-bit
words in counter-mode blocks: standardised, fast in C, and independent
streams come from distinct keys ("orders:10000002", "history:10000002:34").
"""

import array
import hashlib
import sys

_BIG_ENDIAN = sys.byteorder == "big"
_INV53 = 1.0 / (1 << 53)
BLOCK_WORDS = 512


def words(key, n):
    """Return an array('Q') of n 64-bit words for key (one C call)."""
    a = array.array("Q")
    a.frombytes(hashlib.shake_256(key.encode()).digest(8 * n))
    if _BIG_ENDIAN:
        a.byteswap()
    return a


def hash64(key):
    """One 64-bit value for a key; for cheap per-item decisions."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little")


def unit(word):
    """Map a 64-bit word to a float in [0, 1)."""
    return (word >> 11) * _INV53


class Rng:
    """An unbounded stream of words for one key, read in blocks."""

    __slots__ = ("_key", "_block", "_buf", "_pos")

    def __init__(self, key):
        self._key = key
        self._block = 0
        self._buf = None
        self._pos = BLOCK_WORDS

    def u64(self):
        if self._pos >= BLOCK_WORDS:
            self._buf = words("%s#%d" % (self._key, self._block), BLOCK_WORDS)
            self._block += 1
            self._pos = 0
        w = self._buf[self._pos]
        self._pos += 1
        return w

    def random(self):
        """Float in [0, 1)."""
        return (self.u64() >> 11) * _INV53

    def below(self, n):
        """Integer in [0, n); the modulo bias is below 2**-40 for n < 2**24."""
        return self.u64() % n

    def between(self, lo, hi):
        """Integer in [lo, hi] (inclusive)."""
        return lo + self.u64() % (hi - lo + 1)

    def uniform(self, lo, hi):
        return lo + (hi - lo) * self.random()

    def chance(self, p):
        return self.random() < p

    def choice(self, seq):
        return seq[self.u64() % len(seq)]

    def weighted(self, items, weights):
        """Pick one of items with the given relative weights."""
        x = self.random() * sum(weights)
        for item, w in zip(items, weights):
            x -= w
            if x < 0:
                return item
        return items[-1]

    def shuffle(self, lst):
        """Fisher-Yates in place."""
        for i in range(len(lst) - 1, 0, -1):
            j = self.u64() % (i + 1)
            lst[i], lst[j] = lst[j], lst[i]
        return lst

    def sample(self, seq, k):
        """k distinct elements of seq, in a deterministic order."""
        pool = list(seq)
        k = min(k, len(pool))
        for i in range(k):
            j = i + self.u64() % (len(pool) - i)
            pool[i], pool[j] = pool[j], pool[i]
        return pool[:k]
