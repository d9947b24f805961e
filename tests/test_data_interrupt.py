"""Interrupted data commands never leave the database lying (issue 19, items 3-5), with REAL
signals: each command runs as its own process, and engine.data.swap.test_point makes it send
itself SIGINT or SIGKILL at the named moment (IONIS_TEST_SIGNAL=<point>:<INT|KILL|STOP>):
"swap" just before the atomic swap, "swapped" right after it, "ingest.move" while ingest
moves a file's spots in, "ingest.read" just before ingest reads a file.

Every process has its own embedded database here (chdb allows one engine per process and
this test process holds the shared one); what a process left is read back with
`data status --json`, in another process. The spots are the synthetic fixtures
(tests/fixtures/spots), so this runs on any clone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from bundle_files import good_rows, write_bundle
from spots_fixtures import ARCHIVE, N, other_spots

from engine.data.swap import TEST_SIGNAL_ENV

ROOT = Path(__file__).resolve().parents[1]


def _cli(cfg: str, *argv: str, at: str | None = None, timeout: float = 300):
    env = {k: v for k, v in os.environ.items() if k != TEST_SIGNAL_ENV}
    if at:
        env[TEST_SIGNAL_ENV] = at
    return subprocess.run([sys.executable, "-m", "ionis_tui", "--config", cfg, *argv], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=timeout)


def _ok(cfg: str, *argv: str) -> str:
    p = _cli(cfg, *argv)
    assert p.returncode == 0, p.stderr
    return p.stdout


def _status(cfg: str) -> dict:
    return json.loads(_ok(cfg, "data", "status", "--json"))


def _table(cfg: str) -> tuple[str | None, int]:
    """(provenance kind, rows) of the signature table, checked to belong together: the rows
    a provenance records are the rows the table holds (never a mix of old and new)."""
    st = _status(cfg)
    prov = st["provenance"]
    if prov is None:
        return None, st["row_count"]
    params = prov.get("params", prov)  # (before issue 19 the parameters sat beside the kind)
    recorded = params["signatures" if prov["kind"] == "spots" else "rows"]
    assert recorded == st["row_count"], st
    return prov["kind"], st["row_count"]


def _spots(cfg: str) -> int:
    sp = _status(cfg)["spots_table"]
    return sp["rows"] if sp else 0


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> str:
    """A config on its own database: demo signatures (seed 7, 1,500 rows), the fixture's
    spots (one spot per signature, so the small fixture builds a table of its own size)."""
    d = tmp_path_factory.mktemp("interrupt")
    cfg = d / "settings.toml"
    cfg.write_text(f'[database]\npath = "{d / "db.chdb"}"\ntable = "sigs"\n'
                   f'[runs]\ndir = "{d / "runs"}"\n[ingest]\nmin_spots = 1\n')
    _ok(str(cfg), "data", "seed", "--rows", "1500", "--seed", "7")
    _ok(str(cfg), "data", "ingest", str(ARCHIVE))
    return str(cfg)


def test_build_killed_around_the_swap_leaves_table_and_provenance_together(world):
    assert _table(world) == ("demo", 1500)
    # item 5: `data build` does not replace demo data without --force (it used to, silently)
    p = _cli(world, "data", "build")
    assert p.returncode == 2 and "refusing" in p.stderr and "--force" in p.stderr
    assert _table(world) == ("demo", 1500)
    # kill -9 just before the swap: the old table with its old provenance
    p = _cli(world, "data", "build", "--force", at="swap:KILL")
    assert p.returncode == -signal.SIGKILL, p.stderr
    assert _table(world) == ("demo", 1500)
    # kill -9 right after the swap: the new table with its new provenance
    p = _cli(world, "data", "build", "--force", at="swapped:KILL")
    assert p.returncode == -signal.SIGKILL, p.stderr
    kind, rows = _table(world)
    assert kind == "spots" and rows > 100
    # so `data seed` no longer takes the real table for demo data
    p = _cli(world, "data", "seed", "--rows", "100")
    assert p.returncode == 2 and "refusing" in p.stderr
    assert _table(world) == ("spots", rows)
    # Ctrl-C right after the swap: too late to stop; said so, and the exit status is success
    p = _cli(world, "data", "build", at="swapped:INT")
    assert p.returncode == 0 and "too late to stop" in p.stderr and "interrupted" not in p.stderr
    assert _table(world) == ("spots", rows)


def test_import_killed_or_interrupted_after_the_swap(world, tmp_path):
    bundle = write_bundle(tmp_path / "b.sqlite", good_rows(400, seed=3))
    _ok(world, "data", "seed", "--rows", "1200", "--seed", "8", "--force")
    assert _table(world) == ("demo", 1200)
    p = _cli(world, "data", "import", str(bundle), at="swapped:KILL")
    assert p.returncode == -signal.SIGKILL, p.stderr
    assert _table(world) == ("bundle", 400)
    p = _cli(world, "data", "seed", "--rows", "100")  # an imported table is no demo data
    assert p.returncode == 2 and "refusing" in p.stderr
    # a late Ctrl-C (once the swap has begun): never "the old table stays" over a new table
    for at in ("swap:INT", "swapped:INT"):
        _ok(world, "data", "seed", "--rows", "1200", "--seed", "8", "--force")
        p = _cli(world, "data", "import", str(bundle), at=at)
        assert p.returncode == 0 and "too late to stop" in p.stderr, p.stderr
        assert "old table stays" not in p.stderr and "interrupted" not in p.stderr
        assert _table(world) == ("bundle", 400)


def test_ingest_is_all_or_nothing_under_signals(world, tmp_path):
    before = _spots(world)
    assert before >= N
    more = other_spots(tmp_path / "more.csv")
    p = _cli(world, "data", "ingest", str(more), at="ingest.move:INT")
    assert p.returncode == 130 and "interrupted" in p.stderr
    assert _spots(world) == before
    p = _cli(world, "data", "ingest", str(more), at="ingest.move:KILL")
    assert p.returncode == -signal.SIGKILL
    assert _spots(world) == before
    p = _cli(world, "data", "ingest", str(more), "--json", at="swapped:INT")
    assert p.returncode == 0 and "too late to stop" in p.stderr, p.stderr
    added = json.loads(p.stdout)["rows_added"]
    assert added == N and _spots(world) == before + added


def _wait_stopped(pid: int, timeout: float = 120.0) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state == "T":
            return
        time.sleep(0.02)
    raise AssertionError("the ingest never reached its read")


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="needs Linux /proc")
def test_a_file_truncated_while_ingest_reads_it_is_one_error_line(world, tmp_path):
    f = other_spots(tmp_path / "k.csv", days=2 * 366)
    before = _spots(world)
    env = {**os.environ, TEST_SIGNAL_ENV: "ingest.read:STOP"}
    proc = subprocess.Popen([sys.executable, "-m", "ionis_tui", "--config", world, "data",
                             "ingest", str(f)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        _wait_stopped(proc.pid)             # stopped itself on its way into the read
        with f.open("r+b") as fh:
            fh.truncate(f.stat().st_size // 2)
        proc.send_signal(signal.SIGCONT)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    lines = err.strip().splitlines()
    assert proc.returncode == 2, err
    assert len(lines) == 1 and lines[0].startswith(f"error: {f}:") and "changed while" in err
    assert _spots(world) == before


def _reading(pid: int, path: Path) -> bool:
    """Whether process pid has `path` open or mapped (its read has begun)."""
    try:
        if str(path) in Path(f"/proc/{pid}/maps").read_text():
            return True
        return any(os.readlink(fd) == str(path) for fd in Path(f"/proc/{pid}/fd").iterdir())
    except OSError:  # fds come and go while we look
        return False


@pytest.mark.slow  # writes and parses ~90 MB
@pytest.mark.skipif(not Path("/proc/self/maps").is_file(), reason="needs Linux /proc")
def test_a_file_truncated_in_the_middle_of_the_read_is_an_error_not_a_bus_error(world, tmp_path):
    # Before: ClickHouse mmap()ed the file, and reading the pages cut off killed the process
    # with SIGBUS (exit 135, no message).
    f = tmp_path / "big.csv"
    block = ARCHIVE.read_bytes()
    with f.open("wb") as fh:
        for _ in range(90_000_000 // len(block)):
            fh.write(block)
    before = _spots(world)
    proc = subprocess.Popen([sys.executable, "-m", "ionis_tui", "--config", world, "data",
                             "ingest", str(f)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        t0 = time.monotonic()
        while not _reading(proc.pid, f):
            assert proc.poll() is None and time.monotonic() - t0 < 120, "the read never began"
            time.sleep(0.005)
        with f.open("r+b") as fh:
            fh.truncate(len(block) // 2)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    lines = [ln for ln in err.strip().splitlines() if not ln.startswith("ingest ")]
    assert proc.returncode == 2, (proc.returncode, err)
    assert len(lines) == 1 and lines[0].startswith(f"error: {f}:") and "changed while" in err
    assert _spots(world) == before
