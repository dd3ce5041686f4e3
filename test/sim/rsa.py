"""RS256 and ES256 with Python integers: keys, signatures, JWTs (the
simulator's SSO).

No third-party crypto library is available to the tests, and the simulator
must sign its access tokens with a real RSA key so that the extension's
JWT verification (libcrypto) is exercised for real.  Everything here is
textbook: probable primes by Miller-Rabin, RSASSA-PKCS1-v1_5 with SHA-256
(RFC 8017 8.2, EMSA-PKCS1-v1_5 with the SHA-256 DigestInfo prefix), the CRT
for signing speed.  Keys come from a deterministic stream (sim/rng.py), so
a seed always gives the same key.  Not constant-time: test use only.

And ES256: an ECDSA P-256 key (EcKey) whose public point the JWKS lists
beside the RSA key, as EVE SSO's does, and which signs access tokens when
the simulator is told to (JWS's r || s signature form, RFC 7518 3.4; the
nonce k is drawn from the key and the message, so signing is
deterministic; s is left as it falls, high or low, as a signer that does
not normalise it leaves it).
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
    """header.claims.signature; the key says how to sign: an RsaKey
    RS256, an EcKey ES256 (whatever the header says: the alg/key mismatch
    flaw), bytes HS256, None nothing (alg none)."""
    signing_input = ("%s.%s" % (_json_b64(header), _json_b64(claims))).encode()
    alg = header.get("alg")
    if isinstance(key, (RsaKey, EcKey)):
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


# -- P-256: the ES256 key ---------------------------------------------------------------------

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


def _ec_mul(k, point):
    r = None
    while k:
        if k & 1:
            r = _ec_add(r, point)
        point = _ec_add(point, point)
        k >>= 1
    return r


def ec_jwk(kid, seed_text):
    x, y = p256_public(seed_text)
    return {"kty": "EC", "alg": "ES256", "kid": kid, "use": "sig", "crv": "P-256",
            "x": b64url(int_bytes(x, 32)), "y": b64url(int_bytes(y, 32))}


class EcKey:
    """A private ECDSA P-256 key with its JWKS identity (ES256)."""

    N = _P256_N

    def __init__(self, kid, seed_text):
        self.kid = kid
        self.d = 1 + _random_bits(Rng("ec:%s" % seed_text), 320) % (_P256_N - 1)
        self.q = _ec_mul(self.d, _P256_G)
        self.s_form = "any"         # or "high", "low": how s is left

    @classmethod
    def generate(cls, kid, seed_text):
        return cls(kid, seed_text)

    def jwk(self):
        return {"kty": "EC", "alg": "ES256", "kid": self.kid, "use": "sig", "crv": "P-256",
                "x": b64url(int_bytes(self.q[0], 32)), "y": b64url(int_bytes(self.q[1], 32))}

    def sign_rs(self, message):
        """(r, s) of ECDSA with SHA-256; k from HMAC(d, message, counter)."""
        z = int.from_bytes(hashlib.sha256(message).digest(), "big")
        key = int_bytes(self.d, 32)
        for counter in range(1000):
            k = int.from_bytes(hmac.new(key, message + counter.to_bytes(4, "big"),
                                        hashlib.sha512).digest(), "big") % _P256_N
            if k == 0:
                continue
            r = _ec_mul(k, _P256_G)[0] % _P256_N
            s = pow(k, -1, _P256_N) * (z + r * self.d) % _P256_N
            if r and s:
                if self.s_form == "high" and s <= _P256_N // 2 or \
                        self.s_form == "low" and s > _P256_N // 2:
                    s = _P256_N - s
                return r, s
        raise ValueError("no nonce")

    def sign(self, message):
        """JWS form: r || s, 32 bytes each."""
        r, s = self.sign_rs(message)
        return int_bytes(r, 32) + int_bytes(s, 32)

    def verify(self, message, signature):
        if len(signature) != 64:
            return False
        r = int.from_bytes(signature[:32], "big")
        s = int.from_bytes(signature[32:], "big")
        if not (0 < r < _P256_N and 0 < s < _P256_N):
            return False
        z = int.from_bytes(hashlib.sha256(message).digest(), "big")
        w = pow(s, -1, _P256_N)
        p = _ec_add(_ec_mul(z * w % _P256_N, _P256_G), _ec_mul(r * w % _P256_N, self.q))
        return p is not None and p[0] % _P256_N == r

    def hs256_confusion_secret(self):
        return json.dumps(self.jwk(), sort_keys=True).encode()


def der_signature(raw):
    """An r || s signature in DER (what a JWS must not carry)."""
    def integer(b):
        b = b.lstrip(b"\x00") or b"\x00"
        if b[0] & 0x80:
            b = b"\x00" + b
        return b"\x02" + bytes([len(b)]) + b
    body = integer(raw[:32]) + integer(raw[32:])
    return b"\x30" + bytes([len(body)]) + body
