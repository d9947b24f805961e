"""`ionis-tui train` on a small embedded database: epochs, resume, Ctrl-C, NaN, bad input."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import numpy as np
import pytest
import torch

from engine.cli import main
from engine.data.client import connect
from engine.data.schema import SCHEMA, create_table_sql
from engine.demo.seed import generate_signatures
from engine.settings import DatabaseSettings
from engine.train.runs import read_metrics

DATABASE = "h2_train"


pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]  # these train


@pytest.fixture(scope="module")
def tables(chdb_path) -> str:
    """Two tables of demo signatures: as generated, and with half the SNRs absurdly large."""
    gen = DatabaseSettings(path=chdb_path, database=DATABASE, table="train_cli")
    connect(gen).command(f"CREATE DATABASE IF NOT EXISTS `{DATABASE}`")
    cols = generate_signatures(connect(gen), gen, 3000, seed=11)
    huge = dict(cols)
    huge["median_snr"] = np.where(np.arange(3000) % 2 == 0, np.float32(3.0e38), cols["median_snr"])
    for table, data in (("train_cli", cols), ("train_cli_overflow", huge)):
        db = DatabaseSettings(path=chdb_path, database=DATABASE, table=table)
        client = connect(db)
        client.command(f"CREATE DATABASE IF NOT EXISTS `{DATABASE}`")
        client.command(f"DROP TABLE IF EXISTS {db.qualified_table}")
        client.command(create_table_sql(db))
        client.insert(table, [data[k] for k in SCHEMA], column_names=list(SCHEMA),
                      column_oriented=True, database=DATABASE)
    return chdb_path


def _config(tmp_path, chdb_path, table="train_cli") -> str:
    p = tmp_path / "settings.toml"
    p.write_text(f'[database]\npath = "{chdb_path}"\ndatabase = "{DATABASE}"\ntable = "{table}"\n'
                 f'[train]\nbatch_size = 256\ndevice = "cpu"\n[runs]\ndir = "{tmp_path / "runs"}"\n')
    return str(p)


def test_train_then_resume_with_more_epochs(tmp_path, tables, capsys):
    cfg, run = _config(tmp_path, tables), tmp_path / "run1"
    rc = main(["--config", cfg, "train", "--headless", "--epochs", "2", "--limit-rows", "2000",
               "--run-dir", str(run)])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "2,000 rows loaded" in err and "loading rows: 2,000/2,000" in err
    epoch_lines = [ln for ln in out.splitlines() if ln.startswith("epoch ")]
    assert [ln.split()[1] for ln in epoch_lines] == ["1/2", "2/2"]
    for word in ("train", "val", "RMSE", "dB", "r", "sun", "storm", "samples/s", "ETA"):
        assert word in epoch_lines[0].split()
    assert "finished 2 epochs" in out
    lines = read_metrics(run)
    assert len(lines) == 2 and lines[0]["val_rmse_db"] == pytest.approx(float(epoch_lines[0].split("RMSE ")[1].split()[0]), abs=0.006)
    rows = lines[0]
    assert json.loads((run / "settings.json").read_text())["train"]["limit_rows"] == 2000

    # Resume without --limit-rows: the run's own sample (same rows, so no data warning).
    rc = main(["--config", cfg, "train", "--resume", str(run), "--epochs", "3"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "from epoch 3" in out and "warning" not in err
    assert [m["epoch"] for m in read_metrics(run)] == [1, 2, 3]
    assert read_metrics(run)[0] == rows


def test_ctrl_c_saves_and_prints_how_to_resume(tmp_path, tables, capsys, sigint_as):
    cfg, run = _config(tmp_path, tables), tmp_path / "run2"

    def interrupt_after_first_epoch():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not read_metrics(run):
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGINT)

    t = threading.Thread(target=interrupt_after_first_epoch, daemon=True)
    t.start()
    rc = main(["--config", cfg, "train", "--epochs", "500", "--limit-rows", "1500", "--run-dir", str(run)])
    t.join(5)
    _, err = capsys.readouterr()
    assert rc == 130
    assert f"resume with: ionis-tui train --resume {run}" in err
    ck = torch.load(run / "last.pt", weights_only=True)
    assert ck["epoch"] >= 1
    assert json.loads((run / "state.json").read_text())["state"] == "stopped"
    assert signal.getsignal(signal.SIGINT) is sigint_as  # handler restored


def test_absurd_snrs_are_dropped_with_a_counted_reason_not_trained_on(tmp_path, tables, capsys):
    # 3e38 dB is finite in float32 but would send the loss to inf (the session-level
    # non-finite loss path is tested in test_train_resume); the loader drops such rows.
    cfg = _config(tmp_path, tables, table="train_cli_overflow")
    rc = main(["--config", cfg, "train", "--epochs", "1", "--run-dir", str(tmp_path / "r")])
    _, err = capsys.readouterr()
    assert rc == 0, err
    assert "1,500 malformed dropped (snr 1,500)" in err


@pytest.mark.parametrize("args, expect", [
    (["--resume", "{tmp}/nothing"], "cannot resume"),
    (["--epochs", "0"], "must be at least 1"),
    (["--resume", "{tmp}", "--limit-rows", "5"], "--limit-rows cannot change on --resume"),
    (["--resume", "{tmp}", "--run-dir", "{tmp}/x"], "--run-dir and --resume exclude each other"),
])
def test_bad_arguments_exit_2(tmp_path, tables, capsys, args, expect):
    cfg = _config(tmp_path, tables)
    if "--limit-rows" in args or "--run-dir" in args:
        (tmp_path / "settings.json").write_text(json.dumps({"train": {"epochs": 2}}))
        (tmp_path / "last.pt").write_bytes(b"x")
    try:
        rc = main(["--config", cfg, "train", *[a.format(tmp=tmp_path) for a in args]])
    except SystemExit as exc:  # argparse refuses bad values itself
        rc = exc.code
    assert rc == 2 and expect in capsys.readouterr().err


def test_missing_table_is_a_data_error_exit_2(tmp_path, tables, capsys):
    cfg = _config(tmp_path, tables, table="no_such_table")
    rc = main(["--config", cfg, "train", "--epochs", "1", "--run-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert rc == 2 and "no_such_table does not exist" in err


def test_headless_is_accepted_but_not_offered(capsys):
    """`train` is always headless: the flag changes nothing, so --help does not list it, and
    it is still accepted (the app's trainer command and scripts pass it)."""
    with pytest.raises(SystemExit) as e:
        main(["train", "--help"])
    assert e.value.code == 0 and "--headless" not in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:  # --headless parsed; refused for --epochs only
        main(["train", "--headless", "--epochs", "0"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "--epochs" in err and "unrecognized" not in err
