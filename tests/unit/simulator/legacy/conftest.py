"""One small dataset per session (generation is deterministic, so sharing it is safe), and its files."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.legacy.dataset import generate_dataset
from simulator.legacy.export_format import WrittenDataset, write_dataset
from simulator.legacy.model import LegacyDataset

# Small enough for a fast session, large enough that every edge-case category and scheme occurs.
USERS = 60
SEED = 20220701


@pytest.fixture(scope="session")
def dataset() -> LegacyDataset:
    return generate_dataset(USERS, SEED)


@pytest.fixture(scope="session")
def written(dataset: LegacyDataset, tmp_path_factory: pytest.TempPathFactory) -> WrittenDataset:
    return write_dataset(dataset, tmp_path_factory.mktemp("legacy-dataset"))


@pytest.fixture(scope="session")
def dataset_dir(written: WrittenDataset) -> Path:
    return written.directory
