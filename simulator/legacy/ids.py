"""Kii-shaped identifiers drawn from a seeded random source, so a dataset is reproducible."""

from __future__ import annotations

import random
import uuid

_HEX = "0123456789abcdef"


def seeded_random(seed: str | int | None) -> random.Random:
    """A reproducible pseudo-random stream (None: seeded from the OS).

    Deliberately not `secrets`: reproducibility is the point. Everything drawn from it is test data,
    including the generated passwords and the dataset's hash key, which protect nothing real.
    """
    return random.Random(seed)  # noqa: S311 - seeded on purpose, see above


def _hex(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(_HEX) for _ in range(length))


def kii_user_id(rng: random.Random) -> str:
    """A user ID in Kii's 12-4-4-4-8 lowercase alphanumeric shape (kii-api.md section 1.3)."""
    return "-".join(_hex(rng, length) for length in (12, 4, 4, 4, 8))


def kii_thing_id(rng: random.Random) -> str:
    """A thing ID: `th.` plus the user-ID shape (kii-api.md section 3)."""
    return f"th.{kii_user_id(rng)}"


def kii_object_id(rng: random.Random) -> str:
    """A server-assigned object ID (UUID text, within Kii's `[a-zA-Z0-9_-.]{2,100}`)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def kii_app_id(rng: random.Random) -> str:
    """An application ID like the portal assigns (8 lowercase hex digits)."""
    return _hex(rng, 8)


def kii_app_key(rng: random.Random) -> str:
    """An application key (32 lowercase hex digits)."""
    return _hex(rng, 32)


def ble_address(rng: random.Random) -> str:
    """A Bluetooth device address, upper-case hex pairs separated by colons."""
    return ":".join(f"{rng.randrange(256):02X}" for _ in range(6))
