"""RS256 with Python integers: keys, signatures, JWTs (the simulator's SSO).

No third-party crypto library is available to the tests, and the simulator
must sign its access tokens with a real RSA key so that the extension's
JWT verification (libcrypto) is exercised for real.  Everything here is
textbook: probable primes by Miller-Rabin, RSASSA-PKCS1-v1_5 with SHA-256
(RFC 8017 8.2, EMSA-PKCS1-v1_5 with the SHA-256 DigestInfo prefix), the CRT
for signing speed.  Keys come from a deterministic stream (sim/rng.py), so
a seed always gives the same key.  Not constant-time: test use only.

Also a P-256 public point for the JWKS's decoy ES256 entry (a real point on
the curve, so a strict parser accepts it; nothing is ever signed with it).
"""

import base64
import hashlib
import hmac
import json

from .rng import Rng

E = 65537
# DER of DigestInfo{sha256, NULL} up to the 32-byte digest (RFC 8017 9.2 note 1)
SHA256_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")

_SMALL_PRIMES = [p for p in range(3, 2000) if all(p % q for q in range(2, int(p ** 0.5) + 1))]
_SMALL_PRODUCT = 1
for _p in _SMALL_PRIMES:
    _SMALL_PRODUCT *= _p


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text):
    if isinstance(text, str):
        text = text.encode()
    return base64.urlsafe_b64decode(text + b"=" * (-len(text) % 4))


def int_bytes(n, length=None):
    if length is None:
        length = max(1, (n.bit_length() + 7) // 8)
    return n.to_bytes(length, "big")


def _random_bits(rng, bits):
    words = (bits + 63) // 64
    n = 0
    for _ in range(words):
        n = (n << 64) | rng.u64()
    return n >> (words * 64 - bits)


def is_probable_prime(n, rng, rounds=8):
    """Miller-Rabin with random bases (after trial division)."""
    if n < 2:
        return False
    for p in [2] + _SMALL_PRIMES[:60]:
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for _ in range(rounds):
        a = 2 + _random_bits(rng, n.bit_length() + 64) % (n - 3)
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime(rng, bits):
    """A random prime of exactly `bits` bits with its two top bits set (so
    that the product of two has exactly 2*bits bits) and gcd(p-1, E) = 1."""
    while True:
        p = _random_bits(rng, bits) | (3 << (bits - 2)) | 1
        for _ in range(2000):
            # cheap filter: one gcd with the product of the small primes
            if (p - 1) % E and _gcd(p, _SMALL_PRODUCT) == 1 and is_probable_prime(p, rng):
                return p
            p += 2
            if p.bit_length() != bits:
                break


def _gcd(a, b):
    while b:
        a, b = b, a % b
    return a


class RsaKey:
    """A private RSA key with its JWKS identity."""

    def __init__(self, kid, n, e, d, p, q):
        self.kid = kid
        self.n, self.e, self.d, self.p, self.q = n, e, d, p, q
        self.dp, self.dq = d % (p - 1), d % (q - 1)
        self.qinv = pow(q, -1, p)
        self.size = (n.bit_length() + 7) // 8

    @classmethod
    def generate(cls, kid, seed_text, bits=2048):
        rng = Rng("rsa:%s" % seed_text)
        while True:
            p = _prime(rng, bits // 2)
            q = _prime(rng, bits // 2)
            if p == q:
                continue
            n = p * q
            if n.bit_length() != bits:
                continue
            lam = (p - 1) * (q - 1) // _gcd(p - 1, q - 1)
            d = pow(E, -1, lam)
            if p < q:
                p, q = q, p
            return cls(kid, n, E, d, p, q)

    def jwk(self):
        return {"kty": "RSA", "alg": "RS256", "kid": self.kid, "use": "sig",
                "n": b64url(int_bytes(self.n)), "e": b64url(int_bytes(self.e))}

    def _encode(self, message):
        digest = hashlib.sha256(message).digest()
        t = SHA256_PREFIX + digest
        ps = b"\xff" * (self.size - len(t) - 3)
        return int.from_bytes(b"\x00\x01" + ps + b"\x00" + t, "big")

    def sign(self, message):
        """RSASSA-PKCS1-v1_5 with SHA-256 (the CRT form of m^d mod n)."""
        m = self._encode(message)
        s1 = pow(m, self.dp, self.p)
        s2 = pow(m, self.dq, self.q)
        h = self.qinv * (s1 - s2) % self.p
        s = s2 + h * self.q
        return int_bytes(s, self.size)

    def verify(self, message, signature):
        if len(signature) != self.size:
            return False
        s = int.from_bytes(signature, "big")
        if s >= self.n:
            return False
        return pow(s, self.e, self.n) == self._encode(message)

    def hs256_confusion_secret(self):
        """Bytes that stand for the public key in the HS256 key-confusion
        flaw (a client that HMACs with 'the key' it has would accept it)."""
        return json.dumps(self.jwk(), sort_keys=True).encode()


# -- JWT --------------------------------------------------------------------------------

def _json_b64(obj):
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


def jwt_encode(header, claims, key):
    """header.claims.signature; the header's alg says how to sign: RS256
    with key (an RsaKey), HS256 with key (bytes), none without."""
    signing_input = ("%s.%s" % (_json_b64(header), _json_b64(claims))).encode()
    alg = header.get("alg")
    if alg == "RS256":
        sig = key.sign(signing_input)
    elif alg == "HS256":
        sig = hmac.new(key, signing_input, hashlib.sha256).digest()
    else:
        sig = b""
    return signing_input.decode() + "." + b64url(sig)


class JwtError(Exception):
    pass


def jwt_split(token):
    """(header, claims, signing input bytes, signature bytes) or JwtError."""
    parts = token.split(".")
    if len(parts) != 3:
        raise JwtError("not a JWT")
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        sig = b64url_decode(parts[2])
    except (ValueError, UnicodeDecodeError):
        raise JwtError("undecodable JWT")
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise JwtError("undecodable JWT")
    return header, claims, ("%s.%s" % (parts[0], parts[1])).encode(), sig


# -- P-256, for the decoy key --------------------------------------------------------------

_P256_P = 2 ** 256 - 2 ** 224 + 2 ** 192 + 2 ** 96 - 1
_P256_A = -3
_P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551
_P256_G = (0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296,
           0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5)


def _ec_add(P, Q):
    if P is None:
        return Q
    if Q is None:
        return P
    p = _P256_P
    if P[0] == Q[0]:
        if (P[1] + Q[1]) % p == 0:
            return None
        lam = (3 * P[0] * P[0] + _P256_A) * pow(2 * P[1], -1, p) % p
    else:
        lam = (Q[1] - P[1]) * pow(Q[0] - P[0], -1, p) % p
    x = (lam * lam - P[0] - Q[0]) % p
    return x, (lam * (P[0] - x) - P[1]) % p


def p256_public(seed_text):
    """(x, y) of k*G for a scalar k drawn from seed_text."""
    k = 1 + _random_bits(Rng("ec:%s" % seed_text), 320) % (_P256_N - 1)
    R, A = None, _P256_G
    while k:
        if k & 1:
            R = _ec_add(R, A)
        A = _ec_add(A, A)
        k >>= 1
    return R


def ec_jwk(kid, seed_text):
    x, y = p256_public(seed_text)
    return {"kty": "EC", "alg": "ES256", "kid": kid, "use": "sig", "crv": "P-256",
            "x": b64url(int_bytes(x, 32)), "y": b64url(int_bytes(y, 32))}
