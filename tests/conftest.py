"""Shared fixtures. chdb runs one embedded ClickHouse engine per process, so every test that
touches the database uses the one session-wide path below (tables differ per test module)."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
REFERENCE = SHARED / "reference"
V22_FILE = REFERENCE / "ionis_v22_gamma.safetensors"
V20_FILE = REFERENCE / "ionis_v20.safetensors"
REAL_SPOTS = SHARED / "data" / "wspr" / "wspr_spots_real.csv"


@pytest.fixture(scope="session")
def chdb_path(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("chdb") / "ionis.chdb")


@pytest.fixture(scope="session")
def v22_file() -> Path:
    if not V22_FILE.is_file():
        pytest.skip(f"published checkpoint not found at {V22_FILE} (shared/ must sit beside the repo)")
    return V22_FILE


@pytest.fixture(scope="session")
def v20_file() -> Path:
    if not V20_FILE.is_file():
        pytest.skip(f"published checkpoint not found at {V20_FILE} (shared/ must sit beside the repo)")
    return V20_FILE


@pytest.fixture(scope="module")
def one_torch_thread():
    """Small batches gain nothing from intra-op threads, and on a busy 2-core machine two
    OpenMP threads wait on each other; one thread keeps training tests fast everywhere."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
