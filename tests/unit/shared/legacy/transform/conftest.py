"""A generated legacy dataset, its owners as the migration would know them, and every object transformed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from shared.legacy.transform import InMemoryOwners, Transformed, TransformResult, default_mapping, transform
from simulator.legacy.dataset import generate_dataset
from simulator.legacy.model import LegacyDataset

# 30 users; seed 51 is one whose clean non-canonical readings include all four units (kPa, lb, F, mmol/L).
DATASET_USERS = 30
DATASET_SEED = 51


@dataclass(frozen=True)
class Migrated:
    """A dataset and the transform of each of its objects, by key."""

    dataset: LegacyDataset
    owners: InMemoryOwners
    results: dict[str, TransformResult]


def user_id_of(legacy_user_id: str) -> str:
    """The VitalSync id a test gives an imported legacy user."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"test-user:{legacy_user_id}"))


def migrate(dataset: LegacyDataset) -> Migrated:
    """Users first, then devices (so readings and settings find them), then every object."""
    owners = InMemoryOwners({user.legacy_user_id: user_id_of(user.legacy_user_id) for user in dataset.users})
    mapping = default_mapping()
    for obj in dataset.objects:
        if obj.bucket == "devices":
            result = transform(obj, mapping, owners)
            if isinstance(result, Transformed):
                owners.add_device(result.rows[0], result.thing_id)  # type: ignore[arg-type]
    return Migrated(dataset, owners, {obj.key: transform(obj, mapping, owners) for obj in dataset.objects})


@pytest.fixture(scope="session")
def migrated() -> Migrated:
    return migrate(generate_dataset(DATASET_USERS, DATASET_SEED))
