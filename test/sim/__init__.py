"""ESI simulator for esi_fdw's tests.

The package is split by concern:

    rng        deterministic random streams (SHAKE-256 counter mode)
    universe   regions, constellations, systems, stations, item types
    market     market orders, history and prices; pre-rendered pages
    schemagen  data of any shape from a catalog route's response schema
    contract   the routes tests use most, written by hand from ESI's docs
    catalog    the route table: the contract's routes plus test/sim_catalog.json
    lang       names and descriptions in ESI's eight languages
    fuzz       random JSON pages for the decoder's differential test
    routes     request handlers that turn a matched route into a body
    limits     error limit, rate-limit buckets, faults and global settings
    sso        EVE SSO (metadata, authorize, token, revoke, JWKS) and the
               bearer-token checks of ESI's authenticated routes
    rsa        RSA keys, RS256 signatures and JWTs with Python integers
    private    data of the authenticated routes that follows the SSO state
               (roles, members, versioned assets)
    writes     ESI's 35 POST/PUT/DELETE routes: their table, request-body
               checks, and the lookups (names, ids, affiliation, asset
               names and locations, route planning, CSPA)
    store      what characters write (contacts, fittings, mail, calendar
               answers, fleets, UI requests), read back by the GET routes
    control    the /_sim/ control routes (/_sim/sso/... are in sso)
    server     the HTTP/1.1 server and the wire behaviour (caching headers,
               304, gzip, faults on the socket)

Everything served is a pure function of the seed and the request (and of
the writes made since the last /_sim/reset), so tests can assert on exact
values.
"""
