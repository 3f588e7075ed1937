"""`generate_dataset`: a whole legacy app (users, things, Kii objects, edge cases) from a user count and a seed.

Deterministic: the same (users, seed) gives the same dataset on every run and machine (only
`random.Random` seeded with text, never `hash()` or set order), so the written files are identical
byte for byte. The snapshot is taken at a fixed instant, SNAPSHOT_AT_MS.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from pathlib import Path

from simulator.legacy.defects import READING_EDGE_CASES, edge_case_readings, strip_device_fields
from simulator.legacy.edge_cases import EdgeCase, EdgeCaseLog
from simulator.legacy.export_format import MANIFEST_FILE
from simulator.legacy.ids import kii_app_id, kii_app_key, seeded_random
from simulator.legacy.model import LegacyDataset, LegacyObject
from simulator.legacy.objects import PairedDevice, SerialCounter, generate_user_objects
from simulator.legacy.users import generate_users

# 2022-07-01T00:00:00Z: the cut-off season of the migration story (reference/000_3e226f0a0624a1fb.txt).
SNAPSHOT_AT_MS = 1_656_633_600_000
# Accounts were opened from 2016-01-01T00:00:00Z until a month before the snapshot.
ACCOUNTS_FROM_MS = 1_451_606_400_000
_MONTH_MS = 30 * 86_400_000
HASH_KEY_BYTES = 32
SIGNER_KEY_BYTES = 64

# Edge-case records per 1,000 users and category (at least one each); size cases are rarer, being 64 KB.
EDGE_CASES_PER_1000_USERS = 20
SIZE_EDGE_CASES_PER_1000_USERS = 5
ORPHAN_OWNERS_PER_1000_USERS = 10

ProgressCallback = Callable[[int], None]


def _per_1000(users: int, rate: int) -> int:
    return max(1, math.ceil(users * rate / 1000))


def _rng(seed: int, stream: str) -> random.Random:
    """An independent random stream per part, so changing one part leaves the others' values alone."""
    return seeded_random(f"vitalsync-legacy:{seed}:{stream}")


def generate_dataset(users: int, seed: int, *, progress: ProgressCallback | None = None) -> LegacyDataset:
    """A legacy app with `users` accounts; progress(n) is called as each batch of n users is done."""
    if users < 1:
        raise ValueError("users must be at least 1")
    keys = _rng(seed, "keys")
    hash_key = keys.randbytes(HASH_KEY_BYTES)
    signer_key = keys.randbytes(SIGNER_KEY_BYTES)
    app_id, app_key = kii_app_id(keys), kii_app_key(keys)
    edge_cases = EdgeCaseLog()
    created_range = (ACCOUNTS_FROM_MS, SNAPSHOT_AT_MS - _MONTH_MS)

    profiles = generate_users(
        _rng(seed, "users"),
        users,
        hash_key=hash_key,
        signer_key=signer_key,
        created_range_ms=created_range,
        edge_cases=edge_cases,
        progress=progress,
    )
    object_rng = _rng(seed, "objects")
    serials = SerialCounter()
    devices: list[PairedDevice] = []
    objects: list[LegacyObject] = []
    for profile in profiles:
        user_devices, user_objects = generate_user_objects(object_rng, profile, SNAPSHOT_AT_MS, serials, edge_cases)
        devices.extend(user_devices)
        objects.extend(user_objects)

    flaw_rng = _rng(seed, "flaws")
    per_case = _per_1000(users, EDGE_CASES_PER_1000_USERS)
    size_cases = _per_1000(users, SIZE_EDGE_CASES_PER_1000_USERS)
    counts = {category: per_case for category in READING_EDGE_CASES}
    counts[EdgeCase.SIZE_NEAR_LIMIT] = counts[EdgeCase.SIZE_OVER_LIMIT] = size_cases
    strip_device_fields(flaw_rng, objects, per_case, edge_cases)
    objects.extend(edge_case_readings(flaw_rng, devices, counts, SNAPSHOT_AT_MS, edge_cases))

    orphan_ids = _add_orphans(
        _rng(seed, "orphans"),
        _per_1000(users, ORPHAN_OWNERS_PER_1000_USERS),
        taken_ids={profile.user.legacy_user_id for profile in profiles},
        hash_key=hash_key,
        signer_key=signer_key,
        serials=serials,
        objects=objects,
        edge_cases=edge_cases,
    )
    return LegacyDataset(
        seed=seed,
        app_id=app_id,
        app_key=app_key,
        snapshot_at_ms=SNAPSHOT_AT_MS,
        users=[profile.user for profile in profiles],
        things=[device.thing for device in devices],
        objects=objects,
        hash_key=hash_key,
        passwords={profile.user.legacy_user_id: profile.password for profile in profiles},
        edge_cases=edge_cases.as_dict(),
        orphan_user_ids=orphan_ids,
    )


def _add_orphans(
    rng: random.Random,
    count: int,
    *,
    taken_ids: set[str],
    hash_key: bytes,
    signer_key: bytes,
    serials: SerialCounter,
    objects: list[LegacyObject],
    edge_cases: EdgeCaseLog,
) -> list[str]:
    """Objects of `count` deleted accounts: their user-scope devices and readings outlived them.

    The accounts, their things and the things' settings are gone (none is exported); only the
    user-scope objects remain, each recorded as ORPHAN_OWNER (and as a non-canonical unit where so).
    """
    scratch = EdgeCaseLog()  # the gone users' own traits are not in the export, so not in the manifest
    gone = generate_users(
        rng,
        count,
        hash_key=hash_key,
        signer_key=signer_key,
        created_range_ms=(ACCOUNTS_FROM_MS, SNAPSHOT_AT_MS - _MONTH_MS),
        edge_cases=scratch,
        exclude_ids=taken_ids,
    )
    for profile in gone:
        _, orphaned = generate_user_objects(rng, profile, SNAPSHOT_AT_MS, serials, edge_cases, with_things=False)
        for obj in orphaned:
            edge_cases.add(EdgeCase.ORPHAN_OWNER, obj.key)
        objects.extend(orphaned)
    return [profile.user.legacy_user_id for profile in gone]


class DatasetMismatchError(ValueError):
    """A dataset directory that this generator cannot reproduce (written by another version of it)."""


def load_dataset(directory: Path) -> LegacyDataset:
    """The dataset a `legacy seed` directory holds, regenerated from its manifest's users and seed.

    Generation is deterministic, so this is the written dataset (changes and exports start from it);
    the manifest's counts and edge cases are compared to catch a directory from another generator version.
    """
    manifest = json.loads((directory / MANIFEST_FILE).read_text(encoding="utf-8"))
    dataset = generate_dataset(int(manifest["users"]), int(manifest["seed"]))
    if (
        manifest["counts"]["objects"] != len(dataset.objects)
        or manifest["counts"]["things"] != len(dataset.things)
        or manifest["edge_cases"] != dataset.edge_cases
        or manifest["app_id"] != dataset.app_id
    ):
        raise DatasetMismatchError(f"{directory} was written by another version of the legacy generator; seed it again")
    return dataset
