"""The faults ionis-tui survives (issue #12). Read the test names as the list: what goes
wrong, and what the tool does about it. Each failed on the code before the fix, except the
guards marked so (paths that were already right and must stay so)."""

from __future__ import annotations

import json
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from engine.cli import main
from engine.errors import CheckpointError, DataError
from engine.settings import DatabaseSettings

ROOT = Path(__file__).resolve().parents[1]
PLANTED = "PLANTED-s3cret-pw"
DATABASE = "h12_faults"


def _cfg(tmp_path: Path, text: str) -> str:
    p = tmp_path / "settings.toml"
    p.write_text(text)
    return str(p)


# ---------------------------------------------------------------- 1. no secret on screen

def test_a_settings_error_about_the_password_never_shows_its_value(tmp_path, capsys):
    rc = main(["--config", _cfg(tmp_path, "[database]\npassword = 987654321\n"), "data", "status"])
    err = capsys.readouterr().err
    assert rc == 2 and "database.password" in err
    assert "987654321" not in err and "value hidden" in err


def test_settings_repr_in_a_traceback_never_shows_the_password():
    assert PLANTED not in repr(DatabaseSettings(password=PLANTED))


async def test_the_app_crash_printout_has_no_local_variables(tmp_path):
    from engine.settings import Settings
    from ionis_tui.app import IonisApp

    settings = Settings(database=DatabaseSettings(password=PLANTED), runs={"dir": str(tmp_path)})
    app = IonisApp(settings, check_db=False)
    async with app.run_test():
        db_password = settings.database.password  # a local, as in any frame of a real crash
        try:
            raise OSError(f"runs folder not writable ({len(db_password)} chars of context)")
        except OSError:
            app._fatal_error()
        text = "".join(seg.text for seg in app._exit_renderables[0].segments)
    assert "OSError" in text and PLANTED not in text


# ---------------------------------------------------------------- 2. no hang on a silent server

class _SilentServer:
    """Loopback TCP server: accepts, then says nothing (drip=False) or one byte every 0.2 s.
    It stops itself after `life` seconds, so a failing test cannot hang the suite."""

    def __init__(self, drip: bool, life: float = 15.0) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.drip, self.until = drip, time.monotonic() + life
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conns = []
        while time.monotonic() < self.until:
            try:
                conns.append(self.sock.accept()[0])
            except OSError:
                pass
            for c in conns:
                if self.drip:
                    try:
                        c.sendall(b"H")
                    except OSError:
                        pass
        for c in conns:
            c.close()
        self.sock.close()


@pytest.mark.parametrize("drip", [False, True], ids=["never-answers", "drips-bytes"])
def test_a_server_that_accepts_but_never_finishes_answering_is_an_error_in_bounded_time(drip):
    from engine.data.client import connect

    srv = _SilentServer(drip, life=90)
    db = DatabaseSettings(mode="server", host="127.0.0.1", port=srv.port, connect_timeout=1,
                          query_timeout=1.5, password=PLANTED)
    t0 = time.monotonic()
    with pytest.raises(DataError) as info:
        connect(db)
    # A bound, not a benchmark: the 1.5 s timeout ends it, not the server's 90 s life; 45 s
    # leaves room for a loaded machine (issue 22).
    assert time.monotonic() - t0 < 45
    assert "127.0.0.1" in str(info.value) and PLANTED not in str(info.value)


def test_quitting_abandons_a_database_wait_at_once():
    from engine.data.client import abandon_waits, bounded

    db = DatabaseSettings(mode="server", query_timeout=60)
    threading.Timer(0.3, abandon_waits).start()
    t0 = time.monotonic()
    with pytest.raises(DataError, match="abandoned"):
        bounded(db, time.sleep, 60)
    assert time.monotonic() - t0 < 30  # generous bound: abandoned, not the 60 s wait out


# ---------------------------------------------------------------- 3. SIGTERM saves and exits 143

@pytest.fixture(scope="module")
def small_table(chdb_path) -> str:
    from engine.data.client import connect
    from engine.data.schema import SCHEMA, create_table_sql
    from engine.demo.seed import generate_signatures

    db = DatabaseSettings(path=chdb_path, database=DATABASE, table="faults_train")
    client = connect(db)
    client.command(f"CREATE DATABASE IF NOT EXISTS `{DATABASE}`")
    cols = generate_signatures(client, db, 2000, seed=5)
    client.command(f"DROP TABLE IF EXISTS {db.qualified_table}")
    client.command(create_table_sql(db))
    client.insert("faults_train", [cols[k] for k in SCHEMA], column_names=list(SCHEMA),
                  column_oriented=True, database=DATABASE)
    return chdb_path


def test_sigterm_to_headless_train_saves_marks_stopped_and_exits_143(tmp_path, small_table, capsys):
    from engine.train.runs import read_metrics

    torch.set_num_threads(1)
    run = tmp_path / "run"
    cfg = _cfg(tmp_path, f'[database]\npath = "{small_table}"\ndatabase = "{DATABASE}"\n'
                         f'table = "faults_train"\n[train]\nbatch_size = 256\ndevice = "cpu"\n')

    def terminate_after_first_epoch():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not read_metrics(run):
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGTERM)

    before = signal.getsignal(signal.SIGTERM)
    threading.Thread(target=terminate_after_first_epoch, daemon=True).start()
    rc = main(["--config", cfg, "train", "--epochs", "500", "--run-dir", str(run)])
    err = capsys.readouterr().err
    assert rc == 143, err
    assert "SIGTERM" in err and f"resume with: ionis-tui train --resume {run}" in err
    assert torch.load(run / "last.pt", weights_only=True)["epoch"] >= 1
    assert json.loads((run / "state.json").read_text())["state"] == "stopped"
    assert signal.getsignal(signal.SIGTERM) == before


# ---------------------------------------------------------------- 5, 6, 9. settings and limits

def test_epochs_beyond_the_settings_limit_are_refused_up_front(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--epochs", "100001"])
    assert info.value.code == 2 and "at most 100000" in capsys.readouterr().err


def test_seed_rows_beyond_the_demo_rows_limit_are_refused(tmp_path, capsys):
    cfg = _cfg(tmp_path, f'[database]\npath = "{tmp_path / "db"}"\n')
    assert main(["--config", cfg, "data", "seed", "--rows", "100000001"]) == 2
    assert "--rows must be at most 100,000,000" in capsys.readouterr().err
    assert not (tmp_path / "db").exists()  # refused before the database was opened


def test_limits_have_one_source_of_truth():
    from engine import limits
    from engine.settings import DemoSettings, TrainSettings

    def le(model, name):
        return next(m.le for m in model.model_fields[name].metadata if hasattr(m, "le"))
    assert le(TrainSettings, "epochs") == limits.MAX_EPOCHS
    assert le(DemoSettings, "rows") == limits.MAX_DEMO_ROWS


@pytest.mark.parametrize("env, needle", [
    ({"IONIS_DATABASE__TABLE": "ionis_build"}, "reserved"),
    ({"IONIS_TRAIN": "garbage"}, "IONIS_TRAIN must be a JSON object"),
    ({"IONIS_TRAIN__ETA_MIN": "0.01"}, "eta_min (0.01) must be below every learning rate"),
], ids=["reserved-table", "section-garbage", "eta-min-above-lr"])
def test_bad_settings_are_one_error_line_exit_2(monkeypatch, tmp_path, capsys, env, needle):
    monkeypatch.chdir(tmp_path)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert main(["data", "status"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and needle in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # nothing written (no database in the current folder)


def test_an_empty_database_path_means_the_user_data_folder_not_the_current_one(monkeypatch, tmp_path):
    from engine import locations
    from engine.settings import load_settings

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("IONIS_DATABASE__PATH", "")
    path = Path(load_settings().database.path)
    assert path.is_absolute() and path == Path(locations.default_db_path())
    assert tmp_path not in path.parents


def test_reserved_prefix_covers_the_tools_own_tables():
    from engine.data.swap import staging_name
    from engine.settings import RESERVED_TABLE_PREFIX, DatabaseSettings

    assert staging_name(DatabaseSettings(table="t" * 126), "build").startswith(RESERVED_TABLE_PREFIX)


def test_a_settings_file_that_is_not_utf8_is_one_error_line(tmp_path, capsys):
    p = tmp_path / "settings.toml"
    p.write_bytes(b"[train]\nepochs = 5 # caf\xe9\n")
    assert main(["--config", str(p), "data", "status"]) == 2
    assert "is not UTF-8 text" in capsys.readouterr().err


# ---------------------------------------------------------------- 7, 10. checkpoints

def _damaged(tmp_path: Path, v22_file: Path, value: float) -> Path:
    from safetensors.torch import load_file, save_file

    state = load_file(str(v22_file))
    state["base_head.0.weight" if "base_head.0.weight" in state else "trunk.0.weight"][0, 0] = value
    out = tmp_path / "damaged.safetensors"
    save_file(state, str(out))
    return out


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 3e30], ids=["nan", "inf", "huge"])
def test_a_checkpoint_with_non_finite_or_huge_weights_is_refused_naming_the_tensor(tmp_path, v22_file, value):
    from engine.checkpoint import load_model

    with pytest.raises(CheckpointError, match=r"tensor (base_head|trunk)\.0\.weight holds"):
        load_model(_damaged(tmp_path, v22_file, value))


def test_a_malicious_pt_is_refused_and_never_told_to_use_weights_only_false(tmp_path, capsys):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    bad = tmp_path / "evil.pt"
    bad.write_bytes(pickle.dumps({"model": Evil()}))
    rc = main(["matrix", "--checkpoint", str(bad), "--tx", "FN20", "--rx", "JO51", "--band", "20m",
               "--hour", "12", "--month", "6"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("cannot read checkpoint") == 1
    assert "weights_only" not in err and "pwned" not in err


def test_a_garbage_safetensors_does_not_say_no_such_file(tmp_path):
    from engine.checkpoint import load_model

    p = tmp_path / "g.safetensors"
    p.write_bytes(b"\x08" + b"\x00" * 7 + b"{}garbage")
    with pytest.raises(CheckpointError) as info:
        load_model(p)
    assert "No such file" not in str(info.value) and str(p) in str(info.value)


def test_output_piped_into_a_closed_reader_exits_quietly(v22_file, monkeypatch, capsys):
    r, w = os.pipe()
    os.close(r)
    saved = os.dup(1)
    try:
        monkeypatch.setattr(sys, "stdout", os.fdopen(w, "w", buffering=1))
        rc = main(["predict", "--checkpoint", str(v22_file), "--tx", "FN20", "--rx", "JO51",
                   "--band", "20m", "--hour", "12", "--month", "6", "--sfi", "150", "--kp", "2"])
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    assert rc == 141
    assert "Traceback" not in capsys.readouterr().err


# ---------------------------------------------------------------- 11. start-up

@pytest.mark.parametrize("argv", [["--help"], ["predict"], ["matrix", "--help"], ["train", "--epochs", "0"]])
def test_help_and_argument_errors_load_no_heavy_library(argv):
    code = ("import sys\nfrom ionis_tui.__main__ import main\n"
            f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('torch', 'textual', 'clickhouse_connect', 'chdb', 'pydantic')"
            " if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=60).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_cli_copy_of_the_bundle_file_name_agrees():
    from engine.cli import import_cmd
    from engine.data import bundle_file

    assert import_cmd.BUNDLE_FILE == bundle_file.BUNDLE_FILE


def test_cli_copies_of_engine_constants_agree():
    from engine.cli import matrix_cmd, verify_cmd
    from engine.matrix.values import DEFAULT_KP, DEFAULT_SFI
    from engine.verify.spec import GROUPS

    assert verify_cmd.GROUPS == GROUPS
    assert matrix_cmd.DEFAULT_SFI_TEXT == ",".join(f"{v:g}" for v in DEFAULT_SFI)
    assert matrix_cmd.DEFAULT_KP_TEXT == ",".join(f"{v:g}" for v in DEFAULT_KP)


# ---------------------------------------------------------------- 4. file-system faults

def _train_cfg(tmp_path: Path, chdb_path: str, runs: Path) -> str:
    return _cfg(tmp_path, f'[database]\npath = "{chdb_path}"\ndatabase = "{DATABASE}"\n'
                          f'table = "faults_train"\n[train]\nbatch_size = 256\ndevice = "cpu"\n'
                          f'[runs]\ndir = "{runs}"\n')


def test_a_runs_folder_that_is_a_file_is_one_error_line_exit_2(tmp_path, small_table, capsys):
    runs = tmp_path / "runs"
    runs.write_text("not a folder")
    rc = main(["--config", _train_cfg(tmp_path, small_table, runs), "train", "--epochs", "1"])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert err.startswith(f"error: cannot use {runs}") and "move that file away" in err
    assert runs.read_text() == "not a folder"


def test_a_full_disk_during_training_is_an_error_exit_2_and_the_run_marked_failed(tmp_path, small_table, capsys):
    import resource

    torch.set_num_threads(1)
    run = tmp_path / "run"
    cfg = _train_cfg(tmp_path, small_table, tmp_path / "runs")
    # A real write fault without root or a loop device: files may grow to 64 KiB only, so
    # the first last.pt (hundreds of KiB) fails with EFBIG, as it would with ENOSPC.
    old_limit, old_handler = resource.getrlimit(resource.RLIMIT_FSIZE), signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, old_limit[1]))
    try:
        rc = main(["--config", cfg, "train", "--epochs", "2", "--run-dir", str(run)])
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old_limit)
        signal.signal(signal.SIGXFSZ, old_handler)
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err, err
    assert f"error: cannot use {run}" in err and "raise the limit" in err
    state = json.loads((run / "state.json").read_text())
    assert state["state"] == "failed" and "cannot use" in state["message"]
    assert not list(run.glob(".*.tmp")) and not (run / "last.pt").exists()


def test_a_folder_in_place_of_a_checkpoint_is_one_error_line(tmp_path, capsys):
    (tmp_path / "best.safetensors").mkdir()
    rc = main(["predict", "--checkpoint", str(tmp_path / "best.safetensors"), "--tx", "FN20", "--rx",
               "JO51", "--band", "20m", "--hour", "12", "--month", "6", "--sfi", "150", "--kp", "2"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "best.safetensors" in err


def test_temp_files_of_a_killed_writer_are_cleaned_on_the_next_write(tmp_path):
    from engine.checkpoint import atomic_write

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    orphan = tmp_path / f".last.pt.{dead}.abc123.tmp"
    orphan.write_bytes(b"half a checkpoint")
    live = tmp_path / f".last.pt.{os.getpid()}.zzz.tmp"  # a write still in progress: kept
    live.write_bytes(b"")
    atomic_write(tmp_path / "last.pt", lambda tmp: Path(tmp).write_bytes(b"new"))
    assert not orphan.exists() and live.exists() and (tmp_path / "last.pt").read_bytes() == b"new"


# ---------------------------------------------------------------- 2, 3. the real app in a terminal

def _app_in_pty(tmp_path: Path, settings_text: str, then: str, timeout: float = 60.0):
    """Start `ionis-tui` on an 80x24 pseudo-terminal, wait for the dashboard, then send
    `then` ("sigterm" or "ctrl-q"); return (exit status, seconds to exit, all output)."""
    import pty

    cfg = tmp_path / "app.toml"
    cfg.write_text(settings_text)
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(ROOT)
        os.environ.update(TERM="xterm-256color", COLUMNS="80", LINES="24")
        os.execv(sys.executable, [sys.executable, "-m", "ionis_tui", "--config", str(cfg)])
    out, t_drawn, t_sent, status = b"", None, None, None
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            import select

            if select.select([fd], [], [], 0.05)[0]:
                try:
                    out += os.read(fd, 65536)
                except OSError:
                    pass
            if t_drawn is None and b"\x1b[?1049h" in out and b"help" in out.split(b"\x1b[?1049h", 1)[1]:
                t_drawn = time.monotonic()  # the first frame; keep reading while it settles
            if t_sent is None and t_drawn is not None and time.monotonic() - t_drawn > 0.3:
                os.kill(pid, signal.SIGTERM) if then == "sigterm" else os.write(fd, b"\x11")
                t_sent = time.monotonic()
            done, st = os.waitpid(pid, os.WNOHANG)
            if done:
                status = os.waitstatus_to_exitcode(st)
                while select.select([fd], [], [], 0.2)[0]:  # what it wrote last (terminal reset)
                    try:
                        chunk = os.read(fd, 65536)
                    except OSError:
                        break
                    if not chunk:
                        break
                    out += chunk
                break
    finally:
        if status is None:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
    return status, (time.monotonic() - t_sent) if t_sent else None, out


def test_sigterm_to_the_app_restores_the_terminal_and_exits_143(tmp_path):
    status, took, out = _app_in_pty(tmp_path, f'[database]\npath = "{tmp_path / "db"}"\n', "sigterm",
                                    timeout=120)
    # A bound, not a speed target: a loaded machine may take seconds to tear down; an app that
    # ignored SIGTERM would run until the 120 s deadline (status None).
    assert status == 143 and took is not None and took < 60
    assert out.rfind(b"\x1b[?1049l") > out.rfind(b"\x1b[?1049h")  # left the alternate screen


def test_the_app_quits_at_once_while_its_database_check_waits_on_a_silent_server(tmp_path):
    srv = _SilentServer(drip=False, life=200)
    status, took, _ = _app_in_pty(tmp_path, f'[database]\nmode = "server"\nhost = "127.0.0.1"\n'
                                            f'port = {srv.port}\nquery_timeout = 150\n', "ctrl-q",
                                  timeout=180)
    # "At once" against the 150 s query timeout it would otherwise wait out: 60 s is generous
    # for a loaded machine and still far from waiting for the check (a bound, not a benchmark).
    assert status == 0 and took is not None and took < 60


# ---------------------------------------------------------------- 8. values beyond float32

def test_status_and_loader_agree_on_rows_beyond_float32_and_count_why(chdb_path):
    from engine.data.client import connect
    from engine.data.loader import load_rows
    from engine.data.schema import SCHEMA, create_table_sql
    from engine.data.status import data_status
    from engine.demo.seed import generate_signatures

    db = DatabaseSettings(path=chdb_path, database=DATABASE, table="faults_wide")
    client = connect(db)
    client.command(f"CREATE DATABASE IF NOT EXISTS `{DATABASE}`")
    client.command(f"DROP TABLE IF EXISTS {db.qualified_table}")
    # Float64 columns (accepted by the schema check) can hold what float32 cannot.
    client.command(create_table_sql(db).replace("Float32", "Float64"))
    cols = {k: v.astype("float64") if v.dtype.kind == "f" else v
            for k, v in generate_signatures(client, db, 400, seed=3).items()}
    cols["avg_sfi"][:10] = 1e300       # inf as float32
    cols["median_snr"][10:25] = 3e38   # finite as float32, absurd as dB
    client.insert("faults_wide", [cols[k] for k in SCHEMA], column_names=list(SCHEMA),
                  column_oriented=True, database=DATABASE)
    st = data_status(client, db)
    rows = load_rows(client, db)
    assert st["malformed_reasons"] == {"snr": 15, "sfi": 10}
    assert st["usable_rows"] == rows.report.loaded == 375


def test_the_matrix_never_says_monotonicity_ok_over_nan(v22_file):
    from engine.checkpoint import load_model
    from engine.matrix import compute_matrix, make_path

    lm = load_model(v22_file)
    with torch.no_grad():  # a model that diverged in memory (a live snapshot, not a file)
        next(lm.model.parameters()).fill_(float("nan"))
    with pytest.raises(CheckpointError, match="predicts NaN or infinite SNR"):
        compute_matrix(lm, make_path("FN20", "JO51", "20m", "12", "6", None))


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: the fallback cannot happen")
def test_an_unavailable_device_is_said_and_recorded_not_silently_replaced(tmp_path, small_table, capsys):
    from engine.train.runs import read_metrics

    torch.set_num_threads(1)
    run = tmp_path / "run"
    cfg = _cfg(tmp_path, f'[database]\npath = "{small_table}"\ndatabase = "{DATABASE}"\n'
                         f'table = "faults_train"\n[train]\nbatch_size = 512\ndevice = "cuda"\n')
    assert main(["--config", cfg, "train", "--epochs", "1", "--run-dir", str(run)]) == 0
    assert "train.device = 'cuda' is not available on this machine: training on cpu" in capsys.readouterr().err
    assert [m["device"] for m in read_metrics(run)] == ["cpu"]


# ---------------------------------------------------------------- 10. messages that name the fix

def test_a_checkpoint_with_a_wrong_key_names_the_key(tmp_path, v22_file):
    from safetensors.torch import load_file, save_file

    from engine.checkpoint import load_model

    state = load_file(str(v22_file))
    state["not_a_layer.weight"] = state.pop("sun_sidecar.fc1.weight")
    bad = tmp_path / "renamed.safetensors"
    save_file(state, str(bad))
    with pytest.raises(CheckpointError, match=r'Missing key\(s\) in state_dict: "sun_sidecar\.fc1\.weight"'):
        load_model(bad)


def test_resuming_a_damaged_run_names_the_file_and_the_key_exit_2(tmp_path, small_table, capsys):
    torch.set_num_threads(1)
    run = tmp_path / "run"
    cfg = _cfg(tmp_path, f'[database]\npath = "{small_table}"\ndatabase = "{DATABASE}"\n'
                         f'table = "faults_train"\n[train]\nbatch_size = 512\ndevice = "cpu"\n')
    assert main(["--config", cfg, "train", "--epochs", "1", "--run-dir", str(run)]) == 0
    settings_json = json.loads((run / "settings.json").read_text())
    ck = torch.load(run / "last.pt", weights_only=True)
    ck["model"]["trunk.0.weight"] = torch.zeros(3, 3)  # shape-mismatched
    torch.save(ck, run / "last.pt")
    capsys.readouterr()
    assert main(["--config", cfg, "train", "--resume", str(run), "--epochs", "2"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err
    assert f"{run / 'last.pt'} does not fit" in err and "trunk.0.weight" in err

    settings_json["train"]["batch_size"] = "lots"
    (run / "settings.json").write_text(json.dumps(settings_json))
    assert main(["--config", cfg, "train", "--resume", str(run), "--epochs", "2"]) == 2
    assert "train.batch_size" in capsys.readouterr().err


def test_a_locked_embedded_database_is_one_line_without_the_engines_raw_error(tmp_path):
    path = tmp_path / "locked.chdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time, clickhouse_connect\n"
         f"c = clickhouse_connect.get_client(interface='chdb', path={str(path)!r})\n"
         "c.command('SELECT 1'); print('held', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        cfg = _cfg(tmp_path, f'[database]\npath = "{path}"\n')
        r = subprocess.run([sys.executable, "-m", "ionis_tui", "--config", cfg, "data", "status"],
                           cwd=ROOT, capture_output=True, text=True, timeout=60)
    finally:
        holder.stdin.close()
        holder.wait(30)
    assert r.returncode == 2
    assert r.stderr.startswith("error: cannot open the embedded database") and r.stderr.count("\n") == 1


async def test_the_app_survives_a_runs_folder_that_is_a_file(tmp_path):
    from conftest import wait_until
    from pilot_tools import screen_text

    from engine.settings import RunsSettings, Settings, TrainSettings
    from engine.train.synthetic import synthetic_rows
    from ionis_tui.app import IonisApp
    from ionis_tui.screens.runs import RunsScreen

    runs = tmp_path / "runs"
    runs.write_text("a file, not a folder")
    settings = Settings(database=DatabaseSettings(password=PLANTED),
                        train=TrainSettings(epochs=1, batch_size=256, device="cpu"),
                        runs=RunsSettings(dir=str(runs)))
    app = IonisApp(settings, rows=synthetic_rows(500, seed=1))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s")
        await wait_until(pilot, lambda: "move that file away" in app.state.final_message, what="the error")
        assert app.is_running and not app.runner.running
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, RunsScreen), what="the runs screen")
        text = " ".join(screen_text(app).split())
        assert "cannot list runs" in text and "no runs" not in text
    assert runs.read_text() == "a file, not a folder"


def test_the_app_module_loads_without_torch_so_the_first_frame_need_not_wait():
    code = "import sys, ionis_tui.app, ionis_tui.launch; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=60).stdout
    assert out.strip() == "False"


def test_a_folder_where_best_safetensors_belongs_fails_the_run_with_the_path_and_fix(tmp_path):
    from engine.errors import StorageError
    from engine.settings import Settings, TrainSettings
    from engine.train.session import TrainingSession
    from engine.train.synthetic import synthetic_rows

    torch.set_num_threads(1)
    run = tmp_path / "run"
    run.mkdir()
    session = TrainingSession(Settings(train=TrainSettings(epochs=1, batch_size=256, device="cpu")),
                              rows=synthetic_rows(600, seed=2), run_dir=run)
    (run / "best.safetensors").mkdir()  # e.g. a mistaken `mkdir` or a sync tool
    with pytest.raises(StorageError) as info:
        session.run()
    assert f"cannot use {run / 'best.safetensors'}" in str(info.value)
    assert "a folder stands where a file must be" in str(info.value)
    state = json.loads((run / "state.json").read_text())
    assert state["state"] == "failed" and "best.safetensors" in state["message"]
    assert not list(run.glob(".*.tmp"))


def test_no_error_path_prints_a_planted_password(tmp_path, monkeypatch, capsys):
    # guard: these server-mode paths were already clean; a new message must not leak it
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()  # nothing listens here: connection refused
    monkeypatch.setenv("IONIS_DATABASE__PASSWORD", PLANTED)
    monkeypatch.setenv("IONIS_DATABASE__MODE", "server")
    monkeypatch.setenv("IONIS_DATABASE__HOST", "127.0.0.1")
    monkeypatch.setenv("IONIS_DATABASE__PORT", str(port))
    monkeypatch.setenv("IONIS_RUNS__DIR", str(tmp_path / "runs"))
    runs = [["data", "status"], ["data", "seed", "--rows", "10"], ["train", "--epochs", "1"]]
    for argv in runs:
        assert main(argv) == 2, argv
    monkeypatch.setenv("IONIS_DATABASE__CONNECT_TIMEOUT", "-1")  # a settings error beside it
    assert main(["data", "status"]) == 2
    out, err = capsys.readouterr()
    assert "error: " in err and PLANTED not in out + err
    assert not any(PLANTED in p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file())


async def test_sigterm_to_the_app_during_a_run_saves_a_checkpoint_first(tmp_path):
    import asyncio

    from conftest import wait_until

    from engine.settings import RunsSettings, Settings, TrainSettings
    from engine.train import events as ev
    from engine.train.runs import list_runs
    from engine.train.synthetic import synthetic_rows
    from ionis_tui.app import IonisApp

    s = Settings(train=TrainSettings(epochs=500, batch_size=256, device="cpu", progress_interval=0.05),
                 runs=RunsSettings(dir=str(tmp_path / "runs")))
    app = IonisApp(s, rows=synthetic_rows(3000, seed=5))
    before = signal.getsignal(signal.SIGTERM)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s")
        await wait_until(pilot, lambda: app.state.state == ev.TRAINING and app.state.step > 0, 60,
                         what="training")
        os.kill(os.getpid(), signal.SIGTERM)
        end = asyncio.get_running_loop().time() + 60
        while app.is_running:
            assert asyncio.get_running_loop().time() < end, "the app did not exit after SIGTERM"
            await asyncio.sleep(0.05)
    assert app.return_value == 143
    (run,) = list_runs(tmp_path / "runs")
    assert run.state == ev.STOPPED and run.resumable
    assert signal.getsignal(signal.SIGTERM) == before  # the app's handler is gone with it


def test_a_diverged_live_model_is_refused_before_verify_or_the_matrix_grade_it():
    from engine.checkpoint import from_live
    from engine.model import IonisGate

    model = IonisGate("v22")
    with torch.no_grad():
        model.trunk[0].weight[0, 0] = float("nan")
    with pytest.raises(CheckpointError, match=r"tensor trunk\.0\.weight holds NaN"):
        from_live(model, label="run-1")
