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
