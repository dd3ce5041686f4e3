#!/usr/bin/env python3
"""Write test/fixtures/jwt.tsv: a JWKS and EVE SSO-like access tokens.

sql/crypto.sql loads the file with \\copy and checks each token with
esi_test_jwt_verify.  Everything is deterministic: the RSA keys come from a
seeded generator (test keys, never used for anything else), signing is
RSASSA-PKCS1-v1_5 with SHA-256 done by hand (stdlib only), and the dates are
fixed: valid tokens expire in 2100, the expired one in 2000.  Rerun it after
changing a case:

    python3 test/gen_jwt_fixtures.py
"""

import base64
import hashlib
import hmac
import json
import os
import random

CLIENT_ID = "0123456789abcdef0123456789abcdef"
KID = "JWT-Signature-Key"
CHARACTER_ID = 2112625428
EXP_FUTURE = 4102444800   # 2100-01-01T00:00:00Z
EXP_PAST = 946684800      # 2000-01-01T00:00:00Z

# DER DigestInfo prefix of SHA-256 (RFC 8017, section 9.2, note 1)
SHA256_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")


def is_probable_prime(n, rng):
    if n < 2:
        return False
    for p in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for _ in range(40):
        a = rng.randrange(2, n - 1)
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def gen_prime(bits, rng):
    while True:
        c = rng.getrandbits(bits) | (3 << (bits - 2)) | 1
        if is_probable_prime(c, rng):
            return c


def gen_rsa(bits, seed):
    rng = random.Random(seed)
    e = 65537
    while True:
        p, q = gen_prime(bits // 2, rng), gen_prime(bits // 2, rng)
        phi = (p - 1) * (q - 1)
        if p != q and phi % e != 0:
            n = p * q
            if n.bit_length() == bits:
                return n, e, pow(e, -1, phi)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def int_b64url(i):
    return b64url(i.to_bytes((i.bit_length() + 7) // 8, "big"))


def sign_rs256(key, data):
    n, _, d = key
    k = (n.bit_length() + 7) // 8
    t = SHA256_PREFIX + hashlib.sha256(data).digest()
    em = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
    return pow(int.from_bytes(em, "big"), d, n).to_bytes(k, "big")


def part(obj):
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


def token(key, claims, header=None):
    h = part(header or {"alg": "RS256", "kid": KID, "typ": "JWT"})
    signing_input = h + "." + part(claims)
    return signing_input + "." + b64url(sign_rs256(key, signing_input.encode()))


def claims(**over):
    c = {
        "scp": ["esi-assets.read_assets.v1", "esi-wallet.read_character_wallet.v1"],
        "jti": "6f6b9f59-2d2a-4b8a-9a7e-5d0c2b1e0a11",
        "kid": KID,
        "sub": "CHARACTER:EVE:%d" % CHARACTER_ID,
        "azp": CLIENT_ID,
        "tenant": "tranquility",
        "tier": "live",
        "region": "world",
        "aud": [CLIENT_ID, "EVE Online"],
        "name": "Test Pilot",
        "owner": "8PmzCeTKb4VFUDrHLc/AeZXDSWM=",
        "exp": EXP_FUTURE,
        "iat": EXP_FUTURE - 1200,
        "iss": "login.eveonline.com",
    }
    for k, v in over.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return c


def main():
    key = gen_rsa(2048, "esi_fdw test key 1")
    other = gen_rsa(2048, "esi_fdw test key 2")
    short = gen_rsa(1024, "esi_fdw test key 3")
    n, e, _ = key

    def jwk(k, kid):
        return {"alg": "RS256", "e": int_b64url(k[1]), "kid": kid, "kty": "RSA",
                "n": int_b64url(k[0]), "use": "sig"}

    # like EVE's: the RSA key and an EC key (never used by RS256 tokens)
    jwks = {"keys": [
        jwk(key, KID),
        {"alg": "ES256", "crv": "P-256", "kid": "JWT-Signature-Key-ES256", "kty": "EC",
         "use": "sig", "x": "ZUjdl5AP1sutAXXKsXxrHYhT7t8aI7fGuUTYvKkBV1A",
         "y": "4fAKYJd8X9yUmnwR9R1dSyP0aH4vGo7xlWYNOWvTrw0"},
        jwk(short, "short-key"),
    ], "SkipUnresolvedJsonWebKeys": True}

    valid = token(key, claims())
    h, p, s = valid.split(".")
    tampered_claims = part(claims(sub="CHARACTER:EVE:90000001"))
    rows = [
        ("jwks", json.dumps(jwks, separators=(",", ":"))),
        ("client_id", CLIENT_ID),
        ("valid", valid),
        ("iss_https_scp_string", token(key, claims(iss="https://login.eveonline.com",
                                                   scp="esi-skills.read_skills.v1"))),
        ("no_scp", token(key, claims(scp=None))),
        ("bad_signature", token(other, claims())),
        ("tampered", h + "." + tampered_claims + "." + s),
        ("wrong_audience", token(key, claims(aud=["another-client", "EVE Online"]))),
        ("audience_without_eve", token(key, claims(aud=[CLIENT_ID]))),
        ("audience_string", token(key, claims(aud=CLIENT_ID))),
        ("expired", token(key, claims(exp=EXP_PAST, iat=EXP_PAST - 1200))),
        ("unknown_kid", token(key, claims(), {"alg": "RS256", "kid": "JWT-Signature-Key-2",
                                              "typ": "JWT"})),
        ("ec_kid", token(key, claims(), {"alg": "RS256", "kid": "JWT-Signature-Key-ES256",
                                         "typ": "JWT"})),
        ("short_key", token(short, claims(), {"alg": "RS256", "kid": "short-key",
                                              "typ": "JWT"})),
        ("alg_none", part({"alg": "none", "kid": KID, "typ": "JWT"}) + "." + p + "."),
        ("alg_hs256", (lambda si: si + "." + b64url(hmac.new(
            int_b64url(n).encode(), si.encode(), hashlib.sha256).digest()))(
            part({"alg": "HS256", "kid": KID, "typ": "JWT"}) + "." + p)),
        ("no_alg", token(key, claims(), {"kid": KID, "typ": "JWT"})),
        ("bad_issuer", token(key, claims(iss="https://login.example.com"))),
        ("old_subject", token(key, claims(sub="EVE:CHARACTER:%d" % CHARACTER_ID))),
        ("subject_not_number", token(key, claims(sub="CHARACTER:EVE:12ab"))),
        ("no_owner", token(key, claims(owner=None))),
        ("not_a_jwt", "not-a-token"),
        ("bad_base64", "eyJ!bad." + p + "." + s),
    ]
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "jwt.tsv")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        for name, value in rows:
            assert "\t" not in value and "\\" not in value and "\n" not in value
            f.write("%s\t%s\n" % (name, value))


if __name__ == "__main__":
    main()
