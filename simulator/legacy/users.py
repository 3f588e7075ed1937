"""Legacy accounts: names from five regions, Kii-valid login names, passwords and their legacy hashes.

Hashes come from `shared.legacy.hash_schemes`, the same code auth verifies with (DESIGN section 2),
with deliberately cheap costs so thousands of users seed in seconds; the costs are part of each
hash's params, so verification needs nothing else.
"""

from __future__ import annotations

import base64
import random
import unicodedata
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shared.legacy.hash_schemes import SCHEMES, generate_legacy_hash
from simulator.legacy.edge_cases import EdgeCase, EdgeCaseLog
from simulator.legacy.ids import kii_user_id
from simulator.legacy.model import LegacyUser
from simulator.legacy.readings import Physiology

# Cheap costs per scheme; real platforms used 10-1000x more, which only slows seeding down.
CHEAP_HASH_PARAMS: Mapping[str, Mapping[str, object]] = {
    "hmac-sha256": {},
    "sha256-salted": {},
    "pbkdf2-sha256": {"iterations": 1000},
    "bcrypt": {"cost": 4},
    "scrypt": {"n": 1024, "r": 8, "p": 1, "dklen": 32},
    "firebase-scrypt": {"salt_separator": "Bw==", "rounds": 8, "mem_cost": 10},
    "argon2": {"variant": "argon2id", "time_cost": 1, "memory_cost": 1024, "parallelism": 1},
}
# Most accounts carry the platform's own keyed scheme; the rest came in from earlier migrations.
_SCHEME_WEIGHTS: Mapping[str, int] = {
    "hmac-sha256": 40,
    "sha256-salted": 10,
    "pbkdf2-sha256": 10,
    "bcrypt": 10,
    "scrypt": 10,
    "firebase-scrypt": 10,
    "argon2": 10,
}
SALT_BYTES = 16
FIREBASE_SIGNER_KEY_BYTES = 64

REGIONS: Mapping[str, int] = {"JP": 35, "EU": 25, "CN": 15, "IN": 15, "SG": 10}
_EU_COUNTRIES: Sequence[str] = ("DE", "FR", "IT", "ES", "NL", "PL", "SE")
# Country -> (locale choices, UTC offset in minutes, email domains under the reserved .example TLD).
_COUNTRIES: Mapping[str, tuple[Sequence[str], int, Sequence[str]]] = {
    "JP": (("ja-JP", "ja-JP", "en-JP"), 540, ("docomo.example", "yahoo-jp.example", "gmail.example")),
    "CN": (("zh-CN",), 480, ("qq.example", "163.example")),
    "SG": (("en-SG", "zh-SG", "ms-SG"), 480, ("singnet.example", "gmail.example")),
    "IN": (("en-IN", "hi-IN"), 330, ("gmail.example", "rediffmail.example")),
    "DE": (("de-DE",), 60, ("gmx.example", "web-de.example")),
    "FR": (("fr-FR",), 60, ("orange.example", "gmail.example")),
    "IT": (("it-IT",), 60, ("libero.example", "gmail.example")),
    "ES": (("es-ES",), 60, ("telefonica.example", "gmail.example")),
    "NL": (("nl-NL",), 60, ("ziggo.example", "gmail.example")),
    "PL": (("pl-PL",), 60, ("wp.example", "onet.example")),
    "SE": (("sv-SE",), 60, ("telia.example", "gmail.example")),
}
# Country -> (display name, login-name stem).
_NAMES: Mapping[str, Sequence[tuple[str, str]]] = {
    "JP": (
        ("山田 太郎", "taro.yamada"),
        ("佐藤 花子", "hanako.sato"),
        ("鈴木 一郎", "ichiro.suzuki"),
        ("高橋 美咲", "misaki.takahashi"),
        ("田中 健", "ken.tanaka"),
        ("伊藤 さくら", "sakura.ito"),
        ("渡辺 翔太", "shota.watanabe"),
        ("中村 ゆい", "yui.nakamura"),
        ("ヤマモト ミホ", "miho.yamamoto"),
        ("Kenji Kato", "kenji.kato"),
    ),
    "CN": (
        ("王伟", "wei.wang"),
        ("李娜", "na.li"),
        ("张敏", "min.zhang"),
        ("刘洋", "yang.liu"),
        ("陈静", "jing.chen"),
        ("杨磊", "lei.yang"),
        ("黄丽", "li.huang"),
        ("Zhao Qiang", "qiang.zhao"),
    ),
    "SG": (
        ("Tan Wei Ming", "weiming.tan"),
        ("陈美玲", "meiling.chen"),
        ("Nur Aisyah", "aisyah.nur"),
        ("Lim Hui Min", "huimin.lim"),
        ("Siti Rahmah", "siti.rahmah"),
    ),
    "IN": (
        ("Priya Sharma", "priya.sharma"),
        ("अमित कुमार", "amit.kumar"),
        ("Ananya Iyer", "ananya.iyer"),
        ("Rahul Verma", "rahul.verma"),
        ("प्रिया पटेल", "priya.patel"),
        ("Sneha Nair", "sneha.nair"),
    ),
    "EU": (
        ("Jürgen Müller", "juergen.mueller"),
        ("Anna Schmidt", "anna.schmidt"),
        ("Zoé Lefèvre", "zoe.lefevre"),
        ("Hélène Dubois", "helene.dubois"),
        ("José Martínez", "jose.martinez"),
        ("Lucía García", "lucia.garcia"),
        ("Niccolò Bianchi", "niccolo.bianchi"),
        ("Giulia Rossi", "giulia.rossi"),
        ("Sanne de Vries", "sanne.devries"),
        ("Łukasz Wójcik", "lukasz.wojcik"),
        ("Åsa Lindqvist", "asa.lindqvist"),
        ("Björn Andersson", "bjorn.andersson"),
    ),
}
# Emoji as phones produce them: plain, with a variation selector, and ZWJ sequences.
_EMOJI: Sequence[str] = ("🌸", "❤️", "🏃‍♂️", "👨‍👩‍👧", "🍣", "💪🏽")
_PASSWORD_WORDS: Sequence[str] = ("sakura", "health", "tiger", "blue", "omron", "family", "panda", "summer")
_PUNCTUATION = "!#$%&*+-.?@_"
_PRINTABLE = "".join(chr(code) for code in range(0x21, 0x7F))
_APP_VERSIONS: Sequence[str] = ("2.8.4", "3.1.0", "3.2.2", "3.4.1")

# The first users cover every unicode-name style, so even a tiny dataset has each (region, style).
_FORCED_STYLES: Sequence[tuple[str, str]] = (
    ("JP", "native"),
    ("CN", "native"),
    ("SG", "emoji"),
    ("EU", "nfd"),
)


@dataclass(frozen=True, slots=True)
class UserProfile:
    """A generated user plus the private facts readings are drawn from (body, habits, time zone)."""

    user: LegacyUser
    password: str
    region: str
    created_ms: int
    utc_offset_min: int
    body: Physiology
    imperial_units: bool


def utc_offset_min(country: str | None) -> int:
    """The (standard-time) UTC offset the old app assumed for a country; 0 when unknown."""
    if country is None or country not in _COUNTRIES:
        return 0
    return _COUNTRIES[country][1]


def pick_weighted(rng: random.Random, weights: Mapping[str, int]) -> str:
    """One key of weights, drawn with its weight."""
    names = list(weights)
    return rng.choices(names, weights=[weights[name] for name in names])[0]


def _password(rng: random.Random) -> str:
    """A password the old app accepted: printable ASCII, 8-24 characters (kii-api.md section 1.3)."""
    if rng.random() < 0.5:
        word = rng.choice(_PASSWORD_WORDS)
        word = word.capitalize() if rng.random() < 0.5 else word
        return f"{word}{rng.randrange(1950, 2010)}{rng.choice(_PUNCTUATION)}"
    chars = [rng.choice(_PRINTABLE) for _ in range(rng.randint(8, 20))]
    if rng.random() < 0.1:
        chars.insert(rng.randrange(1, len(chars)), " ")  # inner spaces are legal and do occur
    return "".join(chars)


def _display_name(rng: random.Random, region: str, style: str) -> tuple[str, str]:
    """(display name, login stem) in the region's naming, shaped by style: native, emoji, nfd or plain."""
    name, stem = rng.choice(_NAMES[region])
    if style == "native" and name.isascii():
        name, stem = next((pair for pair in _NAMES[region] if not pair[0].isascii()), (name, stem))
    if style == "emoji":
        name = f"{name} {rng.choice(_EMOJI)}"
    elif style == "nfd":
        if name.isascii():
            name, stem = _NAMES["EU"][0]
        # Some keyboards (notably iOS with some input methods) send decomposed text.
        name = unicodedata.normalize("NFD", name)
    return name, stem


def _login_name(rng: random.Random, stem: str, taken: set[str]) -> str:
    """A login name matching `[a-zA-Z0-9-_.]{3,64}` not in taken (then added to it)."""
    variant = rng.choice((stem, stem.replace(".", "_"), stem.replace(".", "") + str(rng.randrange(10, 99))))
    candidate, number = variant, 2
    while candidate in taken:
        candidate, number = f"{variant}{number}", number + 1
    taken.add(candidate)
    return candidate


def _attributes(rng: random.Random, region: str, height_cm: int, imperial: bool, created_ms: int) -> dict[str, Any]:
    """Custom user fields the old app stored on the account."""
    return {
        "region": region,
        "birthYear": rng.randrange(1935, 2004),
        "gender": rng.choice(("female", "male", "female", "male", "other")),
        "heightCm": height_cm,
        "unitSystem": "imperial" if imperial else "metric",
        "marketingOptIn": rng.random() < 0.3,
        "appVersion": rng.choice(_APP_VERSIONS),
        "termsAcceptedAt": created_ms,
    }


def _legacy_hash_scheme(index: int, first_schemes: Sequence[str], rng: random.Random) -> str:
    """The first users take each scheme once (so every scheme is present), then by weight."""
    if index < len(first_schemes):
        return first_schemes[index]
    return pick_weighted(rng, _SCHEME_WEIGHTS)


def generate_users(
    rng: random.Random,
    count: int,
    *,
    hash_key: bytes,
    signer_key: bytes,
    created_range_ms: tuple[int, int],
    edge_cases: EdgeCaseLog,
    exclude_ids: Collection[str] = (),
    progress: Callable[[int], None] | None = None,
) -> list[UserProfile]:
    """`count` users with unique ids and login names; unicode and missing-field users go to edge_cases.

    progress(1) is called after each user, for a progress bar (hashing dominates the time).
    """
    first_schemes = list(SCHEMES)
    rng.shuffle(first_schemes)
    firebase_params = {
        **CHEAP_HASH_PARAMS["firebase-scrypt"],
        "signer_key": base64.b64encode(signer_key).decode(),
    }
    used_logins: set[str] = set()
    used_ids: set[str] = set()
    profiles: list[UserProfile] = []
    for index in range(count):
        region, style = _FORCED_STYLES[index] if index < len(_FORCED_STYLES) else (pick_weighted(rng, REGIONS), "")
        if not style:
            style = "emoji" if rng.random() < 0.03 else ("nfd" if region == "EU" and rng.random() < 0.2 else "")
        country = rng.choice(_EU_COUNTRIES) if region == "EU" else region
        locales, utc_offset_min, domains = _COUNTRIES[country]
        display_name, stem = _display_name(rng, region, style)
        login_name = _login_name(rng, stem, used_logins)
        user_id = kii_user_id(rng)
        while user_id in used_ids or user_id in exclude_ids:
            user_id = kii_user_id(rng)
        used_ids.add(user_id)
        created_ms = rng.randrange(*created_range_ms)
        height_cm = rng.randrange(150, 192)
        imperial = region == "EU" and rng.random() < 0.05
        email: str | None = f"{login_name}@{rng.choice(domains)}"
        locale: str | None = rng.choice(locales)
        attributes = _attributes(rng, region, height_cm, imperial, created_ms)
        missing = rng.random() < 0.03
        if missing:
            # Accounts from the first app versions: no email, no locale, no profile fields.
            email, locale, attributes = None, None, {}
        scheme = _legacy_hash_scheme(index, first_schemes, rng)
        password = _password(rng)
        params = firebase_params if scheme == "firebase-scrypt" else CHEAP_HASH_PARAMS[scheme]
        legacy_hash = generate_legacy_hash(
            scheme, password, salt=rng.randbytes(SALT_BYTES), params=params, key=hash_key, rng=rng.randbytes
        )
        user = LegacyUser(
            legacy_user_id=user_id,
            login_name=login_name,
            email=email,
            display_name=display_name,
            country=country,
            locale=locale,
            attributes=attributes,
            legacy_hash=legacy_hash,
        )
        if not display_name.isascii():
            edge_cases.add(EdgeCase.UNICODE_NAME, user.key)
        if missing:
            edge_cases.add(EdgeCase.MISSING_OPTIONAL_FIELDS, user.key)
        profiles.append(
            UserProfile(
                user=user,
                password=password,
                region=region,
                created_ms=created_ms,
                utc_offset_min=utc_offset_min,
                body=Physiology.draw(rng, height_cm),
                imperial_units=imperial,
            )
        )
        if progress is not None:
            progress(1)
    return profiles
