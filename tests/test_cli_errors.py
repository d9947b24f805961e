"""A database problem on the command line is one clear line, not a log dump or a traceback."""

import os
import socket
import subprocess
import sys


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again: nothing listens there


def test_refused_server_is_one_line_naming_the_setting(tmp_path):
    # A real process: pytest's own log capture would hide what a user's terminal shows.
    env = {**os.environ, "IONIS_DATABASE__MODE": "server", "IONIS_DATABASE__HOST": "127.0.0.1",
           "IONIS_DATABASE__PORT": str(_free_port()), "IONIS_DATABASE__CONNECT_TIMEOUT": "2"}
    p = subprocess.run([sys.executable, "-m", "ionis_tui", "data", "status"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2
    err = p.stderr.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("error: cannot reach the ClickHouse server") and "database.host" in err[0]
    assert p.stdout == ""
