#!/usr/bin/env python3
"""test/cache_v1.py DIR - rewrites every response-cache file in DIR (version
2, esi_fdw 0.7.0: gzip bodies kept as they came) in the format of version 1
(esi_fdw 0.6.0 and older: the body inflated, no coding header), as a cluster
upgraded from 0.6.0 finds them.  Prints how many files it rewrote."""
import os
import struct
import sys
import zlib

HDR = struct.Struct("=IIi6I4xQqqI4x")   # EsiCacheFileHeader (x86-64 layout)
CODING = struct.Struct("=IIQ")          # EsiCacheFileCoding


def crc32c(data, crc=0):
    if not hasattr(crc32c, "table"):
        t = []
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
            t.append(c)
        crc32c.table = t
    t = crc32c.table
    c = crc ^ 0xFFFFFFFF
    for b in data:
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def main():
    d = sys.argv[1]
    n = 0
    for name in sorted(os.listdir(d)):
        path = os.path.join(d, name)
        with open(path, "rb") as f:
            raw = f.read()
        magic, version, status, *rest = HDR.unpack_from(raw)
        lens, (bodylen, stored_at, expires, _crc) = rest[:6], rest[6:]
        if magic != 0x45534943 or version != 2:
            continue
        coding, _, storedlen = CODING.unpack_from(raw, HDR.size)
        off = HDR.size + CODING.size
        strs = raw[off:off + sum(lens)]
        body = raw[off + sum(lens):off + sum(lens) + storedlen]
        if coding == 1:
            body = zlib.decompress(body, 16 + zlib.MAX_WBITS)
        assert len(body) == bodylen
        payload = strs + body + b"\0"
        hdr = HDR.pack(magic, 1, status, *lens, bodylen, stored_at, expires, crc32c(payload))
        with open(path, "wb") as f:
            f.write(hdr + payload)
        n += 1
    print(n)


main()
