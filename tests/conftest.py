"""Shared fixtures. Data-dependent tests find ../shared/data through VIVID_DATA."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("VIVID_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The runtime choice (`--runtime auto`) and converted models go to a cache of the test
    session's own, never the user's (child processes inherit the variable)."""
    os.environ["VIVID_CACHE_DIR"] = str(tmp_path_factory.mktemp("vivid-cache"))


@pytest.fixture
def data_dir() -> Path:
    """The shared benchmark data; tests using it skip when it is absent."""
    if not (DATA / "Set5").is_dir():
        pytest.skip(f"shared data not found at {DATA} (set VIVID_DATA to its folder)")
    return DATA
