"""The simulator's EVE SSO checked from outside, over HTTP (part of
--self-test).  Signatures are verified here with code of its own (not
sim/rsa.py), from the JWKS the simulator publishes."""

import base64
import hashlib
import http.client
import json
from urllib.parse import parse_qs, urlencode, urlsplit

NATIVE = "sim-native-client"
WEB, WEB_SECRET = "sim-web-client", "sim-web-secret"
REDIRECT = "http://localhost/callback"
AYLA, BORIS, CIRA, DAX = 2112625428, 2112625429, 2112625430, 2112625431
ASSETS = "esi-assets.read_assets.v1"
CORP_ASSETS = "esi-assets.read_corporation_assets.v1"
WALLET = "esi-wallet.read_character_wallet.v1"
ROLES = "esi-characters.read_corporation_roles.v1"
CORP_WALLETS = "esi-wallet.read_corporation_wallets.v1"
COMPAT = {"X-Compatibility-Date": "2026-08-04"}
DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Http:
    def __init__(self, port):
        self.port = port

    def request(self, method, path, body=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        try:
            c.request(method, path, body=body, headers=dict(COMPAT, **(headers or {})))
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()

    def get(self, path, token=None):
        return self.request("GET", path, headers={"Authorization": "Bearer " + token}
                            if token else None)

    def ctl(self, name, **q):
        s, _, b = self.request("GET", "/_sim/sso/%s?%s" % (name, urlencode(q)))
        return s, json.loads(b)

    def form(self, path, fields, basic=None, ctype="application/x-www-form-urlencoded"):
        headers = {"Content-Type": ctype}
        if basic:
            headers["Authorization"] = "Basic " + base64.b64encode(
                ("%s:%s" % basic).encode()).decode()
        s, h, b = self.request("POST", path, urlencode(fields), headers)
        try:
            return s, h, json.loads(b) if b else None
        except ValueError:
            return s, h, b


def claims_of(token):
    parts = token.split(".")
    return json.loads(unb64url(parts[0])), json.loads(unb64url(parts[1]))


def rs256_ok(token, jwks):
    """RSASSA-PKCS1-v1_5 SHA-256 verification against the JWKS's key of the
    token's kid, written independently of the simulator's signer."""
    head, payload, sig = token.split(".")
    header = json.loads(unb64url(head))
    keys = [k for k in jwks["keys"] if k.get("kid") == header.get("kid") and k["kty"] == "RSA"]
    if header.get("alg") != "RS256" or len(keys) != 1:
        return False
    n = int.from_bytes(unb64url(keys[0]["n"]), "big")
    e = int.from_bytes(unb64url(keys[0]["e"]), "big")
    k = (n.bit_length() + 7) // 8
    s = unb64url(sig)
    if len(s) != k:
        return False
    em = pow(int.from_bytes(s, "big"), e, n).to_bytes(k, "big")
    t = DIGEST_INFO + hashlib.sha256(("%s.%s" % (head, payload)).encode()).digest()
    return em == b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t


def pkce():
    verifier = b64url(hashlib.sha256(b"selftest verifier").digest())     # 43 characters
    return verifier, b64url(hashlib.sha256(verifier.encode()).digest())


def authorize(h, client=NATIVE, scopes=(ASSETS,), state="st-1", challenge=None,
              redirect=REDIRECT, **extra):
    q = {"response_type": "code", "client_id": client, "redirect_uri": redirect,
         "scope": " ".join(scopes), "state": state}
    if challenge:
        q.update(code_challenge=challenge, code_challenge_method="S256")
    q.update(extra)
    s, hd, _ = h.request("GET", "/v2/oauth/authorize?" + urlencode(q))
    loc = hd.get("location")
    params = {k: v[0] for k, v in parse_qs(urlsplit(loc).query).items()} if loc else {}
    return s, loc, params


def login(h, scopes=(ASSETS,), character=None, client=NATIVE):
    """A whole login: (token reply, claims)."""
    verifier, challenge = pkce()
    extra = {"character_id": character} if character else {}
    _, _, p = authorize(h, client, scopes, challenge=challenge, **extra)
    fields = {"grant_type": "authorization_code", "code": p["code"], "code_verifier": verifier}
    if client == NATIVE:
        fields["client_id"] = client
        s, _, reply = h.form("/v2/oauth/token", fields)
    else:
        s, _, reply = h.form("/v2/oauth/token", fields, basic=(WEB, WEB_SECRET))
    return reply, claims_of(reply["access_token"])[1]


def refresh(h, token, client=NATIVE, **extra):
    fields = dict({"grant_type": "refresh_token", "refresh_token": token}, **extra)
    if client == NATIVE:
        fields["client_id"] = client
        return h.form("/v2/oauth/token", fields)
    return h.form("/v2/oauth/token", fields, basic=(WEB, WEB_SECRET))


def run(port, check):
    h = Http(port)
    h.ctl("reset")
    base = "http://127.0.0.1:%d" % port
    secrets = set()

    # -- metadata and keys --------------------------------------------------------------------
    s, _, b = h.request("GET", "/.well-known/oauth-authorization-server")
    md = json.loads(b)
    check("SSO metadata: issuer and endpoints on the simulator",
          s == 200 and md["issuer"] == "login.eveonline.com"
          and md["authorization_endpoint"] == base + "/v2/oauth/authorize"
          and md["token_endpoint"] == base + "/v2/oauth/token"
          and md["revocation_endpoint"] == base + "/v2/oauth/revoke"
          and md["jwks_uri"] == base + "/oauth/jwks"
          and md["code_challenge_methods_supported"] == ["S256"]
          and "client_secret_basic" in md["token_endpoint_auth_methods_supported"])
    s, _, b = h.request("GET", "/oauth/jwks")
    jwks = json.loads(b)
    k = jwks["keys"][0] if jwks.get("keys") else {}
    check("JWKS: an RS256 key JWT-Signature-Key, base64url without padding, 2048 bits",
          s == 200 and len(jwks["keys"]) == 2 and k.get("kty") == "RSA"
          and k.get("alg") == "RS256" and k.get("kid") == "JWT-Signature-Key"
          and k.get("use") == "sig" and k.get("e") == "AQAB" and "=" not in k["n"]
          and "+" not in k["n"] and "/" not in k["n"]
          and int.from_bytes(unb64url(k["n"]), "big").bit_length() == 2048)
    ec = jwks["keys"][1] if len(jwks.get("keys", [])) == 2 else {}
    check("JWKS: then, as EVE's, an ES256 key on P-256 (a point of the curve)",
          ec.get("kty") == "EC" and ec.get("alg") == "ES256" and ec.get("crv") == "P-256"
          and ec.get("kid") == "JWT-Signature-Key-ES256" and ec.get("use") == "sig"
          and len(unb64url(ec["x"])) == 32 and len(unb64url(ec["y"])) == 32
          and on_p256(unb64url(ec["x"]), unb64url(ec["y"]))
          and jwks.get("SkipUnresolvedJsonWebKeys") is True)

    # -- authorize ----------------------------------------------------------------------------
    verifier, challenge = pkce()
    s, loc, p = authorize(h, scopes=(ASSETS, WALLET), state="abc 123", challenge=challenge)
    check("authorize: 302 to the redirect URI with a code and the state",
          s == 302 and loc.startswith(REDIRECT + "?") and p.get("state") == "abc 123"
          and len(p.get("code", "")) >= 16)
    code = p["code"]
    secrets.add(code)
    check("authorize: a public client without PKCE is refused (400, no redirect)",
          authorize(h)[0:2] == (400, None))
    check("authorize: a redirect URI not registered exactly is refused",
          authorize(h, challenge=challenge, redirect=REDIRECT + "/")[0:2] == (400, None))
    check("authorize: an unknown client is refused",
          authorize(h, client="nobody", challenge=challenge)[0:2] == (400, None))
    check("authorize: an unknown scope is refused",
          authorize(h, scopes=("bogus",), challenge=challenge)[0] == 400)
    check("authorize: a plain PKCE method is refused",
          authorize(h, challenge=challenge, code_challenge_method="plain")[0] == 400)
    s, loc, p2 = authorize(h, challenge=challenge, response_type="token")
    check("authorize: response_type=token redirects with unsupported_response_type",
          s == 302 and p2.get("error") == "unsupported_response_type")

    # -- token: authorization_code with PKCE --------------------------------------------------
    tok = "/v2/oauth/token"
    s, hd, r = h.form(tok, {"grant_type": "authorization_code", "code": code,
                            "code_verifier": "x" * 43, "client_id": NATIVE})
    check("token: a wrong code_verifier is invalid_grant", s == 400
          and r["error"] == "invalid_grant")
    verifier, challenge = pkce()
    _, _, p = authorize(h, scopes=(ASSETS, WALLET), challenge=challenge)
    code = p["code"]
    secrets.add(code)
    s, hd, r = h.form(tok, {"grant_type": "authorization_code", "code": code,
                            "client_id": NATIVE})
    check("token: a missing code_verifier is invalid_grant",
          s == 400 and r["error"] == "invalid_grant")
    _, _, p = authorize(h, scopes=(ASSETS, WALLET), challenge=challenge)
    code = p["code"]
    secrets.add(code)
    fields = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
              "client_id": NATIVE}
    s, hd, r = h.form(tok, fields)
    ok = s == 200 and isinstance(r, dict) and "access_token" in r
    check("token: the code and verifier give Bearer tokens, expires_in 1199, no-store",
          ok and r["token_type"] == "Bearer" and r["expires_in"] == 1199
          and hd.get("cache-control") == "no-store")
    if not ok:
        return
    rt = r["refresh_token"]
    at = r["access_token"]
    secrets.update((rt, at, verifier))
    check("token: the refresh token is 24 characters, base64 of 16 bytes",
          len(rt) == 24 and len(base64.b64decode(rt, validate=True)) == 16)
    s2, _, r2 = h.form(tok, fields)
    check("token: a code is single-use", s2 == 400 and r2["error"] == "invalid_grant")
    header, c = claims_of(at)
    check("JWT header: RS256, kid JWT-Signature-Key, typ JWT",
          header == {"alg": "RS256", "kid": "JWT-Signature-Key", "typ": "JWT"})
    check("JWT claims: sub, name, owner, azp, aud, tenant, tier, region, kid, jti",
          c["sub"] == "CHARACTER:EVE:%d" % AYLA and c["name"] == "Ayla Sim"
          and c["azp"] == NATIVE and c["aud"] == [NATIVE, "EVE Online"]
          and c["tenant"] == "tranquility" and c["tier"] == "live" and c["region"] == "world"
          and c["kid"] == "JWT-Signature-Key" and len(c["jti"]) == 36
          and len(base64.b64decode(c["owner"])) == 20)
    check("JWT claims: two scopes are an array; exp = iat + 1200; iss a known form",
          c["scp"] == [ASSETS, WALLET] and c["exp"] - c["iat"] == 1200
          and c["iss"] in ("login.eveonline.com", "https://login.eveonline.com"))
    check("JWT: the signature verifies against the JWKS (independent RS256 check)",
          rs256_ok(at, jwks) and not rs256_ok(at[:-4] + ("AAAA" if at[-4:] != "AAAA"
                                                          else "BBBB"), jwks))
    r_b, c_b = login(h)
    check("consecutive tokens alternate the two forms of iss", {c["iss"], c_b["iss"]} ==
          {"login.eveonline.com", "https://login.eveonline.com"})
    check("JWT claims: one scope is a string", c_b["scp"] == ASSETS)
    secrets.update((r_b["access_token"], r_b["refresh_token"]))
    r_n, c_n = login(h, scopes=())
    check("a login without scopes gets no refresh token and no scp",
          "refresh_token" not in r_n and "scp" not in c_n)
    s, _, r = h.form(tok, {"grant_type": "authorization_code", "code": "x"},
                     ctype="application/json")
    check("token: a body that is not form-encoded is invalid_request",
          s == 400 and r["error"] == "invalid_request")
    s, _, r = h.form(tok, {"grant_type": "password", "client_id": NATIVE})
    check("token: grant_type password is unsupported_grant_type",
          s == 400 and r["error"] == "unsupported_grant_type")

    # -- ESI with the access token ------------------------------------------------------------
    s, hd, b = h.get("/characters/%d/assets" % AYLA, at)
    check("ESI: the access token reads its character's assets (X-Pages, rate-limit headers)",
          s == 200 and int(hd.get("x-pages", 0)) >= 2 and hd.get("x-ratelimit-group")
          == "char-asset")
    s, _, b = h.get("/characters/%d/assets" % BORIS, at)
    check("ESI: another character's route is 403", s == 403)
    s, _, b = h.get("/characters/%d/roles" % AYLA, at)
    check("ESI: a scope the token lacks is 403 'token not valid for scope'",
          s == 403 and json.loads(b) == {"error": "token not valid for scope"})
    s, _, b = h.get("/characters/%d/wallet" % AYLA, r_b["access_token"])
    check("ESI: a one-scope (string scp) token is checked too", s == 403)
    s, _, b = h.get("/characters/%d/assets" % AYLA, r_b["access_token"])
    check("ESI: ... and reads its scope's route", s == 200)
    s, _, b = h.get("/characters/%d/assets" % AYLA)
    check("ESI: no token is 401 authentication failure",
          s == 401 and json.loads(b)["error"] == "authentication failure")
    s, _, b = h.get("/characters/%d/assets" % AYLA, "not-a-jwt")
    check("ESI: a token that is no JWT is 401", s == 401)

    # -- refresh: rotation and reuse ----------------------------------------------------------
    s, hd, r = refresh(h, rt)
    ok = s == 200 and "refresh_token" in r
    check("refresh: a new access token and a NEW refresh token",
          ok and r["refresh_token"] != rt and r["access_token"] != at
          and hd.get("cache-control") == "no-store")
    if not ok:
        return
    rt2 = r["refresh_token"]
    secrets.update((rt2, r["access_token"]))
    s, _, r = refresh(h, rt)
    check("refresh: the old refresh token is dead (400 invalid_grant)",
          s == 400 and r["error"] == "invalid_grant")
    s, _, r = refresh(h, rt2, scope=ASSETS)
    ok = s == 200
    check("refresh: a scope subset narrows scp (to a string)",
          ok and claims_of(r["access_token"])[1]["scp"] == ASSETS)
    rt3 = r["refresh_token"] if ok else rt2
    secrets.add(rt3)
    s, _, r = refresh(h, rt3, scope=ASSETS + " " + ROLES)
    check("refresh: a scope beyond the grant is invalid_scope",
          s == 400 and r["error"] == "invalid_scope")
    s, _, r = refresh(h, rt3, client=WEB)
    check("refresh: another client's refresh token is invalid_grant",
          s == 400 and r["error"] == "invalid_grant")
    s, _, r = refresh(h, rt3)
    rt4 = r["refresh_token"]
    secrets.update((rt4, r["access_token"]))
    h.ctl("config", rotate=0)
    s, _, r = refresh(h, rt4)
    check("refresh with rotate=0 in /_sim/sso/config keeps the refresh token",
          s == 200 and r["refresh_token"] == rt4)
    h.ctl("config", rotate=1)

    # -- confidential client ------------------------------------------------------------------
    _, _, p = authorize(h, client=WEB, scopes=(ASSETS,))
    secrets.add(p["code"])
    s, _, r = h.form(tok, {"grant_type": "authorization_code", "code": p["code"]},
                     basic=(WEB, "wrong"))
    check("confidential client: a wrong secret is 401 invalid_client",
          s == 401 and r["error"] == "invalid_client")
    s, _, r = h.form(tok, {"grant_type": "authorization_code", "code": p["code"]},
                     basic=(WEB, WEB_SECRET))
    check("confidential client: Basic client_id:secret, no PKCE", s == 200
          and claims_of(r["access_token"])[1]["aud"] == [WEB, "EVE Online"])
    wrt = r["refresh_token"]
    secrets.update((wrt, r["access_token"]))
    s, _, r = h.form(tok, {"grant_type": "refresh_token", "refresh_token": wrt,
                           "client_id": WEB, "client_secret": WEB_SECRET})
    check("confidential client: client_secret_post works for refresh", s == 200)
    wrt = r["refresh_token"]
    secrets.update((wrt, r["access_token"]))
    s, _, r = h.form(tok, {"grant_type": "refresh_token", "refresh_token": wrt,
                           "client_id": WEB})
    check("confidential client: no secret is 401", s == 401)
    s, _, r = h.form(tok, {"grant_type": "refresh_token", "refresh_token": rt4,
                           "client_id": NATIVE, "client_secret": "x"})
    check("public client: a secret is 401 invalid_client", s == 401)

    # -- revoke -------------------------------------------------------------------------------
    s, _, r = h.form("/v2/oauth/revoke", {"token": rt4, "token_type_hint": "refresh_token",
                                          "client_id": NATIVE})
    check("revoke: 200", s == 200)
    s, _, r = refresh(h, rt4)
    check("revoke: the refresh token is then invalid_grant",
          s == 400 and r["error"] == "invalid_grant")
    s, _, r = h.form("/v2/oauth/revoke", {"token": "unknown", "client_id": NATIVE})
    check("revoke: an unknown token is 200 too (RFC 7009)", s == 200)
    rr, cc = login(h)
    secrets.update((rr["access_token"], rr["refresh_token"]))
    h.form("/v2/oauth/revoke", {"token": rr["access_token"], "token_type_hint": "access_token",
                                "client_id": NATIVE})
    check("revoke: a revoked access token is 401 on ESI",
          h.get("/characters/%d/assets" % AYLA, rr["access_token"])[0] == 401)

    # -- flawed tokens ------------------------------------------------------------------------
    good = h.ctl("token", character_id=AYLA, scopes=ASSETS)[1][0]["access_token"]
    check("/_sim/sso/token: a good token reads the route",
          h.get("/characters/%d/assets" % AYLA, good)[0] == 200)
    for flaw in ("bad_signature", "wrong_audience", "no_eve_audience", "expired", "unknown_kid",
                 "wrong_iss", "alg_none", "alg_hs256", "bad_sub", "malformed"):
        s, rows = h.ctl("token", character_id=AYLA, scopes=ASSETS, flaw=flaw)
        t = rows[0]["access_token"]
        s, _, b = h.get("/characters/%d/assets" % AYLA, t)
        why = json.loads(b).get("details", [{}])[0].get("message") if s == 401 else None
        extra = ""
        if flaw in ("bad_signature", "unknown_kid", "alg_none", "alg_hs256"):
            extra_ok = not rs256_ok(t, jwks)
        elif flaw == "malformed":
            extra_ok = t.count(".") == 1
        else:
            extra_ok = rs256_ok(t, jwks)      # signed right, wrong inside
            extra = " (signed right)"
        check("flaw %s: ESI answers 401 (%s)%s" % (flaw, why, extra), s == 401 and extra_ok)
    h.ctl("flaw", kind="expired")
    r1, c1 = login(h)
    r2, c2 = login(h)
    secrets.update((r1["access_token"], r1["refresh_token"], r2["access_token"],
                    r2["refresh_token"]))
    check("/_sim/sso/flaw: the next token reply carries the flaw, the one after not",
          c1["exp"] < c2["iat"] and c2["exp"] == c2["iat"] + 1200
          and h.get("/characters/%d/assets" % AYLA, r1["access_token"])[0] == 401
          and h.get("/characters/%d/assets" % AYLA, r2["access_token"])[0] == 200)

    # -- characters, corporations, roles ------------------------------------------------------
    def direct(cid, *scopes):
        return h.ctl("token", character_id=cid, scopes=",".join(scopes))[1][0]["access_token"]

    s, _, b = h.get("/characters/%d/roles" % BORIS, direct(BORIS, ROLES))
    check("/characters/{id}/roles: the character's roles",
          s == 200 and json.loads(b)["roles"] == ["Accountant", "Trader"])
    corp = "/corporations/98000001/assets"
    check("corporation route: a Director of the corporation reads it",
          h.get(corp, direct(AYLA, CORP_ASSETS))[0] == 200)
    s, _, b = h.get(corp, direct(CIRA, CORP_ASSETS))
    check("corporation route: a member without the role is 403 naming the roles",
          s == 403 and json.loads(b)["error"] == "Character does not have required role(s)"
          and "Director" in b.decode())
    s, _, b = h.get(corp, direct(DAX, CORP_ASSETS))
    check("corporation route: a Director of another corporation is 403",
          s == 403 and "not in the corporation" in json.loads(b)["error"])
    check("corporation route: the scope is still needed",
          h.get(corp, direct(AYLA, ASSETS))[0] == 403)
    check("corporation route: one of several roles is enough (Accountant for wallets)",
          h.get("/corporations/98000001/wallets", direct(BORIS, CORP_WALLETS))[0] == 200)
    tw = direct(BORIS, CORP_WALLETS)
    walk = "/corporations/98000001/wallets/1/transactions"
    page = json.loads(h.get(walk, tw)[2])
    steps, seen = 1, {t["transaction_id"] for t in page}
    while steps < 10:
        low = min(t["transaction_id"] for t in page)
        page = json.loads(h.get(walk + "?from_id=%d" % low, tw)[2])
        steps += 1
        if [t["transaction_id"] for t in page] == [low]:
            break
        seen |= {t["transaction_id"] for t in page}
    check("corporation wallet transactions: a from_id walk with a token ends",
          2 <= steps <= 4 and len(seen) >= 4000)
    h.ctl("roles", character_id=CIRA, roles="Director")
    s, _, b = h.get("/characters/%d/roles" % CIRA, direct(CIRA, ROLES))
    check("/_sim/sso/roles: roles change, and the route and the check follow",
          json.loads(b)["roles"] == ["Director"]
          and h.get(corp, direct(CIRA, CORP_ASSETS))[0] == 200)
    s, _, b = h.request("GET", "/characters/%d" % DAX)
    d = json.loads(b)
    check("/characters/{id} (public) agrees: name and corporation, no alliance",
          d["name"] == "Dax Sim" and d["corporation_id"] == 98000002 and "alliance_id" not in d)
    s, _, b = h.get("/corporations/98000001/members",
                    direct(AYLA, "esi-corporations.read_corporation_membership.v1"))
    check("/corporations/{id}/members: the known members",
          json.loads(b) == [AYLA, BORIS, CIRA])
    s, rows = h.ctl("characters")
    check("/_sim/sso/characters lists the roster with counters",
          [r["character_id"] for r in rows][:4] == [AYLA, BORIS, CIRA, DAX]
          and rows[0]["logins"] >= 5 and rows[0]["refreshes"] >= 4)

    # -- who logs in --------------------------------------------------------------------------
    r, c = login(h, character=DAX)
    check("authorize with character_id logs that character in", c["name"] == "Dax Sim")
    h.ctl("next_character", character_id=BORIS)
    r, c = login(h)
    check("/_sim/sso/next_character: the next login, once",
          c["sub"] == "CHARACTER:EVE:%d" % BORIS and login(h)[1]["name"] == "Ayla Sim")
    h.ctl("next_character", character_id=BORIS, deny=1)
    s, loc, p = authorize(h, challenge=pkce()[1], state="q")
    check("/_sim/sso/next_character deny: redirect with error=access_denied",
          s == 302 and p == {"error": "access_denied", "state": "q"})
    r, c = login(h, character=777)
    check("any other character id can log in", c["name"] == "Pilot 777")

    # -- sold characters and revoking all tokens ----------------------------------------------
    r, c = login(h, character=BORIS)
    owner = c["owner"]
    h.ctl("sell", character_id=BORIS)
    s, _, e = refresh(h, r["refresh_token"])
    r2, c2 = login(h, character=BORIS)
    check("/_sim/sso/sell: refresh tokens die, a new login has another owner hash",
          s == 400 and c2["owner"] != owner)
    h.ctl("sell", character_id=BORIS, keep_tokens=1)
    s, _, r3 = refresh(h, r2["refresh_token"])
    check("/_sim/sso/sell keep_tokens: the refresh carries the new owner",
          s == 200 and claims_of(r3["access_token"])[1]["owner"] not in (owner, c2["owner"]))
    r, c = login(h, character=CIRA)
    h.ctl("revoke", character_id=CIRA)
    check("/_sim/sso/revoke: refresh tokens and access tokens of the character die",
          refresh(h, r["refresh_token"])[0] == 400
          and h.get("/characters/%d/assets" % CIRA, r["access_token"])[0] == 401)

    # -- assets versions ----------------------------------------------------------------------
    tok_a = direct(AYLA, ASSETS)
    url = "/characters/%d/assets" % AYLA

    def all_assets():
        s, hd, b = h.get(url + "?page=1", tok_a)
        items = json.loads(b)
        for n in range(2, int(hd["x-pages"]) + 1):
            items += json.loads(h.get(url + "?page=%d" % n, tok_a)[2])
        return hd, items

    h0, v0 = all_assets()
    s, rows = h.ctl("assets_bump", character_id=AYLA)
    h1, v1 = all_assets()
    a0 = {i["item_id"]: i for i in v0}
    a1 = {i["item_id"]: i for i in v1}
    check("assets: unique item ids, 1000 a page", len(a0) == len(v0)
          and len(json.loads(h.get(url, tok_a)[2])) == 1000)
    check("assets_bump: version 1: items gone, new, moved and requantified",
          rows[0]["version"] == 1 and set(a0) - set(a1) and set(a1) - set(a0)
          and any(a1[i]["location_id"] != a0[i]["location_id"] for i in set(a0) & set(a1))
          and any(a1[i]["quantity"] != a0[i]["quantity"] for i in set(a0) & set(a1)))
    check("assets_bump: another ETag, Last-Modified not earlier",
          h1["etag"] != h0["etag"] and http_time(h1["last-modified"])
          >= http_time(h0["last-modified"]))
    h.ctl("reset")
    _, again = all_assets()
    h.ctl("assets_bump", character_id=AYLA)
    _, again1 = all_assets()
    check("assets: versions are deterministic", again == v0 and again1 == v1)

    # -- keys ---------------------------------------------------------------------------------
    old = direct(AYLA, ASSETS)
    s, rows = h.ctl("rotate_key")
    jw = json.loads(h.request("GET", "/oauth/jwks")[2])
    new = direct(AYLA, ASSETS)
    check("rotate_key: a new kid signs, the old key stays published",
          [k["kid"] for k in jw["keys"]] == ["JWT-Signature-Key-2", "JWT-Signature-Key",
                                             "JWT-Signature-Key-ES256"]
          and claims_of(new)[0]["kid"] == "JWT-Signature-Key-2" and rs256_ok(new, jw)
          and h.get(url, old)[0] == 200 and h.get(url, new)[0] == 200)
    h.ctl("rotate_key", keep_old=0)
    jw = json.loads(h.request("GET", "/oauth/jwks")[2])
    check("rotate_key keep_old=0: old keys leave the JWKS, their tokens are 401",
          [k["kid"] for k in jw["keys"]] == ["JWT-Signature-Key-3", "JWT-Signature-Key-ES256"]
          and h.get(url, old)[0] == 401 and h.get(url, new)[0] == 401
          and h.get(url, direct(AYLA, ASSETS))[0] == 200)
    h.ctl("reset")
    h.ctl("decoy", on=1)
    jw = json.loads(h.request("GET", "/oauth/jwks")[2])
    ec = jw["keys"][0]
    check("decoy: the ES256 P-256 key first, the RS256 key still there",
          ec["kty"] == "EC" and ec["alg"] == "ES256" and ec["crv"] == "P-256"
          and len(unb64url(ec["x"])) == 32 and len(unb64url(ec["y"])) == 32
          and on_p256(unb64url(ec["x"]), unb64url(ec["y"]))
          and jw["keys"][1]["kid"] == "JWT-Signature-Key"
          and h.get(url, direct(AYLA, ASSETS))[0] == 200)
    h.ctl("reset")

    # -- ES256 ---------------------------------------------------------------------------------
    rs = direct(AYLA, ASSETS)
    s, rows = h.ctl("config", alg="ES256")
    jw = json.loads(h.request("GET", "/oauth/jwks")[2])
    r, c = login(h)
    secrets.update((r["access_token"], r["refresh_token"]))
    head = claims_of(r["access_token"])[0]
    check("alg=ES256: a login's access token is ES256 with the EC kid, signed r || s",
          rows[0]["alg"] == "ES256" and head == {"alg": "ES256", "kid": "JWT-Signature-Key-ES256",
                                                  "typ": "JWT"}
          and c["kid"] == "JWT-Signature-Key-ES256" and es256_ok(r["access_token"], jw)
          and not es256_ok(r["access_token"][:-4] + ("AAAA" if r["access_token"][-4:] != "AAAA"
                                                      else "BBBB"), jw))
    check("... and reads ESI; an RS256 token made before still does too",
          h.get(url, r["access_token"])[0] == 200 and h.get(url, rs)[0] == 200)
    s, _, rr = refresh(h, r["refresh_token"])
    secrets.update((rr["access_token"], rr["refresh_token"]))
    check("alg=ES256: a refresh's access token is ES256 too",
          s == 200 and claims_of(rr["access_token"])[0]["alg"] == "ES256"
          and es256_ok(rr["access_token"], jw))
    forms = []
    for form in ("high", "low"):
        h.ctl("config", s_form=form)
        t = direct(AYLA, ASSETS)
        sig = unb64url(t.rsplit(".", 1)[1])
        forms.append((int.from_bytes(sig[32:], "big") > P256_N // 2, es256_ok(t, jw),
                      h.get(url, t)[0]))
    check("s_form=high and low: s above and below half the order, both valid at ESI",
          forms == [(True, True, 200), (False, True, 200)])
    for flaw, why in (("alg_mismatch", "does not match"), ("der_signature", "bad signature"),
                      ("unknown_kid", "unknown key"), ("bad_signature", "bad signature")):
        t = h.ctl("token", character_id=AYLA, scopes=ASSETS, flaw=flaw)[1][0]["access_token"]
        s, _, b = h.get(url, t)
        msg = json.loads(b).get("details", [{}])[0].get("message", "")
        check("alg=ES256, flaw %s: ESI answers 401 (%s)" % (flaw, msg), s == 401 and why in msg)
    t = h.ctl("token", character_id=AYLA, scopes=ASSETS, flaw="der_signature")[1][0]["access_token"]
    check("der_signature: an ES256 header and a DER signature (not 64 bytes)",
          claims_of(t)[0]["alg"] == "ES256" and unb64url(t.rsplit(".", 1)[1])[0] == 0x30
          and len(unb64url(t.rsplit(".", 1)[1])) != 64)
    h.ctl("config", alg="RS256")
    t = h.ctl("token", character_id=AYLA, scopes=ASSETS, flaw="alg_mismatch")[1][0]["access_token"]
    check("alg=RS256, flaw alg_mismatch: an ES256 header naming the RSA key, 401",
          claims_of(t)[0] == {"alg": "ES256", "kid": "JWT-Signature-Key", "typ": "JWT"}
          and h.get(url, t)[0] == 401)
    h.ctl("reset")

    # -- token failures as 403 -----------------------------------------------------------------
    good = direct(AYLA, ASSETS)
    h.ctl("trouble", style="sso_status", count=2)
    a = h.get(url, good)
    b2 = h.get(url, good)
    c3 = h.get(url, good)
    check("trouble sso_status: 403 unexpected end of JSON input, sso_status 401, count times",
          (a[0], json.loads(a[2]), b2[0], c3[0]) ==
          (403, {"error": "unexpected end of JSON input", "sso_status": 401}, 403, 200))
    h.ctl("trouble", style="message")
    a = h.get(url, good)
    check("trouble message: 403 SSO responded with a 400: Invalid token, then 200",
          (a[0], json.loads(a[2]), h.get(url, good)[0]) ==
          (403, {"error": "SSO responded with a 400: Invalid token"}, 200))
    h.ctl("config", token_errors=403)
    bad = h.ctl("token", character_id=AYLA, scopes=ASSETS, flaw="expired")[1][0]["access_token"]
    a = h.get(url, bad)
    check("token_errors=403: an expired token is 403 with sso_status 401",
          (a[0], json.loads(a[2])) == (403, {"error": "token is expired", "sso_status": 401})
          and h.get(url, good)[0] == 200
          and h.get("/characters/%d/assets" % AYLA, None)[0] == 401)
    h.ctl("reset")
    h.ctl("roles", character_id=AYLA, roles="", stale=1)
    s1, _, b1 = h.get("/characters/%d/roles" % AYLA, direct(AYLA, ROLES))
    s2 = h.get("/corporations/98000001/assets", direct(AYLA, CORP_ASSETS))[0]
    h.ctl("roles", character_id=AYLA, roles="")
    s3, _, b3 = h.get("/characters/%d/roles" % AYLA, direct(AYLA, ROLES))
    check("roles stale=1: /characters/{id}/roles shows the old roles, the route checks the new",
          (s1, json.loads(b1)["roles"], s2, json.loads(b3)["roles"]) ==
          (200, ["Director"], 403, []))

    # -- config, faults, buckets, the log -----------------------------------------------------
    h.ctl("config", access_ttl=60, iss="https://login.eveonline.com", code_ttl=0)
    verifier, challenge = pkce()
    _, _, p = authorize(h, challenge=challenge)
    secrets.add(p["code"])
    s, _, r = h.form(tok, {"grant_type": "authorization_code", "code": p["code"],
                           "code_verifier": verifier, "client_id": NATIVE})
    check("code_ttl=0: the code has expired", s == 400 and r["error"] == "invalid_grant")
    h.ctl("config", code_ttl=300)
    r, c = login(h)
    secrets.update((r["access_token"], r["refresh_token"]))
    check("config: access_ttl and iss", r["expires_in"] == 59 and c["exp"] - c["iat"] == 60
          and c["iss"] == "https://login.eveonline.com")
    h.request("GET", "/_sim/fault?path=/v2/oauth/token&kind=status&status=503")
    s, _, _ = refresh(h, r["refresh_token"])
    check("/_sim/fault works on the SSO paths", s == 503)
    h.request("GET", "/characters/1/assets?token=abc.def.ghi&page=1")
    log = h.request("GET", "/_sim/requests")[2].decode()
    leaks = [x for x in secrets if x and x in log]
    check("the request log holds no token, code, verifier or secret (%d checked)%s"
          % (len(secrets), ": %d leak(s)" % len(leaks) if leaks else ""),
          not leaks and WEB_SECRET not in log and "abc.def.ghi" not in log
          and "token=redacted&page=1" in log and log.count('"/v2/oauth/token"') >= 20)
    h.request("GET", "/_sim/reset")
    ta, tb = direct(AYLA, ASSETS), direct(BORIS, ASSETS)
    u1 = h.get(url, ta)[1].get("x-ratelimit-used")
    u2 = h.get(url + "?page=2", ta)[1].get("x-ratelimit-used")
    u3 = h.get("/characters/%d/assets" % BORIS, tb)[1].get("x-ratelimit-used")
    check("rate limit: a bucket per application and character", (u1, u2, u3) == ("2", "4", "2"))
    h.ctl("reset")
    h.request("GET", "/_sim/reset")


def http_time(text):
    import email.utils
    return email.utils.parsedate_to_datetime(text).timestamp()


P256_P = 2 ** 256 - 2 ** 224 + 2 ** 192 + 2 ** 96 - 1
P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551
P256_G = (0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296,
          0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5)


def _jac_double(pt):
    """Jacobian doubling on P-256 (a = -3)."""
    x, y, z = pt
    if y == 0:
        return (0, 1, 0)
    p = P256_P
    d = 3 * (x - z * z) * (x + z * z) % p
    s = 4 * x * y * y % p
    x3 = (d * d - 2 * s) % p
    return x3, (d * (s - x3) - 8 * y ** 4) % p, 2 * y * z % p


def _jac_add(a, b):
    if a[2] == 0:
        return b
    if b[2] == 0:
        return a
    p = P256_P
    u1, u2 = a[0] * b[2] ** 2 % p, b[0] * a[2] ** 2 % p
    s1, s2 = a[1] * b[2] ** 3 % p, b[1] * a[2] ** 3 % p
    if u1 == u2:
        return _jac_double(a) if s1 == s2 else (0, 1, 0)
    h, r = u2 - u1, s2 - s1
    x3 = (r * r - h ** 3 - 2 * u1 * h * h) % p
    return x3, (r * (u1 * h * h - x3) - s1 * h ** 3) % p, h * a[2] * b[2] % p


def es256_ok(token, jwks):
    """ECDSA P-256 SHA-256 verification of a JWS (r || s) against the
    JWKS's EC key of the token's kid, in Jacobian coordinates (written
    apart from the simulator's signer)."""
    head, payload, sig = token.split(".")
    header = json.loads(unb64url(head))
    keys = [k for k in jwks["keys"] if k.get("kid") == header.get("kid") and k["kty"] == "EC"]
    raw = unb64url(sig)
    if header.get("alg") != "ES256" or len(keys) != 1 or len(raw) != 64:
        return False
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    if not (0 < r < P256_N and 0 < s < P256_N):
        return False
    q = (int.from_bytes(unb64url(keys[0]["x"]), "big"),
         int.from_bytes(unb64url(keys[0]["y"]), "big"), 1)
    z = int.from_bytes(hashlib.sha256(("%s.%s" % (head, payload)).encode()).digest(), "big")
    w = pow(s, -1, P256_N)
    u1, u2 = z * w % P256_N, r * w % P256_N
    acc, g, qq = (0, 1, 0), P256_G + (1,), q
    for i in range(256):
        if (u1 >> i) & 1:
            acc = _jac_add(acc, g)
        if (u2 >> i) & 1:
            acc = _jac_add(acc, qq)
        g, qq = _jac_double(g), _jac_double(qq)
    if acc[2] == 0:
        return False
    x = acc[0] * pow(acc[2] * acc[2], -1, P256_P) % P256_P
    return x % P256_N == r


def on_p256(xb, yb):
    p = 2 ** 256 - 2 ** 224 + 2 ** 192 + 2 ** 96 - 1
    b = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b
    x, y = int.from_bytes(xb, "big"), int.from_bytes(yb, "big")
    return (y * y - (x * x * x - 3 * x + b)) % p == 0
