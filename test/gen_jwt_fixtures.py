#!/usr/bin/env python3
"""Write test/fixtures/jwt.tsv: a JWKS and EVE SSO-like access tokens.

sql/crypto.sql loads the file with \\copy and checks each token with
esi_test_jwt_verify.  Everything is deterministic: the RSA and P-256 keys
come from a seeded generator (test keys, never used for anything else),
signing is RSASSA-PKCS1-v1_5 with SHA-256 and ECDSA P-256 with SHA-256
(JWS's r || s form) done by hand (stdlib only), and the dates are fixed:
valid tokens expire in 2100, the expired ones in 2000.  Rerun it after
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
EC_KID = "JWT-Signature-Key-ES256"
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


# P-256 (FIPS 186-4, D.1.2.3): y^2 = x^3 - 3x + b over GF(p), order n
P256_P = 2 ** 256 - 2 ** 224 + 2 ** 192 + 2 ** 96 - 1
P256_B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b
P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551
P256_G = (0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296,
          0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5)
# the base point of P-384 (a real point of another curve)
P384_G = (0xaa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7,
          0x3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5f)


def ec_add(a, b):
    if a is None:
        return b
    if b is None:
        return a
    p = P256_P
    if a[0] == b[0]:
        if (a[1] + b[1]) % p == 0:
            return None
        lam = (3 * a[0] * a[0] - 3) * pow(2 * a[1], -1, p) % p
    else:
        lam = (b[1] - a[1]) * pow(b[0] - a[0], -1, p) % p
    x = (lam * lam - a[0] - b[0]) % p
    return x, (lam * (a[0] - x) - a[1]) % p


def ec_mul(k, point):
    r = None
    while k:
        if k & 1:
            r = ec_add(r, point)
        point = ec_add(point, point)
        k >>= 1
    return r


def gen_ec(seed):
    d = random.Random(seed).randrange(1, P256_N)
    return d, ec_mul(d, P256_G)


def sign_es256_rs(key, data):
    """(r, s) of ECDSA P-256 SHA-256, s below n/2 (k drawn from the key and
    the data: deterministic)."""
    d, _ = key
    z = int.from_bytes(hashlib.sha256(data).digest(), "big")
    rng = random.Random(hashlib.sha256(b"%d:" % d + data).digest())
    while True:
        k = rng.randrange(1, P256_N)
        r = ec_mul(k, P256_G)[0] % P256_N
        s = pow(k, -1, P256_N) * (z + r * d) % P256_N
        if r and s:
            return r, min(s, P256_N - s)


def rs_bytes(r, s):
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def der_int(i):
    b = i.to_bytes((i.bit_length() + 8) // 8, "big")
    return b"\x02" + bytes([len(b)]) + b


def der_sig(r, s):
    body = der_int(r) + der_int(s)
    return b"\x30" + bytes([len(body)]) + body


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


def es256_parts(key, claims, header=None):
    """(signing input, r, s) of an ES256 token."""
    h = part(header or {"alg": "ES256", "kid": EC_KID, "typ": "JWT"})
    signing_input = h + "." + part(claims)
    return (signing_input,) + sign_es256_rs(key, signing_input.encode())


def es256(key, claims, header=None, sig=None):
    si, r, s = es256_parts(key, claims, header)
    return si + "." + b64url(sig(r, s) if sig else rs_bytes(r, s))


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

    ec = gen_ec("esi_fdw test EC key 1")
    ec_other = gen_ec("esi_fdw test EC key 2")

    def ec_jwk(point, kid, crv="P-256", size=32, alg="ES256"):
        k = {"crv": crv, "kid": kid, "kty": "EC", "use": "sig",
             "x": b64url(point[0].to_bytes(size, "big")),
             "y": b64url(point[1].to_bytes(size, "big"))}
        if alg:
            k["alg"] = alg
        return k

    # like EVE's: the RSA key and an EC key; then keys for the flawed cases
    jwks = {"keys": [
        jwk(key, KID),
        ec_jwk(ec[1], EC_KID),
        jwk(short, "short-key"),
        ec_jwk(P384_G, "p384-key", "P-384", 48, None),
        ec_jwk((ec[1][0], (ec[1][1] + 1) % P256_P), "off-curve-key"),
    ], "SkipUnresolvedJsonWebKeys": True}

    valid = token(key, claims())
    h, p, s = valid.split(".")
    tampered_claims = part(claims(sub="CHARACTER:EVE:90000001"))
    es_claims = claims(kid=EC_KID)
    es256_valid = es256(ec, es_claims)
    eh, _, es = es256_valid.split(".")
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
        ("rs256_ec_key", token(key, claims(), {"alg": "RS256", "kid": EC_KID,
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
        # ES256: SSO's EC P-256 key
        ("es256_valid", es256_valid),
        ("es256_high_s", es256(ec, es_claims, sig=lambda r, s: rs_bytes(r, P256_N - s))),
        ("es256_expired", es256(ec, claims(exp=EXP_PAST, iat=EXP_PAST - 1200, kid=EC_KID))),
        ("es256_bad_signature", es256(ec_other, es_claims)),
        ("es256_tampered", eh + "." + part(claims(sub="CHARACTER:EVE:90000001", kid=EC_KID))
         + "." + es),
        ("es256_rsa_key", es256(ec, es_claims, {"alg": "ES256", "kid": KID, "typ": "JWT"})),
        ("es256_wrong_curve", es256(ec, es_claims, {"alg": "ES256", "kid": "p384-key",
                                                    "typ": "JWT"})),
        ("es256_off_curve", es256(ec, es_claims, {"alg": "ES256", "kid": "off-curve-key",
                                                  "typ": "JWT"})),
        ("es256_short_signature", es256(ec, es_claims, sig=lambda r, s: rs_bytes(r, s)[:63])),
        ("es256_der_signature", es256(ec, es_claims, sig=der_sig)),
        ("es256_s_is_n", es256(ec, es_claims, sig=lambda r, s: rs_bytes(r, P256_N))),
        ("es256_r_zero", es256(ec, es_claims, sig=lambda r, s: rs_bytes(0, s))),
    ]
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "jwt.tsv")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        for name, value in rows:
            assert "\t" not in value and "\\" not in value and "\n" not in value
            f.write("%s\t%s\n" % (name, value))


if __name__ == "__main__":
    main()
