"""Names and descriptions in ESI's eight languages, and how they are written.

ESI translates names and descriptions after Accept-Language (en, de, fr,
ja, ru, zh, ko, es; anything else gets en) and says which in
Content-Language.  The simulator does the same so that tests see
multi-byte UTF-8 (ja, ru, zh, ko), Latin-1 letters (de, fr, es) and, in
descriptions, every JSON escape a decoder must undo: \\n, \\", \\\\,
\\u00e9 and the surrogate pair \\ud83d\\ude80.  Names are sent as raw
UTF-8, descriptions with every non-ASCII character escaped, so both forms
occur in one reply.

English descriptions of the real items (Tritanium, ...) stay plain ASCII,
so that the market tests also run in a LATIN1 database; the generated
items' English descriptions carry the escapes too (with the rocket, which
LATIN1 cannot hold).
"""

import json

from .contract import LANGUAGES

# Hand translations of the names tests print, as the EVE client shows them.
NAMES = {
    ("type", 34): {"de": "Tritanium", "fr": "Tritanium", "ja": "トリタニウム",
                   "ru": "Тританий", "zh": "三钛合金", "ko": "트리타늄", "es": "Tritanio"},
    ("type", 35): {"de": "Pyerit", "fr": "Pyérite", "ja": "パイライト", "ru": "Пирит",
                   "zh": "类晶体胶矿", "ko": "파이어라이트", "es": "Pierita"},
    ("type", 36): {"de": "Mexallon", "fr": "Mexallon", "ja": "メキサロン", "ru": "Мексаллон",
                   "zh": "类银超金属", "ko": "멕살론", "es": "Mexalón"},
    ("type", 44992): {"de": "PLEX", "fr": "PLEX", "ja": "PLEX", "ru": "PLEX", "zh": "伊甸币",
                      "ko": "PLEX", "es": "PLEX"},
    ("region", 10000002): {"de": "Die Schmiede", "fr": "La Forge", "ja": "ザ・フォージ",
                           "ru": "Кузница", "zh": "伏尔戈", "ko": "더 포지",
                           "es": "La Forja"},
}

# Other names keep the English name and get a translated tag.
TAGS = {"de": "%s (Großhändlerausgabe)", "fr": "%s (édition spéciale)",
        "ja": "%s（日本語版）", "ru": "%s (русская версия)", "zh": "%s（中文版）",
        "ko": "%s (한국어판)", "es": "%s (edición española)"}

# The sentence added to descriptions: quotes, a backslash, a line break,
# an accented letter and a character outside the Basic Multilingual Plane.
SENTENCES = {
    "en": 'Sold in the caf\u00e9 at "Jita 4-4" \\ Caldari Navy.\nFly safe \U0001F680',
    "de": 'Begehrt bei Kapselpiloten: "Gr\u00f6\u00dfe" z\u00e4hlt \\ im Caf\u00e9.\n'
          'Gute Reise \U0001F680',
    "fr": 'Tr\u00e8s recherch\u00e9 des capsuliers : "qualit\u00e9" \\ caf\u00e9.\n'
          'Bon vol \U0001F680',
    "ja": '\u30ab\u30d7\u30bb\u30e9\u306b\u4eba\u6c17\u3002"\u54c1\u8cea" \\ caf\u00e9\u3002\n'
          '\u826f\u3044\u65c5\u3092 \U0001F680',
    "ru": '\u041f\u043e\u043f\u0443\u043b\u044f\u0440\u043d\u043e \u0443 \u043a\u0430\u043f'
          '\u0441\u0443\u043b\u0451\u0440\u043e\u0432: "\u043a\u0430\u0447\u0435\u0441\u0442'
          '\u0432\u043e" \\ caf\u00e9.\n\u0421\u0447\u0430\u0441\u0442\u043b\u0438\u0432'
          '\u043e\u0433\u043e \u043f\u0443\u0442\u0438 \U0001F680',
    "zh": '\u6df1\u53d7\u514b\u9686\u98de\u884c\u5458\u559c\u7231\u3002"\u54c1\u8d28" \\ '
          'caf\u00e9\u3002\n\u4e00\u8def\u987a\u98ce \U0001F680',
    "ko": '\ucea1\uc290\ub9ac\uc5b4\uc5d0\uac8c \uc778\uae30. "\ud488\uc9c8" \\ caf\u00e9.\n'
          '\uc548\uc804 \ube44\ud589 \U0001F680',
    "es": 'Muy buscado por los capsulares: "calidad" \\ caf\u00e9 y se\u00f1al.\n'
          'Buen viaje \U0001F680',
}


def pick(header):
    """The language of a reply for an Accept-Language header: the first of
    ESI's languages named (primary subtag, any case), else en."""
    for part in (header or "").split(","):
        tag = part.split(";")[0].strip().lower().split("-")[0]
        if tag in LANGUAGES:
            return tag
    return "en"


def name(kind, key, english, lang):
    if lang == "en":
        return english
    hand = NAMES.get((kind, key))
    if hand is not None:
        return hand[lang]
    return TAGS[lang] % english


def description(english, lang, plain_english=False):
    """A description in lang: the English one plus the language's sentence
    (English: unchanged when plain_english, for the real items)."""
    if lang == "en" and plain_english:
        return english
    return "%s\n%s" % (english, SENTENCES[lang])


def dumps(value, ascii_keys=("description",)):
    """Compact JSON with sorted keys, raw UTF-8, except that the values of
    ascii_keys are written with every non-ASCII character escaped."""
    if isinstance(value, dict):
        return "{" + ",".join(
            json.dumps(k, ensure_ascii=False) + ":" +
            (json.dumps(v, ensure_ascii=True) if k in ascii_keys and isinstance(v, str)
             else dumps(v, ascii_keys))
            for k, v in sorted(value.items())) + "}"
    if isinstance(value, list):
        return "[" + ",".join(dumps(v, ascii_keys) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
