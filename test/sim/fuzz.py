"""Random JSON pages for the decoder's differential test against jsonb.

/_sim/fuzz?seed=S&count=N lists N cases (number, kind, body in base64) and
/_sim/fuzz/K?seed=S serves case K's body as it is, so that a test can read
the same bytes once through a foreign table and once through
jsonb_populate_recordset (sql/sim_decoder.sql).  The cases are a pure
function of (seed, K), from the simulator's own random streams.

Every body is meant for a table with the columns
    s text, t text, f double precision, i bigint, k integer, b boolean,
    ts timestamptz, j jsonb
Kinds:
    valid      well-formed JSON: an array of records with those fields
               (strings with every escape, raw UTF-8, numbers in all JSON
               forms, nested objects and arrays in j, nulls, missing and
               repeated keys, keys written with escapes, unknown keys,
               odd whitespace); some values do not fit their column (a
               bigint out of range, an impossible date), which both sides
               must refuse alike
    malformed  a valid body broken: truncated, trailing garbage, bad
               escapes, lone surrogates, invalid UTF-8, control characters,
               bad numbers and literals, missing or extra punctuation
    deep       valid JSON nested deeper than esi_fdw accepts (64 levels)

Values are kept where the wrapper and jsonb_populate_recordset are meant to
agree: numbers reach text columns never, and reach integer columns only in
plain integer form (1e3 is 1000 to jsonb but refused for a bigint column by
the decoder, a documented difference).
"""

from .rng import Rng


class Case:
    __slots__ = ("n", "kind", "body")

    def __init__(self, n, kind, body):
        self.n, self.kind, self.body = n, kind, body


# (JSON text, meaning) pieces of strings
_ESCAPES = ['\\n', '\\t', '\\r', '\\b', '\\f', '\\/', '\\"', '\\\\', '\\u00e9', '\\u00E9',
            '\\u4e2d', '\\u0041', '\\u001f', '\\ud83d\\ude80', '\\uD83D\\uDE00', '\\u20ac',
            '\\u00ff', '\\u0100']
_RAW = ["é", "ü", "ß", "中文", "日本語", "Кузница", "한국어", "🚀", "€", "ñ", "'", "<>&",
        " ", "Jita 4-4", "x", "0", "null", "true"]
_WORDS = ["alpha", "Tritanium", "caf", "PLEX", "jump", "gate", "", "New Eden", "Ω"]

_FLOATS = ["0", "-0", "1", "-1", "123", "1e3", "1E3", "1e+3", "1E-7", "1.5E-7", "-2.5e-3",
           "0.1", "0.5", "3.14159265358979", "0.30000000000000004", "9007199254740993",
           "123456789012345678901234567890", "1e308", "-1.7976931348623157e308",
           "4.9e-324", "2.2250738585072014e-308", "1e-5", "100.000", "0.0", "-0.0",
           "12345.6789e-3", "6.02214076e23", "1e22", "1e23", "99999999999999999999e-5"]
_FLOATS_BAD = ["1e400", "-1e400"]
_INTS = ["0", "-0", "1", "-1", "42", "9223372036854775807", "-9223372036854775808",
         "1000000000000", "-123456789012", "2147483647", "-2147483648"]
_INTS_BAD = ["9223372036854775808", "-9223372036854775809", "12345678901234567890", "1.5"]
_INT4 = ["0", "-0", "7", "-7", "2147483647", "-2147483648", "65536"]
_INT4_BAD = ["2147483648", "-2147483649"]
_TIMES = ['"2026-11-20T11:05:00Z"', '"2026-01-01T00:00:00Z"', '"2003-05-06T07:08:09+00:00"',
          '"2026-11-20T11:05:00.5Z"', '"2026-11-20T11:05:00.123456Z"', '"1999-12-31T23:59:59Z"']
_TIMES_BAD = ['"2026-13-01T00:00:00Z"', '"not a time"']

_FIELDS = ("s", "t", "f", "i", "k", "b", "ts", "j")


def _ws(r):
    """Usually nothing, sometimes JSON whitespace."""
    if r.below(6):
        return ""
    return r.choice([" ", "\n", "\t", "\r\n", "  "])


def _string(r):
    parts = []
    for _ in range(r.below(7)):
        x = r.below(3)
        if x == 0:
            parts.append(r.choice(_ESCAPES))
        elif x == 1:
            parts.append(r.choice(_RAW))
        else:
            parts.append(r.choice(_WORDS))
    return '"' + "".join(parts) + '"'


def _raw_string(r):
    """Only raw UTF-8 and plain ASCII: no escapes."""
    return '"' + "".join(r.choice(_RAW + _WORDS).replace('"', "") for _ in range(r.below(5))) + '"'


def _any(r, depth):
    """Any JSON value, nested up to depth."""
    x = r.below(9 if depth > 0 else 6)
    if x == 0:
        return "null"
    if x == 1:
        return r.choice(["true", "false"])
    if x == 2:
        return r.choice(_FLOATS + _INTS)
    if x in (3, 4, 5):
        return _string(r)
    if x in (6, 7):
        items = [_any(r, depth - 1) for _ in range(r.below(4))]
        return "[" + _ws(r) + ("," + _ws(r)).join(items) + _ws(r) + "]"
    members = []
    for _ in range(r.below(4)):
        members.append(_string(r) + _ws(r) + ":" + _ws(r) + _any(r, depth - 1))
    return "{" + _ws(r) + ("," + _ws(r)).join(members) + _ws(r) + "}"


def _value(r, field, bad):
    """A value for a field; bad: may not fit the column."""
    if r.below(8) == 0:
        return "null"
    if field == "s":
        return _string(r)
    if field == "t":
        return _raw_string(r)
    if field == "f":
        if bad and r.below(3) == 0:
            return r.choice(_FLOATS_BAD)
        if r.below(10) == 0:
            return r.choice(['"1.5"', '"NaN"', '"-Infinity"'])
        if r.below(3) == 0:
            # a random decimal in any of JSON's number forms
            mant = str(r.below(10 ** r.between(1, 17)))
            frac = "." + str(r.below(10 ** r.between(1, 8))) if r.below(2) else ""
            exp = ""
            if r.below(2):
                exp = r.choice("eE") + r.choice(["", "+", "-"]) + str(r.below(300))
            return r.choice(["", "-"]) + mant.lstrip("0").rjust(1, "0") + frac + exp
        return r.choice(_FLOATS)
    if field == "i":
        if bad and r.below(3) == 0:
            return r.choice(_INTS_BAD)
        if r.below(3) == 0:
            return r.choice(["", "-"]) + str(r.below(10 ** r.between(1, 18))).lstrip("0").rjust(1, "0")
        return r.choice(_INTS)
    if field == "k":
        if bad and r.below(3) == 0:
            return r.choice(_INT4_BAD)
        return r.choice(_INT4)
    if field == "b":
        return r.choice(["true", "false"])
    if field == "ts":
        if bad and r.below(3) == 0:
            return r.choice(_TIMES_BAD)
        return r.choice(_TIMES)
    return _any(r, 3)


def _key(r, name):
    """A key, sometimes written with escapes."""
    if r.below(10) == 0:
        return '"' + "".join("\\u%04x" % ord(c) for c in name) + '"'
    return '"%s"' % name


def _record(r, bad=None):
    """A record; bad: a (field, value) that does not fit its column, put
    last so that it is the one that counts."""
    members = []
    for field in _FIELDS:
        if r.below(7) == 0:
            continue                            # missing: NULL
        members.append((field, _value(r, field, False)))
        if r.below(15) == 0:
            # a repeated key: the last one counts, as in jsonb
            members.append((field, _value(r, field, False)))
    for _ in range(r.below(3)):
        members.append((r.choice(["extra", "S", "unknown_%d" % r.below(100), "é", ""]),
                        _any(r, 2)))
    order = r.shuffle(list(range(len(members))))
    if r.below(2):
        # ESI keeps its keys in one order; so do most pages
        order = sorted(order)
    if bad is not None:
        members.append(bad)
        order.append(len(members) - 1)
    out = []
    for k in order:
        name, value = members[k]
        out.append(_ws(r) + _key(r, name) + _ws(r) + ":" + _ws(r) + value + _ws(r))
    return "{" + ",".join(out) + "}"


def _valid(r, bad):
    """A valid page; with bad, exactly one value in it does not fit its
    column (with two, which error comes first depends on the order in
    which each side converts, which is nobody's contract)."""
    n = r.below(7)
    if bad:
        n = max(n, 1)
        field = r.choice(["f", "i", "k", "ts"])
        worse = None
        while worse is None:
            v = _value(r, field, True)
            if v in _FLOATS_BAD + _INTS_BAD + _INT4_BAD + _TIMES_BAD:
                worse = (field, v)
        where = r.below(n)
        recs = [_record(r, worse if k == where else None) for k in range(n)]
    else:
        recs = [_record(r) for _ in range(n)]
    return (_ws(r) + "[" + _ws(r) + ("," + _ws(r)).join(recs) + _ws(r) + "]" + _ws(r)).encode()


# Ways to break a valid body.  Each takes (rng, body bytes) and returns the
# broken body; the result is always invalid JSON (checked by the caller).
def _truncate(r, b):
    return b[:r.below(max(1, len(b) - 1))] if len(b) > 1 else b""


def _trailing(r, b):
    return b + r.choice([b"x", b"]", b",{}", b"\x00", b" 1", b"[]", b"}"])


def _in_string(r, b, bad):
    """Put bad into the first string of the body, or a new record."""
    i = b.find(b'"')
    if i < 0:
        return b'[{"s":"' + bad + b'"}]'
    return b[:i + 1] + bad + b[i + 1:]


_BAD_IN_STRING = [b"\\x", b"\\u12G4", b"\\U0041", b"\\'", b"\\u00", b"\\ud83d", b"\\ude80",
                  b"\\ud83dx", b"\\ud83d\\u0041", b"\\ude80\\ud83d", b"\xff", b"\xc0\xaf",
                  b"\xed\xa0\x80", b"\xe4\xb8", b"\xf5\x80\x80\x80", b"\x01", b"\n", b"\t",
                  b"\x7f\x80"]
_BAD_VALUES = [b"01", b"1.", b".5", b"+1", b"-", b"1e", b"NaN", b"Infinity", b"0x10", b"tru",
               b"nul", b"True", b"'x'", b"1e+", b"--1", b"\"a\" \"b\""]


def _bad_value(r, b):
    return b'[{"f":' + r.choice(_BAD_VALUES) + b'}]'


def _punctuation(r, b):
    return r.choice([b"[{}", b"[{},]", b'[{"s":1,}]', b'[{"s" 1}]', b'[{"s":}]', b"[,{}]",
                     b'[{"s":1}{"s":2}]', b'[{s:1}]', b"\xef\xbb\xbf[]", b"", b" ",
                     b"[{]", b'{"s":1]', b"[}"])


def _is_valid_json(b):
    import json
    try:
        text = b.decode("utf-8")
    except UnicodeDecodeError:
        return False
    try:
        json.loads(text, parse_constant=_refuse, object_pairs_hook=_check_pairs)
    except (ValueError, RecursionError):
        return False
    # Python accepts lone surrogates and raw control characters in strict=False
    # only; strict is the default, surrogates need a separate look
    return "\\ud8" not in text.lower() or "\\udc" in text.lower()


def _refuse(name):
    raise ValueError(name)


def _check_pairs(pairs):
    return dict(pairs)


def case(seed, n):
    r = Rng("fuzz:%d:%d" % (seed, n))
    x = r.below(100)
    if x < 62:
        return Case(n, "valid", _valid(r, bad=r.below(4) == 0))
    if x < 96:
        base = _valid(r, bad=False)
        how = r.below(6)
        if how == 0:
            body = _truncate(r, base)
        elif how == 1:
            body = _trailing(r, base)
        elif how in (2, 3):
            body = _in_string(r, base, r.choice(_BAD_IN_STRING))
        elif how == 4:
            body = _bad_value(r, base)
        else:
            body = _punctuation(r, base)
        if _is_valid_json(body):
            body = body + b"]"                  # never valid by accident
        return Case(n, "malformed", body)
    depth = r.choice([65, 100, 1000, 5000])
    return Case(n, "deep", ('[{"j":' + "[" * depth + "]" * depth + "}]").encode())


def cases(seed, count):
    return [case(seed, n) for n in range(1, count + 1)]
