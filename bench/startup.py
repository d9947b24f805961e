"""Start-up time: `ionis-tui --help`, and the app's first frame in a real pseudo-terminal.

    python bench/startup.py [--json] [--repeat 5]

help_s: median wall time of `python -m ionis_tui --help` (a fresh interpreter each time).
first_frame_s: median time from starting `python -m ionis_tui` in an 80x24 pseudo-terminal
until the dashboard's text is on the screen (the database check runs in the background and
is not waited for). The app is then asked to quit with Ctrl+Q.
Targets (issue #12): help_s well under 0.5 s; first_frame_s as early as possible.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Text the dashboard draws in its first frame (the key bar); the alternate screen alone
# is switched on before anything is drawn.
FRAME_MARK = b"help"


def help_time() -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "ionis_tui", "--help"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def first_frame_time(workdir: str, timeout: float = 60.0) -> float:
    cfg = Path(workdir) / "settings.toml"
    cfg.write_text(f'[database]\npath = "{Path(workdir) / "db"}"\n[runs]\ndir = "{Path(workdir) / "runs"}"\n')
    t0 = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:  # child: the app on the pseudo-terminal
        os.chdir(ROOT)
        os.environ.update(TERM="xterm-256color", COLUMNS="80", LINES="24")
        os.execv(sys.executable, [sys.executable, "-m", "ionis_tui", "--config", str(cfg)])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    seen, took, reaped = b"", None, False
    try:
        while time.perf_counter() - t0 < timeout:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if not ready:
                continue
            try:
                seen += os.read(fd, 65536)
            except OSError:
                break
            if b"\x1b[?1049h" in seen and FRAME_MARK in seen.split(b"\x1b[?1049h", 1)[1]:
                took = time.perf_counter() - t0
                break
        os.write(fd, b"\x11")  # Ctrl+Q
        deadline = time.perf_counter() + 10
        while time.perf_counter() < deadline and not reaped:
            select.select([fd], [], [], 0.05) and _drain(fd)
            reaped = os.waitpid(pid, os.WNOHANG) != (0, 0)
    finally:
        if not reaped:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
    if took is None:
        raise SystemExit(f"error: no first frame within {timeout:g} s; output: {seen[-300:]!r}")
    return took


def _drain(fd: int) -> None:
    try:
        os.read(fd, 65536)
    except OSError:
        pass


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--repeat", type=int, default=5, help="runs of each measurement (median taken)")
    args = ap.parse_args()
    helps = [help_time() for _ in range(args.repeat)]
    with tempfile.TemporaryDirectory() as tmp:
        frames = [first_frame_time(tmp) for _ in range(args.repeat)]
    out = {"help_s": round(statistics.median(helps), 3), "first_frame_s": round(statistics.median(frames), 3),
           "help_runs_s": [round(x, 3) for x in helps], "first_frame_runs_s": [round(x, 3) for x in frames],
           "repeat": args.repeat, "cpus": os.cpu_count()}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"--help       {out['help_s']:.3f} s (median of {args.repeat})")
        print(f"first frame  {out['first_frame_s']:.3f} s (median of {args.repeat})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
