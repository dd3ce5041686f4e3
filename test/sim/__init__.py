"""ESI simulator for esi_fdw's tests.

The package is split by concern:

    rng        deterministic random streams (SHAKE-256 counter mode)
    universe   regions, constellations, systems, stations, item types
    market     market orders, history and prices; pre-rendered pages
    schemagen  data of any shape from a catalog route's response schema
    catalog    the route table: hand-built routes plus test/sim_catalog.json
    routes     request handlers that turn a matched route into a body
    limits     error limit, rate-limit buckets, faults and global settings
    sso        authorization checks for SSO routes
    control    the /_sim/ control routes
    server     the HTTP/1.1 server and the wire behaviour (caching headers,
               304, gzip, faults on the socket)

Everything served is a pure function of the seed and the request, so tests
can assert on exact values.
"""
