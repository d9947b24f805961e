"""Memory of a training run: peak RSS measured in a fresh child process, against the float32
arrays it trains on. Linux only (/proc/self/status): the peak is read inside the child,
because ru_maxrss of a forked child also counts the parent's memory at the fork."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from engine.errors import DataError
from engine.train.memory import array_bytes_per_row, ensure_fits, rows_that_fit

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").is_file(),
                                reason="peak RSS is read from /proc/self/status (Linux only)")

# Writes the child's /proc/self/status to $IONIS_TEST_STATUS when it exits (also after SIGTERM,
# which the trainer turns into a clean stop).
_WRAPPER = ("import atexit, os, sys\n"
            "atexit.register(lambda: open(os.environ['IONIS_TEST_STATUS'], 'w')"
            ".write(open('/proc/self/status').read()))\n"
            "{body}")


def _status(text: str) -> dict[str, int]:
    return {ln.split(":")[0]: int(ln.split()[1]) * 1024 for ln in text.splitlines()
            if ln.startswith("Vm")}


def _child(tmp_path: Path, body: str, args: list[str], stop_when=None) -> dict[str, int]:
    out = tmp_path / f"status-{time.monotonic_ns()}"
    env = dict(os.environ, IONIS_TEST_STATUS=str(out))
    proc = subprocess.Popen([sys.executable, "-c", _WRAPPER.format(body=body), *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if stop_when is not None:
        while proc.poll() is None and not stop_when():
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=240)
    assert out.is_file(), f"the child wrote no status (exit {proc.returncode}): {err[-2000:]}"
    return _status(out.read_text())


def _training(run_dir: Path):
    def check() -> bool:
        try:
            return json.loads((run_dir / "state.json").read_text()).get("state") == "training"
        except (OSError, ValueError):
            return False
    return check


@pytest.mark.slow  # a 2M-row training run in a child process, stopped after it starts training
def test_peak_rss_of_train_is_at_most_twice_its_arrays(tmp_path):
    from engine.train.synthetic import synthetic_rows

    n = 2_000_000  # big enough that copies of the table show above the process's own size
    rows_file = tmp_path / "rows.npy"
    np.save(rows_file, synthetic_rows(n, seed=5).array)
    # The baseline: the same process with everything the trainer imports, before any data.
    base = _child(tmp_path, "import torch, numpy, engine.cli.train_cmd, engine.train.session, "
                            "engine.train.prepare, ionis_tui.__main__", [])["VmRSS"]
    run_dir = tmp_path / "run"
    body = "from ionis_tui.__main__ import main\nsys.exit(main(sys.argv[1:]))"
    peak = _child(tmp_path, body, ["train", "--headless", "--rows-file", str(rows_file),
                                   "--run-dir", str(run_dir), "--epochs", "1"],
                  stop_when=_training(run_dir))["VmHWM"]
    arrays = n * array_bytes_per_row("v22")
    assert (run_dir / "last.pt").is_file()  # it did train (and stopped cleanly)
    mb = 2**20
    assert peak - base <= 2 * arrays + 32 * mb, (
        f"peak {peak / mb:.0f} MB = baseline {base / mb:.0f} MB + {(peak - base) / mb:.0f} MB, "
        f"over 2x the {arrays / mb:.0f} MB of float32 arrays it trains on")


def test_too_many_rows_for_the_memory_are_refused_with_the_rows_that_fit():
    gb = 1 << 30
    fit = rows_that_fit("v22", 8 * gb)
    ensure_fits(fit, "v22", available=8 * gb)
    with pytest.raises(DataError) as e:
        ensure_fits(93_600_000, "v22", available=8 * gb)
    assert f"about {fit:,} rows fit" in str(e.value) and f"--limit-rows {fit}" in str(e.value)
    assert e.value.setting == "train.limit_rows"


def test_available_memory_is_read_on_this_system_and_is_what_the_kernel_says():
    """Where the kernel says (Linux MemAvailable), the check reads that figure: not None (which
    would refuse nothing) and not the total. Pages move between the two reads, hence the margin."""
    from engine.train.memory import available_bytes

    got = available_bytes()
    assert got is not None and got > 0
    meminfo = Path("/proc/meminfo")
    if not meminfo.is_file():
        pytest.skip("no /proc/meminfo to compare with on this system (the read above still ran)")
    fields = {ln.split(":")[0]: int(ln.split()[1]) * 1024 for ln in meminfo.read_text().splitlines()}
    assert abs(got - fields["MemAvailable"]) < 0.05 * fields["MemTotal"]
    assert got < fields["MemTotal"]


_TABLE = '''
from engine.data.client import connect
from engine.data.schema import ensure_table
from engine.settings import DatabaseSettings
db = DatabaseSettings(path=sys.argv[1], table="sig")
client = connect(db)
'''
_FILL = _TABLE + '''
ensure_table(client, db)
g = "toFixedString(concat(char(65 + {a} % 18), char(65 + intDiv({a}, 18) % 18), toString(intDiv({a}, 324) % 10), toString(intDiv({a}, 3240) % 10)), 4)"
client.command(f"INSERT INTO {db.qualified_table} SELECT {g.format(a='number')}, "
               f"{g.format(a='intDiv(number, 7)')}, 102 + number % 10, number % 24, 1 + number % 12, "
               "-20 + number % 40, 1 + number % 50, 1, 0.5, 70 + number % 150, number % 9, 1000, 10 "
               f"FROM numbers({int(sys.argv[2])})")
'''
_LOAD = _TABLE + '''
from engine.data.loader import load_rows
client.query("SELECT 1")
before = open("/proc/self/status").read()
open("/proc/self/clear_refs", "w").write("5")
rows = load_rows(client, db, limit_rows=int(sys.argv[2]))
open(os.environ["IONIS_TEST_STATUS"] + ".before", "w").write(before)
'''


@pytest.mark.slow  # a 3M-row table, loaded whole and sampled, each in its own child process
def test_a_sample_is_drawn_in_the_database_with_memory_of_the_sample_not_the_table(tmp_path):
    path, n = str(tmp_path / "db.chdb"), 3_000_000
    _child(tmp_path, _FILL, [path, str(n)])

    def added(limit: int) -> int:
        out = _child(tmp_path, _LOAD, [path, str(limit)])
        status = max(tmp_path.glob("status-*.before"), key=lambda p: p.stat().st_mtime)
        return out["VmHWM"] - _status(status.read_text())["VmRSS"]
    whole, sample = added(0), added(n // 100)
    mb = 2**20
    assert sample <= 0.5 * whole, (f"a 1% sample added {sample / mb:.0f} MB, the whole "
                                   f"{n:,}-row table {whole / mb:.0f} MB")
