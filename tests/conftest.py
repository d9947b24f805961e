"""Shared fixtures. chdb runs one embedded ClickHouse engine per process, so every test that
touches the database uses the one session-wide path below (tables differ per test module)."""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest

# Tests never read or write the real user folders (engine.locations): the default database,
# runs and user settings file live in a throwaway folder, set before any test module loads.
_USER_DIRS = Path(tempfile.mkdtemp(prefix="ionis-tests-"))
os.environ["IONIS_CONFIG_DIR"] = str(_USER_DIRS / "config")
os.environ["IONIS_DATA_DIR"] = str(_USER_DIRS / "data")

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
REFERENCE = SHARED / "reference"
V22_FILE = REFERENCE / "ionis_v22_gamma.safetensors"
V20_FILE = REFERENCE / "ionis_v20.safetensors"
REAL_SPOTS = SHARED / "data" / "wspr" / "wspr_spots_real.csv"
# Tests that only need spots in some format read the synthetic fixtures instead (one home:
# tests/spots_fixtures.py), so they run on any clone; REAL_SPOTS is for figures of the real file.
# What the suite reads from ../shared. Missing, the tests that need it skip (saying why) on a
# developer's clone; under CI (CI=true, as CI services set it) the run fails at once instead,
# so a CI without the shared data can never pass by skipping them (issue 22).
SHARED_FILES = (V22_FILE, V20_FILE, REAL_SPOTS, SHARED / "data" / "wspr" / "VU3VWB_wspr-analysis")


def in_ci() -> bool:
    """CI services set CI=true; .ci/run does too."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def missing_shared() -> str | None:
    """The failure message when CI runs without the shared data, else None."""
    if not in_ci():
        return None
    missing = [str(p) for p in SHARED_FILES if not p.exists()]
    if not missing:
        return None
    return (f"CI=true but the shared test data are missing: {', '.join(missing)}. Put the project's "
            f"shared/ folder beside the repository ({SHARED}), or unset CI to skip those tests.")


def pytest_sessionstart(session) -> None:
    message = missing_shared()
    if message:
        pytest.exit(message, returncode=1)


@pytest.fixture(scope="session")
def chdb_path(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("chdb") / "ionis.chdb")


# sha256 of the published V22-gamma weights (shared/reference/README.md).
V22_SHA256 = "341207518b99ab7c446446868aa917afbad1a6192c763c95430537fffbdf4327"


def installed_v22() -> Path | None:
    """V22-gamma where the product finds it without ../shared (engine.model_sources: the data of
    an installed ionis-validate, a test dependency), counted only if byte-identical (sha256)."""
    import hashlib

    from engine.model_sources import published_v22

    path = published_v22()
    if path is None or not path.with_name("config_v22.json").is_file():
        return None
    return path if hashlib.sha256(path.read_bytes()).hexdigest() == V22_SHA256 else None


@pytest.fixture(scope="session")
def v22_file() -> Path:
    if V22_FILE.is_file():
        return V22_FILE
    path = installed_v22()
    if path is None:
        pytest.skip(f"published checkpoint not found at {V22_FILE} nor in an installed ionis-validate "
                    "(shared/ must sit beside the repo, or install the test extras)")
    return path


@pytest.fixture(scope="session")
def v20_file() -> Path:
    if not V20_FILE.is_file():
        pytest.skip(f"published checkpoint not found at {V20_FILE} (shared/ must sit beside the repo)")
    return V20_FILE


@pytest.fixture
def sigint_as(request):
    """Run the test with SIGINT handled as given (the parent of pytest may have it ignored:
    a script's `&` job), and put the handler back afterwards."""
    import signal

    handler = getattr(request, "param", signal.default_int_handler)
    before = signal.signal(signal.SIGINT, handler)
    yield handler
    signal.signal(signal.SIGINT, before)


@pytest.fixture(scope="session")
def other_v20_file(tmp_path_factory) -> Path:
    """A second model for the tests that compare or switch models, where which model it is is not
    the point: a seeded, untrained V20-layout IonisGate (13 inputs, so mixing the V22 and V20
    feature layouts is still exercised) saved as this project's checkpoint. Any clone has it."""
    import torch

    from engine.checkpoint import save_safetensors
    from engine.model import IonisGate

    torch.manual_seed(20)
    path = tmp_path_factory.mktemp("other") / "other_v20.safetensors"
    return save_safetensors(IonisGate("v20"), path, {"epoch": 0})


@pytest.fixture(scope="module")
def one_torch_thread():
    """Small batches gain nothing from intra-op threads, and on a busy 2-core machine two
    OpenMP threads wait on each other; one thread keeps training tests fast everywhere."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


async def wait_until(pilot, predicate: Callable[[], bool], timeout: float = 30.0,
                     step: float = 0.02, what: str = "") -> float:
    """The one polling helper of the async tests: let the app (or, with pilot=None, the event
    loop) run until predicate() is true; returns the seconds waited. On timeout it fails
    naming `what` and, with a pilot, the screen's text."""
    from pilot_tools import screen_text

    t0 = time.perf_counter()
    while not predicate():
        if time.perf_counter() - t0 > timeout:
            shown = f"\n{screen_text(pilot.app)}" if pilot is not None and pilot.app.is_running else ""
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what or predicate}{shown}")
        if pilot is not None and pilot.app.is_running:
            await pilot.pause(step)
        else:
            await asyncio.sleep(step)
    return time.perf_counter() - t0


def recorded_notifications(app) -> list[str]:
    """Start recording the messages of app.notify (toasts) from now on, through the public
    method screens and the app call, not Textual's private notification store."""
    seen: list[str] = []
    notify = app.notify

    def record(message, *args, **kwargs):
        seen.append(str(message))
        return notify(message, *args, **kwargs)

    app.notify = record
    return seen


@pytest.fixture(autouse=True)
def trainers_are_cleaned_up(request, monkeypatch):
    """Every app run trains in its own trainer process (ionis_tui.detached), which outlives
    the app by design: one thread each (they inherit this environment), and any trainer a
    test leaves behind (one that failed half-way) is killed once the test ends."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    tmp = request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    yield
    if tmp is None:
        return
    import json
    import signal

    from engine.train.lock import is_held

    for state in tmp.glob("**/state.json"):
        try:
            pid = json.loads(state.read_text()).get("pid")
        except (OSError, ValueError):
            continue
        if isinstance(pid, int) and pid != os.getpid() and is_held(state.parent):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
