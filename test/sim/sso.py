"""EVE SSO (OAuth 2.0, v2) on the simulator's own port, and the bearer-token
checks of ESI's authenticated routes.

Built from EVE SSO's documented behaviour (/work/shared/esi/FACTS.md,
section 3), not from esi_fdw.  The paths are login.eveonline.com's, served
by the same HTTP server and base URL as ESI (http://127.0.0.1:PORT):

    GET  /.well-known/oauth-authorization-server
         metadata: issuer "login.eveonline.com" (as the real one), and the
         endpoint URLs below on the simulator itself (from the Host header,
         and https when X-Forwarded-Proto says so: behind a TLS front)
    GET  /v2/oauth/authorize?response_type=code&client_id=&redirect_uri=
             &scope=&state=&code_challenge=&code_challenge_method=S256
             [&character_id=N]
         auto-approves: 302 to redirect_uri?code=..&state=..  Errors: an
         unknown client, a redirect_uri not registered exactly, a scope
         the client may not ask for, a missing state, a public client
         without PKCE, a method other than S256: 400 with a JSON body and
         no redirect; response_type other than code: a redirect with
         error=unsupported_response_type.  The character who logs in: the
         query's character_id, else the one /_sim/sso/next_character armed,
         else the default (2112625428).
    POST /v2/oauth/token   (application/x-www-form-urlencoded)
         grant_type=authorization_code: code (single-use, code_ttl seconds,
         default 300), code_verifier (PKCE S256: base64url(SHA-256(verifier))
         must equal the challenge; required when the authorize request had
         one), redirect_uri optional (must match when given).
         grant_type=refresh_token: refresh_token, scope optional (a subset).
         Each use returns a new refresh token and the old one is dead
         (rotate=false in /_sim/sso/config keeps it instead).
         Client authentication: HTTP Basic client_id:secret or client_id +
         client_secret in the body for a confidential client; client_id in
         the body, no secret, for a public one.  Errors are OAuth's:
         400 {"error":"invalid_grant"|"invalid_request"|"invalid_scope"|
         "unsupported_grant_type","error_description":...},
         401 {"error":"invalid_client",...}.
         Reply: {"access_token": JWT, "expires_in": access_ttl - 1 (1199),
         "token_type": "Bearer", "refresh_token": 24 characters (base64 of
         16 bytes, so it may hold + / =)}; no refresh_token when no scope
         was asked.
    POST /v2/oauth/revoke  token=..&token_type_hint=refresh_token|access_token
         (client authentication as above); 200 with an empty body, also for
         an unknown token (RFC 7009).  A revoked refresh token gives
         invalid_grant; a revoked access token 401 on ESI.
    GET  /oauth/jwks
         {"keys":[{"alg":"RS256","e":"AQAB","kid":"JWT-Signature-Key",
         "kty":"RSA","n":..,"use":"sig"},{"alg":"ES256","crv":"P-256",
         "kid":"JWT-Signature-Key-ES256","kty":"EC","use":"sig","x":..,
         "y":..}],"SkipUnresolvedJsonWebKeys":true} (base64url, no
         padding): as EVE's, the RSA key and then an EC P-256 key (first
         with /_sim/sso/decoy?on=1).

The access token is an RS256 JWT: header {"alg":"RS256",
"kid":"JWT-Signature-Key","typ":"JWT"} (or, with /_sim/sso/config?
alg=ES256, an ES256 one: {"alg":"ES256","kid":"JWT-Signature-Key-ES256",
"typ":"JWT"}, signed by the EC key, r || s), claims scp (a string for one
scope, an array for more, absent for none), jti, kid, sub
"CHARACTER:EVE:<id>", azp (client id), tenant "tranquility", tier "live",
region "world", aud [client_id, "EVE Online"], name, owner (the owner hash:
base64 of 20 bytes), exp (iat + access_ttl, default 1200), iat, iss
("login.eveonline.com" and "https://login.eveonline.com" in turn, or as
/_sim/sso/config?iss= says).  The key is a real 2048-bit RSA key
(sim/rsa.py) made from the seed, so every run signs with the same key.

Clients registered at start (more with /_sim/sso/client):

    sim-native-client   public (no secret): PKCE required
    sim-web-client      confidential, secret "sim-web-secret"

both with the redirect URIs http://localhost/callback,
http://127.0.0.1/callback and https://localhost/callback, and any scope
(a scope is an esi-*.*.vN name, or one of the route table's).  Options of
test/esi_sim.py add clients (--sso-client ID[:SECRET]) and redirect URIs
for every client (--sso-redirect-uri URI), and set the access tokens'
lifetime (--sso-access-ttl SECONDS).

Characters (any other positive id can log in too: it gets the name
"Pilot <id>", corporation 98000009 and no roles):

    2112625428  Ayla Sim    corp 98000001 Sim Industries, alliance 99000001
                            roles Director                (default login)
    2112625429  Boris Sim   corp 98000001, alliance 99000001
                            roles Accountant, Trader
    2112625430  Cira Sim    corp 98000001, alliance 99000001, no roles
    2112625431  Dax Sim     corp 98000002 Other Holdings, no alliance
                            roles Director

Authenticated ESI routes (route.auth == "sso") check, in this order:
Authorization: Bearer <token> present (else 401 "authentication
failure"); SSO able to check it (not when /_sim/sso/trouble is armed:
then 403 as ESI answered SSO's trouble, esi-issues #1266 and #130); the
JWT (alg RS256 with a published RSA kid or ES256 with the EC kid, the
other pairings refused, signature, iss one of the two forms, aud holding
"EVE Online" and the azp, exp in the future, sub CHARACTER:EVE:<id>, not
revoked): else 401 "authentication failure" with the reason in
details[0].message, or with /_sim/sso/config?token_errors=403 a 403
{"error": reason, "sso_status": 401}, as ESI reported token failures
(esi-issues #83, #1055); the route's scope in scp
(else 403 "token not valid for scope"); /characters/{id}/...: the token's
character (403 "token not valid for character"); /corporations/{id}/...
and /corporation/{id}/...: a member (403 "Character is not in the
corporation") holding one of the route's roles when it has any (403
"Character does not have required role(s)", the roles in details);
/alliances/{id}/...: a member of the alliance.  (A sold character's access
tokens still read until they expire; its refresh tokens die.)  The
rate-limit bucket of an authenticated request is (group, client
id:character id), as on ESI.  The old test tokens "sim-<character_id>"
still work: every scope for that character's /characters/ routes, 403
anywhere else.  The data of these routes: see sim/private.py.

Controls (JSON arrays of flat objects, like every /_sim/ route; not logged;
/_sim/reset leaves SSO alone, /_sim/sso/reset resets it):

    /_sim/sso/characters                 the characters: ids, name,
        corporation_id, alliance_id, owner, roles (comma-separated),
        assets_version, and counters logins, refreshes, refresh_failures,
        revocations, active_refresh_tokens
    /_sim/sso/character?character_id=N[&name=][&corporation_id=]
        [&alliance_id=(0 = none)]         create or change a character
    /_sim/sso/roles?character_id=N&roles=Director,Accountant  (empty: none)
        [&stale=1]  /characters/{id}/roles keeps showing the roles from
        before (ESI caches that route for an hour) while the corporation
        routes check the new ones
    /_sim/sso/sell?character_id=N[&keep_tokens=1]   a new owner hash; its
        refresh tokens die unless keep_tokens (then refreshes carry the
        new owner)
    /_sim/sso/revoke?character_id=N      every refresh and access token of
        the character dies (refresh: invalid_grant; ESI: 401)
    /_sim/sso/assets_bump?character_id=N | corporation_id=M [&count=1]
        the next version(s) of the assets: items move, change quantity,
        go and come (deterministic per version); Last-Modified moves on
    /_sim/sso/next_character?character_id=N[&deny=1]   who logs in at the
        next authorize (deny: the user refuses, error=access_denied)
    /_sim/sso/token?character_id=N&scopes=a,b[&client_id=sim-native-client]
        [&flaw=KIND][&ttl=S][&iss=..][&refresh=1]   an access token made
        directly (with a refresh token registered for it when refresh=1)
    /_sim/sso/flaw?kind=KIND[&count=1]   the next count token-endpoint
        replies carry a flawed access token (kind=none disarms)
        KIND: bad_signature, wrong_audience (aud lacks the client id),
        no_eve_audience, expired, unknown_kid (signed by an unpublished
        key), wrong_iss, alg_none, alg_hs256, bad_sub, malformed,
        alg_mismatch (an ES256 header naming the RSA key, or under
        alg=ES256 an RS256 header naming the EC key), der_signature (an
        ES256 token whose signature is DER, not r || s)
    /_sim/sso/trouble?[style=sso_status|message|none][&count=1]   the next
        count authenticated ESI requests with a JWT answer as when SSO
        could not check it: 403 {"error":"unexpected end of JSON input",
        "sso_status":401} (sso_status, #1266), or 403 {"error":"SSO
        responded with a 400: Invalid token"} (message, #130)
    /_sim/sso/rotate_key[?keep_old=1]    sign with a new key (kid
        JWT-Signature-Key-2, -3, ...); keep_old=0 drops the old ones from
        the JWKS (their tokens then fail on ESI too)
    /_sim/sso/decoy?on=1                 the EC (ES256) key first in the JWKS
    /_sim/sso/keys                       the JWKS's kids, which one signs
    /_sim/sso/clients                    the clients (has_secret, not the
        secret)
    /_sim/sso/client?client_id=X[&secret=S][&redirect_uri=U]...[&scopes=a,b]
        register or replace a client
    /_sim/sso/config?[access_ttl=S][&code_ttl=S][&iss=alternate|
        login.eveonline.com|https://login.eveonline.com][&rotate=0|1]
        [&default_character=N][&alg=RS256|ES256 (what signs new access
        tokens)][&s_form=any|high|low (ES256's s as it falls, or above or
        below half the order)][&token_errors=401|403]
    /_sim/sso/reset                      clients, characters, keys, tokens
        and settings as at start (token values never repeat)

The request log (/_sim/requests) never holds a token or secret: the
Authorization header is logged as present or not, with the application a
bearer token was issued to (token_client: its azp claim), SSO request bodies are
not logged (those of ESI's POST/PUT/DELETE routes are: they hold no
secret), and secret-bearing query parameters (code, token, refresh_token,
code_verifier, client_secret, access_token) are logged as "redacted".
"""

import base64
import hashlib
import json
import re
import threading
import time
from urllib.parse import parse_qs, quote, urlencode

from . import rsa

TEST_TOKEN_PREFIX = "sim-"
EVE_AUDIENCE = "EVE Online"
ISSUER = "login.eveonline.com"
ISSUERS = (ISSUER, "https://" + ISSUER)
KID = "JWT-Signature-Key"
UNPUBLISHED_KID = "JWT-Signature-Key-unpublished"
EC_KID = "JWT-Signature-Key-ES256"
DECOY_KID = EC_KID
UNPUBLISHED_EC_KID = "JWT-Signature-Key-ES256-unpublished"
ALGS = ("RS256", "ES256")
S_FORMS = ("any", "high", "low")

SSO_PATHS = {
    "/.well-known/oauth-authorization-server": "metadata",
    "/v2/oauth/authorize": "authorize",
    "/v2/oauth/token": "token",
    "/v2/oauth/revoke": "revoke",
    "/oauth/jwks": "jwks",
}

NATIVE_CLIENT = "sim-native-client"
WEB_CLIENT = "sim-web-client"
WEB_SECRET = "sim-web-secret"
REDIRECT_URIS = ("http://localhost/callback", "http://127.0.0.1/callback",
                 "https://localhost/callback")

DEFAULT_CHARACTER = 2112625428
# (character_id, name, corporation_id, alliance_id, roles)
ROSTER = [
    (2112625428, "Ayla Sim", 98000001, 99000001, ["Director"]),
    (2112625429, "Boris Sim", 98000001, 99000001, ["Accountant", "Trader"]),
    (2112625430, "Cira Sim", 98000001, 99000001, []),
    (2112625431, "Dax Sim", 98000002, None, ["Director"]),
]
CORPORATIONS = {98000001: "Sim Industries", 98000002: "Other Holdings",
                98000009: "Sim Drifters"}
ALLIANCES = {99000001: "Sim Alliance"}
OTHER_CORPORATION = 98000009

FLAWS = ("bad_signature", "wrong_audience", "no_eve_audience", "expired", "unknown_kid",
         "wrong_iss", "alg_none", "alg_hs256", "bad_sub", "malformed", "alg_mismatch",
         "der_signature")
# ESI's 403s when SSO could not check a token (esi-issues #1266, #130)
TROUBLE = {
    "sso_status": ("unexpected end of JSON input", {"sso_status": 401}),
    "message": ("SSO responded with a 400: Invalid token", None),
}
SECRET_PARAMS = frozenset(("code", "code_verifier", "refresh_token", "token", "client_secret",
                           "access_token", "id_token", "password"))
_SCOPE_RE = re.compile(r"esi[-.][A-Za-z0-9_.:-]+")
_VERIFIER_RE = re.compile(r"[A-Za-z0-9._~-]{43,128}")
_CHALLENGE_RE = re.compile(r"[A-Za-z0-9_-]{43}")
JSON_TYPE = "application/json; charset=UTF-8"


def redact_query(qs):
    """A query string with the values of secret-bearing parameters replaced,
    for the request log."""
    if not qs:
        return qs
    out = []
    for part in qs.split("&"):
        name, eq, _ = part.partition("=")
        if eq and name.lower() in SECRET_PARAMS:
            part = name + "=redacted"
        out.append(part)
    return "&".join(out)


def bearer_client(authorization):
    """For the request log: the application (the JWT's azp claim, read
    without checking the signature) a bearer token was issued to, "sim" for
    a test token, None without one.  Never the token itself; it tells
    apart the tokens of two applications logged in with the same
    character."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    if token.startswith(TEST_TOKEN_PREFIX):
        return "sim"
    try:
        claims = json.loads(rsa.b64url_decode(token.split(".")[1]))
        azp = claims.get("azp")
        return azp if isinstance(azp, str) else "?"
    except (IndexError, ValueError, AttributeError, TypeError):
        return "?"


def _scopes(text):
    """A scope list from 'a b' or 'a,b', in order, without duplicates."""
    out = []
    for s in re.split(r"[\s,]+", text or ""):
        if s and s not in out:
            out.append(s)
    return out


class Character:
    __slots__ = ("id", "name", "corporation_id", "alliance_id", "roles", "owner_gen",
                 "logins", "refreshes", "refresh_failures", "revocations", "jtis",
                 "shown_roles")

    def __init__(self, cid, name, corporation_id, alliance_id, roles):
        self.id, self.name = cid, name
        self.corporation_id, self.alliance_id = corporation_id, alliance_id
        self.roles = list(roles)
        self.shown_roles = None     # what /characters/{id}/roles shows, if stale
        self.owner_gen = 0
        self.logins = self.refreshes = self.refresh_failures = self.revocations = 0
        self.jtis = []          # access tokens issued (for revoking them all)


class Client:
    __slots__ = ("client_id", "secret", "redirect_uris", "scopes")

    def __init__(self, client_id, secret=None, redirect_uris=REDIRECT_URIS, scopes=None):
        self.client_id, self.secret = client_id, secret
        self.redirect_uris = list(redirect_uris)
        self.scopes = None if scopes is None else list(scopes)   # None: any


class Refresh:
    __slots__ = ("client_id", "character_id", "scopes", "state")

    def __init__(self, client_id, character_id, scopes):
        self.client_id, self.character_id, self.scopes = client_id, character_id, scopes
        self.state = "active"           # or "rotated", "revoked"


class Auth:
    """The outcome of checking a request: denied is None or (status,
    message, extra); bucket is the rate-limit key of an authenticated
    request (None: the client's IP)."""
    __slots__ = ("denied", "bucket", "character_id")

    def __init__(self, denied=None, bucket=None, character_id=None):
        self.denied, self.bucket, self.character_id = denied, bucket, character_id


PUBLIC = Auth()


class SsoError(Exception):
    def __init__(self, status, error, description, headers=()):
        super().__init__(description)
        self.status, self.error, self.description = status, error, description
        self.headers = list(headers)


class SsoAuthority:
    """EVE SSO's state (clients, characters, codes, tokens, keys) and the
    bearer-token checks of ESI routes.  One lock guards everything."""

    def __init__(self, seed=1, scopes=(), clients=(), redirect_uris=(), access_ttl=1200):
        """clients: more (client_id, secret or None) to register;
        redirect_uris: more callback URLs for every client (both are
        kept by /_sim/sso/reset)."""
        self.seed = seed
        self.route_scopes = set(scopes)
        self.extra_clients = list(clients)
        self.redirect_uris = list(REDIRECT_URIS) + [u for u in redirect_uris
                                                    if u not in REDIRECT_URIS]
        self.start_access_ttl = access_ttl
        self.lock = threading.Lock()
        self._keys = {}
        self._keys_ready = threading.Event()
        # the ES256 key (one scalar multiplication: made at once)
        self.ec = rsa.EcKey(EC_KID, "%d:es256" % seed)
        self.ec_unpublished = rsa.EcKey(UNPUBLISHED_EC_KID, "%d:es256:unpublished" % seed)
        self._ec_checked = {}           # (signing input, signature) -> valid
        self._n = 0                     # tokens, codes, jtis: never repeat
        # The first key takes about half a second: made in the background
        # so that start-up does not wait for it.
        threading.Thread(target=self._make_keys, daemon=True).start()
        self.reset()

    # -- keys -------------------------------------------------------------------------

    def _make_keys(self):
        try:
            self._key_for(KID, 1)
        finally:
            self._keys_ready.set()
        self._key_for(UNPUBLISHED_KID, 0)

    def _key_for(self, kid, n):
        key = self._keys.get(kid)
        if key is None:
            key = rsa.RsaKey.generate(kid, "%d:%d" % (self.seed, n))
            self._keys.setdefault(kid, key)
        return self._keys[kid]

    def _key(self, kid):
        self._keys_ready.wait()
        if kid == KID:
            return self._key_for(KID, 1)
        if kid == UNPUBLISHED_KID:
            return self._key_for(UNPUBLISHED_KID, 0)
        return self._key_for(kid, int(kid.rsplit("-", 1)[1]))

    # -- state ------------------------------------------------------------------------

    def reset(self):
        with self.lock:
            uris = self.redirect_uris
            self.clients = {NATIVE_CLIENT: Client(NATIVE_CLIENT, None, uris),
                            WEB_CLIENT: Client(WEB_CLIENT, WEB_SECRET, uris)}
            for cid, secret in self.extra_clients:
                self.clients[cid] = Client(cid, secret, uris)
            self.characters = {}
            for cid, name, corp, alliance, roles in ROSTER:
                self.characters[cid] = Character(cid, name, corp, alliance, roles)
            self.codes = {}
            self.refresh = {}
            self.revoked_jti = set()
            self.published = [KID]          # the first one signs
            self.key_count = 1
            self.decoy = False              # the EC key first in the JWKS
            self.alg = "RS256"              # what signs new access tokens
            self.ec.s_form = "any"
            self.token_errors = 401         # ESI's status for a refused token
            self.trouble = []               # [style, count left]
            self.flaws = []                 # [kind, count left]
            self.next_login = None          # (character_id, deny)
            self.access_ttl = self.start_access_ttl
            self.code_ttl = 300
            self.iss_mode = "alternate"
            self.iss_turn = 1               # the first token has the bare form
            self.rotate = True
            self.default_character = DEFAULT_CHARACTER
            self.assets = {}                # "character:N" -> [(version, since)]

    def _next(self):
        self._n += 1
        return self._n

    def _character(self, cid):
        ch = self.characters.get(cid)
        if ch is None:
            ch = self.characters[cid] = Character(cid, "Pilot %d" % cid, OTHER_CORPORATION,
                                                  None, [])
        return ch

    def character(self, cid):
        """A copy of what is known about a character (None if unknown)."""
        with self.lock:
            ch = self.characters.get(cid)
            if ch is None:
                return None
            return {"character_id": ch.id, "name": ch.name,
                    "corporation_id": ch.corporation_id, "alliance_id": ch.alliance_id,
                    "roles": list(ch.roles), "owner": self._owner(ch),
                    "shown_roles": list(ch.roles if ch.shown_roles is None
                                        else ch.shown_roles)}

    def directory(self):
        """{character_id: {name, corporation_id, alliance_id}} of every known
        character (for name lookups)."""
        with self.lock:
            return {c.id: {"name": c.name, "corporation_id": c.corporation_id,
                           "alliance_id": c.alliance_id} for c in self.characters.values()}

    def members(self, corporation_id):
        """The known characters of a corporation: [(id, roles)]."""
        with self.lock:
            return [(c.id, list(c.roles)) for c in sorted(self.characters.values(),
                                                          key=lambda c: c.id)
                    if c.corporation_id == corporation_id]

    def assets_version(self, owner):
        """(version, epoch of the change or None) of an owner's assets
        ("character:N" or "corporation:N")."""
        with self.lock:
            v = self.assets.get(owner)
            return (len(v), v[-1]) if v else (0, None)

    def _owner(self, ch):
        h = hashlib.sha1(("%d:owner:%d:%d" % (self.seed, ch.id, ch.owner_gen)).encode())
        return base64.b64encode(h.digest()).decode()

    def _secret_bytes(self, label, n):
        return hashlib.shake_256(("%d:%s:%d" % (self.seed, label, self._next())).encode()) \
            .digest(n)

    # -- tokens -----------------------------------------------------------------------

    def _issuer(self):
        if self.iss_mode == "alternate":
            self.iss_turn += 1
            return ISSUERS[self.iss_turn % 2]
        return self.iss_mode

    def _access_token(self, ch, client_id, scopes, now, flaw=None, ttl=None, iss=None):
        """A signed JWT for a character (under the lock)."""
        ttl = self.access_ttl if ttl is None else ttl
        es = self.alg == "ES256"
        kid = EC_KID if es else self.published[0]
        key = self.ec if es else self._key(kid)
        jti = self._secret_bytes("jti", 16).hex()
        jti = "%s-%s-%s-%s-%s" % (jti[:8], jti[8:12], jti[12:16], jti[16:20], jti[20:32])
        claims = {}
        if len(scopes) == 1:
            claims["scp"] = scopes[0]
        elif scopes:
            claims["scp"] = list(scopes)
        iat = int(now)
        claims.update({
            "jti": jti, "kid": kid, "sub": "CHARACTER:EVE:%d" % ch.id, "azp": client_id,
            "tenant": "tranquility", "tier": "live", "region": "world",
            "aud": [client_id, EVE_AUDIENCE], "name": ch.name, "owner": self._owner(ch),
            "exp": iat + ttl, "iat": iat, "iss": iss or self._issuer()})
        header = {"alg": self.alg, "kid": kid, "typ": "JWT"}
        ch.jtis.append(jti)
        del ch.jtis[:-200]
        if flaw is None:
            return rsa.jwt_encode(header, claims, key)
        if flaw == "wrong_audience":
            claims["aud"] = ["another-client", EVE_AUDIENCE]
        elif flaw == "no_eve_audience":
            claims["aud"] = [client_id]
        elif flaw == "expired":
            claims["iat"], claims["exp"] = iat - ttl - 120, iat - 120
        elif flaw == "wrong_iss":
            claims["iss"] = "https://login.example.invalid"
        elif flaw == "bad_sub":
            claims["sub"] = "EVE:CHARACTER:%d" % ch.id
        elif flaw == "unknown_kid":
            if es:
                header["kid"] = claims["kid"] = UNPUBLISHED_EC_KID
                return rsa.jwt_encode(header, claims, self.ec_unpublished)
            header["kid"] = claims["kid"] = UNPUBLISHED_KID
            return rsa.jwt_encode(header, claims, self._key(UNPUBLISHED_KID))
        elif flaw == "alg_none":
            header["alg"] = "none"
            return rsa.jwt_encode(header, claims, None)
        elif flaw == "alg_hs256":
            header["alg"] = "HS256"
            return rsa.jwt_encode(header, claims, key.hs256_confusion_secret())
        elif flaw == "malformed":
            return rsa.jwt_encode(header, claims, key).rsplit(".", 1)[0]
        elif flaw == "alg_mismatch":
            # the other algorithm's header with this key's kid, signed
            # the other way: an ES256 header naming the RSA key, or an
            # RS256 header naming the EC key
            header["alg"] = "RS256" if es else "ES256"
            return rsa.jwt_encode(header, claims, self._key(self.published[0]) if es
                                  else self.ec)
        elif flaw == "der_signature":
            header["alg"], header["kid"] = "ES256", EC_KID
            claims["kid"] = EC_KID
            body, sig = rsa.jwt_encode(header, claims, self.ec).rsplit(".", 1)
            return body + "." + rsa.b64url(rsa.der_signature(rsa.b64url_decode(sig)))
        token = rsa.jwt_encode(header, claims, key)
        if flaw == "bad_signature":
            body, sig = token.rsplit(".", 1)
            raw = bytearray(rsa.b64url_decode(sig))
            raw[len(raw) // 2] ^= 0x01
            token = body + "." + rsa.b64url(bytes(raw))
        return token

    def _new_refresh(self, client_id, cid, scopes):
        value = base64.b64encode(self._secret_bytes("refresh", 16)).decode()
        self.refresh[value] = Refresh(client_id, cid, list(scopes))
        return value

    def _armed_flaw(self):
        while self.flaws:
            kind, left = self.flaws[0]
            if left <= 0:
                self.flaws.pop(0)
                continue
            self.flaws[0][1] -= 1
            return kind
        return None

    def _token_reply(self, ch, client_id, scopes, refresh, now):
        flaw = self._armed_flaw()
        out = {"access_token": self._access_token(ch, client_id, scopes, now, flaw),
               "expires_in": self.access_ttl - 1, "token_type": "Bearer"}
        if refresh is not None:
            out["refresh_token"] = refresh
        return out

    # -- HTTP: the SSO endpoints --------------------------------------------------------

    def http(self, kind, method, qs, headers, body, base_url):
        """Answer an SSO request: (status, content type, body bytes, headers)."""
        try:
            if kind in ("metadata", "jwks", "authorize"):
                if method not in ("GET", "HEAD"):
                    raise SsoError(405, "invalid_request", "use GET")
                if kind == "metadata":
                    return self._json(200, self.metadata(base_url),
                                      [("Cache-Control", "public, max-age=300")])
                if kind == "jwks":
                    return self._json(200, self.jwks(), [("Cache-Control", "public, max-age=300")])
                return self._authorize(parse_qs(qs, keep_blank_values=True))
            if method != "POST":
                raise SsoError(405, "invalid_request", "use POST")
            ctype = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if ctype != "application/x-www-form-urlencoded":
                raise SsoError(400, "invalid_request",
                               "the body must be application/x-www-form-urlencoded")
            try:
                form = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
            except UnicodeDecodeError:
                raise SsoError(400, "invalid_request", "the body is not UTF-8")
            if any(len(v) > 1 for v in form.values()):
                raise SsoError(400, "invalid_request", "a parameter is repeated")
            form = {k: v[0] for k, v in form.items()}
            if kind == "token":
                return self._json(200, self._token(form, headers.get("Authorization")),
                                  [("Cache-Control", "no-store"), ("Pragma", "no-cache")])
            self._revoke(form, headers.get("Authorization"))
            return 200, JSON_TYPE, b"", [("Cache-Control", "no-store")]
        except SsoError as e:
            body = {"error": e.error, "error_description": e.description}
            return self._json(e.status, body, e.headers + [("Cache-Control", "no-store")])

    @staticmethod
    def _json(status, obj, headers=()):
        return status, JSON_TYPE, json.dumps(obj, separators=(",", ":")).encode(), list(headers)

    def metadata(self, base_url):
        methods = ["client_secret_basic", "client_secret_post", "client_secret_jwt"]
        return {"issuer": ISSUER,
                "authorization_endpoint": base_url + "/v2/oauth/authorize",
                "token_endpoint": base_url + "/v2/oauth/token",
                "response_types_supported": ["code"],
                "jwks_uri": base_url + "/oauth/jwks",
                "revocation_endpoint": base_url + "/v2/oauth/revoke",
                "revocation_endpoint_auth_methods_supported": methods,
                "token_endpoint_auth_methods_supported": methods,
                "token_endpoint_auth_signing_alg_values_supported": ["HS256"],
                "code_challenge_methods_supported": ["S256"]}

    def jwks(self):
        with self.lock:
            kids, decoy = list(self.published), self.decoy
        keys = [self._key(k).jwk() for k in kids]
        # as EVE's: the EC key after the RSA one (first with /_sim/sso/decoy)
        keys.insert(0 if decoy else len(keys), self.ec.jwk())
        return {"keys": keys, "SkipUnresolvedJsonWebKeys": True}

    def _scope_ok(self, client, scope):
        if client.scopes is not None:
            return scope in client.scopes
        return scope in self.route_scopes or bool(_SCOPE_RE.fullmatch(scope))

    def _authorize(self, q):
        def one(name):
            v = q.get(name)
            return v[0] if v else None

        client = self.clients.get(one("client_id") or "")
        if client is None:
            raise SsoError(400, "invalid_client", "unknown client_id")
        redirect = one("redirect_uri")
        if redirect is None or redirect not in client.redirect_uris:
            raise SsoError(400, "invalid_request",
                           "redirect_uri does not match the application's callback URL")
        state = one("state")

        def back(params):
            sep = "&" if "?" in redirect else "?"
            loc = redirect + sep + urlencode(params, quote_via=quote)
            return 302, JSON_TYPE, b"", [("Location", loc), ("Cache-Control", "no-store")]

        if one("response_type") != "code":
            return back([("error", "unsupported_response_type")] +
                        ([("state", state)] if state is not None else []))
        if not state:
            raise SsoError(400, "invalid_request", "state is required")
        scopes = _scopes(one("scope"))
        for s in scopes:
            if not self._scope_ok(client, s):
                raise SsoError(400, "invalid_scope", "The requested '%s' scope is not valid." % s)
        challenge, method = one("code_challenge"), one("code_challenge_method")
        if challenge is not None or method is not None:
            if method != "S256":
                raise SsoError(400, "invalid_request", "code_challenge_method must be S256")
            if challenge is None or not _CHALLENGE_RE.fullmatch(challenge):
                raise SsoError(400, "invalid_request",
                               "code_challenge must be base64url(SHA-256), 43 characters")
        elif client.secret is None:
            raise SsoError(400, "invalid_request", "a public client must use PKCE (S256)")
        with self.lock:
            deny = False
            cid = one("character_id")
            if cid is not None:
                try:
                    cid = int(cid)
                except ValueError:
                    cid = -1
                if cid <= 0:
                    raise SsoError(400, "invalid_request", "character_id must be a positive id")
            elif self.next_login is not None:
                cid, deny = self.next_login
                self.next_login = None
            else:
                cid = self.default_character
            if deny:
                return back([("error", "access_denied"), ("state", state)])
            code = rsa.b64url(self._secret_bytes("code", 16))
            self.codes[code] = {"client_id": client.client_id, "redirect_uri": redirect,
                                "scopes": scopes, "character_id": cid, "challenge": challenge,
                                "expires": time.time() + self.code_ttl, "used": False}
        return back([("code", code), ("state", state)])

    def _client(self, form, authorization):
        """The authenticated client of a token or revoke request."""
        basic_id = basic_secret = None
        if authorization:
            scheme, _, cred = authorization.partition(" ")
            if scheme.lower() != "basic":
                raise SsoError(401, "invalid_client", "unsupported client authentication",
                               [("WWW-Authenticate", 'Basic realm="eveonline"')])
            try:
                text = base64.b64decode(cred.strip(), validate=True).decode("utf-8")
                basic_id, sep, basic_secret = text.partition(":")
                if not sep:
                    raise ValueError
            except (ValueError, UnicodeDecodeError):
                raise SsoError(401, "invalid_client", "malformed Basic credentials",
                               [("WWW-Authenticate", 'Basic realm="eveonline"')])
            # RFC 6749 2.3.1: both are form-encoded before the Basic encoding
            basic_id = parse_qs("x=" + basic_id).get("x", [""])[0] if basic_id else basic_id
            basic_secret = parse_qs("x=" + basic_secret).get("x", [""])[0] \
                if basic_secret else basic_secret
        body_id, body_secret = form.get("client_id"), form.get("client_secret")
        if basic_id is not None and body_id is not None and body_id != basic_id:
            raise SsoError(400, "invalid_request", "client_id differs from the Basic credentials")
        if basic_id is not None and body_secret is not None:
            raise SsoError(400, "invalid_request", "two client authentication methods")
        client_id = basic_id if basic_id is not None else body_id
        secret = basic_secret if basic_id is not None else body_secret
        hdr = [("WWW-Authenticate", 'Basic realm="eveonline"')] if basic_id is not None else []
        client = self.clients.get(client_id or "")
        if client is None:
            raise SsoError(401, "invalid_client", "unknown client", hdr)
        if client.secret is None:
            if secret:
                raise SsoError(401, "invalid_client", "a public client has no secret", hdr)
        elif secret != client.secret:
            raise SsoError(401, "invalid_client", "client authentication failed", hdr)
        return client

    def _token(self, form, authorization):
        grant = form.get("grant_type")
        if grant not in ("authorization_code", "refresh_token"):
            raise SsoError(400, "unsupported_grant_type" if grant else "invalid_request",
                           "grant_type must be authorization_code or refresh_token")
        now = time.time()
        with self.lock:
            client = self._client(form, authorization)
            if grant == "authorization_code":
                return self._code_grant(client, form, now)
            return self._refresh_grant(client, form, now)

    def _code_grant(self, client, form, now):
        code = form.get("code")
        if not code:
            raise SsoError(400, "invalid_request", "code is required")
        c = self.codes.get(code)
        if c is None or c["used"] or c["expires"] <= now:
            raise SsoError(400, "invalid_grant", "the authorization code is invalid or expired")
        if c["client_id"] != client.client_id:
            raise SsoError(400, "invalid_grant", "the code was issued to another client")
        if "redirect_uri" in form and form["redirect_uri"] != c["redirect_uri"]:
            raise SsoError(400, "invalid_grant", "redirect_uri does not match")
        if c["challenge"] is not None:
            verifier = form.get("code_verifier")
            if verifier is None:
                raise SsoError(400, "invalid_grant", "code_verifier is required")
            if not _VERIFIER_RE.fullmatch(verifier) or rsa.b64url(
                    hashlib.sha256(verifier.encode()).digest()) != c["challenge"]:
                raise SsoError(400, "invalid_grant", "code_verifier does not match")
        c["used"] = True
        ch = self._character(c["character_id"])
        ch.logins += 1
        refresh = None
        if c["scopes"]:
            refresh = self._new_refresh(client.client_id, ch.id, c["scopes"])
        return self._token_reply(ch, client.client_id, c["scopes"], refresh, now)

    def _refresh_grant(self, client, form, now):
        value = form.get("refresh_token")
        if not value:
            raise SsoError(400, "invalid_request", "refresh_token is required")
        r = self.refresh.get(value)
        ch = self.characters.get(r.character_id) if r is not None else None
        if r is None or r.state != "active" or r.client_id != client.client_id:
            if ch is not None:
                ch.refresh_failures += 1
            raise SsoError(400, "invalid_grant", "the refresh token is invalid, used or revoked")
        scopes = r.scopes
        if "scope" in form:
            asked = _scopes(form["scope"])
            if not set(asked) <= set(r.scopes):
                raise SsoError(400, "invalid_scope", "scope must be a subset of the grant's")
            scopes = [s for s in r.scopes if s in asked]
        ch.refreshes += 1
        new = value
        if self.rotate:
            r.state = "rotated"
            new = self._new_refresh(client.client_id, ch.id, r.scopes)
        return self._token_reply(ch, client.client_id, scopes, new, now)

    def _revoke(self, form, authorization):
        token = form.get("token")
        if not token:
            raise SsoError(400, "invalid_request", "token is required")
        hint = form.get("token_type_hint")
        if hint not in (None, "refresh_token", "access_token"):
            raise SsoError(400, "unsupported_token_type", "token_type_hint is unknown")
        with self.lock:
            client = self._client(form, authorization)
            r = self.refresh.get(token)
            if r is not None and r.client_id == client.client_id:
                if r.state == "active":
                    ch = self.characters.get(r.character_id)
                    if ch is not None:
                        ch.revocations += 1
                r.state = "revoked"
                return
            try:
                _, claims, _, _ = rsa.jwt_split(token)
            except rsa.JwtError:
                return
            if claims.get("azp") == client.client_id and isinstance(claims.get("jti"), str):
                self.revoked_jti.add(claims["jti"])

    # -- ESI: bearer tokens on authenticated routes ------------------------------------

    def verify(self, token, now=None):
        """The claims of a valid access token, or raise JwtError(reason)."""
        now = time.time() if now is None else now
        header, claims, signing_input, sig = rsa.jwt_split(token)
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALGS:
            raise rsa.JwtError("algorithm %r is neither RS256 nor ES256" % alg)
        with self.lock:
            published = list(self.published)
        if (alg == "RS256" and kid == EC_KID) or (alg == "ES256" and kid in published):
            raise rsa.JwtError("algorithm %s does not match the key %s" % (alg, kid))
        if kid not in (published if alg == "RS256" else [EC_KID]):
            raise rsa.JwtError("unknown key id")
        if not self._signature_ok(alg, kid, signing_input, sig):
            raise rsa.JwtError("bad signature")
        if claims.get("iss") not in ISSUERS:
            raise rsa.JwtError("wrong issuer")
        aud = claims.get("aud")
        aud = aud if isinstance(aud, list) else [aud]
        if EVE_AUDIENCE not in aud or claims.get("azp") not in aud:
            raise rsa.JwtError("wrong audience")
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp <= now:
            raise rsa.JwtError("token is expired")
        m = re.fullmatch(r"CHARACTER:EVE:(\d+)", str(claims.get("sub")))
        if not m:
            raise rsa.JwtError("bad subject")
        with self.lock:
            if claims.get("jti") in self.revoked_jti:
                raise rsa.JwtError("token revoked")
        claims["character_id"] = int(m.group(1))
        return claims

    def _signature_ok(self, alg, kid, signing_input, sig):
        if alg == "RS256":
            return self._key(kid).verify(signing_input, sig)
        # ECDSA verification is slow in Python: remember each answer
        with self.lock:
            ok = self._ec_checked.get((signing_input, sig))
        if ok is None:
            ok = self.ec.verify(signing_input, sig)
            with self.lock:
                if len(self._ec_checked) > 4096:
                    self._ec_checked.clear()
                self._ec_checked[(signing_input, sig)] = ok
        return ok

    def _armed_trouble(self):
        with self.lock:
            while self.trouble:
                style, left = self.trouble[0]
                if left <= 0:
                    self.trouble.pop(0)
                    continue
                self.trouble[0][1] -= 1
                return style
        return None

    def check(self, route, headers, path_args):
        """Whether a request may read a route: an Auth."""
        if route.auth != "sso":
            return PUBLIC
        auth = headers.get("Authorization") or ""
        scheme, _, token = auth.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return Auth((401, "authentication failure", None))
        kind = route.segments[0] if route.segments else ""
        if token.startswith(TEST_TOKEN_PREFIX):
            cid = token[len(TEST_TOKEN_PREFIX):]
            if kind == "characters" and not route.roles and cid.isdigit() \
                    and path_args.get("character_id") == cid:
                return Auth(bucket="sim:" + cid, character_id=int(cid))
            return Auth((403, "token not valid for scope", None))
        style = self._armed_trouble()
        if style is not None:
            # SSO could not check the token, whatever it is
            message, extra = TROUBLE[style]
            return Auth((403, message, extra))
        try:
            claims = self.verify(token)
        except rsa.JwtError as e:
            if self.token_errors == 403:
                return Auth((403, str(e), {"sso_status": 401}))
            return Auth((401, "authentication failure", {"details": [{"message": str(e)}]}))
        cid = claims["character_id"]
        bucket = "%s:%d" % (claims.get("azp"), cid)
        scp = claims.get("scp", [])
        scp = [scp] if isinstance(scp, str) else list(scp)
        if any(s not in scp for s in route.scopes):
            return Auth((403, "token not valid for scope", None), bucket)
        with self.lock:
            ch = self._character(cid)
            corp, alliance, roles = ch.corporation_id, ch.alliance_id, set(ch.roles)

        def arg(name):
            try:
                return int(path_args.get(name))
            except (TypeError, ValueError):
                return None

        if kind == "characters" and arg("character_id") != cid:
            return Auth((403, "token not valid for character", None), bucket)
        if kind in ("corporations", "corporation"):
            if arg("corporation_id") != corp:
                return Auth((403, "Character is not in the corporation", None), bucket)
            if route.roles and not roles & set(route.roles):
                return Auth((403, "Character does not have required role(s)",
                             {"details": [{"message": "requires one of: " +
                                           ", ".join(route.roles)}]}), bucket)
        if kind == "alliances" and (alliance is None or arg("alliance_id") != alliance):
            return Auth((403, "Character is not in the alliance", None), bucket)
        return Auth(bucket=bucket, character_id=cid)

    # -- /_sim/sso/ controls -------------------------------------------------------------

    def control(self, name, q, int_arg, bool_arg):
        """(status, rows) for /_sim/sso/NAME; raises ValueError for a bad
        argument (the caller turns it into 400)."""
        def text(k, default=None):
            v = q.get(k, [None])[0]
            return default if v is None else v

        def need_character():
            cid = int_arg(q, "character_id", None, 1)
            if cid is None:
                raise ValueError("character_id is required")
            return cid

        if name == "reset":
            self.reset()
            return 200, [{"reset": True}]
        if name == "characters":
            return 200, self._character_rows()
        if name == "character":
            cid = need_character()
            with self.lock:
                ch = self._character(cid)
                ch.name = text("name", ch.name)
                ch.corporation_id = int_arg(q, "corporation_id", ch.corporation_id, 1)
                a = int_arg(q, "alliance_id", None, 0)
                if a is not None:
                    ch.alliance_id = a or None
            return 200, [r for r in self._character_rows() if r["character_id"] == cid]
        if name == "roles":
            cid = need_character()
            stale = bool_arg(q, "stale", False)
            with self.lock:
                ch = self._character(cid)
                if stale and ch.shown_roles is None:
                    ch.shown_roles = list(ch.roles)
                elif not stale:
                    ch.shown_roles = None
                ch.roles = _scopes(text("roles", ""))
            return 200, [r for r in self._character_rows() if r["character_id"] == cid]
        if name == "sell":
            cid = need_character()
            keep = bool_arg(q, "keep_tokens", False)
            with self.lock:
                ch = self._character(cid)
                ch.owner_gen += 1
                if not keep:
                    self._revoke_character(ch, access=False)
            return 200, [r for r in self._character_rows() if r["character_id"] == cid]
        if name == "revoke":
            cid = need_character()
            with self.lock:
                n = self._revoke_character(self._character(cid), access=True)
            return 200, [{"character_id": cid, "revoked": n}]
        if name == "assets_bump":
            cid = int_arg(q, "character_id", None, 1)
            corp = int_arg(q, "corporation_id", None, 1)
            if (cid is None) == (corp is None):
                raise ValueError("give character_id or corporation_id")
            owner = "character:%d" % cid if cid is not None else "corporation:%d" % corp
            count = int_arg(q, "count", 1, 1)
            with self.lock:
                v = self.assets.setdefault(owner, [])
                v.extend([time.time()] * count)
                version = len(v)
            return 200, [{"owner": owner, "version": version}]
        if name == "next_character":
            cid = need_character()
            deny = bool_arg(q, "deny", False)
            with self.lock:
                self.next_login = (cid, deny)
            return 200, [{"character_id": cid, "deny": deny}]
        if name == "token":
            return 200, [self._direct_token(q, text, int_arg, bool_arg, need_character())]
        if name == "flaw":
            kind = text("kind")
            if kind != "none" and kind not in FLAWS:
                raise ValueError("kind must be none or one of %s" % ", ".join(FLAWS))
            with self.lock:
                if kind == "none":
                    self.flaws = []
                else:
                    self.flaws.append([kind, int_arg(q, "count", 1, 1)])
                return 200, [{"kind": k, "remaining": n} for k, n in self.flaws if n > 0]
        if name == "trouble":
            style = text("style", "sso_status")
            if style != "none" and style not in TROUBLE:
                raise ValueError("style must be none or one of %s" % ", ".join(TROUBLE))
            with self.lock:
                if style == "none":
                    self.trouble = []
                else:
                    self.trouble.append([style, int_arg(q, "count", 1, 1)])
                return 200, [{"style": k, "remaining": n} for k, n in self.trouble if n > 0]
        if name == "rotate_key":
            keep = bool_arg(q, "keep_old", True)
            with self.lock:
                self.key_count += 1
                kid = "%s-%d" % (KID, self.key_count)
            self._key(kid)                          # outside the lock: slow
            with self.lock:
                self.published = [kid] + (self.published if keep else [])
            return 200, self._key_rows()
        if name == "decoy":
            with self.lock:
                self.decoy = bool_arg(q, "on", True)
            return 200, self._key_rows()
        if name == "keys":
            return 200, self._key_rows()
        if name == "clients":
            with self.lock:
                return 200, [{"client_id": c.client_id, "has_secret": c.secret is not None,
                              "redirect_uris": " ".join(c.redirect_uris),
                              "scopes": None if c.scopes is None else " ".join(c.scopes)}
                             for c in self.clients.values()]
        if name == "client":
            cid = text("client_id")
            if not cid:
                raise ValueError("client_id is required")
            uris = q.get("redirect_uri") or list(self.redirect_uris)
            scopes = text("scopes")
            with self.lock:
                self.clients[cid] = Client(cid, text("secret") or None, uris,
                                           None if scopes is None else _scopes(scopes))
            return 200, [{"client_id": cid, "has_secret": bool(text("secret")),
                          "redirect_uris": " ".join(uris), "scopes": scopes}]
        if name == "config":
            with self.lock:
                self.access_ttl = int_arg(q, "access_ttl", self.access_ttl, 2)
                self.code_ttl = int_arg(q, "code_ttl", self.code_ttl, 0)
                iss = text("iss")
                if iss is not None:
                    if iss not in ("alternate",) + ISSUERS:
                        raise ValueError("iss must be alternate, %s or %s" % ISSUERS)
                    self.iss_mode = iss
                self.rotate = bool_arg(q, "rotate", self.rotate)
                self.default_character = int_arg(q, "default_character",
                                                 self.default_character, 1)
                alg = text("alg")
                if alg is not None:
                    if alg not in ALGS:
                        raise ValueError("alg must be RS256 or ES256")
                    self.alg = alg
                s_form = text("s_form")
                if s_form is not None:
                    if s_form not in S_FORMS:
                        raise ValueError("s_form must be any, high or low")
                    self.ec.s_form = s_form
                te = text("token_errors")
                if te is not None:
                    if te not in ("401", "403"):
                        raise ValueError("token_errors must be 401 or 403")
                    self.token_errors = int(te)
                return 200, [{"access_ttl": self.access_ttl, "code_ttl": self.code_ttl,
                              "iss": self.iss_mode, "rotate": self.rotate,
                              "default_character": self.default_character,
                              "alg": self.alg, "s_form": self.ec.s_form,
                              "token_errors": self.token_errors}]
        return 404, [{"error": "Unknown control route /_sim/sso/%s" % name}]

    def _revoke_character(self, ch, access):
        n = 0
        for r in self.refresh.values():
            if r.character_id == ch.id and r.state == "active":
                r.state = "revoked"
                n += 1
        if n:
            ch.revocations += 1
        if access:
            self.revoked_jti.update(ch.jtis)
        return n

    def _character_rows(self):
        with self.lock:
            active = {}
            for r in self.refresh.values():
                if r.state == "active":
                    active[r.character_id] = active.get(r.character_id, 0) + 1
            return [{"character_id": c.id, "name": c.name, "corporation_id": c.corporation_id,
                     "alliance_id": c.alliance_id, "owner": self._owner(c),
                     "roles": ",".join(c.roles),
                     "assets_version": len(self.assets.get("character:%d" % c.id, ())),
                     "logins": c.logins, "refreshes": c.refreshes,
                     "refresh_failures": c.refresh_failures, "revocations": c.revocations,
                     "active_refresh_tokens": active.get(c.id, 0)}
                    for c in sorted(self.characters.values(), key=lambda c: c.id)]

    def _key_rows(self):
        with self.lock:
            es = self.alg == "ES256"
            rows = [{"kid": k, "alg": "RS256", "signing": i == 0 and not es}
                    for i, k in enumerate(self.published)]
            rows.insert(0 if self.decoy else len(rows),
                        {"kid": EC_KID, "alg": "ES256", "signing": es})
            return rows

    def _direct_token(self, q, text, int_arg, bool_arg, cid):
        flaw = text("flaw")
        if flaw is not None and flaw not in FLAWS:
            raise ValueError("flaw must be one of %s" % ", ".join(FLAWS))
        iss = text("iss")
        client_id = text("client_id", NATIVE_CLIENT)
        scopes = _scopes(text("scopes", ""))
        now = time.time()
        with self.lock:
            if client_id not in self.clients:
                raise ValueError("unknown client_id %s" % client_id)
            ch = self._character(cid)
            token = self._access_token(ch, client_id, scopes, now, flaw,
                                       int_arg(q, "ttl", None, 1), iss)
            row = {"character_id": cid, "client_id": client_id, "flaw": flaw,
                   "access_token": token, "refresh_token": None, "owner": self._owner(ch)}
            if bool_arg(q, "refresh", False):
                row["refresh_token"] = self._new_refresh(client_id, cid, scopes)
            return row
