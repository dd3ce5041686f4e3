"""A rendered JSON response body with its ETag and gzip copy, made on demand.

Bodies are built once and then served many times, so both derived forms are
computed on first use and kept.  Two threads racing to fill them compute the
same bytes, so no lock is needed.
"""

import gzip
import hashlib
import threading
from collections import OrderedDict


class Body:
    __slots__ = ("raw", "_etag", "_gz")

    def __init__(self, raw):
        self.raw = raw
        self._etag = None
        self._gz = None

    @property
    def etag(self):
        """Strong, quoted ETag: a hash of the uncompressed body."""
        if self._etag is None:
            self._etag = '"%s"' % hashlib.blake2b(self.raw, digest_size=16).hexdigest()
        return self._etag

    @property
    def gzipped(self):
        # mtime=0 keeps the compressed bytes identical from run to run.
        if self._gz is None:
            self._gz = gzip.compress(self.raw, compresslevel=6, mtime=0)
        return self._gz

    def __len__(self):
        return len(self.raw)


EMPTY_ARRAY = Body(b"[]")


def json_array(pieces):
    """A Body from already-rendered JSON values (strings)."""
    return Body(("[" + ",".join(pieces) + "]").encode())


def paginate(pieces, per_page):
    """Split rendered JSON values into page Bodies (at least one, maybe [])."""
    if not pieces:
        return [EMPTY_ARRAY]
    return [json_array(pieces[i:i + per_page]) for i in range(0, len(pieces), per_page)]


class BodyCache:
    """A thread-safe LRU of rendered bodies (or lists of page bodies),
    bounded by their total size."""

    def __init__(self, max_bytes):
        self.max_bytes = max_bytes
        self.size = 0
        self.d = OrderedDict()
        self.lock = threading.Lock()

    @staticmethod
    def _sizeof(v):
        if isinstance(v, list):
            return sum(len(b) for b in v)
        return len(v)

    def get(self, key):
        with self.lock:
            v = self.d.get(key)
            if v is not None:
                self.d.move_to_end(key)
            return v

    def put(self, key, value):
        with self.lock:
            if key in self.d:
                return self.d[key]
            self.d[key] = value
            self.size += self._sizeof(value)
            while self.size > self.max_bytes and len(self.d) > 1:
                _, old = self.d.popitem(last=False)
                self.size -= self._sizeof(old)
            return value
